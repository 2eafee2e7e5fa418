package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/signet/signet/internal/revocation"
	"github.com/signet/signet/internal/signing"
	"github.com/signet/signet/internal/verify"
)

// Exit statuses of signet verify, one per rule that can refuse a package.
var verifyExit = map[verify.Rule]int{
	verify.RuleSignature:    3,
	verify.RuleIntegrity:    4,
	verify.RuleAuthenticity: 5,
	verify.RuleExpiry:       6,
	verify.RulePublisher:    7,
	verify.RuleRevocation:   8,
}

func verifyCmd(ctx context.Context, args []string, stdout io.Writer) error {
	var cf clientFlags
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	cf.register(fs)
	storeDir := fs.String("trust-store", "", "trusted roots: a directory written by 'signet trust export', or one of PEM certificates (default: the server's root, fetched once and cached)")
	var publishers listFlags
	fs.Var(&publishers, "profile", "allowed signing profile: a name (looked up on the server), a profile ARN (any version) or a profile version ARN (repeatable)")
	noRevocation := fs.Bool("no-revocation", false, "skip the revocation check (which fetches CRLs over http from the URLs in the certificates)")
	crlCache := fs.String("crl-cache", "", "cache CRLs in this directory and use them offline until they expire")
	export := fs.String("export-sig", "", "after a successful verification, write the original (unsigned) package, the detached signature and a Notation blob trust policy to this directory")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("verify needs exactly one FILE")
	}
	if err := cf.check(); err != nil {
		return err
	}
	if publishers, err = resolveProfiles(ctx, &cf, "profile", publishers, false); err != nil {
		return err
	}
	var roots []*x509.Certificate
	cached := "" // the file the root was read from, when it was cached earlier
	if *storeDir != "" {
		roots, err = loadTrustStore(*storeDir)
	} else {
		roots, cached, err = cachedRoot(ctx, &cf)
	}
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	opts := verify.Options{Roots: roots, AllowedPublishers: publishers, Context: ctx}
	if !*noRevocation {
		checker, err := revocation.NewCRLChecker(*crlCache)
		if err != nil {
			return err
		}
		opts.Revocation = checker
	}
	rep, err := verify.Package(f, st.Size(), opts)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		err = writeJSON(stdout, reportJSON(pos[0], rep))
	} else {
		printReport(stdout, pos[0], rep)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		err := rep.Err()
		if rep.Failed == verify.RuleRevocation && !*noRevocation && strings.Contains(err.Error(), "revocation status unknown") {
			// The CRL URLs are in the certificates: --endpoint cannot
			// change them, so the generic "is the server running" hint
			// would mislead.
			err = &hintError{err, []string{
				"the CRL URLs are written in the certificates (the server's public_base_url, or its listen address, when the profile version was made); --endpoint does not change them",
				"verify without the network with --crl-cache DIR (CRLs fetched once stay usable until they expire) or skip the check with --no-revocation",
			}}
		}
		if rep.Failed == verify.RuleAuthenticity && cached != "" {
			// The root was pinned on first use for this endpoint: a
			// server reinstalled at the same address has another one.
			err = &hintError{err, []string{
				"the trusted root is the one fetched from " + cf.endpoint + " on first use and kept in " + cached,
				"if the server at that address was reinstalled, remove that file to fetch its new root; or verify against a trust store with --trust-store DIR",
			}}
		}
		return &exitError{verifyExit[rep.Failed], err}
	}
	if *export != "" {
		return exportSignature(*export, originalName(filepath.Base(pos[0])), rep, roots, stdout)
	}
	return nil
}

