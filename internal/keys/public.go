package keys

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/signet/signet/internal/seal"
)

// publicAADV1 binds a sealed public key to its key id.
const publicAADV1 = "signet-public-key-v1:"

// SealPublicKey seals the public key of key id (PKIX DER) under box, so
// that a reader holding the master key, and only such a reader, can trust
// it later without the key store: `signet audit verify` checks the audit
// log's checkpoints so when their key is on a PKCS#11 token.
func SealPublicKey(box *seal.Box, id string, pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("public key of %s: %w", id, err)
	}
	return box.Seal(der, []byte(publicAADV1+id)), nil
}

// OpenPublicKey opens what SealPublicKey sealed for key id, or returns an
// error wrapping ErrUnseal.
func OpenPublicKey(box *seal.Box, id string, sealed []byte) (crypto.PublicKey, error) {
	der, err := box.Open(sealed, []byte(publicAADV1+id))
	if err != nil {
		return nil, fmt.Errorf("public key of %s: %w (%w)", id, ErrUnseal, err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key of %s: %w (%w)", id, ErrUnseal, err)
	}
	return pub, nil
}
