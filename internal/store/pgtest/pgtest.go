// Package pgtest gives a test a PostgreSQL database of its own, created
// on the server the environment variable SIGNET_TEST_POSTGRES names (an
// administrator's DSN, such as
// postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable) and
// dropped when the test ends. ./scripts/test starts such a server.
// Without the variable a test skips, naming PostgreSQL, unless
// SIGNET_REQUIRE_ALL=1 makes it fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Env is the variable naming the administrator DSN.
const Env = "SIGNET_TEST_POSTGRES"

// Available reports whether a PostgreSQL server is configured.
func Available() bool { return os.Getenv(Env) != "" }

// DSN creates a database for t and returns its DSN.
func DSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(Env)
	if admin == "" {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatalf("needs PostgreSQL: set %s to an administrator DSN (./scripts/test starts a server)", Env)
		}
		t.Skipf("needs PostgreSQL: set %s to an administrator DSN (./scripts/test starts a server)", Env)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := make([]byte, 8)
	rand.Read(b)
	name := "signet_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("failed to create a test database on %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("failed to drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
