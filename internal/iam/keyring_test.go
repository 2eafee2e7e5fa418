package iam_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/seal"
	"github.com/signet/signet/internal/store"
)

// TestKeyRing checks that keys are stored sealed, with session tokens
// only as hashes, that lookups unseal them (and keep serving them from
// the cache), and that a deleted key is gone at once.
func TestKeyRing(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, err := seal.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ring := &iam.KeyRing{Store: db.IAM, Box: box}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	keys := []iam.Key{
		{ID: "AKIALONGTERM", Secret: "long-term-secret", PrincipalARN: "arn:aws:iam::123456789012:user/a", PrincipalID: "AIDA1"},
		{ID: "ASIATEMPORARY", Secret: "temporary-secret", Token: "session-token", Expires: exp, PrincipalARN: "arn:aws:sts::123456789012:assumed-role/r/s", PrincipalID: "AROA1"},
	}
	for _, k := range keys {
		if err := ring.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		stored, err := db.IAM.AccessKey(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored.SealedSecret, []byte(k.Secret)) {
			t.Errorf("%s: the secret is stored in clear", k.ID)
		}
		if k.Token != "" && stored.SessionTokenHash != iam.HashSessionToken(k.Token) {
			t.Errorf("%s: session token stored as %q, want its hash", k.ID, stored.SessionTokenHash)
		}
		c, err := ring.Lookup(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.SecretAccessKey != k.Secret || c.PrincipalARN != k.PrincipalARN || c.PrincipalID != k.PrincipalID || !c.Expires.Equal(k.Expires) {
			t.Errorf("Lookup(%s) = %+v, want %+v", k.ID, c, k)
		}
		var zero [32]byte
		if (k.Token != "") != (c.SessionTokenSHA256 != zero) {
			t.Errorf("%s: session token hash %x for token %q", k.ID, c.SessionTokenSHA256, k.Token)
		}
	}
	if _, err := ring.Lookup(ctx, "AKIAUNKNOWN"); !errors.Is(err, iam.ErrNotFound) {
		t.Errorf("Lookup(unknown) = %v, want ErrNotFound", err)
	}
	if infos, err := ring.KeysOf(ctx, keys[0].PrincipalARN); err != nil || len(infos) != 1 || infos[0].ID != "AKIALONGTERM" {
		t.Errorf("KeysOf = %v, %v", infos, err)
	}
	if err := ring.DeleteKey(ctx, "AKIALONGTERM", keys[0].PrincipalARN); err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Lookup(ctx, "AKIALONGTERM"); !errors.Is(err, iam.ErrNotFound) {
		t.Errorf("Lookup after DeleteKey = %v, want ErrNotFound", err)
	}
}

// slowKeys holds AccessKey once: it has read the key and waits for
// release before returning it.
type slowKeys struct {
	iam.KeyStore
	read, release chan struct{}
}

func (s *slowKeys) AccessKey(ctx context.Context, id string) (iam.StoredKey, error) {
	k, err := s.KeyStore.AccessKey(ctx, id)
	if s.read != nil {
		close(s.read)
		<-s.release
		s.read = nil
	}
	return k, err
}

// TestKeyRingDeleteDuringLookup: a lookup that read a key before it was
// deleted answers that one request, but does not cache the key: the next
// request with it is refused.
func TestKeyRingDeleteDuringLookup(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, err := seal.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	slow := &slowKeys{KeyStore: db.IAM, read: make(chan struct{}), release: make(chan struct{})}
	ring := &iam.KeyRing{Store: slow, Box: box}
	arn := "arn:aws:iam::123456789012:user/a"
	if err := ring.CreateKey(ctx, iam.Key{ID: "AKIADELETED", Secret: "s", PrincipalARN: arn, PrincipalID: "AIDA1"}); err != nil {
		t.Fatal(err)
	}
	read := slow.read
	done := make(chan error)
	go func() { _, err := ring.Lookup(ctx, "AKIADELETED"); done <- err }()
	<-read
	if err := ring.DeleteKey(ctx, "AKIADELETED", arn); err != nil {
		t.Fatal(err)
	}
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatalf("the lookup in flight: %v", err)
	}
	if _, err := ring.Lookup(ctx, "AKIADELETED"); !errors.Is(err, iam.ErrNotFound) {
		t.Errorf("a lookup after the deletion = %v, want ErrNotFound", err)
	}
}
