package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/images"
	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/keys/pkcs11"
	"github.com/signet/signet/internal/keys/pkcs11/pkcs11test"
	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/verify"
)

// custody is where a test server keeps its private keys.
type custody struct {
	// edit selects the key store in the server's configuration.
	edit func(*config.Config)
	// key returns the public key of the key id from where the keys are
	// kept, or an error wrapping keys.ErrKeyNotFound.
	key func(ctx context.Context, ts *servertest.Server, id string) (crypto.PublicKey, error)
	// inDatabase is whether the database holds the keys (sealed).
	inDatabase bool
	// rootKeyLabel is the label of the operator's root key, if any.
	rootKeyLabel string
}

func softwareCustody(t *testing.T) custody {
	return custody{
		edit: func(*config.Config) {},
		key: func(ctx context.Context, ts *servertest.Server, id string) (crypto.PublicKey, error) {
			master, err := keys.LoadMasterKey(filepath.Join(ts.Config().DataDir, "master.key"))
			if err != nil {
				return nil, err
			}
			ks, err := keys.NewSoftware(master, ts.DB().Keys)
			if err != nil {
				return nil, err
			}
			s, err := ks.Signer(ctx, id)
			if err != nil {
				return nil, err
			}
			return s.Public(), nil
		},
		inDatabase: true,
	}
}

