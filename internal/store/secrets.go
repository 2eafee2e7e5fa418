package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/signet/signet/internal/secrets"
)

var _ secrets.Store = (*Secrets)(nil)

func scanSecret(row scanner) (secrets.Secret, error) {
	var data string
	if err := row.Scan(&data); err != nil {
		return secrets.Secret{}, err
	}
	var sec secrets.Secret
	return sec, json.Unmarshal([]byte(data), &sec)
}

func dueAt(sec *secrets.Secret) int64 {
	if d := sec.DueAt(); !d.IsZero() {
		return max(unixNano(d), 1)
	}
	return 0
}

// CreateSecret implements secrets.Store.
func (s *Secrets) CreateSecret(ctx context.Context, sec secrets.Secret) error {
	data, err := json.Marshal(sec)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		return s.insert(ctx, tx, secrets.ErrExists, `INSERT INTO secrets (arn, name, data, due_at) VALUES (?, ?, ?, ?)`, sec.ARN, sec.Name, string(data), dueAt(&sec))
	})
}

// Secret implements secrets.Store.
func (s *Secrets) Secret(ctx context.Context, arnOrName string) (secrets.Secret, error) {
	sec, err := scanSecret(s.queryRow(ctx, `SELECT data FROM secrets WHERE arn = ? OR name = ?`, arnOrName, arnOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return sec, secrets.ErrNotFound
	}
	return sec, err
}

// UpdateSecret implements secrets.Store.
func (s *Secrets) UpdateSecret(ctx context.Context, arn string, update func(*secrets.Secret) error) (secrets.Secret, error) {
	var out secrets.Secret
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = secrets.Secret{} // a retried transaction starts again
		sec, err := scanSecret(tx.QueryRowContext(ctx, s.d.rebind(`SELECT data FROM secrets WHERE arn = ?`), arn))
		if errors.Is(err, sql.ErrNoRows) {
			return secrets.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := update(&sec); err != nil {
			return err
		}
		data, err := json.Marshal(sec)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE secrets SET data = ?, due_at = ? WHERE arn = ?`), string(data), dueAt(&sec), arn); err != nil {
			return err
		}
		out = sec
		return nil
	})
	return out, err
}

// ListSecrets implements secrets.Store.
func (s *Secrets) ListSecrets(ctx context.Context) ([]secrets.Secret, error) {
	return queryAll(ctx, s.core, scanSecret, `SELECT data FROM secrets ORDER BY name`)
}

// DeleteSecret implements secrets.Store.
func (s *Secrets) DeleteSecret(ctx context.Context, arn string) error {
	res, err := s.exec(ctx, `DELETE FROM secrets WHERE arn = ?`, arn)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return secrets.ErrNotFound
	}
	return nil
}

// DueSecrets implements secrets.Store.
func (s *Secrets) DueSecrets(ctx context.Context, now time.Time) ([]string, error) {
	return queryAll(ctx, s.core, func(row scanner) (string, error) {
		var a string
		return a, row.Scan(&a)
	}, `SELECT arn FROM secrets WHERE due_at <> 0 AND due_at <= ? ORDER BY due_at`, unixNano(now))
}
