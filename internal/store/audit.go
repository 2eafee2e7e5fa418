package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/signet/signet/internal/audit"
)

var _ audit.Store = (*DB)(nil)

// AppendAudit implements audit.Store.
func (s *DB) AppendAudit(ctx context.Context, build func(seq int64, prevHash string) (audit.Record, error)) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		seq, prev := int64(1), audit.Genesis
		var last int64
		var hash string
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`)).Scan(&last, &hash)
		switch {
		case err == nil:
			seq, prev = last+1, hash
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		r, err := build(seq, prev)
		if err != nil {
			return err
		}
		ev, err := json.Marshal(r.Event)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO audit_events (seq, event, prev_hash, hash) VALUES (?, ?, ?, ?)`), r.Seq, string(ev), r.PrevHash, r.Hash)
		return err
	})
}

// AuditRecords implements audit.Store.
func (s *DB) AuditRecords(ctx context.Context, after int64, limit int) ([]audit.Record, error) {
	return queryAll(ctx, s, func(row scanner) (audit.Record, error) {
		var r audit.Record
		var ev string
		if err := row.Scan(&r.Seq, &ev, &r.PrevHash, &r.Hash); err != nil {
			return r, err
		}
		return r, json.Unmarshal([]byte(ev), &r.Event)
	}, `SELECT seq, event, prev_hash, hash FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
}
