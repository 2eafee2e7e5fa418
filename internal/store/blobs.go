package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// ReferencedBlobs returns every path of the object data store that the
// metadata refers to: object versions' segments, multipart upload parts,
// and the packages of functions, function versions and layers. Data at
// any other path is garbage (left by a process that died between writing
// it and recording it, or between forgetting it and deleting it).
//
// The tables are read in one snapshot: a multipart upload completed
// meanwhile moves its parts' paths from one table to another, and two
// separate reads could see them in neither.
//
// newest is the time of the newest record among them (a sweep that finds
// unreferenced data newer than that stops: the database is behind the
// store).
func (s *DB) ReferencedBlobs(ctx context.Context) (refs map[string]bool, newest time.Time, err error) {
	// A read-only transaction: on PostgreSQL at REPEATABLE READ; on
	// SQLite a deferred one (a WAL snapshot), which takes no write lock.
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d.name == "postgres" {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer tx.Rollback()
	refs = map[string]bool{}
	add := func(q string, each func(string) error) error {
		rows, err := tx.QueryContext(ctx, s.d.rebind(q))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return err
			}
			if err := each(v); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	path := func(p string) error {
		if p != "" {
			refs[p] = true
		}
		return nil
	}
	if err := add(`SELECT segments FROM object_versions WHERE segments <> ''`, func(segs string) error {
		var js []segmentJSON
		if err := json.Unmarshal([]byte(segs), &js); err != nil {
			return fmt.Errorf("failed to decode an object version's segments: %w", err)
		}
		for _, sg := range js {
			refs[sg.Path] = true
		}
		return nil
	}); err != nil {
		return nil, time.Time{}, err
	}
	for _, q := range []string{
		`SELECT data_path FROM multipart_parts`,
		`SELECT code_path FROM functions`,
		`SELECT code_path FROM function_versions`,
		`SELECT code_path FROM layer_versions`,
	} {
		if err := add(q, path); err != nil {
			return nil, time.Time{}, err
		}
	}
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(t) FROM (
		SELECT COALESCE(MAX(created_at), 0) AS t FROM object_versions UNION ALL
		SELECT COALESCE(MAX(created_at), 0) FROM multipart_parts UNION ALL
		SELECT COALESCE(MAX(last_modified), 0) FROM functions UNION ALL
		SELECT COALESCE(MAX(created_at), 0) FROM function_versions UNION ALL
		SELECT COALESCE(MAX(created_at), 0) FROM layer_versions) AS times`).Scan(&n); err != nil {
		return nil, time.Time{}, err
	}
	if n > 0 {
		newest = fromUnixNano(n)
	}
	return refs, newest, nil
}
