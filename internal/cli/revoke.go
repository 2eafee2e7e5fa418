package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
)

// signature runs `signet signature revoke JOB_ID --reason R`.
func signature(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "revoke" {
		return usageError("signature needs a subcommand: revoke")
	}
	var cf clientFlags
	fs := flag.NewFlagSet("signature revoke", flag.ContinueOnError)
	cf.register(fs)
	reason := fs.String("reason", "", "why the signature is revoked (1 to 500 characters)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 || *reason == "" {
		return usageError("signature revoke needs one JOB_ID and --reason")
	}
	c, err := cf.signer(ctx)
	if err != nil {
		return err
	}
	if _, err := c.RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(pos[0]), Reason: reason}); err != nil {
		return apiError(err)
	}
	fmt.Fprintf(stdout, "revoked the signature of signing job %s; verifiers refuse it once they fetch the new CRL\n", pos[0])
	return nil
}

// revokeProfile runs `signet profile revoke NAME --version V
// [--effective-time T] --reason R`.
func revokeProfile(ctx context.Context, cf *clientFlags, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	version := fs.String("version", "", "profile version to revoke (see 'signet profile get')")
	effective := fs.String("effective-time", "", "signatures from this time on are revoked (RFC 3339, in the past; default now)")
	reason := fs.String("reason", "", "why the profile version is revoked (1 to 500 characters)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *version == "" || *reason == "" {
		return usageError("profile revoke needs one NAME, --version and --reason")
	}
	at := time.Now()
	if *effective != "" {
		if at, err = time.Parse(time.RFC3339, *effective); err != nil {
			return usageError("--effective-time %q is not an RFC 3339 time such as 2026-11-23T10:00:00Z", *effective)
		}
	}
	c, err := cf.signer(ctx)
	if err != nil {
		return err
	}
	if _, err := c.RevokeSigningProfile(ctx, &signer.RevokeSigningProfileInput{ProfileName: aws.String(pos[0]), ProfileVersion: version, Reason: reason, EffectiveTime: aws.Time(at)}); err != nil {
		return apiError(err)
	}
	fmt.Fprintf(stdout, "revoked signing profile %s version %s from %s; earlier signatures stay valid\n", pos[0], *version, at.UTC().Format(time.RFC3339))
	return nil
}
