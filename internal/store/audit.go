package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/signet/signet/internal/audit"
)

var _ audit.Store = (*Audit)(nil)

// AppendAudit implements audit.Store.
func (s *Audit) AppendAudit(ctx context.Context, build func(seq int64, prevHash string) (audit.Record, error)) error {
	return s.AppendAuditBatch(ctx, 1, func(_ int, seq int64, prev string) (audit.Record, error) { return build(seq, prev) })
}

// AuditRecords implements audit.Store.
func (s *Audit) AuditRecords(ctx context.Context, after int64, limit int) ([]audit.Record, error) {
	return queryAll(ctx, s.core, scanAuditRecord, `SELECT seq, event, prev_hash, hash FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
}

var _ audit.BatchStore = (*Audit)(nil)

// AppendAuditBatch implements audit.BatchStore.
//
// Appends take turns: on PostgreSQL under one advisory lock, so that
// every node's records form one chain without the conflicts (and
// retries) that concurrent appends would otherwise meet.
func (s *Audit) AppendAuditBatch(ctx context.Context, n int, build func(i int, seq int64, prevHash string) (audit.Record, error)) error {
	return s.serialTx(ctx, s.d.lockAudit, func(tx *sql.Tx) error {
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
		st, err := tx.PrepareContext(ctx, s.d.rebind(`INSERT INTO audit_events (seq, event, prev_hash, hash) VALUES (?, ?, ?, ?)`))
		if err != nil {
			return err
		}
		defer st.Close()
		ix, err := tx.PrepareContext(ctx, s.d.rebind(insertAuditIndex))
		if err != nil {
			return err
		}
		defer ix.Close()
		for i := 0; i < n; i++ {
			r, err := build(i, seq, prev)
			if err != nil {
				return err
			}
			ev := r.JSON // stored byte for byte: the hash covers it
			if ev == nil {
				if ev, err = json.Marshal(r.Event); err != nil {
					return err
				}
			}
			if _, err := st.ExecContext(ctx, r.Seq, string(ev), r.PrevHash, r.Hash); err != nil {
				return err
			}
			if _, err := ix.ExecContext(ctx, auditIndexArgs(r.Seq, r.Event)...); err != nil {
				return err
			}
			seq, prev = seq+1, r.Hash
		}
		return nil
	})
}

// AddCheckpoint implements audit.BatchStore.
func (s *Audit) AddCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	_, err := s.exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, signed_at, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
		c.Seq, c.Hash, unixNano(c.Time), c.KeyID, c.Signature)
	return err
}

// Checkpoints implements audit.BatchStore.
func (s *Audit) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	return queryAll(ctx, s.core, func(r scanner) (audit.Checkpoint, error) {
		var c audit.Checkpoint
		var t int64
		err := r.Scan(&c.Seq, &c.Hash, &t, &c.KeyID, &c.Signature)
		c.Time = fromUnixNano(t)
		return c, err
	}, `SELECT seq, hash, signed_at, key_id, signature FROM audit_checkpoints ORDER BY id`)
}

var _ audit.LastCheckpointer = (*Audit)(nil)

// LastCheckpoint implements audit.LastCheckpointer.
func (s *Audit) LastCheckpoint(ctx context.Context) (*audit.Checkpoint, error) {
	cps, err := queryAll(ctx, s.core, func(r scanner) (audit.Checkpoint, error) {
		var c audit.Checkpoint
		var t int64
		err := r.Scan(&c.Seq, &c.Hash, &t, &c.KeyID, &c.Signature)
		c.Time = fromUnixNano(t)
		return c, err
	}, `SELECT seq, hash, signed_at, key_id, signature FROM audit_checkpoints ORDER BY id DESC LIMIT 1`)
	if err != nil || len(cps) == 0 {
		return nil, err
	}
	return &cps[0], nil
}

// LastAuditRecord implements audit.BatchStore.
func (s *Audit) LastAuditRecord(ctx context.Context) (*audit.Record, error) {
	recs, err := queryAll(ctx, s.core, scanAuditRecord, `SELECT seq, event, prev_hash, hash FROM audit_events ORDER BY seq DESC LIMIT 1`)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return &recs[0], nil
}

// MoveAuditTo moves the audit records and checkpoints of s into dst when
// dst has none (installations that kept the audit log in the main
// database). It reports how many records moved.
func (s *Audit) MoveAuditTo(ctx context.Context, dst *DB) (int, error) {
	var have, n int
	if err := dst.queryRow(ctx, `SELECT COUNT(*) FROM audit_events`).Scan(&have); err != nil {
		return 0, err
	}
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM audit_events`).Scan(&n); err != nil || have > 0 || n == 0 {
		return 0, err
	}
	type row struct {
		seq            int64
		ev, prev, hash string
	}
	rows, err := queryAll(ctx, s.core, func(r scanner) (row, error) {
		var x row
		return x, r.Scan(&x.seq, &x.ev, &x.prev, &x.hash)
	}, `SELECT seq, event, prev_hash, hash FROM audit_events ORDER BY seq`)
	if err != nil {
		return 0, err
	}
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		return 0, err
	}
	err = dst.tx(ctx, func(tx *sql.Tx) error {
		for _, x := range rows {
			if _, err := tx.ExecContext(ctx, dst.d.rebind(`INSERT INTO audit_events (seq, event, prev_hash, hash) VALUES (?, ?, ?, ?)`), x.seq, x.ev, x.prev, x.hash); err != nil {
				return err
			}
			var r audit.Record
			decodeAuditEvent(x.ev, &r)
			if _, err := tx.ExecContext(ctx, dst.d.rebind(insertAuditIndex), auditIndexArgs(x.seq, r.Event)...); err != nil {
				return err
			}
		}
		for _, c := range cps {
			if _, err := tx.ExecContext(ctx, dst.d.rebind(`INSERT INTO audit_checkpoints (seq, hash, signed_at, key_id, signature) VALUES (?, ?, ?, ?, ?)`),
				c.Seq, c.Hash, unixNano(c.Time), c.KeyID, c.Signature); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	_, err = s.exec(ctx, `DELETE FROM audit_events`)
	if err == nil {
		_, err = s.exec(ctx, `DELETE FROM audit_index`)
	}
	if err == nil {
		_, err = s.exec(ctx, `DELETE FROM audit_checkpoints`)
	}
	return len(rows), err
}

// scanAuditRecord reads a row of seq, event, prev_hash, hash.
func scanAuditRecord(row scanner) (audit.Record, error) {
	var r audit.Record
	var ev string
	if err := row.Scan(&r.Seq, &ev, &r.PrevHash, &r.Hash); err != nil {
		return r, err
	}
	decodeAuditEvent(ev, &r)
	return r, nil
}

// decodeAuditEvent sets r.JSON to the stored event and r.Event to its
// decoding. A record whose JSON does not decode is still returned, with
// a zero Event: its hash, computed over JSON, tells whether it was
// stored so or edited.
func decodeAuditEvent(ev string, r *audit.Record) {
	r.JSON = []byte(ev)
	json.Unmarshal(r.JSON, &r.Event)
}
