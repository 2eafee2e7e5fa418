package kms

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// A ciphertext blob, as Encrypt returns it and Decrypt takes it back:
//
//	"SKC1"                     4 bytes, the format and its version
//	key id                     16 bytes (the key's UUID)
//	material version           4 bytes, big endian (1 for a key's first material)
//	nonce                      12 bytes
//	AES-256-GCM ciphertext     the plaintext's length + 16 bytes of tag
//
// The GCM additional data binds the blob's header and the encryption
// context (see aad), so that a blob decrypts only under the same key,
// material and context.
const (
	blobMagic  = "SKC1"
	headerSize = len(blobMagic) + 16 + 4
	nonceSize  = 12
	tagSize    = 16
	// MinCiphertext is the shortest blob (an empty plaintext).
	MinCiphertext = headerSize + nonceSize + tagSize
	// MaxCiphertext bounds a blob: 4,096 bytes of plaintext and the
	// overhead, as AWS bounds CiphertextBlob to 6,144 bytes.
	MaxCiphertext = 6144
)

// blob is a parsed ciphertext blob.
type blob struct {
	KeyID    string
	Version  uint32
	Nonce    []byte
	Sealed   []byte // ciphertext || tag
	Header   []byte // the bytes before the nonce, bound as additional data
	Original []byte
}

// errMalformed is a blob that is not one of Signet's.
var errMalformed = errors.New("malformed ciphertext blob")

// parseBlob parses a ciphertext blob without decrypting it.
func parseBlob(b []byte) (blob, error) {
	switch {
	case len(b) < MinCiphertext:
		return blob{}, fmt.Errorf("%w: %d bytes, at least %d", errMalformed, len(b), MinCiphertext)
	case len(b) > MaxCiphertext:
		return blob{}, fmt.Errorf("%w: %d bytes, at most %d", errMalformed, len(b), MaxCiphertext)
	case !bytes.Equal(b[:len(blobMagic)], []byte(blobMagic)):
		return blob{}, fmt.Errorf("%w: it does not start with %q (not made by this service)", errMalformed, blobMagic)
	}
	id, err := uuid.FromBytes(b[len(blobMagic) : len(blobMagic)+16])
	if err != nil {
		return blob{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	v := binary.BigEndian.Uint32(b[len(blobMagic)+16 : headerSize])
	if v == 0 {
		return blob{}, fmt.Errorf("%w: material version 0", errMalformed)
	}
	return blob{
		KeyID: id.String(), Version: v,
		Nonce:    b[headerSize : headerSize+nonceSize],
		Sealed:   b[headerSize+nonceSize:],
		Header:   b[:headerSize],
		Original: b,
	}, nil
}

// header returns the blob header of a key and material version.
func header(keyID string, version uint32) ([]byte, error) {
	id, err := uuid.Parse(keyID)
	if err != nil {
		return nil, fmt.Errorf("key id %q is not a UUID: %w", keyID, err)
	}
	h := make([]byte, 0, headerSize)
	h = append(h, blobMagic...)
	h = append(h, id[:]...)
	return binary.BigEndian.AppendUint32(h, version), nil
}

// aad is the GCM additional data of a blob: a label, the blob's header
// and the encryption context in a canonical form: its pairs sorted by
// key, each key and value prefixed by its length, so that no two
// different contexts have the same form.
func aad(header []byte, encCtx map[string]string) []byte {
	out := append([]byte("signet-kms-ciphertext-v1\x00"), header...)
	keys := make([]string, 0, len(encCtx))
	for k := range encCtx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out = binary.AppendUvarint(out, uint64(len(keys)))
	for _, k := range keys {
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
		v := encCtx[k]
		out = binary.AppendUvarint(out, uint64(len(v)))
		out = append(out, v...)
	}
	return out
}
