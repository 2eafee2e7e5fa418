// Package keystest is the conformance suite of [keys.KeyStore]: every
// implementation runs [Run] (software keys always, PKCS#11 on SoftHSM2 when
// built with the pkcs11 tag).
package keystest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/signet/signet/internal/keys"
)

// Opener opens a key store over one set of keys. Each call opens the same
// keys again, as a restarted server does; what it opens is closed when
// the test t ends.
type Opener func(t *testing.T) keys.KeyStore

// Run runs the suite. newKeys is called once per subtest and returns an
// Opener over a fresh, empty set of keys.
func Run(t *testing.T, newKeys func(t *testing.T) Opener) {
	t.Run("create and sign", func(t *testing.T) { testCreateAndSign(t, newKeys(t)) })
	t.Run("signer after reopening", func(t *testing.T) { testReopen(t, newKeys(t)) })
	t.Run("delete", func(t *testing.T) { testDelete(t, newKeys(t)) })
	t.Run("unknown id", func(t *testing.T) { testUnknown(t, newKeys(t)) })
	t.Run("unsupported spec", func(t *testing.T) { testUnsupported(t, newKeys(t)) })
	t.Run("digest checks", func(t *testing.T) { testDigestChecks(t, newKeys(t)) })
	t.Run("cancelled context", func(t *testing.T) { testCancelled(t, newKeys(t)) })
	t.Run("concurrent signing", func(t *testing.T) { testConcurrent(t, newKeys(t)) })
}

var idPattern = regexp.MustCompile(`^key-[a-z2-7]{26}$`)

func testCreateAndSign(t *testing.T, open Opener) {
	ks := open(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		spec  keys.KeySpec
		curve elliptic.Curve
		hash  crypto.Hash
	}{
		{name: "ok/EC-384 with SHA-384", spec: keys.KeySpecEC384, curve: elliptic.P384(), hash: crypto.SHA384},
		{name: "ok/EC-256 with SHA-256", spec: keys.KeySpecEC256, curve: elliptic.P256(), hash: crypto.SHA256},
		{name: "ok/empty spec is EC-384", spec: "", curve: elliptic.P384(), hash: crypto.SHA384},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, pub, err := ks.Create(ctx, tt.spec)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if !idPattern.MatchString(id) {
				t.Errorf("id %q does not match key-<26 lowercase base32>", id)
			}
			if seen[id] {
				t.Errorf("id %q handed out twice", id)
			}
			seen[id] = true
			ecPub, ok := pub.(*ecdsa.PublicKey)
			if !ok {
				t.Fatalf("public key is %T, want *ecdsa.PublicKey", pub)
			}
			if ecPub.Curve != tt.curve {
				t.Errorf("curve = %s, want %s", ecPub.Curve.Params().Name, tt.curve.Params().Name)
			}
			s, err := ks.Signer(ctx, id)
			if err != nil {
				t.Fatalf("Signer: %v", err)
			}
			if !ecPub.Equal(s.Public()) {
				t.Fatal("signer's public key differs from the created key")
			}
			if _, leaked := s.(*ecdsa.PrivateKey); leaked {
				t.Error("Signer exposes *ecdsa.PrivateKey")
			}
			checkSigns(t, s, ecPub, tt.hash, "artifact payload")
		})
	}
}

// checkSigns signs a digest of msg with s and verifies it with pub, and
// checks that the signature does not verify another digest.
func checkSigns(t *testing.T, s crypto.Signer, pub *ecdsa.PublicKey, hash crypto.Hash, msg string) {
	t.Helper()
	h := hash.New()
	h.Write([]byte(msg))
	digest := h.Sum(nil)
	sig, err := s.Sign(rand.Reader, digest, hash)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !ecdsa.VerifyASN1(pub, digest, sig) {
		t.Fatal("signature does not verify with the public key")
	}
	digest[0] ^= 1
	if ecdsa.VerifyASN1(pub, digest, sig) {
		t.Fatal("signature verifies over another digest")
	}
}

func testReopen(t *testing.T, open Opener) {
	ctx := context.Background()
	first := open(t)
	id, pub, err := first.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		t.Fatal(err)
	}
	again := open(t)
	s, err := again.Signer(ctx, id)
	if err != nil {
		t.Fatalf("Signer after reopening: %v", err)
	}
	if !pub.(*ecdsa.PublicKey).Equal(s.Public()) {
		t.Fatal("the reopened store's key differs from the created key")
	}
	checkSigns(t, s, pub.(*ecdsa.PublicKey), crypto.SHA384, "after a restart")
}

