package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/logs"
)

var (
	_ invoke.AsyncStore = (*Lambda)(nil)
	_ logs.Store        = (*Logs)(nil)
)

const asyncColumns = `id, function_name, qualifier, payload, client_context, created_at, attempts, not_before`

func scanAsync(row scanner) (invoke.AsyncInvocation, error) {
	var a invoke.AsyncInvocation
	var created, notBefore int64
	err := row.Scan(&a.ID, &a.Function, &a.Qualifier, &a.Payload, &a.ClientContext, &created, &a.Attempts, &notBefore)
	a.CreatedAt, a.NotBefore = fromUnixNano(created), fromUnixNano(notBefore)
	return a, err
}

// EnqueueAsync implements invoke.AsyncStore.
func (s *Lambda) EnqueueAsync(ctx context.Context, a invoke.AsyncInvocation) error {
	if a.Payload == nil {
		a.Payload = []byte{}
	}
	_, err := s.exec(ctx, `INSERT INTO async_invocations (`+asyncColumns+`, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`,
		a.ID, a.Function, a.Qualifier, a.Payload, a.ClientContext, unixNano(a.CreatedAt), a.Attempts, unixNano(a.NotBefore))
	return err
}

// ClaimAsync implements invoke.AsyncStore.
func (s *Lambda) ClaimAsync(ctx context.Context, now time.Time, lease time.Duration) (invoke.AsyncInvocation, bool, error) {
	var a invoke.AsyncInvocation
	found := false
	err := s.claimTx(ctx, func(tx *sql.Tx) error {
		a, found = invoke.AsyncInvocation{}, false // a retried transaction starts again
		var err error
		a, err = scanAsync(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+asyncColumns+` FROM async_invocations
			WHERE not_before <= ? AND lease_until < ? ORDER BY not_before, created_at LIMIT 1`+s.d.skipLocked), unixNano(now), unixNano(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		a.LeaseUntil = fromUnixNano(unixNano(now.Add(lease)))
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE async_invocations SET lease_until = ? WHERE id = ?`), unixNano(a.LeaseUntil), a.ID)
		return err
	})
	return a, found, err
}

// RenewAsyncLease implements invoke.AsyncStore.
func (s *Lambda) RenewAsyncLease(ctx context.Context, id string, held, until time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE async_invocations SET lease_until = ? WHERE id = ? AND lease_until = ?`, unixNano(until), id, unixNano(held))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteAsync implements invoke.AsyncStore.
func (s *Lambda) DeleteAsync(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM async_invocations WHERE id = ?`, id)
	return err
}

// RetryAsync implements invoke.AsyncStore.
func (s *Lambda) RetryAsync(ctx context.Context, id string, attempts int, notBefore time.Time) error {
	_, err := s.exec(ctx, `UPDATE async_invocations SET attempts = ?, not_before = ?, lease_until = 0 WHERE id = ?`, attempts, unixNano(notBefore), id)
	return err
}

// ReleaseAsyncLeases implements invoke.AsyncStore.
func (s *Lambda) ReleaseAsyncLeases(ctx context.Context) error {
	_, err := s.exec(ctx, `UPDATE async_invocations SET lease_until = 0 WHERE lease_until <> 0`)
	return err
}

// PendingAsync counts queued Event invocations.
func (s *Lambda) PendingAsync(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM async_invocations`).Scan(&n)
	return n, err
}

// FunctionConcurrency returns a function's reserved concurrency, or -1.
func (s *Lambda) FunctionConcurrency(ctx context.Context, name string) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT reserved FROM function_concurrency WHERE function_name = ?`, name).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return -1, nil
	}
	return n, err
}

// SetFunctionConcurrency sets (n >= 0) or removes (n < 0) a function's
// reserved concurrency; setting it returns functions.ErrNotFound if the
// function does not exist.
func (s *Lambda) SetFunctionConcurrency(ctx context.Context, name string, n int) error {
	if n < 0 {
		_, err := s.exec(ctx, `DELETE FROM function_concurrency WHERE function_name = ?`, name)
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM function_concurrency WHERE function_name = ?`), name); err != nil {
			return err
		}
		return insertForFunction(ctx, s.core, tx, name, `INSERT INTO function_concurrency (function_name, reserved) SELECT ?, ?`, name, n)
	})
}

