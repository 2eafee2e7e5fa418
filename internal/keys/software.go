package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/signet/signet/internal/seal"
)

const (
	// MasterKeySize is the length in bytes of the master key.
	MasterKeySize = 32

	sealAADV1 = "signet-key-v1:"

	// idPrefix and idRandBytes shape key ids: "key-" and 26 lowercase
	// base32 characters holding 128 random bits.
	idPrefix    = "key-"
	idRandBytes = 16
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Software is the default KeyStore. Keys are ECDSA, kept as PKCS#8 DER sealed
// with AES-256-GCM under a 32-byte master key; only the sealed form reaches
// the SealedStore. A key is unsealed in memory each time Signer is called.
// Software is safe for concurrent use if its SealedStore is.
type Software struct {
	box   *seal.Box
	store SealedStore
}

var _ KeyStore = (*Software)(nil)

// NewSoftware returns a Software key store sealing under master, which must
// be exactly MasterKeySize (32) bytes, and persisting through store.
func NewSoftware(master []byte, store SealedStore) (*Software, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	if store == nil {
		return nil, fmt.Errorf("sealed key store must not be nil")
	}
	box, err := seal.New(master)
	if err != nil {
		return nil, err
	}
	return &Software{box: box, store: store}, nil
}

// Create generates a key of spec (DefaultKeySpec if empty), seals it and
// stores it. It returns the new key's id and its *ecdsa.PublicKey.
func (s *Software) Create(ctx context.Context, spec KeySpec) (string, crypto.PublicKey, error) {
	spec, err := specOrDefault(spec)
	if err != nil {
		return "", nil, err
	}
	curve, _ := spec.curve()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return "", nil, fmt.Errorf("generate %s key: %w", spec, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", nil, fmt.Errorf("marshal %s key: %w", spec, err)
	}
	defer clear(der)
	id, err := NewID()
	if err != nil {
		return "", nil, err
	}
	ct, err := s.seal(id, der)
	if err != nil {
		return "", nil, err
	}
	sk := SealedKey{ID: id, Spec: spec, Ciphertext: ct, CreatedAt: time.Now().UTC()}
	if err := s.store.PutSealedKey(ctx, sk); err != nil {
		return "", nil, fmt.Errorf("store key %s: %w", id, err)
	}
	return id, &key.PublicKey, nil
}

// Signer unseals the key and returns a crypto.Signer for it. The signer
// produces ASN.1 DER ECDSA signatures over a digest whose length must match
// opts.HashFunc(). It does not expose the private key.
func (s *Software) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	sk, err := s.store.SealedKey(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", id, err)
	}
	key, err := s.unseal(sk)
	if err != nil {
		return nil, err
	}
	return &softwareSigner{key: key}, nil
}

// Delete removes the sealed key from the store.
func (s *Software) Delete(ctx context.Context, id string) error {
	if err := s.store.DeleteSealedKey(ctx, id); err != nil {
		return fmt.Errorf("delete key %s: %w", id, err)
	}
	return nil
}

// seal encrypts PKCS#8 DER for key id.
func (s *Software) seal(id string, der []byte) ([]byte, error) {
	return s.box.Seal(der, aad(id)), nil
}

// unseal decrypts and parses sk, checking that the key matches sk.Spec.
func (s *Software) unseal(sk SealedKey) (*ecdsa.PrivateKey, error) {
	der, err := s.box.Open(sk.Ciphertext, aad(sk.ID))
	if err != nil {
		return nil, fmt.Errorf("unseal key %s: %w (%w)", sk.ID, ErrUnseal, err)
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("unseal key %s: parse PKCS#8: %w", sk.ID, ErrUnseal)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || !sk.Spec.matches(key) {
		return nil, fmt.Errorf("unseal key %s: key does not match spec %q: %w", sk.ID, sk.Spec, ErrUnseal)
	}
	return key, nil
}

func aad(id string) []byte { return []byte(sealAADV1 + id) }

// NewID returns a new key id: "key-" followed by 26 lowercase base32
// characters holding 128 random bits. Every KeyStore names the keys it
// creates so.
func NewID() (string, error) {
	var b [idRandBytes]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", fmt.Errorf("generate key id: %w", err)
	}
	return idPrefix + strings.ToLower(idEncoding.EncodeToString(b[:])), nil
}

// softwareSigner signs with an unsealed key without exposing it.
type softwareSigner struct {
	key *ecdsa.PrivateKey
}

var _ crypto.Signer = (*softwareSigner)(nil)

// Public returns the *ecdsa.PublicKey.
func (s *softwareSigner) Public() crypto.PublicKey { return &s.key.PublicKey }

// Sign signs digest, returning an ASN.1 DER ECDSA signature. When opts names
// a hash, it must be SHA-256, SHA-384 or SHA-512 and digest must have its
// length.
func (s *softwareSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := CheckDigest(digest, opts); err != nil {
		return nil, err
	}
	if r == nil {
		r = rand.Reader
	}
	sig, err := s.key.Sign(r, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("ecdsa sign: %w", err)
	}
	return sig, nil
}
