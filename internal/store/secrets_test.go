package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/seal"
	"github.com/signet/signet/internal/store"
)

// filesContain reports which files of dir contain s.
func filesContain(t *testing.T, dir, s string) []string {
	t.Helper()
	var found []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil && bytes.Contains(b, []byte(s)) {
			found = append(found, e.Name())
		}
	}
	return found
}

// TestSecretsAtRest: function environment variables are sealed (in
// $LATEST and published versions) and session tokens stored as hashes,
// including those a database stored in clear before; nothing of them is
// left in the database files.
func TestSecretsAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "signet.db")
	const envSecret, token = "env-secret-8c1f0e2d9b", "session-token-5a7e3c1b"
	legacySecret := strings.Replace(envSecret, "env", "old", 1)
	legacyToken := strings.Replace(token, "session", "legacy", 1)

	// A database written without sealing, as earlier versions did.
	db, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	f := functions.Function{Name: "legacy", Runtime: "python3.12", Handler: "a.h", Role: "r", Timeout: 3, MemorySize: 128,
		Environment: map[string]string{"SECRET": legacySecret}, CodeSHA256: "x", CodePath: "p", LastModified: time.Now(), RevisionID: "1"}
	if err := db.Lambda.CreateFunction(ctx, f, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Lambda.PublishVersion(ctx, "legacy", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.IAM.CreateAccessKey(ctx, store.AccessKey{ID: "ASIALEGACY", SealedSecret: []byte("s"), SessionTokenHash: legacyToken, Expires: time.Now().Add(time.Hour), PrincipalARN: "p", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if got := filesContain(t, dir, legacySecret); len(got) == 0 {
		t.Fatal("the unsealed database does not hold the variable in clear: the test cannot see what it checks")
	}

	db, err = store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := bytes.Repeat([]byte{7}, 32)
	box, _ := seal.New(key)
	if err := db.Lambda.SealWith(ctx, box); err != nil {
		t.Fatal(err)
	}
	if n, err := db.IAM.HashClearSessionTokens(ctx); err != nil || n != 1 {
		t.Fatalf("HashClearSessionTokens = %d, %v; want 1", n, err)
	}
	f.Name, f.Environment = "fresh", map[string]string{"SECRET": envSecret}
	if err := db.Lambda.CreateFunction(ctx, f, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Lambda.PublishVersion(ctx, "fresh", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.IAM.CreateAccessKey(ctx, store.AccessKey{ID: "ASIAFRESH", SealedSecret: []byte("s"), SessionTokenHash: store.HashSessionToken(token), Expires: time.Now().Add(time.Hour), PrincipalARN: "p", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"legacy", "fresh"} {
		want := map[string]string{"legacy": legacySecret, "fresh": envSecret}[name]
		if got, err := db.Lambda.Function(ctx, name); err != nil || got.Environment["SECRET"] != want {
			t.Errorf("Function(%s).Environment = %v, %v", name, got.Environment, err)
		}
		if got, err := db.Lambda.FunctionVersion(ctx, name, 1); err != nil || got.Environment["SECRET"] != want {
			t.Errorf("FunctionVersion(%s, 1).Environment = %v, %v", name, got.Environment, err)
		}
	}
	if k, err := db.IAM.AccessKey(ctx, "ASIALEGACY"); err != nil || k.SessionTokenHash != store.HashSessionToken(legacyToken) {
		t.Errorf("legacy session token stored as %q, %v", k.SessionTokenHash, err)
	}
	for _, s := range []string{envSecret, legacySecret, token, legacyToken} {
		if got := filesContain(t, dir, s); len(got) != 0 {
			t.Errorf("%q is in clear in %v", s, got)
		}
	}
	// Another master key cannot read the environment.
	other, _ := seal.New(bytes.Repeat([]byte{8}, 32))
	db.Lambda.SealWith(ctx, other)
	if _, err := db.Lambda.Function(ctx, "fresh"); err == nil {
		t.Error("the environment opened under another master key")
	}
}
