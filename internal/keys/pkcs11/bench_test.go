//go:build pkcs11 && cgo

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"testing"

	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/keys/pkcs11"
	"github.com/signet/signet/internal/keys/pkcs11/pkcs11test"
)

// BenchmarkSign is one EC-384 signature of a SHA-384 digest as a profile's
// CA makes it (Signer, then Sign): Go's crypto/ecdsa as the reference, a
// software key (unsealed each time) and a key on a SoftHSM2 token.
func BenchmarkSign(b *testing.B) {
	ctx := context.Background()
	digest := sha512.Sum384([]byte("tbs certificate"))
	b.Run("reference=ecdsa-p384", func(b *testing.B) {
		key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	run := func(b *testing.B, ks keys.KeyStore) {
		id, _, err := ks.Create(ctx, keys.KeySpecEC384)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			s, err := ks.Signer(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA384); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("software", func(b *testing.B) {
		master := make([]byte, keys.MasterKeySize)
		rand.Read(master)
		ks, err := keys.NewSoftware(master, keys.NewMemoryStore())
		if err != nil {
			b.Fatal(err)
		}
		run(b, ks)
	})
	b.Run("pkcs11", func(b *testing.B) {
		ks, err := pkcs11.Open(pkcs11test.NewToken(b))
		if err != nil {
			b.Fatal(err)
		}
		defer ks.Close()
		run(b, ks)
	})
}
