// Package keys holds Signet's private signing keys.
//
// A [KeyStore] creates keys, hands out a [crypto.Signer] for a key by id, and
// destroys keys. The default implementation, [Software], keeps every key as
// PKCS#8 DER sealed with AES-256-GCM under the installation's 32-byte master
// key and persists only the sealed form through a [SealedStore]; a private key
// is unsealed in memory for the duration of a signing operation and never
// written anywhere in the clear. A PKCS#11 implementation is planned behind a
// build tag.
//
// # Sealed format
//
// [SealedKey.Ciphertext] is
//
//	version (1 byte, 0x01) || nonce (12 bytes) || AES-256-GCM(PKCS#8 DER) with tag
//
// with additional authenticated data "signet-key-v1:" + key id, so that
// ciphertext copied to another key id does not unseal.
//
// # Master key file
//
// [LoadOrCreateMasterKey] reads or creates the master key file: one line
// holding the 32-byte key in standard base64 (RFC 4648, padded), readable by
// its owner only.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"time"
)

// KeyStore holds private signing keys. Implementations: [Software] (sealed
// under a master key) and the PKCS#11 store of package keys/pkcs11 (keys
// generated and used inside a token, behind the build tag pkcs11). Every
// implementation is safe for concurrent use.
type KeyStore interface {
	// Create generates a new key of the given spec and returns its id and
	// public key. The key is durable once Create returns.
	Create(ctx context.Context, spec KeySpec) (id string, pub crypto.PublicKey, err error)
	// Signer returns a crypto.Signer for the key, or an error wrapping
	// ErrKeyNotFound when there is no such key. The signer produces ASN.1
	// DER ECDSA signatures and checks digests as [CheckDigest] does; it
	// never exposes the private key.
	Signer(ctx context.Context, id string) (crypto.Signer, error)
	// Delete destroys the key, or returns an error wrapping ErrKeyNotFound
	// when there is no such key.
	Delete(ctx context.Context, id string) error
}

// KeySpec names a key algorithm and size.
type KeySpec string

// Supported key specs.
const (
	// KeySpecEC384 is ECDSA on NIST P-384, used with SHA-384.
	KeySpecEC384 KeySpec = "EC-384"
	// KeySpecEC256 is ECDSA on NIST P-256, used with SHA-256.
	KeySpecEC256 KeySpec = "EC-256"
	// DefaultKeySpec is used when a caller passes the empty spec.
	DefaultKeySpec = KeySpecEC384
)

// Sentinel errors. Functions return them wrapped with context; test with
// errors.Is.
var (
	// ErrKeyNotFound: no key with the given id exists.
	ErrKeyNotFound = errors.New("key not found")
	// ErrKeyExists: a key with the given id already exists (SealedStore.PutSealedKey).
	ErrKeyExists = errors.New("key already exists")
	// ErrUnsupportedKeySpec: the key spec is not one of the supported specs.
	ErrUnsupportedKeySpec = errors.New("unsupported key spec")
	// ErrUnseal: sealed key material does not decrypt or decode, because the
	// master key is wrong or the stored ciphertext was altered.
	ErrUnseal = errors.New("cannot unseal key: wrong master key or corrupted key material")
)

// Validate reports whether s is a supported spec. The empty spec is not
// valid here; KeyStore.Create maps it to DefaultKeySpec first.
func (s KeySpec) Validate() error {
	if _, err := s.curve(); err != nil {
		return err
	}
	return nil
}

// curve returns the elliptic curve of s.
func (s KeySpec) curve() (elliptic.Curve, error) {
	switch s {
	case KeySpecEC384:
		return elliptic.P384(), nil
	case KeySpecEC256:
		return elliptic.P256(), nil
	}
	return nil, fmt.Errorf("key spec %q (want %q or %q): %w", string(s), KeySpecEC384, KeySpecEC256, ErrUnsupportedKeySpec)
}

// specOrDefault maps the empty spec to DefaultKeySpec and validates it.
func specOrDefault(s KeySpec) (KeySpec, error) {
	if s == "" {
		s = DefaultKeySpec
	}
	if err := s.Validate(); err != nil {
		return "", err
	}
	return s, nil
}

// matches reports whether key is of spec s.
func (s KeySpec) matches(key *ecdsa.PrivateKey) bool {
	c, err := s.curve()
	return err == nil && key.Curve == c
}

// SealedStore persists sealed key material. The database implements it;
// [MemoryStore] is an in-memory implementation for tests.
type SealedStore interface {
	// PutSealedKey stores k. It is durable once PutSealedKey returns. It
	// returns an error wrapping ErrKeyExists if k.ID is already stored.
	PutSealedKey(ctx context.Context, k SealedKey) error
	// SealedKey returns the key with the given id, or an error wrapping
	// ErrKeyNotFound.
	SealedKey(ctx context.Context, id string) (SealedKey, error)
	// DeleteSealedKey removes the key with the given id, or returns an error
	// wrapping ErrKeyNotFound.
	DeleteSealedKey(ctx context.Context, id string) error
}

// SealedKey is a private key in sealed form, as a SealedStore keeps it.
type SealedKey struct {
	ID   string
	Spec KeySpec
	// Ciphertext is version byte || 12-byte nonce || AES-256-GCM(PKCS#8 DER),
	// sealed with additional data "signet-key-v1:" + ID.
	Ciphertext []byte
	CreatedAt  time.Time
}

// CheckDigest checks a digest against the hash opts names, as every
// KeyStore's signers do before signing: when opts names a hash, it must be
// SHA-256, SHA-384 or SHA-512 and digest must have its length.
func CheckDigest(digest []byte, opts crypto.SignerOpts) error {
	if opts == nil {
		return nil
	}
	switch h := opts.HashFunc(); h {
	case 0:
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		if len(digest) != h.Size() {
			return fmt.Errorf("digest is %d bytes, want %d for %s", len(digest), h.Size(), h)
		}
	default:
		return fmt.Errorf("unsupported digest hash %s (want SHA-256, SHA-384 or SHA-512)", h)
	}
	return nil
}

// SpecOf returns the spec of an ECDSA public key, or an error wrapping
// ErrUnsupportedKeySpec for any other key.
func SpecOf(pub crypto.PublicKey) (KeySpec, error) {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		switch k.Curve {
		case elliptic.P384():
			return KeySpecEC384, nil
		case elliptic.P256():
			return KeySpecEC256, nil
		}
		return "", fmt.Errorf("ECDSA key on curve %s (want P-384 or P-256): %w", k.Curve.Params().Name, ErrUnsupportedKeySpec)
	}
	return "", fmt.Errorf("%T key (want ECDSA P-384 or P-256): %w", pub, ErrUnsupportedKeySpec)
}

// Curve returns the elliptic curve of a supported spec, or an error
// wrapping ErrUnsupportedKeySpec.
func (s KeySpec) Curve() (elliptic.Curve, error) { return s.curve() }

// SpecOrDefault maps the empty spec to DefaultKeySpec and validates it, as
// KeyStore.Create does.
func SpecOrDefault(s KeySpec) (KeySpec, error) { return specOrDefault(s) }
