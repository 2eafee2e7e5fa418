//go:build !(pkcs11 && cgo)

package pkcs11

import (
	"context"
	"crypto"

	"github.com/signet/signet/internal/keys"
)

// Available reports whether this build has PKCS#11 support.
const Available = false

// Store is the PKCS#11 key store; in this build it cannot be opened.
type Store struct{}

var _ keys.KeyStore = (*Store)(nil)

// Open returns an error wrapping ErrNotBuilt: this build has no PKCS#11
// support.
func Open(Config) (*Store, error) { return nil, ErrNotBuilt }

// Create returns ErrNotBuilt.
func (*Store) Create(context.Context, keys.KeySpec) (string, crypto.PublicKey, error) {
	return "", nil, ErrNotBuilt
}

// Signer returns ErrNotBuilt.
func (*Store) Signer(context.Context, string) (crypto.Signer, error) { return nil, ErrNotBuilt }

// Delete returns ErrNotBuilt.
func (*Store) Delete(context.Context, string) error { return ErrNotBuilt }

// KeyByLabel returns ErrNotBuilt.
func (*Store) KeyByLabel(context.Context, string) (string, crypto.PublicKey, error) {
	return "", nil, ErrNotBuilt
}

// Close does nothing.
func (*Store) Close() error { return nil }
