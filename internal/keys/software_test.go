package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/signet/signet/internal/seal"
)

func newMaster(t testing.TB) []byte {
	t.Helper()
	m := make([]byte, MasterKeySize)
	if _, err := rand.Read(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func newSoftware(t testing.TB, master []byte, store SealedStore) *Software {
	t.Helper()
	s, err := NewSoftware(master, store)
	if err != nil {
		t.Fatalf("NewSoftware: %v", err)
	}
	return s
}

func TestNewSoftware(t *testing.T) {
	tests := []struct {
		name    string
		master  []byte
		store   SealedStore
		wantErr string
	}{
		{name: "ok/32-byte master", master: make([]byte, 32), store: NewMemoryStore()},
		{name: "fail/empty master", master: nil, store: NewMemoryStore(), wantErr: "master key must be 32 bytes, got 0"},
		{name: "fail/16-byte master", master: make([]byte, 16), store: NewMemoryStore(), wantErr: "got 16"},
		{name: "fail/31-byte master", master: make([]byte, 31), store: NewMemoryStore(), wantErr: "got 31"},
		{name: "fail/33-byte master", master: make([]byte, 33), store: NewMemoryStore(), wantErr: "got 33"},
		{name: "fail/nil store", master: make([]byte, 32), store: nil, wantErr: "store must not be nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSoftware(tt.master, tt.store)
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestSoftwareRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		spec      KeySpec
		wantCurve elliptic.Curve
		hash      crypto.Hash
	}{
		{name: "ok/EC-384 with SHA-384", spec: KeySpecEC384, wantCurve: elliptic.P384(), hash: crypto.SHA384},
		{name: "ok/EC-256 with SHA-256", spec: KeySpecEC256, wantCurve: elliptic.P256(), hash: crypto.SHA256},
		{name: "ok/empty spec is EC-384", spec: "", wantCurve: elliptic.P384(), hash: crypto.SHA384},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := NewMemoryStore()
			ks := newSoftware(t, newMaster(t), store)
			id, pub, err := ks.Create(ctx, tt.spec)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if !regexp.MustCompile(`^key-[a-z2-7]{26}$`).MatchString(id) {
				t.Errorf("id %q does not match key-<26 lowercase base32>", id)
			}
			ecPub, ok := pub.(*ecdsa.PublicKey)
			if !ok {
				t.Fatalf("public key is %T, want *ecdsa.PublicKey", pub)
			}
			if ecPub.Curve != tt.wantCurve {
				t.Errorf("curve = %s, want %s", ecPub.Curve.Params().Name, tt.wantCurve.Params().Name)
			}
			sk, err := store.SealedKey(ctx, id)
			if err != nil {
				t.Fatalf("stored key: %v", err)
			}
			wantSpec := tt.spec
			if wantSpec == "" {
				wantSpec = DefaultKeySpec
			}
			if sk.Spec != wantSpec || sk.CreatedAt.IsZero() || sk.Ciphertext[0] != 0x01 {
				t.Errorf("stored key = spec %q, created %v, version %d; want spec %q, a creation time, version 1",
					sk.Spec, sk.CreatedAt, sk.Ciphertext[0], wantSpec)
			}

			signer, err := ks.Signer(ctx, id)
			if err != nil {
				t.Fatalf("Signer: %v", err)
			}
			if !ecPub.Equal(signer.Public()) {
				t.Fatal("signer public key differs from the created key")
			}
			if _, leaked := signer.(*ecdsa.PrivateKey); leaked {
				t.Error("Signer exposes *ecdsa.PrivateKey")
			}
			h := tt.hash.New()
			h.Write([]byte("artifact payload"))
			digest := h.Sum(nil)
			sig, err := signer.Sign(rand.Reader, digest, tt.hash)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !ecdsa.VerifyASN1(ecPub, digest, sig) {
				t.Fatal("signature does not verify")
			}
			digest[0] ^= 1
			if ecdsa.VerifyASN1(ecPub, digest, sig) {
				t.Fatal("signature verifies over a different digest")
			}
		})
	}
}

func TestSoftwareUnsealFailures(t *testing.T) {
	ctx := context.Background()
	master := newMaster(t)
	// Each case gets a fresh store with one key, mutates the store, and
	// opens the key with the given master key.
	tests := []struct {
		name    string
		master  func() []byte
		mutate  func(t *testing.T, store *MemoryStore, id string) string // returns the id to open
		wantErr string
	}{
		{
			name:   "ok/untouched",
			master: func() []byte { return master },
			mutate: func(t *testing.T, store *MemoryStore, id string) string { return id },
		},
		{
			name:    "fail/wrong master key",
			master:  func() []byte { return newMaster(t) },
			mutate:  func(t *testing.T, store *MemoryStore, id string) string { return id },
			wantErr: "cannot be opened",
		},
		{
			name:    "fail/tampered version byte",
			master:  func() []byte { return master },
			mutate:  flipByte(0),
			wantErr: "cannot be opened",
		},
		{
			name:    "fail/tampered nonce",
			master:  func() []byte { return master },
			mutate:  flipByte(5),
			wantErr: "cannot be opened",
		},
		{
			name:    "fail/tampered body",
			master:  func() []byte { return master },
			mutate:  flipByte(40),
			wantErr: "cannot be opened",
		},
		{
			name:    "fail/tampered tag",
			master:  func() []byte { return master },
			mutate:  flipByte(-1),
			wantErr: "cannot be opened",
		},
		{
			name:   "fail/truncated",
			master: func() []byte { return master },
			mutate: func(t *testing.T, store *MemoryStore, id string) string {
				return rewrite(t, store, id, func(k *SealedKey) { k.Ciphertext = k.Ciphertext[:20] })
			},
			wantErr: "cannot be opened",
		},
		{
			name:   "fail/ciphertext moved to another id",
			master: func() []byte { return master },
			mutate: func(t *testing.T, store *MemoryStore, id string) string {
				k, err := store.SealedKey(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				k.ID = "key-aaaaaaaaaaaaaaaaaaaaaaaaaa"
				if err := store.PutSealedKey(ctx, k); err != nil {
					t.Fatal(err)
				}
				return k.ID
			},
			wantErr: "cannot be opened",
		},
		{
			name:   "fail/spec changed",
			master: func() []byte { return master },
			mutate: func(t *testing.T, store *MemoryStore, id string) string {
				return rewrite(t, store, id, func(k *SealedKey) { k.Spec = KeySpecEC256 })
			},
			wantErr: "does not match spec",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := NewMemoryStore()
			id, _, err := newSoftware(t, master, store).Create(ctx, KeySpecEC384)
			if err != nil {
				t.Fatal(err)
			}
			openID := tt.mutate(t, store, id)
			_, err = newSoftware(t, tt.master(), store).Signer(ctx, openID)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != "" && !errors.Is(err, ErrUnseal) {
				t.Errorf("error %v does not wrap ErrUnseal", err)
			}
		})
	}
}

// flipByte returns a mutation flipping byte i of the ciphertext (negative i
// counts from the end).
func flipByte(i int) func(t *testing.T, store *MemoryStore, id string) string {
	return func(t *testing.T, store *MemoryStore, id string) string {
		return rewrite(t, store, id, func(k *SealedKey) {
			j := i
			if j < 0 {
				j += len(k.Ciphertext)
			}
			k.Ciphertext[j] ^= 0x01
		})
	}
}

// rewrite replaces the stored key id with f applied to it.
func rewrite(t *testing.T, store *MemoryStore, id string, f func(*SealedKey)) string {
	t.Helper()
	ctx := context.Background()
	k, err := store.SealedKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	f(&k)
	if err := store.DeleteSealedKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := store.PutSealedKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	return id
}

// capturingStore records what reaches the SealedStore.
type capturingStore struct {
	*MemoryStore
	put []SealedKey
}

func (c *capturingStore) PutSealedKey(ctx context.Context, k SealedKey) error {
	c.put = append(c.put, k)
	return c.MemoryStore.PutSealedKey(ctx, k)
}

func TestSoftwareCiphertextHidesKey(t *testing.T) {
	ctx := context.Background()
	store := &capturingStore{MemoryStore: NewMemoryStore()}
	// A master key of zeros is the weakest case for leaking structure.
	ks := newSoftware(t, make([]byte, MasterKeySize), store)
	for i := range 20 {
		id, _, err := ks.Create(ctx, KeySpecEC384)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := ks.Signer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// The test reaches into the unexported signer to learn D.
		d := signer.(*softwareSigner).key.D.FillBytes(make([]byte, 48))
		sk := store.put[i]
		if bytes.Contains(sk.Ciphertext, d) {
			t.Fatalf("ciphertext of %s contains the private scalar", id)
		}
		// No 8-byte window of D may appear either.
		for j := 0; j+8 <= len(d); j++ {
			if bytes.Contains(sk.Ciphertext, d[j:j+8]) {
				t.Fatalf("ciphertext of %s contains bytes %d..%d of the private scalar", id, j, j+8)
			}
		}
		if strings.Contains(sk.ID, string(d)) {
			t.Fatal("id contains key material")
		}
	}
}

func TestSoftwareUnsupportedSpec(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore()
	ks := newSoftware(t, newMaster(t), store)
	for _, spec := range []KeySpec{"EC-521", "RSA-2048", "ec-384", "EC-384 ", "ED25519"} {
		t.Run("fail/"+string(spec), func(t *testing.T) {
			_, _, err := ks.Create(ctx, spec)
			if !errors.Is(err, ErrUnsupportedKeySpec) {
				t.Fatalf("error = %v, want ErrUnsupportedKeySpec", err)
			}
			if !strings.Contains(err.Error(), `"EC-384"`) {
				t.Errorf("error %q does not name the supported specs", err)
			}
		})
	}
	if n := store.Len(); n != 0 {
		t.Errorf("store holds %d keys after failed creates, want 0", n)
	}
}

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	m := &MemoryStore{} // zero value
	k := SealedKey{ID: "key-a", Spec: KeySpecEC384, Ciphertext: []byte{1, 2, 3}}
	if err := m.PutSealedKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	k.Ciphertext[0] = 9 // the store must hold its own copy
	tests := []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{name: "ok/get copy", run: func() error {
			got, err := m.SealedKey(ctx, "key-a")
			if err == nil && got.Ciphertext[0] != 1 {
				return errors.New("stored ciphertext aliases the caller's slice")
			}
			return err
		}},
		{name: "fail/put existing id", run: func() error { return m.PutSealedKey(ctx, k) }, wantErr: ErrKeyExists},
		{name: "fail/get absent", run: func() error { _, err := m.SealedKey(ctx, "key-b"); return err }, wantErr: ErrKeyNotFound},
		{name: "fail/delete absent", run: func() error { return m.DeleteSealedKey(ctx, "key-b") }, wantErr: ErrKeyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// checkErr fails t unless err is nil (wantErr empty) or contains wantErr.
func checkErr(t *testing.T, err error, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case wantErr != "" && err == nil:
		t.Fatalf("no error, want one containing %q", wantErr)
	case wantErr != "" && !strings.Contains(err.Error(), wantErr):
		t.Fatalf("error %q does not contain %q", err, wantErr)
	}
}

func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	for _, spec := range []KeySpec{KeySpecEC384, KeySpecEC256} {
		b.Run(string(spec), func(b *testing.B) {
			ks := newSoftware(b, newMaster(b), NewMemoryStore())
			for b.Loop() {
				if _, _, err := ks.Create(ctx, spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSign measures signing a SHA-384 digest with an EC-384 key, both
// including the unseal (Signer + Sign, as a signing request does it) and
// with a signer already unsealed.
func BenchmarkSign(b *testing.B) {
	ctx := context.Background()
	ks := newSoftware(b, newMaster(b), NewMemoryStore())
	id, _, err := ks.Create(ctx, KeySpecEC384)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha512.Sum384([]byte("payload"))
	b.Run("EC-384/unseal+sign", func(b *testing.B) {
		for b.Loop() {
			s, err := ks.Signer(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA384); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EC-384/sign", func(b *testing.B) {
		s, err := ks.Signer(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA384); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestSealedPublicKey(t *testing.T) {
	box, err := seal.New(newMaster(t))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := SealPublicKey(box, "key-a", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := seal.New(newMaster(t))
	tests := []struct {
		name string
		box  *seal.Box
		id   string
		data []byte
		ok   bool
	}{
		{name: "ok", box: box, id: "key-a", data: sealed, ok: true},
		{name: "fail/another key id", box: box, id: "key-b", data: sealed},
		{name: "fail/another master key", box: other, id: "key-a", data: sealed},
		{name: "fail/altered", box: box, id: "key-a", data: append(bytes.Clone(sealed[:len(sealed)-1]), sealed[len(sealed)-1]^1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := OpenPublicKey(tt.box, tt.id, tt.data)
			if tt.ok {
				if err != nil || !key.PublicKey.Equal(pub) {
					t.Fatalf("OpenPublicKey = %v, %v; want the key", pub, err)
				}
				return
			}
			if !errors.Is(err, ErrUnseal) {
				t.Fatalf("error = %v, want ErrUnseal", err)
			}
		})
	}
}
