package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// ErrNoNotifications reports an engine without notifications (SQLite:
// one process uses the database, nothing to tell).
var ErrNoNotifications = errors.New("store: the database engine has no notifications")

// maxPayload is PostgreSQL's limit on a NOTIFY payload, less a margin.
const maxPayload = 7900

// Notify sends payload to every process listening on channel, once the
// current transaction (none: at once) commits. PostgreSQL only.
func (s *DB) Notify(ctx context.Context, channel, payload string) error {
	if s.d.name != "postgres" {
		return ErrNoNotifications
	}
	if len(payload) > maxPayload {
		return fmt.Errorf("notification payload of %d bytes: at most %d", len(payload), maxPayload)
	}
	_, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, payload)
	return err
}

// Listen calls fn with each notification on channel until ctx ends, on a
// connection of its own. After connecting, and after each reconnection
// (notifications sent meanwhile are lost), it calls connected, which
// should drop whatever the lost notifications would have. PostgreSQL
// only; it returns when ctx ends.
func (s *DB) Listen(ctx context.Context, channel string, connected func(), fn func(payload string)) error {
	if s.d.name != "postgres" {
		return ErrNoNotifications
	}
	for delay := 100 * time.Millisecond; ctx.Err() == nil; delay = min(2*delay, 5*time.Second) {
		err := s.listenOnce(ctx, channel, connected, fn)
		if ctx.Err() != nil {
			break
		}
		_ = err // the connection was lost: connect again
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
	}
	return nil
}

func (s *DB) listenOnce(ctx context.Context, channel string, connected func(), fn func(string)) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("listen: unexpected driver connection %T", dc)
		}
		pc := c.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
			return err
		}
		connected()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				// The connection is not reusable mid-wait: close it.
				pc.Close(context.WithoutCancel(ctx))
				return err
			}
			fn(n.Payload)
		}
	})
}
