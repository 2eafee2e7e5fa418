package images_test

import (
	"context"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/images"
	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/server/servertest"
)

// trustDir writes a Notation trust store holding the server's root as
// the signingAuthority store "signet" and an OCI policy of the level
// trusting any identity from it.
func trustDir(t *testing.T, srv *servertest.Server, level string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	store := filepath.Join(dir, "truststore", "x509", "signingAuthority", "signet")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(store, "root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Authority.Root.Cert.Raw}), 0o644)
	policy := filepath.Join(dir, "trustpolicy.json")
	os.WriteFile(policy, []byte(`{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],
"signatureVerification":{"level":"`+level+`"},"trustStores":["signingAuthority:signet"],"trustedIdentities":["*"]}]}`), 0o644)
	return dir, policy
}

// TestVerifyExpiry: a signature of a profile with a one-day validity
// verifies now and is expired two days later (an injected clock: the
// shortest validity a profile has is a day); permissive only logs it.
func TestVerifyExpiry(t *testing.T) {
	srv := servertest.Start(t)
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	sc := srv.Signer()
	if _, err := sc.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("daily"), PlatformId: aws.String("Notation-OCI-SHA384-ECDSA"),
		SignatureValidityPeriod: &types.SignatureValidityPeriod{Value: 1, Type: types.ValidityTypeDays}}); err != nil {
		t.Fatal(err)
	}
	desc := reg.PushArtifact(t, "demo/app", "v1", []byte("app"))
	ref := reg.Host + "/demo/app@" + desc.Digest.String()
	if _, err := images.Sign(ctx, ref, func(ctx context.Context, payload []byte) ([]byte, error) {
		out, err := sc.SignPayload(ctx, &signer.SignPayloadInput{ProfileName: aws.String("daily"), Payload: payload, PayloadFormat: aws.String(notary.PayloadType)})
		if err != nil {
			return nil, err
		}
		return out.Signature, nil
	}, images.Options{PlainHTTP: true}); err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(48 * time.Hour) }
	cases := []struct {
		name, level string
		now         func() time.Time
		verified    bool
		expiry      string // the expiry check's result
	}{
		{"now", "strict", nil, true, "ok"},
		{"two-days-later", "strict", later, false, "failed"},
		{"two-days-later-permissive", "permissive", later, true, "logged"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, policyFile := trustDir(t, srv, c.level)
			doc, err := images.LoadPolicy(policyFile)
			if err != nil {
				t.Fatal(err)
			}
			v, err := images.Verify(ctx, ref, images.VerifyOptions{Registry: images.Options{PlainHTTP: true}, Policy: doc, TrustStoreDir: dir, Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			if v.Verified != c.verified || len(v.Signatures) != 1 {
				t.Fatalf("verified=%v, want %v: %+v", v.Verified, c.verified, v)
			}
			for _, ch := range v.Signatures[0].Checks {
				if ch.Rule == images.RuleExpiry && ch.Result != c.expiry {
					t.Errorf("expiry: %+v, want %s", ch, c.expiry)
				}
			}
			if !c.verified && v.Failed() != images.RuleExpiry {
				t.Errorf("failed check %q, want expiry", v.Failed())
			}
		})
	}
}

// TestVerifierResultTTL: a Verifier's kept result does not outlive the
// signature's expiry.
func TestVerifierResultTTL(t *testing.T) {
	srv := servertest.Start(t)
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	sc := srv.Signer()
	if _, err := sc.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("daily"), PlatformId: aws.String("Notation-OCI-SHA384-ECDSA"),
		SignatureValidityPeriod: &types.SignatureValidityPeriod{Value: 1, Type: types.ValidityTypeDays}}); err != nil {
		t.Fatal(err)
	}
	desc := reg.PushArtifact(t, "demo/app", "v1", []byte("app"))
	ref := reg.Host + "/demo/app@" + desc.Digest.String()
	if _, err := images.Sign(ctx, ref, func(ctx context.Context, payload []byte) ([]byte, error) {
		out, err := sc.SignPayload(ctx, &signer.SignPayloadInput{ProfileName: aws.String("daily"), Payload: payload, PayloadFormat: aws.String(notary.PayloadType)})
		if err != nil {
			return nil, err
		}
		return out.Signature, nil
	}, images.Options{PlainHTTP: true}); err != nil {
		t.Fatal(err)
	}
	dir, policyFile := trustDir(t, srv, "strict")
	doc, err := images.LoadPolicy(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v, err := images.NewVerifier(images.VerifyOptions{Registry: images.Options{PlainHTTP: true}, Policy: doc, TrustStoreDir: dir,
		Now: func() time.Time { return now }, ResultTTL: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true} {
		if res, err := v.Verify(ctx, ref); err != nil || res.Verified != want {
			t.Fatalf("verification %d: %v %+v", i, err, res)
		}
	}
	now = now.Add(48 * time.Hour)
	if res, err := v.Verify(ctx, ref); err != nil || res.Verified || res.Failed() != images.RuleExpiry {
		t.Errorf("two days later: %v %+v", err, res)
	}
}

// TestParsePolicy: a trust policy notation would refuse is refused with
// the file, the line or field, and what to fix.
func TestParsePolicy(t *testing.T) {
	good := `{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["signingAuthority:signet"],"trustedIdentities":["*"]}]}`
	cases := []struct {
		name, doc string
		want      []string // substrings of the error; none: accepted
	}{
		{"good", good, nil},
		{"syntax", "{\n\"version\": \"1.0\",\n\"trustPolicies\": [,]\n}", []string{"p.json:3: malformed trust policy"}},
		{"type", "{\n\"version\": 1\n}", []string{"p.json:2:", "(version)", "version must be a JSON string"}},
		{"unknown-field", "{\n\"version\": \"1.0\",\n\"trustPolicy\": []\n}", []string{"p.json:3:", "(trustPolicy)"}},
		{"trailing", good + "\n{}", []string{"data after the JSON object"}},
		{"level", strings.Replace(good, `"strict"`, `"strictest"`, 1), []string{`trustPolicies[0] "p"`, "strictest"}},
		{"version", strings.Replace(good, `"1.0"`, `"2.0"`, 1), []string{"2.0"}},
		{"no-statements", `{"version":"1.0","trustPolicies":[]}`, []string{"malformed trust policy"}},
		{"identity", strings.Replace(good, `["*"]}`, `["x509.subject: CN=only"]}`, 1), []string{`trustPolicies[0] "p"`}},
		{"store", strings.Replace(good, "signingAuthority:signet", "vault:signet", 1), []string{`trustPolicies[0] "p"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := images.ParsePolicy("p.json", []byte(c.doc))
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *images.PolicyError
			if !errors.Is(err, images.ErrPolicy) || !errors.As(err, &pe) || pe.Fix == "" {
				t.Fatalf("error %v is not a PolicyError with a fix", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
}

// FuzzParsePolicy: the loader never panics, and a policy it accepts
// passes notation-go's own validation.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["signingAuthority:signet","tsa:signet-tsa"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=Signet"]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := images.ParsePolicy("p.json", b)
		if err != nil {
			if !errors.Is(err, images.ErrPolicy) {
				t.Fatalf("error is not ErrPolicy: %v", err)
			}
			return
		}
		if err := doc.Validate(); err != nil {
			t.Fatalf("accepted a policy notation-go refuses: %v", err)
		}
	})
}