func printReport(w io.Writer, name string, rep *verify.Report) {
	fmt.Fprintf(w, "%s\n", name)
	rows := [][]string{}
	for _, r := range rep.Results {
		status := "ok"
		if !r.OK {
			status = "FAILED"
		}
		rows = append(rows, []string{"  " + string(r.Rule), status, r.Detail})
	}
	table(w, []string{"  CHECK", "RESULT", "DETAIL"}, rows)
	if rep.ProfileVersionARN != "" {
		fmt.Fprintf(w, "profile version: %s\nsigning job:     %s\nsigned at:       %s\n", rep.ProfileVersionARN, rep.JobARN, rep.SigningTime.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if rep.OK() {
		fmt.Fprintln(w, "verified")
	} else {
		fmt.Fprintf(w, "not verified: the %s check failed\n", rep.Failed)
	}
}

func reportJSON(name string, rep *verify.Report) map[string]any {
	checks := []map[string]any{}
	for _, r := range rep.Results {
		checks = append(checks, map[string]any{"check": r.Rule, "ok": r.OK, "detail": r.Detail})
	}
	out := map[string]any{"file": name, "verified": rep.OK(), "checks": checks}
	if rep.Failed != "" {
		out["failedCheck"] = rep.Failed
	}
	if rep.ProfileVersionARN != "" {
		out["profileVersionArn"], out["jobArn"], out["signingTime"] = rep.ProfileVersionARN, rep.JobARN, rep.SigningTime.UTC()
		out["digest"] = rep.Artifact.Digest
		if !rep.Expiry.IsZero() {
			out["expiry"] = rep.Expiry.UTC()
		}
	}
	return out
}

// loadTrustStore reads trusted roots from a Notation configuration
// directory (truststore/x509/signingAuthority/*/*) or from PEM files
// directly in dir.
func loadTrustStore(dir string) ([]*x509.Certificate, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "truststore", "x509", "signingAuthority", "*", "*"))
	if len(files) == 0 {
		files, _ = filepath.Glob(filepath.Join(dir, "*"))
	}
	var roots []*x509.Certificate
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.IsDir() {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		certs, err := parsePEMCerts(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		roots = append(roots, certs...)
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("no certificates found in trust store %s (expected 'signet trust export' output or PEM files)", dir)
	}
	return roots, nil
}

func parsePEMCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// cachedRoot returns the server's root certificate, fetching it once and
// caching it under the user cache directory by endpoint (trust on first
// use). cached names the file when the root was read from it rather
// than fetched now.
func cachedRoot(ctx context.Context, cf *clientFlags) (roots []*x509.Certificate, cached string, err error) {
	endpoint := cf.endpoint
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, "", usageError("--endpoint %q is not a URL", endpoint)
	}
	path := filepath.Join(dir, "signet", "roots", strings.ReplaceAll(u.Host, ":", "_")+".pem")
	if b, err := os.ReadFile(path); err == nil {
		if certs, err := parsePEMCerts(b); err == nil && len(certs) > 0 {
			return certs, path, nil
		}
	}
	root, rootPEM, err := fetchRoot(ctx, cf)
	if err != nil {
		return nil, "", fmt.Errorf("%w (pass --trust-store DIR to verify offline)", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
		os.WriteFile(path, rootPEM, 0o644)
	}
	return []*x509.Certificate{root}, "", nil
}

// originalName names the original package exported from the signed
// package name: function-signed.zip and signed-JOB.zip give function.zip
// and JOB.zip; another name gets "-unsigned" (function.zip gives
// function-unsigned.zip), so that it is never the signed package's name.
func originalName(signed string) string {
	ext := filepath.Ext(signed)
	stem := strings.TrimSuffix(signed, ext)
	orig := strings.TrimPrefix(strings.TrimSuffix(stem, "-signed"), "signed-")
	if orig == stem || orig == "" {
		orig = stem + "-unsigned"
	}
	return orig + ext
}

// exportSignature writes the original package, the detached envelope and
// a Notation configuration (trust store + blob trust policy) that
// `notation blob verify` accepts.
func exportSignature(dir, name string, rep *verify.Report, roots []*x509.Certificate, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	orig := filepath.Join(dir, name)
	f, err := os.Create(orig)
	if err != nil {
		return err
	}
	if _, err := rep.Unsigned.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	ext := "jws"
	if strings.Contains(rep.EnvelopeType.MediaType(), "cose") {
		ext = "cose"
	}
	sig := orig + "." + ext + ".sig"
	if err := os.WriteFile(sig, rep.Envelope, 0o644); err != nil {
		return err
	}
	top := rep.Chain[len(rep.Chain)-1]
	var rootPEM []byte
	for _, r := range roots {
		if r.Equal(top) {
			rootPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})
		}
	}
	if rootPEM == nil {
		return errors.New("the signing root is not among the trusted roots")
	}
	identity := signing.BaseSubjectIdentity(rep.Chain[0])
	files, err := writeTrust(dir, TrustStoreName, rootPEM, nil, "signet", identity)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (the original package, without the signature)\n", orig)
	fmt.Fprintf(stdout, "wrote %s (its detached signature)\n", sig)
	for _, p := range files {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	if filepath.Base(abs(dir)) == "notation" {
		fmt.Fprintf(stdout, "verify with: XDG_CONFIG_HOME=%s notation blob verify --signature %s --media-type %s %s\n", filepath.Dir(abs(dir)), abs(sig), rep.Artifact.MediaType, abs(orig))
	} else {
		fmt.Fprintf(stdout, "verify with: notation blob verify --signature %s --media-type %s %s\n(notation reads its trust store and policy from $XDG_CONFIG_HOME/notation: export into a directory named notation, or copy %s there)\n",
			abs(sig), rep.Artifact.MediaType, abs(orig), abs(dir))
	}
	return nil
}
