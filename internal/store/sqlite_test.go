package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/signet/signet/internal/store"
	"github.com/signet/signet/internal/store/pgtest"
	"github.com/signet/signet/internal/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
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
