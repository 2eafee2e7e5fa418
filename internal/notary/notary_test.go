package notary

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/dir"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/signet/signet/internal/pki"
	"github.com/signet/signet/internal/pki/pkitest"
)

const (
	versionARN = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/ABCDEFGHIJ"
	jobARN     = "arn:aws:signer:us-east-1:123456789012:/signing-jobs/db882524-902e-4bd6-ac03-a66df08e73a0"
)

func blob() ([]byte, Descriptor) {
	b := []byte("PK\x05\x06 a package")
	sum := sha512.Sum384(b)
	return b, Descriptor{MediaType: "application/zip", Digest: "sha384:" + hex.EncodeToString(sum[:]), Size: int64(len(b))}
}

func sign(t *testing.T, ca *pkitest.Authority, mediaType string, signingTime, expiry time.Time) []byte {
	t.Helper()
	leaf, key := ca.IssueLeaf(t, pkitest.Subject("p"))
	_, d := blob()
	payload, err := Payload(d)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Sign(SignRequest{Payload: payload, MediaType: mediaType, Key: key, Chain: ca.Chain(leaf),
		SigningTime: signingTime, Expiry: expiry, ProfileVersionARN: versionARN, JobARN: jobARN, SigningAgent: "Signet/test"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestSignVerify(t *testing.T) {
	ca := pkitest.New(t)
	other := pkitest.New(t)
	now := time.Now()
	_, d := blob()
	for _, mt := range []string{MediaTypeJWS, MediaTypeCOSE} {
		env := sign(t, ca, mt, now, now.Add(time.Hour))
		tampered := bytes.Clone(env)
		tampered[len(tampered)/2] ^= 0x01
		cases := map[string]struct {
			env   []byte
			roots *pkitest.Authority
			at    time.Time
			check Check // "" for success
		}{
			"ok":                {env, ca, now, ""},
			"fail/tampered":     {tampered, ca, now, "any"},
			"fail/other-root":   {env, other, now, CheckAuthenticity},
			"fail/expired":      {env, ca, now.Add(2 * time.Hour), CheckExpiry},
			"fail/not-envelope": {[]byte("{}"), ca, now, "any"},
		}
		for name, c := range cases {
			t.Run(mt+"/"+name, func(t *testing.T) {
				v, err := Verify(c.env, mt, []*x509Cert{c.roots.Root.Cert}, c.at)
				if c.check == "" {
					if err != nil {
						t.Fatal(err)
					}
					if v.Artifact.Digest != d.Digest || v.Artifact.Size != d.Size || v.ProfileVersionARN != versionARN || v.JobARN != jobARN ||
						!v.SigningTime.Equal(now.Truncate(time.Second)) || len(v.Chain) != 3 || v.SigningAgent != "Signet/test" {
						t.Errorf("Verified = %+v", v)
					}
					return
				}
				var ve *VerifyError
				if !errors.As(err, &ve) {
					t.Fatalf("Verify = %v, want a *VerifyError", err)
				}
				if c.check != "any" && ve.Check != c.check {
					t.Errorf("check %q (%v), want %q", ve.Check, err, c.check)
				}
			})
		}
	}
}

// TestNotationGoAccepts checks Signet's envelopes with notation-go's own
// blob verifier, as a standard Notary verifier would.
func TestNotationGoAccepts(t *testing.T) {
	ca := pkitest.New(t)
	now := time.Now()
	content, _ := blob()
	cfg := t.TempDir()
	storeDir := filepath.Join(cfg, "truststore", "x509", "signingAuthority", "signet")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(storeDir, "root.pem"), pemCert(ca.Root.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	policy := func(identity string) *trustpolicy.BlobDocument {
		return &trustpolicy.BlobDocument{Version: "1.0", TrustPolicies: []trustpolicy.BlobTrustPolicy{{
			Name: "signet", GlobalPolicy: true,
			SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: "strict", Override: map[trustpolicy.ValidationType]trustpolicy.ValidationAction{trustpolicy.TypeRevocation: trustpolicy.ActionSkip}},
			TrustStores:           []string{"signingAuthority:signet"}, TrustedIdentities: []string{identity},
		}}}
	}
	good := "x509.subject: " + pkitest.Subject("p").String()
	cases := map[string]struct {
		identity string
		blob     []byte
		ok       bool
	}{
		"ok":                {good, content, true},
		"fail/other-signer": {"x509.subject: " + pkitest.Subject("someone-else").String(), content, false},
		"fail/other-blob":   {good, append(bytes.Clone(content), '!'), false},
	}
	for _, mt := range []string{MediaTypeJWS, MediaTypeCOSE} {
		env := sign(t, ca, mt, now, now.Add(time.Hour))
		for name, c := range cases {
			t.Run(mt+"/"+name, func(t *testing.T) {
				v, err := verifier.NewVerifierWithOptions(truststore.NewX509TrustStore(dir.NewSysFS(cfg)), verifier.VerifierOptions{BlobTrustPolicy: policy(c.identity)})
				if err != nil {
					t.Fatal(err)
				}
				_, _, err = notation.VerifyBlob(context.Background(), v, bytes.NewReader(c.blob), env, notation.VerifyBlobOptions{
					BlobVerifierVerifyOptions: notation.BlobVerifierVerifyOptions{SignatureMediaType: mt},
					ContentMediaType:          "application/zip",
				})
				if (err == nil) != c.ok {
					t.Errorf("notation.VerifyBlob = %v, want ok=%v", err, c.ok)
				}
			})
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"payload":"e30","protected":"e30","header":{},"signature":"AA"}`), true)
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40}, false)
	ca := pkitest.New(f)
	roots := []*x509Cert{ca.Root.Cert}
	f.Fuzz(func(t *testing.T, env []byte, jws bool) {
		mt := MediaTypeCOSE
		if jws {
			mt = MediaTypeJWS
		}
		v, err := Verify(env, mt, roots, time.Now())
		if err == nil && v == nil {
			t.Fatal("nil result without error")
		}
	})
}

// BenchmarkSignatureCrypto is the crypto of one Signet signature as the
// libraries do it: a fresh P-384 key, its leaf certificate
// (crypto/x509 signs, then verifies), and the envelope (notation-core-go
// validates the chain — three verifications — then signs).
func BenchmarkSignatureCrypto(b *testing.B) {
	ca := pkitest.New(b)
	_, d := blob()
	payload, _ := Payload(d)
	now := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key, err := pki.GenerateKey()
			if err != nil {
				b.Error(err)
				return
			}
			leaf, err := ca.Intermediate.IssueLeaf(pki.Template{Subject: pkitest.Subject("p"), PublicKey: key.Public(), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour), CRLURL: pkitest.CRLURL})
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := Sign(SignRequest{Payload: payload, Key: key, Chain: ca.Chain(leaf), SigningTime: now, Expiry: now.Add(time.Hour), ProfileVersionARN: versionARN, JobARN: jobARN}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestSignVerificationPlugin: the verification plugin attribute is in the
// envelope, signed and critical, only when asked for.
func TestSignVerificationPlugin(t *testing.T) {
	ca := pkitest.New(t)
	_, d := blob()
	payload, err := Payload(d)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, mt := range []string{MediaTypeJWS, MediaTypeCOSE} {
		for _, plugin := range []string{"", "signet"} {
			leaf, key := ca.IssueLeaf(t, pkitest.Subject("p"))
			env, err := Sign(SignRequest{Payload: payload, MediaType: mt, Key: key, Chain: ca.Chain(leaf),
				SigningTime: now, Expiry: now.Add(time.Hour), ProfileVersionARN: versionARN, JobARN: jobARN, VerificationPlugin: plugin})
			if err != nil {
				t.Fatal(err)
			}
			e, err := signature.ParseEnvelope(mt, env)
			if err != nil {
				t.Fatal(err)
			}
			content, err := e.Verify()
			if err != nil {
				t.Fatal(err)
			}
			a, err := content.SignerInfo.ExtendedAttribute(AttrVerificationPlugin)
			switch {
			case plugin == "" && err == nil:
				t.Errorf("%s: envelope names verification plugin %v, none was asked for", mt, a.Value)
			case plugin != "" && (err != nil || a.Value != plugin || !a.Critical):
				t.Errorf("%s: verification plugin attribute = %+v, %v; want %q, critical", mt, a, err, plugin)
			}
		}
	}
}
