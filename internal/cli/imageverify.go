package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/notaryproject/notation-core-go/revocation/purpose"

	"github.com/signet/signet/internal/images"
	"github.com/signet/signet/internal/verify"
)

// Exit statuses of signet image verify. A rule that signet verify also
// checks keeps signet verify's status (verifyExit); the others are
// image verify's own, after image sign's registry statuses (10–12).
const (
	exitTimestamp   = 9  // the authentic timestamp check refused every signature
	exitBadPolicy   = 13 // the trust policy cannot be used
	exitNoPolicyFor = 14 // no trust policy statement covers the image
)

// imageVerifyExit maps the rule that refused an image to the exit status.
var imageVerifyExit = map[string]int{
	images.RuleIntegrity:          verifyExit[verify.RuleIntegrity],
	images.RuleAuthenticity:       verifyExit[verify.RuleAuthenticity],
	images.RuleExpiry:             verifyExit[verify.RuleExpiry],
	images.RuleIdentity:           verifyExit[verify.RulePublisher],
	images.RuleRevocation:         verifyExit[verify.RuleRevocation],
	images.RuleAuthenticTimestamp: exitTimestamp,
}

// defaultNotationDir is the Notation configuration directory notation
// reads ($XDG_CONFIG_HOME/notation, else ~/.config/notation), where
// 'signet trust export' is meant to write.
func defaultNotationDir() string {
	d, err := os.UserConfigDir()
	if err != nil {
		return "notation"
	}
	return filepath.Join(d, "notation")
}

func imageVerify(ctx context.Context, args []string, stdout io.Writer) error {
	var cf clientFlags
	fs := flag.NewFlagSet("image verify", flag.ContinueOnError)
	cf.register(fs)
	storeDir := fs.String("trust-store", defaultNotationDir(), "Notation configuration directory holding truststore/x509/{ca,signingAuthority,tsa}/NAME/ (what 'signet trust export' writes)")
	policyFile := fs.String("policy", "", "OCI trust policy file (default: trustpolicy.oci.json, else trustpolicy.json, in the --trust-store directory)")
	insecure := fs.Bool("insecure-registry", false, "talk to the registry over plain http")
	crlCache := fs.String("crl-cache", "", "cache CRLs in this directory and use them until they expire")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("image verify needs one image reference (HOST/REPOSITORY:TAG or HOST/REPOSITORY@sha256:DIGEST)")
	}
	if err := cf.check(); err != nil {
		return err
	}
	ref := pos[0]
	if _, err := images.ParseReference(ref); err != nil {
		return usageError("%v", err)
	}
	path := *policyFile
	if path == "" {
		if path, err = images.FindPolicy(*storeDir); err != nil {
			return policyError(err)
		}
	}
	doc, err := images.LoadPolicy(path)
	if err != nil {
		return policyError(err)
	}
	rv, err := images.NewRevocationValidator(purpose.CodeSigning, *crlCache, nil)
	if err != nil {
		return err
	}
	tv, err := images.NewRevocationValidator(purpose.Timestamping, *crlCache, nil)
	if err != nil {
		return err
	}
	res, err := images.Verify(ctx, ref, images.VerifyOptions{
		Registry: images.Options{PlainHTTP: *insecure}, Policy: doc, TrustStoreDir: *storeDir,
		Revocation: rv, TimestampRevocation: tv,
	})
	switch {
	case errors.Is(err, images.ErrNoSignature):
		if cf.output == "json" {
			if werr := writeJSON(stdout, res); werr != nil {
				return werr
			}
		}
		return &exitError{verifyExit[verify.RuleSignature], &hintError{err, []string{
			"sign the image with 'signet image sign " + ref + " --profile NAME'",
			"a tag may have moved to another manifest since it was signed: verify the signed digest (HOST/REPOSITORY@sha256:…)",
		}}}
	case errors.Is(err, images.ErrNoScope):
		return &exitError{exitNoPolicyFor, &hintError{err, []string{
			"add the repository (HOST/REPOSITORY) to a statement's registryScopes in " + path + ", or use \"*\" for every registry",
		}}}
	case errors.Is(err, images.ErrPolicy):
		return policyError(err)
	case err != nil:
		return imageError(err)
	}
	if cf.output == "json" {
		err = writeJSON(stdout, res)
	} else {
		printImageReport(stdout, res)
	}
	if err != nil {
		return err
	}
	if !res.Verified {
		s := res.Signatures[0]
		code, ok := imageVerifyExit[s.Failed]
		if !ok {
			code = 1
		}
		return &exitError{code, fmt.Errorf("%s: no signature verified; the %s check failed: %s", res.Reference, s.Failed, s.Error)}
	}
	return nil
}

func policyError(err error) error {
	var pe *images.PolicyError
	var hints []string
	if errors.As(err, &pe) && pe.Fix != "" {
		hints = append(hints, pe.Fix)
	}
	return &exitError{exitBadPolicy, &hintError{err, hints}}
}

func printImageReport(w io.Writer, v *images.Verification) {
	fmt.Fprintf(w, "%s\ntrust policy: %s (level %s)\n", v.Reference, v.Policy, v.Level)
	if v.Skipped {
		fmt.Fprintln(w, "verification skipped: the trust policy's level is skip")
		return
	}
	for _, s := range v.Signatures {
		fmt.Fprintf(w, "signature %s (%s)\n", s.Digest, s.MediaType)
		rows := [][]string{}
		for _, c := range s.Checks {
			rows = append(rows, []string{"  " + c.Rule, c.Result, c.Action, c.Detail})
		}
		table(w, []string{"  CHECK", "RESULT", "ACTION", "DETAIL"}, rows)
		if s.Signer != "" {
			fmt.Fprintf(w, "  signer:    %s\n  signed at: %s\n", s.Signer, s.SignedAt)
		}
	}
	if v.Verified {
		fmt.Fprintln(w, "verified")
	} else {
		fmt.Fprintf(w, "not verified: the %s check failed\n", v.Failed())
	}
}
