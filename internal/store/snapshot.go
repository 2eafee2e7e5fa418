package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// SnapshotSQLite writes a consistent copy of the SQLite database file
// src to dst with VACUUM INTO, while other processes (a running `signet
// serve`) keep reading and writing src: the copy is the database as one
// read transaction saw it, with its write-ahead log folded in, and is
// flushed to disk when SnapshotSQLite returns. dst must not exist. src
// is never migrated or written.
func SnapshotSQLite(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return err
	}
	if strings.ContainsAny(src, "?#") {
		return fmt.Errorf("database %s: the path must not contain ? or #", src)
	}
	db, err := sql.Open("sqlite", "file:"+src+"?"+sqliteParams().Encode())
	if err != nil {
		return fmt.Errorf("failed to open %s: %w", src, err)
	}
	defer db.Close()
	// VACUUM INTO writes into an empty file: created here, the copy is
	// its owner's alone, as the database is.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("failed to copy %s to %s: %w", src, dst, err)
	}
	if f, err = os.Open(dst); err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("failed to sync %s: %w", dst, err)
	}
	return nil
}

// SnapshotReferences returns the object data paths a database snapshot
// (a SnapshotSQLite copy, no longer written by anyone) refers to, as
// ReferencedBlobs, and the time of its newest record. A snapshot whose
// schema is not this Signet's is refused: what it refers to cannot be
// read reliably.
func SnapshotReferences(ctx context.Context, file string) (map[string]bool, time.Time, error) {
	if strings.ContainsAny(file, "?#") {
		return nil, time.Time{}, fmt.Errorf("database %s: the path must not contain ? or #", file)
	}
	if _, err := os.Stat(file); err != nil {
		return nil, time.Time{}, err
	}
	// immutable: read without locks, journals or a write-ahead log, so
	// that reading leaves the snapshot's bytes (and its directory) as
	// they were.
	sdb, err := sql.Open("sqlite", "file:"+file+"?immutable=1")
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("failed to open %s: %w", file, err)
	}
	db := newDB(&core{db: sdb, d: sqliteDialect})
	defer db.Close()
	_, pending, err := db.Pending(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	if len(pending) > 0 {
		return nil, time.Time{}, fmt.Errorf("%w: the database's schema is %d migrations behind this signet", ErrSchemaBehind, len(pending))
	}
	return db.ReferencedBlobs(ctx)
}

// ErrSchemaBehind reports a database that a newer Signet would migrate
// first: an older `signet serve` runs on it.
var ErrSchemaBehind = errors.New("the database's schema is older than this Signet's")
