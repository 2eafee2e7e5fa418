package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/signet/signet/internal/keys"
)

var _ keys.SealedStore = (*Keys)(nil)

// PutSealedKey implements keys.SealedStore.
func (s *Keys) PutSealedKey(ctx context.Context, k keys.SealedKey) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM sealed_keys WHERE id = ?`), k.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("key %s: %w", k.ID, keys.ErrKeyExists)
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO sealed_keys (id, spec, ciphertext, created_at) VALUES (?, ?, ?, ?)`),
			k.ID, string(k.Spec), k.Ciphertext, unixNano(k.CreatedAt))
		return err
	})
}

// SealedKey implements keys.SealedStore.
func (s *Keys) SealedKey(ctx context.Context, id string) (keys.SealedKey, error) {
	k := keys.SealedKey{ID: id}
	var spec string
	var created int64
	err := s.queryRow(ctx, `SELECT spec, ciphertext, created_at FROM sealed_keys WHERE id = ?`, id).Scan(&spec, &k.Ciphertext, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("key %s: %w", id, keys.ErrKeyNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("failed to read key %s: %w", id, err)
	}
	k.Spec, k.CreatedAt = keys.KeySpec(spec), fromUnixNano(created)
	return k, nil
}

// DeleteSealedKey implements keys.SealedStore.
func (s *Keys) DeleteSealedKey(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM sealed_keys WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("failed to delete key %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("key %s: %w", id, keys.ErrKeyNotFound)
	}
	return nil
}