// AllFunctionConcurrency returns every reservation.
func (s *Lambda) AllFunctionConcurrency(ctx context.Context) (map[string]int, error) {
	type kv struct {
		k string
		v int
	}
	rows, err := queryAll(ctx, s.core, func(r scanner) (kv, error) {
		var x kv
		return x, r.Scan(&x.k, &x.v)
	}, `SELECT function_name, reserved FROM function_concurrency`)
	out := map[string]int{}
	for _, r := range rows {
		out[r.k] = r.v
	}
	return out, err
}

// AppendLogEvents implements logs.Store.
func (s *Logs) AppendLogEvents(ctx context.Context, events []logs.Event) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, s.d.rebind(`INSERT INTO log_events (log_group, log_stream, ts, ingested, message) VALUES (?, ?, ?, ?, ?)`))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range events {
			if _, err := st.ExecContext(ctx, e.Group, e.Stream, e.Time.UnixMilli(), e.Ingested.UnixMilli(), e.Message); err != nil {
				return err
			}
		}
		return nil
	})
}

func scanLogEvent(row scanner) (logs.Event, error) {
	var e logs.Event
	var ts, ing int64
	err := row.Scan(&e.ID, &e.Group, &e.Stream, &ts, &ing, &e.Message)
	e.Time, e.Ingested = time.UnixMilli(ts).UTC(), time.UnixMilli(ing).UTC()
	return e, err
}

// LogEvents implements logs.Store.
func (s *Logs) LogEvents(ctx context.Context, q logs.Query) ([]logs.Event, error) {
	where := []string{"log_group = ?", "id > ?"}
	args := []any{q.Group, q.AfterID}
	if !q.Start.IsZero() {
		where, args = append(where, "ts >= ?"), append(args, q.Start.UnixMilli())
	}
	if !q.End.IsZero() {
		where, args = append(where, "ts < ?"), append(args, q.End.UnixMilli())
	}
	if len(q.Streams) > 0 {
		where = append(where, "log_stream IN (?"+strings.Repeat(", ?", len(q.Streams)-1)+")")
		for _, st := range q.Streams {
			args = append(args, st)
		}
	}
	if q.StreamPrefix != "" {
		where, args = append(where, "substr(log_stream, 1, ?) = ?"), append(args, len(q.StreamPrefix), q.StreamPrefix)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 10000
	}
	args = append(args, limit)
	return queryAll(ctx, s.core, scanLogEvent, `SELECT id, log_group, log_stream, ts, ingested, message FROM log_events WHERE `+
		strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
}

// LogGroups implements logs.Store.
func (s *Logs) LogGroups(ctx context.Context, prefix string) ([]string, error) {
	return queryAll(ctx, s.core, func(r scanner) (string, error) {
		var g string
		return g, r.Scan(&g)
	}, `SELECT DISTINCT log_group FROM log_events WHERE substr(log_group, 1, ?) = ? ORDER BY log_group`, len(prefix), prefix)
}

// LogGroupExists implements logs.Store (by the (log_group, ts, id)
// index).
func (s *Logs) LogGroupExists(ctx context.Context, group string) (bool, error) {
	var one int
	err := s.queryRow(ctx, `SELECT 1 FROM log_events WHERE log_group = ? LIMIT 1`, group).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// LogStreams implements logs.Store.
func (s *Logs) LogStreams(ctx context.Context, group, prefix string) ([]logs.Stream, error) {
	return queryAll(ctx, s.core, func(r scanner) (logs.Stream, error) {
		var st logs.Stream
		var first, last, ing int64
		err := r.Scan(&st.Name, &first, &last, &ing)
		st.FirstEvent, st.LastEvent, st.LastIngestion = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC(), time.UnixMilli(ing).UTC()
		return st, err
	}, `SELECT log_stream, MIN(ts), MAX(ts), MAX(ingested) FROM log_events WHERE log_group = ? AND substr(log_stream, 1, ?) = ?
		GROUP BY log_stream ORDER BY MAX(ts) DESC`, group, len(prefix), prefix)
}

// DeleteLogEventsBefore implements logs.Store.
func (s *Logs) DeleteLogEventsBefore(ctx context.Context, t time.Time) error {
	_, err := s.exec(ctx, `DELETE FROM log_events WHERE ts < ?`, t.UnixMilli())
	return err
}
