package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/signet/signet/internal/deploygate"
)

var _ deploygate.Store = (*CodeSigning)(nil)

func scanCSC(row scanner) (deploygate.CodeSigningConfig, error) {
	var c deploygate.CodeSigningConfig
	var pubs, policy string
	var modified int64
	if err := row.Scan(&c.ID, &c.Description, &pubs, &policy, &modified); err != nil {
		return c, err
	}
	c.Policy, c.LastModified = deploygate.Policy(policy), fromUnixNano(modified)
	return c, json.Unmarshal([]byte(pubs), &c.AllowedPublishers)
}

// CreateCSC implements deploygate.Store.
func (s *CodeSigning) CreateCSC(ctx context.Context, c deploygate.CodeSigningConfig) error {
	pubs, err := json.Marshal(c.AllowedPublishers)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO code_signing_configs (id, description, publishers, policy, last_modified) VALUES (?, ?, ?, ?, ?)`,
		c.ID, c.Description, string(pubs), string(c.Policy), unixNano(c.LastModified))
	return err
}

// CSC implements deploygate.Store.
func (s *CodeSigning) CSC(ctx context.Context, id string) (deploygate.CodeSigningConfig, error) {
	c, err := scanCSC(s.queryRow(ctx, `SELECT id, description, publishers, policy, last_modified FROM code_signing_configs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, deploygate.ErrNotFound
	}
	return c, err
}

// UpdateCSC implements deploygate.Store.
func (s *CodeSigning) UpdateCSC(ctx context.Context, id string, fn func(*deploygate.CodeSigningConfig) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		c, err := scanCSC(tx.QueryRowContext(ctx, s.d.rebind(`SELECT id, description, publishers, policy, last_modified FROM code_signing_configs WHERE id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return deploygate.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return err
		}
		pubs, err := json.Marshal(c.AllowedPublishers)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE code_signing_configs SET description = ?, publishers = ?, policy = ?, last_modified = ? WHERE id = ?`),
			c.Description, string(pubs), string(c.Policy), unixNano(c.LastModified), id)
		return err
	})
}

// DeleteCSC implements deploygate.Store.
func (s *CodeSigning) DeleteCSC(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM function_code_signing_configs WHERE csc_id = ?`), id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return deploygate.ErrInUse
		}
		res, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM code_signing_configs WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return deploygate.ErrNotFound
		}
		return nil
	})
}

// ListCSCs implements deploygate.Store.
func (s *CodeSigning) ListCSCs(ctx context.Context, after string, limit int) ([]deploygate.CodeSigningConfig, error) {
	return queryAll(ctx, s.core, scanCSC, `SELECT id, description, publishers, policy, last_modified FROM code_signing_configs WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}
