package images_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/notaryproject/notation-core-go/signature"

	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/server/servertest"
)

// withField adds one JSON field to a request body before it is signed.
func withField(key, value string) func(*signer.Options) {
	return func(o *signer.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Serialize.Add(middleware.SerializeMiddlewareFunc("TestField",
				func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
					req := in.Request.(*smithyhttp.Request)
					body, _ := io.ReadAll(req.GetStream())
					var doc map[string]any
					if err := json.Unmarshal(body, &doc); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					doc[key] = value
					body, _ = json.Marshal(doc)
					var err error
					if in.Request, err = req.SetStream(bytes.NewReader(body)); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					return next.HandleSerialize(ctx, in)
				}), middleware.After)
		})
	}
}

// TestSignPayloadSignatureFormat: Signet's signatureFormat field of
// SignPayload chooses the envelope; AWS's requests, without it, get JWS.
func TestSignPayloadSignatureFormat(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	sc := srv.Signer()
	if _, err := sc.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("images"), PlatformId: aws.String("Notation-OCI-SHA384-ECDSA")}); err != nil {
		t.Fatal(err)
	}
	payload, err := notary.Payload(notary.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: "sha256:" + string(bytes.Repeat([]byte("ab"), 32)), Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, format string // "" sends no field
		mediaType    string // the envelope's, or "" for a ValidationException
	}{
		{"absent", "", notary.MediaTypeJWS},
		{"jws", "jws", notary.MediaTypeJWS},
		{"cose", "cose", notary.MediaTypeCOSE},
		{"unknown", "xml", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opts []func(*signer.Options)
			if c.format != "" {
				opts = append(opts, withField("signatureFormat", c.format))
			}
			out, err := sc.SignPayload(ctx, &signer.SignPayloadInput{ProfileName: aws.String("images"), Payload: payload, PayloadFormat: aws.String(notary.PayloadType)}, opts...)
			if c.mediaType == "" {
				var api smithy.APIError
				if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" {
					t.Fatalf("SignPayload = %v, want ValidationException", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := signature.ParseEnvelope(c.mediaType, out.Signature); err != nil {
				t.Errorf("the envelope is not %s: %v", c.mediaType, err)
			}
		})
	}
}
