package store

import (
	"context"
	"database/sql"
)

// SQLExec runs a statement on the database, for tests.
func SQLExec(ctx context.Context, s *DB, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, q, args...)
}

// UnixNano is how times are stored.
var UnixNano = unixNano
