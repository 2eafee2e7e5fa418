package keys

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// MemoryStore is an in-memory SealedStore for tests. The zero value is ready
// to use and it is safe for concurrent use. Stored values are copied in and
// out, so callers may modify what they pass or receive.
type MemoryStore struct {
	mu   sync.Mutex
	keys map[string]SealedKey
}

var _ SealedStore = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// PutSealedKey stores a copy of k, or returns an error wrapping ErrKeyExists.
func (m *MemoryStore) PutSealedKey(ctx context.Context, k SealedKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if k.ID == "" {
		return fmt.Errorf("sealed key id must not be empty")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.ID]; ok {
		return fmt.Errorf("key %s: %w", k.ID, ErrKeyExists)
	}
	if m.keys == nil {
		m.keys = make(map[string]SealedKey)
	}
	k.Ciphertext = bytes.Clone(k.Ciphertext)
	m.keys[k.ID] = k
	return nil
}

// SealedKey returns a copy of the stored key, or an error wrapping
// ErrKeyNotFound.
func (m *MemoryStore) SealedKey(ctx context.Context, id string) (SealedKey, error) {
	if err := ctx.Err(); err != nil {
		return SealedKey{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return SealedKey{}, fmt.Errorf("key %s: %w", id, ErrKeyNotFound)
	}
	k.Ciphertext = bytes.Clone(k.Ciphertext)
	return k, nil
}

// DeleteSealedKey removes the key, or returns an error wrapping
// ErrKeyNotFound.
func (m *MemoryStore) DeleteSealedKey(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[id]; !ok {
		return fmt.Errorf("key %s: %w", id, ErrKeyNotFound)
	}
	delete(m.keys, id)
	return nil
}

// Len returns the number of stored keys.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}
