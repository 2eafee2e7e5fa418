package store

import (
	"context"
	"time"
)

// Heartbeat records that node id is alive at now, and forgets nodes not
// seen for an hour.
func (s *DB) Heartbeat(ctx context.Context, id string, started, now time.Time) error {
	if _, err := s.exec(ctx, `INSERT INTO nodes (id, started_at, seen_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`,
		id, unixNano(started), unixNano(now)); err != nil {
		return err
	}
	_, err := s.exec(ctx, `DELETE FROM nodes WHERE seen_at < ?`, unixNano(now.Add(-time.Hour)))
	return err
}

// LiveNodes counts the nodes seen since since.
func (s *DB) LiveNodes(ctx context.Context, since time.Time) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM nodes WHERE seen_at >= ?`, unixNano(since)).Scan(&n)
	return n, err
}

// ForgetNode removes a node that stops, so that the others stop counting
// it at once.
func (s *DB) ForgetNode(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM nodes WHERE id = ?`, id)
	return err
}
