package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/store"
	"github.com/signet/signet/internal/store/pgtest"
)

// TestMigrate: signet migrate shows what is pending, applies it with
// --apply, and refuses a schema newer than it knows, on a data
// directory (SQLite) and on PostgreSQL.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.Main(ctx, append([]string{"migrate"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	// A data directory whose databases are up to date.
	dir := t.TempDir()
	for _, f := range []string{"signet.db", "audit.db"} {
		db, err := store.Open(ctx, filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	if code, out, errs := run("--data-dir", dir); code != 0 || strings.Count(out, "0 migration(s) pending") != 2 {
		t.Errorf("migrate on an up-to-date data directory: %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run("--data-dir", filepath.Join(dir, "none")); code != 1 || !strings.Contains(errs, "no database in") {
		t.Errorf("migrate on a missing directory: %d %s", code, errs)
	}

	dsn := pgtest.DSN(t)
	code, out, errs := run("--database-url", dsn)
	if code != 0 || !strings.Contains(out, "(postgres): schema version 0") || !strings.Contains(out, "pending 0001_init.sql") || strings.Contains(out, "applied") {
		t.Fatalf("migrate on an empty PostgreSQL database: %d\n%s%s", code, out, errs)
	}
	code, out, errs = run("--database-url", dsn, "--apply")
	if code != 0 || !strings.Contains(out, "applied 0001_init.sql") || !strings.Contains(out, "applied 0020_") {
		t.Fatalf("migrate --apply: %d\n%s%s", code, out, errs)
	}
	if code, out, _ = run("--database-url", dsn); code != 0 || !strings.Contains(out, "0 migration(s) pending") {
		t.Errorf("migrate after --apply: %d\n%s", code, out)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, _, errs := run("--database-url", dsn, "--apply"); code != 1 || !strings.Contains(errs, "newer than this Signet knows") || !strings.Contains(errs, "version 9999") {
		t.Errorf("migrate on a newer schema: %d %s", code, errs)
	}
}
