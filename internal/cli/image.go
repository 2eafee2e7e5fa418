package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/images"
	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/signerclient"
	"github.com/signet/signet/internal/signing"
)

// Exit statuses of signet image sign when the registry refuses.
const (
	exitNoImage      = 10 // the reference names no image
	exitUnreachable  = 11 // the registry cannot be reached
	exitUnauthorized = 12 // the registry refused the credentials (or there were none)
)

func imageCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return imageVerify(ctx, args[1:], stdout)
	}
	if len(args) == 0 || args[0] != "sign" {
		return usageError("image needs a subcommand: sign or verify")
	}
	return imageSign(ctx, args[1:], stdout)
}

func imageSign(ctx context.Context, args []string, stdout io.Writer) error {
	var cf clientFlags
	fs := flag.NewFlagSet("image sign", flag.ContinueOnError)
	cf.register(fs)
	profile := fs.String("profile", "", "signing profile (platform "+signing.PlatformNotation+")")
	format := fs.String("signature-format", "jws", "signature envelope format: jws or cose")
	insecure := fs.Bool("insecure-registry", false, "talk to the registry over plain http")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *profile == "" {
		return usageError("image sign needs --profile NAME and one image reference (HOST/REPOSITORY:TAG or HOST/REPOSITORY@sha256:DIGEST)")
	}
	if err := cf.check(); err != nil {
		return err
	}
	mediaType, ok := map[string]string{"jws": notary.MediaTypeJWS, "cose": notary.MediaTypeCOSE}[*format]
	if !ok {
		return usageError("--signature-format must be jws or cose, not %q", *format)
	}
	ref := pos[0]
	if _, err := images.ParseReference(ref); err != nil {
		return usageError("%v", err)
	}
	sc, err := cf.signer(ctx)
	if err != nil {
		return err
	}
	// The platform is checked before the registry is touched, so that a
	// Lambda profile is refused with what to do about it.
	prof, err := sc.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: profile})
	if err != nil {
		return apiError(err)
	}
	if p := aws.ToString(prof.PlatformId); p != signing.PlatformNotation {
		return &hintError{
			err: fmt.Errorf("signing profile %s has platform %s, which signs Lambda packages; images need a profile of platform %s", *profile, p, signing.PlatformNotation),
			hints: []string{fmt.Sprintf("create one: signet profile create NAME --platform %s", signing.PlatformNotation),
				"then: signet image sign " + ref + " --profile NAME"},
		}
	}
	var out *signer.SignPayloadOutput
	sign := func(ctx context.Context, payload []byte) ([]byte, error) {
		out, err = sc.SignPayload(ctx, &signer.SignPayloadInput{
			ProfileName: profile, Payload: payload, PayloadFormat: aws.String(notary.PayloadType),
		}, withSignatureFormat(*format))
		if err != nil {
			return nil, apiError(err)
		}
		return out.Signature, nil
	}
	res, err := images.Sign(ctx, ref, sign, images.Options{PlainHTTP: *insecure, SignatureMediaType: mediaType})
	if ie := (*images.Error)(nil); errors.As(err, &ie) && ie.Op == images.OpPush && out != nil {
		// The signing job exists; say so, so that nobody looks for a
		// signature that never reached the registry.
		err = &hintError{err, []string{fmt.Sprintf("the signature was made (signing job %s) but is not in the registry; sign again once the push is allowed", out.Metadata[notary.AttrJob])}}
	}
	if err != nil {
		return imageError(err)
	}
	jobARN := out.Metadata[notary.AttrJob]
	if cf.output == "json" {
		return writeJSON(stdout, map[string]any{
			"reference": res.Reference, "artifactDigest": res.Artifact.Digest.String(),
			"signatureManifestDigest": res.Signature.Digest.String(), "signatureMediaType": mediaType,
			"jobId": aws.ToString(out.JobId), "jobArn": jobARN,
		})
	}
	fmt.Fprintf(stdout, "signed %s\n", res.Reference)
	fmt.Fprintf(stdout, "signature manifest: %s\n", res.Signature.Digest)
	fmt.Fprintf(stdout, "signing job: %s\n", jobARN)
	return nil
}

// imageError gives a registry failure its exit status and says what to
// do about it.
func imageError(err error) error {
	var ie *images.Error
	if !errors.As(err, &ie) {
		return err
	}
	switch {
	case errors.Is(err, images.ErrNotFound):
		return &exitError{exitNoImage, &hintError{err, []string{"check the repository and the tag or digest; push the image before signing it"}}}
	case errors.Is(err, images.ErrUnreachable):
		return &exitError{exitUnreachable, &hintError{err, []string{"check the registry's host and port; for a registry that speaks plain http add --insecure-registry"}}}
	case errors.Is(err, images.ErrUnauthorized):
		return &exitError{exitUnauthorized, &hintError{err, []string{
			"log in to the registry (docker login HOST or notation login HOST), or put its credentials in Docker's config.json (DOCKER_CONFIG, default ~/.docker)",
			"the credentials must allow reading the image and pushing to its repository",
		}}}
	}
	return err
}

// withSignatureFormat adds Signet's signatureFormat field to a
// SignPayload request body when the format is not AWS's JWS (AWS's
// SignPayload has no such field and always answers JWS).
func withSignatureFormat(format string) func(*signer.Options) {
	if format == "jws" {
		return func(*signer.Options) {}
	}
	return signerclient.BodyFields(map[string]string{"signatureFormat": format})
}
