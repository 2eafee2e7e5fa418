package store_test

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet/signet/internal/store"
	"github.com/signet/signet/internal/store/pgtest"
	"github.com/signet/signet/internal/store/storetest"
)

// rawExec lets the conformance suite tamper with a database.
func rawExec(ctx context.Context, db *store.DB, q string) error {
	_, err := store.SQLExec(ctx, db, q)
	return err
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Exec = rawExec
	storetest.Run(t, func(t *testing.T) (*store.DB, func() *store.DB) {
		path := filepath.Join(t.TempDir(), "signet.db")
		db, err := store.OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		reopen := func() *store.DB {
			db.Close()
			db2, err := store.OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db2.Close() })
			return db2
		}
		return db, reopen
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signet.db")
	for range 3 {
		db, err := store.OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatalf("open #n: %v", err)
		}
		db.Close()
	}
}

func TestPostgresConformance(t *testing.T) {
	storetest.Exec = rawExec
	storetest.Run(t, func(t *testing.T) (*store.DB, func() *store.DB) {
		dsn := pgtest.DSN(t)
		db, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		reopen := func() *store.DB {
			db.Close()
			db2, err := store.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db2.Close() })
			return db2
		}
		return db, reopen
	})
}

// TestMigrateCommandShape: a new database has every migration pending;
// Migrate applies them in order and then none is; a database whose
// schema is newer than the binary is refused, by Open too. On both
// engines.
func TestMigrateCommandShape(t *testing.T) {
	engines := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "signet.db")
			db, err := sql.Open("sqlite", "file:"+path) // create the empty file
			if err != nil {
				t.Fatal(err)
			}
			db.Exec(`CREATE TABLE x (a INTEGER)`)
			db.Close()
			return path
		},
		"postgres": func(t *testing.T) string { return pgtest.DSN(t) },
	}
	for name, dsnOf := range engines {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dsn := dsnOf(t)
			db, err := store.OpenUnmigrated(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			version, pending, err := db.Pending(ctx)
			if err != nil || version != 0 || len(pending) < 20 || pending[0].Version != 1 {
				t.Fatalf("Pending on a new database = %d, %d migrations, %v", version, len(pending), err)
			}
			applied, err := db.Migrate(ctx)
			if err != nil || len(applied) != len(pending) {
				t.Fatalf("Migrate = %d applied, %v", len(applied), err)
			}
			version, pending2, err := db.Pending(ctx)
			if err != nil || len(pending2) != 0 || version != pending[len(pending)-1].Version {
				t.Fatalf("Pending after Migrate = %d, %v, %v", version, pending2, err)
			}
			if again, err := db.Migrate(ctx); err != nil || len(again) != 0 {
				t.Errorf("a second Migrate = %v, %v", again, err)
			}
			// A newer Signet's migration.
			if _, err := store.SQLExec(ctx, db, `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.Pending(ctx); !errors.Is(err, store.ErrSchemaTooNew) {
				t.Errorf("Pending on a newer schema = %v", err)
			}
			if db2, err := store.Open(ctx, dsn); !errors.Is(err, store.ErrSchemaTooNew) {
				if err == nil {
					db2.Close()
				}
				t.Errorf("Open on a newer schema = %v, want ErrSchemaTooNew", err)
			}
		})
	}
}

// TestUnixNanoClamps: times beyond what int64 nanoseconds hold are
// stored at its ends, not wrapped around (a wrapped "from 2300" matched
// every audit record and made a search walk the whole log).
func TestUnixNanoClamps(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want int64
	}{
		{time.Time{}, 0},
		{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), math.MinInt64},
		{time.Unix(0, 1), 1},
		{time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC), time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC).UnixNano()},
	} {
		if got := store.UnixNano(c.t); got != c.want {
			t.Errorf("store.UnixNano(%v) = %d, want %d", c.t, got, c.want)
		}
	}
	if store.UnixNano(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)) < store.UnixNano(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("2300 is stored before 2200")
	}
}
