package images_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/signet/signet/internal/images"
	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/server/servertest"
)

// TestSign drives images.Sign against a real registry with envelopes from
// a real Signet server, and checks that it pushes only an envelope of the
// wanted type over exactly the payload it sent.
func TestSign(t *testing.T) {
	srv := servertest.Start(t)
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	sc := srv.Signer()
	if _, err := sc.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("images"), PlatformId: aws.String("Notation-OCI-SHA384-ECDSA")}); err != nil {
		t.Fatal(err)
	}
	signPayload := func(ctx context.Context, payload []byte) ([]byte, error) {
		out, err := sc.SignPayload(ctx, &signer.SignPayloadInput{ProfileName: aws.String("images"), Payload: payload, PayloadFormat: aws.String(notary.PayloadType)})
		if err != nil {
			return nil, err
		}
		return out.Signature, nil
	}
	refused := errors.New("refused")
	cases := []struct {
		name      string
		mediaType string
		sign      images.SignFunc
		err       string // "" for success
	}{
		{"ok/jws", notary.MediaTypeJWS, signPayload, ""},
		{"fail/wrong-envelope-type", notary.MediaTypeCOSE, signPayload, "not application/cose"},
		{"fail/other-payload", notary.MediaTypeJWS, func(ctx context.Context, payload []byte) ([]byte, error) {
			return signPayload(ctx, []byte(strings.Replace(string(payload), `"size":`, `"size":1`, 1)))
		}, "signed another payload"},
		{"fail/sign-error", notary.MediaTypeJWS, func(context.Context, []byte) ([]byte, error) { return nil, refused }, "refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repoName := "demo/" + strings.ReplaceAll(c.name, "/", "-")
			desc := reg.PushArtifact(t, repoName, "v1", []byte(c.name))
			res, err := images.Sign(ctx, reg.Host+"/"+repoName+":v1", c.sign, images.Options{
				PlainHTTP: true, SignatureMediaType: c.mediaType, Credentials: credentials.NewMemoryStore(),
			})
			referrersTag := strings.Replace(desc.Digest.String(), ":", "-", 1)
			_, tagErr := reg.Repository(t, repoName).Resolve(ctx, referrersTag)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Sign = %v, want an error containing %q", err, c.err)
				}
				if tagErr == nil {
					t.Error("a refused signature was pushed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Artifact.Digest != desc.Digest || res.Reference != reg.Host+"/"+repoName+"@"+desc.Digest.String() {
				t.Errorf("signed %s (%s), want %s", res.Reference, res.Artifact.Digest, desc.Digest)
			}
			if tagErr != nil {
				t.Errorf("no referrers tag %s: %v", referrersTag, tagErr)
			}
			// Signet's envelopes carry its TSA's timestamp.
			if len(res.SignerInfo.UnsignedAttributes.TimestampSignature) == 0 {
				t.Error("the envelope has no timestamp")
			}
			if res.SignerInfo.SignedAttributes.SigningScheme != "notary.x509.signingAuthority" {
				t.Errorf("signing scheme %s", res.SignerInfo.SignedAttributes.SigningScheme)
			}
		})
	}
}
