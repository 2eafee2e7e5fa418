package kms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// Envelope encryption is how Signet's services keep values under a
// customer's key (SecureString parameters, secret versions, a function's
// environment): a fresh 256-bit data key of the KMS key encrypts the
// value, and only the data key's KMS ciphertext is kept beside it. An
// envelope is
//
//	uint16 length of the encrypted data key (big-endian)
//	the encrypted data key (a ciphertext blob of this service)
//	a 12-byte nonce
//	AES-256-GCM(value), with additional data naming what it belongs to
//
// The data key is bound to the encryption context (which key policies
// and grants may test); the additional data binds the value to its
// owner, so that an envelope copied to another owner does not open.

// Errors of OpenEnvelope besides Decrypt's; test with errors.Is.
var (
	// ErrMalformedEnvelope reports bytes that are not an envelope.
	ErrMalformedEnvelope = errors.New("malformed envelope")
	// ErrEnvelopeChanged reports an envelope whose value does not
	// authenticate: changed, or opened with other additional data.
	ErrEnvelopeChanged = errors.New("the envelope's ciphertext was changed or belongs to something else")
)

const (
	envelopeNonce = 12
	envelopeTag   = 16
)

// SealEnvelope encrypts value under a new data key of the key keyRef
// names, with encryption context encCtx and additional data ad, and
// returns the envelope and the key.
func (s *Service) SealEnvelope(ctx context.Context, keyRef string, encCtx map[string]string, value, ad []byte) ([]byte, Key, error) {
	dk, blob, k, err := s.GenerateDataKey(ctx, keyRef, 0, "AES_256", encCtx)
	if err != nil {
		return nil, Key{}, err
	}
	defer clear(dk)
	aead, err := newGCM(dk)
	if err != nil {
		return nil, Key{}, err
	}
	if len(blob) > 0xffff {
		return nil, Key{}, fmt.Errorf("an encrypted data key of %d bytes does not fit an envelope", len(blob))
	}
	out := make([]byte, 0, 2+len(blob)+envelopeNonce+len(value)+envelopeTag)
	out = binary.BigEndian.AppendUint16(out, uint16(len(blob)))
	out = append(out, blob...)
	nonce := make([]byte, envelopeNonce)
	if _, err := rand.Read(nonce); err != nil {
		return nil, Key{}, err
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, value, ad), k, nil
}

// EnvelopeDataKey returns the encrypted data key of an envelope, from
// which KeyOfCiphertext tells the key.
func EnvelopeDataKey(env []byte) ([]byte, error) {
	if len(env) < 2 {
		return nil, ErrMalformedEnvelope
	}
	n := int(binary.BigEndian.Uint16(env))
	if len(env) < 2+n+envelopeNonce+envelopeTag {
		return nil, ErrMalformedEnvelope
	}
	return env[2 : 2+n], nil
}

// OpenEnvelope decrypts an envelope made by SealEnvelope with the same
// encryption context and additional data. Errors are
// ErrMalformedEnvelope, Decrypt's (the key disabled, pending deletion,
// gone, or the context wrong), or ErrEnvelopeChanged.
func (s *Service) OpenEnvelope(ctx context.Context, env []byte, encCtx map[string]string, ad []byte) ([]byte, error) {
	blob, err := EnvelopeDataKey(env)
	if err != nil {
		return nil, err
	}
	dk, _, err := s.Decrypt(ctx, blob, encCtx, "")
	if err != nil {
		return nil, err
	}
	defer clear(dk)
	aead, err := newGCM(dk)
	if err != nil {
		return nil, err
	}
	rest := env[2+len(blob):]
	out, err := aead.Open(nil, rest[:envelopeNonce], rest[envelopeNonce:], ad)
	if err != nil {
		return nil, ErrEnvelopeChanged
	}
	return out, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
