package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/keys/pkcs11/pkcs11test"
	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/server/servertest"
)

// BenchmarkSignPayloadKeyStore is BenchmarkSignPayload with the server's
// keys in each key store: a SignPayload makes two signatures with them
// (the profile's intermediate CA signs the leaf certificate, the TSA
// signs the timestamp) besides the fresh leaf key's own. The reference is
// one ECDSA P-384 signature with Go's crypto/ecdsa. pkcs11 runs on a
// SoftHSM2 token when built with -tags pkcs11:
//
//	CGO_ENABLED=1 go test -tags pkcs11 -run '^$' -bench SignPayloadKeyStore ./internal/server
func BenchmarkSignPayloadKeyStore(b *testing.B) {
	b.Run("reference=ecdsa-p384-sign", func(b *testing.B) {
		key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		digest := sha512.Sum384([]byte("tbs certificate"))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("software", func(b *testing.B) { benchSignPayload(b, func(*config.Config) {}) })
	b.Run("pkcs11", func(b *testing.B) {
		tok := pkcs11test.NewToken(b)
		pin := filepath.Join(b.TempDir(), "pin")
		if err := os.WriteFile(pin, []byte(tok.PIN), 0o600); err != nil {
			b.Fatal(err)
		}
		benchSignPayload(b, func(c *config.Config) {
			c.KeyStore = config.KeyStore{Type: "pkcs11", Module: tok.Module, TokenLabel: tok.TokenLabel, PINFile: pin}
		})
	})
}

func benchSignPayload(b *testing.B, edit func(*config.Config)) {
	ts := servertest.StartWith(b, edit)
	c := ts.Signer()
	ctx := context.Background()
	if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("images"), PlatformId: aws.String("Notation-OCI-SHA384-ECDSA")}); err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270","size":528}}`)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SignPayload(ctx, &signer.SignPayloadInput{ProfileName: aws.String("images"), Payload: payload, PayloadFormat: aws.String(notary.PayloadType)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
