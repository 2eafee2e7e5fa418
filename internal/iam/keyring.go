package iam

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/signet/signet/internal/seal"
)

// StoredKey is an access key as it is stored: its secret sealed under the
// master key (bound to the key id), its session token only as a hash.
type StoredKey struct {
	ID           string
	SealedSecret []byte
	// SessionTokenHash is HashSessionToken of the session token of
	// temporary credentials ("" for long-term keys): the token itself is
	// never stored.
	SessionTokenHash string
	Expires          time.Time // zero: never
	PrincipalARN     string
	PrincipalID      string // unique id of the user or role; "" for the bootstrap key and older keys
	SourceIdentity   string // a role session's source identity, if it has one
	CreatedAt        time.Time
}

// KeyStore persists access keys.
type KeyStore interface {
	CreateAccessKey(ctx context.Context, k StoredKey) error
	AccessKey(ctx context.Context, id string) (StoredKey, error) // ErrNotFound
	DeleteAccessKey(ctx context.Context, id, principalARN string) error
	AccessKeysOf(ctx context.Context, principalARN string) ([]KeyInfo, error)
}

// HashSessionToken is what is stored of a session token: "sha256:" and
// its hex SHA-256.
func HashSessionToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SecretAD binds a sealed secret access key to its access key id.
func SecretAD(id string) []byte { return []byte("signet-secret-v1:" + id) }

// Credential is an access key with its secret, as a request's signature
// is checked against it.
type Credential struct {
	AccessKeyID, SecretAccessKey string
	// SessionTokenSHA256 is the hash of the session token of temporary
	// credentials; zero for long-term keys.
	SessionTokenSHA256        [sha256.Size]byte
	Expires                   time.Time // zero: never
	PrincipalARN, PrincipalID string
	SourceIdentity            string // a role session's source identity
}

// maxCachedKeys bounds the KeyRing's cache; past it the cache starts
// over.
const maxCachedKeys = 10000

// KeyRing keeps access keys with their secrets sealed (it is the Keys of
// a Service) and hands them, unsealed, to whoever checks signatures,
// caching what it unsealed. A key changes only by deletion, which goes
// through DeleteKey: with one process on the database the cache is never
// stale; processes sharing a database tell each other (OnDelete, Forget)
// and bound what they keep (MaxAge). Unknown ids are not cached.
type KeyRing struct {
	Store KeyStore
	Box   *seal.Box
	Now   func() time.Time
	// OnDelete, if set, is told of every key DeleteKey deletes.
	OnDelete func(id string)
	// MaxAge, if set, is how long a cached key is used before it is read
	// again.
	MaxAge time.Duration

	mu    sync.Mutex
	gen   uint64 // counts Forget calls: a lookup that read the store before one does not cache what it read
	cache map[string]cachedKey
}

type cachedKey struct {
	c  Credential
	at time.Time
}

func (k *KeyRing) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// CreateKey stores a new key, its secret sealed.
func (k *KeyRing) CreateKey(ctx context.Context, key Key) error {
	hash := ""
	if key.Token != "" {
		hash = HashSessionToken(key.Token)
	}
	return k.Store.CreateAccessKey(ctx, StoredKey{ID: key.ID, SealedSecret: k.Box.Seal([]byte(key.Secret), SecretAD(key.ID)), SessionTokenHash: hash,
		Expires: key.Expires, PrincipalARN: key.PrincipalARN, PrincipalID: key.PrincipalID, SourceIdentity: key.SourceIdentity, CreatedAt: k.now()})
}

// DeleteKey deletes a principal's key and forgets it.
func (k *KeyRing) DeleteKey(ctx context.Context, id, principalARN string) error {
	err := k.Store.DeleteAccessKey(ctx, id, principalARN)
	k.Forget(id)
	if err == nil && k.OnDelete != nil {
		k.OnDelete(id)
	}
	return err
}

// Forget drops a key from the cache ("" for every key).
func (k *KeyRing) Forget(id string) {
	k.mu.Lock()
	k.gen++
	if id == "" {
		k.cache = nil
	} else {
		delete(k.cache, id)
	}
	k.mu.Unlock()
}

// KeysOf lists a principal's keys.
func (k *KeyRing) KeysOf(ctx context.Context, principalARN string) ([]KeyInfo, error) {
	return k.Store.AccessKeysOf(ctx, principalARN)
}

// Secret returns a stored key's secret.
func (k *KeyRing) Secret(ctx context.Context, id string) (string, error) {
	c, err := k.Lookup(ctx, id)
	return c.SecretAccessKey, err
}

// Lookup returns a key with its secret; ErrNotFound when there is none.
func (k *KeyRing) Lookup(ctx context.Context, id string) (Credential, error) {
	k.mu.Lock()
	e, ok := k.cache[id]
	gen := k.gen
	k.mu.Unlock()
	if ok && (k.MaxAge == 0 || k.now().Sub(e.at) < k.MaxAge) {
		return e.c, nil
	}
	s, err := k.Store.AccessKey(ctx, id)
	if err != nil {
		return Credential{}, err
	}
	secret, err := k.Box.Open(s.SealedSecret, SecretAD(s.ID))
	if err != nil {
		return Credential{}, fmt.Errorf("access key %s: %w", id, err)
	}
	c := Credential{AccessKeyID: s.ID, SecretAccessKey: string(secret), Expires: s.Expires, PrincipalARN: s.PrincipalARN, PrincipalID: s.PrincipalID,
		SourceIdentity: s.SourceIdentity}
	if s.SessionTokenHash != "" {
		h, err := hex.DecodeString(strings.TrimPrefix(s.SessionTokenHash, "sha256:"))
		if err != nil || len(h) != sha256.Size {
			return Credential{}, errors.New("access key " + id + ": the stored session token hash is malformed")
		}
		c.SessionTokenSHA256 = [sha256.Size]byte(h)
	}
	k.mu.Lock()
	if k.gen != gen {
		// A key was forgotten (deleted) while this one was read: what was
		// read may be that key as it was before.
		k.mu.Unlock()
		return c, nil
	}
	if k.cache == nil || len(k.cache) >= maxCachedKeys {
		k.cache = map[string]cachedKey{}
	}
	k.cache[id] = cachedKey{c, k.now()}
	k.mu.Unlock()
	return c, nil
}
