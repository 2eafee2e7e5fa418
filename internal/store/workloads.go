package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ErrLeaseLost is returned by a write made for a lease its writer no
// longer holds.
var ErrLeaseLost = errors.New("store: the lease is held by another node, or expired")

// WorkloadInput is a queued input of continuous validation.
type WorkloadInput struct {
	Seq   int64
	Input []byte
}

// AppendWorkloadInput queues an input and returns its sequence number.
func (s *Workloads) AppendWorkloadInput(ctx context.Context, input []byte, now time.Time) (int64, error) {
	var seq int64
	err := s.queryRow(ctx, `INSERT INTO workload_inputs (input, created_at) VALUES (?, ?) RETURNING seq`, string(input), unixNano(now)).Scan(&seq)
	return seq, err
}

// PendingWorkloadInputs returns up to limit inputs not applied yet, in
// order.
func (s *Workloads) PendingWorkloadInputs(ctx context.Context, limit int) ([]WorkloadInput, error) {
	return queryAll(ctx, s.core, func(r scanner) (WorkloadInput, error) {
		var in WorkloadInput
		var b string
		err := r.Scan(&in.Seq, &b)
		in.Input = []byte(b)
		return in, err
	}, `SELECT seq, input FROM workload_inputs WHERE applied = 0 ORDER BY seq LIMIT ?`, limit)
}

// WorkloadInputResult reports whether an input was applied, and whether
// it changed anything.
func (s *Workloads) WorkloadInputResult(ctx context.Context, seq int64) (applied, changed bool, err error) {
	var a, c int
	err = s.queryRow(ctx, `SELECT applied, changed FROM workload_inputs WHERE seq = ?`, seq).Scan(&a, &c)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, ErrNotFound
	}
	return a == 1, c == 1, err
}

// SaveWorkloadState saves the inventory's state and marks inputs applied
// (with whether each changed anything), in one transaction, provided
// holder still holds the lease named lease at now (else ErrLeaseLost);
// applied inputs older than keep are deleted.
func (s *Workloads) SaveWorkloadState(ctx context.Context, lease, holder string, state []byte, applied map[int64]bool, now time.Time, keep time.Duration) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		// The fence is a write to the lease's row, so that a concurrent
		// takeover (which writes it too) and this save are ordered: one
		// of them waits for, or is run again after, the other.
		// Who holds the row is what counts: a lease past its time that no
		// other node took is still this holder's (a clock that jumped
		// ahead must not make a holder re-apply its queue).
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE leases SET until = until WHERE name = ? AND holder = ?`), lease, holder)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrLeaseLost
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO workload_state (id, state, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`),
			string(state), unixNano(now)); err != nil {
			return err
		}
		for seq, changed := range applied {
			c := 0
			if changed {
				c = 1
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE workload_inputs SET applied = 1, changed = ? WHERE seq = ?`), c, seq); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`DELETE FROM workload_inputs WHERE applied = 1 AND created_at < ?`), unixNano(now.Add(-keep)))
		return err
	})
}

// WorkloadStateTime returns when the state was last saved (zero before
// the first save), without reading it.
func (s *Workloads) WorkloadStateTime(ctx context.Context) (time.Time, error) {
	var at int64
	err := s.queryRow(ctx, `SELECT updated_at FROM workload_state WHERE id = 1`).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return fromUnixNano(at), err
}

// WorkloadState returns the saved state and when it was saved; ErrNotFound
// before the first save.
func (s *Workloads) WorkloadState(ctx context.Context) ([]byte, time.Time, error) {
	var st string
	var at int64
	err := s.queryRow(ctx, `SELECT state, updated_at FROM workload_state WHERE id = 1`).Scan(&st, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, ErrNotFound
	}
	return []byte(st), fromUnixNano(at), err
}

// AcquireLease takes the lease name for holder until until, or extends
// it when holder has it; it reports whether holder has it now. Another
// holder's lease is taken only once it has expired at now.
func (s *DB) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	var got bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		got = false // a retried transaction starts again
		res, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until WHERE leases.holder = excluded.holder OR leases.until <= ?`),
			name, holder, unixNano(until), unixNano(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		got = n == 1
		return err
	})
	return got, err
}

// LeaseHeld reports whether anyone holds the lease name at now.
func (s *DB) LeaseHeld(ctx context.Context, name string, now time.Time) (bool, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM leases WHERE name = ? AND until > ?`, name, unixNano(now)).Scan(&n)
	return n > 0, err
}

// ReleaseLease gives the lease up, if holder has it.
func (s *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	return err
}