func testDelete(t *testing.T, open Opener) {
	ctx := context.Background()
	ks := open(t)
	id, _, err := ks.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		t.Fatal(err)
	}
	other, otherPub, err := ks.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Signer(ctx, id); err != nil { // a store may cache it
		t.Fatal(err)
	}
	if err := ks.Delete(ctx, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	reopened := open(t)
	tests := []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{name: "ok/other key still signs", run: func() error {
			s, err := ks.Signer(ctx, other)
			if err == nil {
				checkSigns(t, s, otherPub.(*ecdsa.PublicKey), crypto.SHA384, "other")
			}
			return err
		}},
		{name: "fail/signer of deleted key", run: func() error { _, err := ks.Signer(ctx, id); return err }, wantErr: keys.ErrKeyNotFound},
		{name: "fail/signer of deleted key after reopening", run: func() error { _, err := reopened.Signer(ctx, id); return err }, wantErr: keys.ErrKeyNotFound},
		{name: "fail/delete twice", run: func() error { return ks.Delete(ctx, id) }, wantErr: keys.ErrKeyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func testUnknown(t *testing.T, open Opener) {
	ctx := context.Background()
	ks := open(t)
	for _, id := range []string{"key-aaaaaaaaaaaaaaaaaaaaaaaaaa", "key-unknown", ""} {
		t.Run(fmt.Sprintf("fail/%q", id), func(t *testing.T) {
			if _, err := ks.Signer(ctx, id); !errors.Is(err, keys.ErrKeyNotFound) {
				t.Errorf("Signer error = %v, want ErrKeyNotFound", err)
			}
			if err := ks.Delete(ctx, id); !errors.Is(err, keys.ErrKeyNotFound) {
				t.Errorf("Delete error = %v, want ErrKeyNotFound", err)
			}
		})
	}
}

func testUnsupported(t *testing.T, open Opener) {
	ctx := context.Background()
	ks := open(t)
	for _, spec := range []keys.KeySpec{"EC-521", "RSA-2048", "ec-384", "EC-384 ", "ED25519"} {
		t.Run("fail/"+string(spec), func(t *testing.T) {
			_, _, err := ks.Create(ctx, spec)
			if !errors.Is(err, keys.ErrUnsupportedKeySpec) {
				t.Fatalf("error = %v, want ErrUnsupportedKeySpec", err)
			}
			if !regexp.MustCompile(`"EC-384"`).MatchString(err.Error()) {
				t.Errorf("error %q does not name the supported specs", err)
			}
		})
	}
}

func testDigestChecks(t *testing.T, open Opener) {
	ctx := context.Background()
	ks := open(t)
	id, _, err := ks.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ks.Signer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	d384 := sha512.Sum384([]byte("x"))
	d256 := sha256.Sum256([]byte("x"))
	tests := []struct {
		name    string
		digest  []byte
		opts    crypto.SignerOpts
		wantErr string
	}{
		{name: "ok/SHA-384 digest", digest: d384[:], opts: crypto.SHA384},
		{name: "ok/nil opts", digest: d384[:], opts: nil},
		{name: "fail/SHA-256 digest with SHA-384 opts", digest: d256[:], opts: crypto.SHA384, wantErr: "digest is 32 bytes, want 48"},
		{name: "fail/unsupported hash", digest: d256[:], opts: crypto.MD5, wantErr: "unsupported digest hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Sign(rand.Reader, tt.digest, tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !regexp.MustCompile(regexp.QuoteMeta(tt.wantErr)).MatchString(err.Error())):
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func testCancelled(t *testing.T, open Opener) {
	ks := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ks.Create(ctx, keys.KeySpecEC384); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a cancelled context: error = %v, want context.Canceled", err)
	}
}

// testConcurrent signs from several goroutines at once, with one shared
// key and with keys each goroutine creates; run it with -race.
func testConcurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	ks := open(t)
	sharedID, sharedPub, err := ks.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		t.Fatal(err)
	}
	const workers, signatures = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*(signatures+1))
	for w := range workers {
		wg.Go(func() {
			id, pub, err := sharedID, sharedPub, error(nil)
			if w%2 == 1 {
				if id, pub, err = ks.Create(ctx, keys.KeySpecEC256); err != nil {
					errs <- fmt.Errorf("worker %d: Create: %w", w, err)
					return
				}
			}
			for i := range signatures {
				s, err := ks.Signer(ctx, id)
				if err != nil {
					errs <- fmt.Errorf("worker %d: Signer: %w", w, err)
					return
				}
				d := sha512.Sum384(fmt.Appendf(nil, "%d/%d", w, i))
				digest := d[:]
				if w%2 == 1 {
					d := sha256.Sum256(fmt.Appendf(nil, "%d/%d", w, i))
					digest = d[:]
				}
				sig, err := s.Sign(rand.Reader, digest, nil)
				if err != nil {
					errs <- fmt.Errorf("worker %d: Sign: %w", w, err)
					return
				}
				if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest, sig) {
					errs <- fmt.Errorf("worker %d: signature %d does not verify", w, i)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
