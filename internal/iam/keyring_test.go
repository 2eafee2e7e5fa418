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
