// Package seal encrypts small secrets at rest with AES-256-GCM under the
// installation's master key.
//
// # Format
//
// A sealed value is a version byte (1), a 12-byte random nonce, and the
// AES-256-GCM ciphertext with its tag. The additional data binds a value to
// its purpose and identity (for example "signet-secret-v1:AKIA..."), so that
// a sealed value copied to another row does not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

const version1 = 1

// ErrOpen is returned by Open when a value cannot be decrypted: a wrong
// master key, a wrong additional data, or a tampered or truncated value.
var ErrOpen = errors.New("sealed value cannot be opened (wrong master key or tampered data)")

// Box seals and opens values under one 32-byte key. It is safe for
// concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a 32-byte master key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("master key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("failed to create cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("failed to create GCM: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to additional data ad.
func (b *Box) Seal(plaintext, ad []byte) []byte {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = version1
	if _, err := rand.Read(out[1:]); err != nil {
		panic("seal: crypto/rand failed: " + err.Error())
	}
	return b.aead.Seal(out, out[1:1+b.aead.NonceSize()], plaintext, ad)
}

// Open decrypts a value made by Seal with the same additional data. It
// returns ErrOpen when the value does not authenticate.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version1 {
		return nil, ErrOpen
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