// tokenCustody makes a SoftHSM2 token with an operator's root key on it
// and configures the server to keep its keys there.
func tokenCustody(t *testing.T) custody {
	cfg := pkcs11test.NewToken(t)
	const rootLabel = "operator-root"
	pkcs11test.OperatorKey(t, cfg, rootLabel)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(cfg.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return custody{
		edit: func(c *config.Config) {
			c.KeyStore = config.KeyStore{Type: "pkcs11", Module: cfg.Module, TokenLabel: cfg.TokenLabel, PINFile: pinFile,
				KeyLabelPrefix: "signet-test/", RootKeyLabel: rootLabel}
		},
		key: func(ctx context.Context, _ *servertest.Server, id string) (crypto.PublicKey, error) {
			// A store of the test's own on the token: it finds what the
			// server made there by key id alone.
			cfg.KeyLabelPrefix = "signet-test/"
			st, err := pkcs11.Open(cfg)
			if err != nil {
				return nil, err
			}
			defer st.Close()
			s, err := st.Signer(ctx, id)
			if err != nil {
				return nil, err
			}
			return s.Public(), nil
		},
		rootKeyLabel: rootLabel,
	}
}

// TestKeyCustody runs one server per key store: its root, time-stamping,
// audit and profile keys are where the configuration says; a Lambda
// package signed through a signing job and an image signed through
// SignPayload verify, their revocation checked with OCSP responses the
// server signs with keys from the same store.
func TestKeyCustody(t *testing.T) {
	for name, c := range map[string]func(*testing.T) custody{"software": softwareCustody, "pkcs11": tokenCustody} {
		t.Run(name, func(t *testing.T) { testKeyCustody(t, c(t)) })
	}
}

func testKeyCustody(t *testing.T, c custody) {
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	ts := servertest.StartWith(t, c.edit)
	e := &jobEnv{ts: ts, s3: ts.S3(), signer: ts.Signer()}
	e.setup(t) // buckets and the Lambda profile signing_profile_for_lambda
	put, err := e.signer.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("images"), PlatformId: aws.String("Notation-OCI-SHA384-ECDSA")})
	if err != nil {
		t.Fatal(err)
	}

	// Where every key is.
	type keyOf struct {
		name, id string
		pub      crypto.PublicKey
	}
	var want []keyOf
	for _, p := range []struct{ name, version string }{{"signing_profile_for_lambda", e.version}, {"images", aws.ToString(put.ProfileVersion)}} {
		v, err := ts.Profiles.Store.ProfileVersion(ctx, p.name, p.version)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(v.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, keyOf{"intermediate CA of " + p.name, v.KeyID, cert.PublicKey})
	}
	setting := func(name string) string {
		v, err := ts.DB().Setting(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	want = append(want,
		keyOf{"root CA", setting("root_key_id"), ts.Authority.Root.Cert.PublicKey},
		keyOf{"time-stamping authority", setting("tsa_key_id"), ts.TSA.Cert.PublicKey},
		keyOf{"time-stamping root", setting("tsa_root_key_id"), ts.TSA.Chain[len(ts.TSA.Chain)-1].PublicKey},
		keyOf{"audit checkpoints", setting("audit_key_id"), nil})
	for _, k := range want {
		pub, err := c.key(ctx, ts, k.id)
		if err != nil {
			t.Errorf("%s (key %s) is not in the key store: %v", k.name, k.id, err)
			continue
		}
		if k.pub != nil && !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.pub) {
			t.Errorf("%s: the key store's key %s is not the certificate's", k.name, k.id)
		}
		_, err = ts.DB().Keys.SealedKey(ctx, k.id)
		if c.inDatabase != (err == nil) {
			t.Errorf("%s: the database holds key %s: %v, want %v (error %v)", k.name, k.id, err == nil, c.inDatabase, err)
		}
	}
	if c.rootKeyLabel != "" && setting("root_key_id") != pkcs11.LabelID(c.rootKeyLabel) {
		t.Errorf("root key %s, want the operator's key %s", setting("root_key_id"), pkcs11.LabelID(c.rootKeyLabel))
	}

	t.Run("lambda package", func(t *testing.T) {
		ver := e.put(t, "artifacts", "hello.zip", zipOf(t, helloZip))
		id, err := e.start(t, "hello.zip", ver, "signing_profile_for_lambda", "custody")
		if err != nil {
			t.Fatal(err)
		}
		if d := e.wait(t, id); d.Status != types.SigningStatusSucceeded {
			t.Fatalf("job %s: %s %q", id, d.Status, aws.ToString(d.StatusReason))
		}
		signed, err := e.get(t, "artifacts", "signed-"+id+".zip")
		if err != nil {
			t.Fatal(err)
		}
		publisher := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/signing_profile_for_lambda/%s", ts.AccountID(), e.version)
		rep, err := verify.Package(bytes.NewReader(signed), int64(len(signed)), verify.Options{Roots: []*x509.Certificate{ts.Authority.Root.Cert}, AllowedPublishers: []string{publisher}})
		if err != nil || !rep.OK() {
			t.Fatalf("the signed package does not verify: %v %+v", err, rep)
		}
		checkTimestamp(t, ts, rep.Envelope, rep.EnvelopeType.MediaType())
	})

	t.Run("image", func(t *testing.T) {
		ref, _ := signImage(t, ts, reg, "images", "custody/app")
		dir := t.TempDir()
		store := filepath.Join(dir, "truststore", "x509", "signingAuthority", "signet")
		if err := os.MkdirAll(store, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(store, "root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Authority.Root.Cert.Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		policy, err := images.ParsePolicy("trustpolicy.json", []byte(`{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],
"signatureVerification":{"level":"strict"},"trustStores":["signingAuthority:signet"],"trustedIdentities":["*"]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		v, err := images.Verify(ctx, ref, images.VerifyOptions{Registry: images.Options{PlainHTTP: true}, Policy: policy, TrustStoreDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if !v.Verified || len(v.Signatures) != 1 {
			t.Fatalf("the image does not verify: %+v", v)
		}
		for _, ch := range v.Signatures[0].Checks {
			if ch.Rule == images.RuleRevocation && ch.Result != "ok" {
				t.Errorf("revocation check %+v, want ok (OCSP answered)", ch)
			}
		}
	})

	t.Run("after a restart", func(t *testing.T) {
		dir := ts.Config().DataDir
		root := ts.Authority.Root.Cert
		ts.Stop()
		again := servertest.StartWith(t, func(cfg *config.Config) { c.edit(cfg); cfg.DataDir = dir })
		payload, err := notary.Payload(notary.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: "sha256:" + strings.Repeat("ab", 32), Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		out, err := again.Signer().SignPayload(ctx, &signer.SignPayloadInput{ProfileName: aws.String("images"), Payload: payload, PayloadFormat: aws.String(notary.PayloadType)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := notary.Verify(out.Signature, notary.MediaTypeJWS, []*x509.Certificate{root}, time.Now()); err != nil {
			t.Fatalf("a signature after the restart does not verify under the same root: %v", err)
		}
		again.Stop()

		// signet audit verify checks the checkpoints, signed in the key
		// store, without opening it.
		args := []string{"audit", "verify", "--data-dir", dir}
		if u := again.Config().DatabaseURL; u != "" {
			args = append(args, "--database-url", u)
		}
		var stdout, stderr bytes.Buffer
		if code := cli.Main(ctx, args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "audit log intact") || strings.Contains(stdout.String(), " 0 signed checkpoints") {
			t.Fatalf("signet audit verify: exit %d\n%s%s", code, stdout.String(), stderr.String())
		}
	})
}

// TestKeyStoreNotBuilt: a build without PKCS#11 support given a pkcs11
// key store refuses to start, says how to build with it, and creates no
// data directory.
func TestKeyStoreNotBuilt(t *testing.T) {
	if pkcs11.Available {
		t.Skip("this test binary has PKCS#11 support")
	}
	cfg := config.Defaults()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.KeyStore = config.KeyStore{Type: "pkcs11", Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "signet", PINEnv: "SIGNET_TEST_PKCS11_PIN"}
	srv, err := server.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		srv.Close()
		t.Fatal("the server started")
	}
	if !errors.Is(err, pkcs11.ErrNotBuilt) || !strings.Contains(err.Error(), "-tags pkcs11") || !strings.Contains(err.Error(), "CGO_ENABLED=1") {
		t.Errorf("error %q does not say to build with -tags pkcs11 and cgo", err)
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory was created: %v", err)
	}
}
