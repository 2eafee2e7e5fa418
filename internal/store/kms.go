package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/signet/signet/internal/kms"
)

var _ kms.Store = (*KMS)(nil)

const kmsKeyColumns = `id, description, spec, usage, state, manager, policy, created_at, deletion_date, material, rotation_enabled, rotation_days, next_rotation, tags`

func scanKMSKey(row scanner) (kms.Key, error) {
	var k kms.Key
	var created, deletion, next int64
	var rotation int
	var tags string
	if err := row.Scan(&k.ID, &k.Description, &k.Spec, &k.Usage, &k.State, &k.Manager, &k.Policy, &created, &deletion, &k.Material, &rotation, &k.RotationDays, &next, &tags); err != nil {
		return k, err
	}
	k.CreatedAt, k.DeletionDate, k.NextRotation, k.RotationEnabled = fromUnixNano(created), fromUnixNano(deletion), fromUnixNano(next), rotation == 1
	return k, json.Unmarshal([]byte(tags), &k.Tags)
}

func kmsKeyArgs(k kms.Key) ([]any, error) {
	tags, err := json.Marshal(k.Tags)
	if err != nil {
		return nil, err
	}
	rotation := 0
	if k.RotationEnabled {
		rotation = 1
	}
	return []any{k.Description, k.Spec, k.Usage, k.State, k.Manager, k.Policy, unixNano(k.CreatedAt), unixNano(k.DeletionDate),
		k.Material, rotation, k.RotationDays, unixNano(k.NextRotation), string(tags), k.ID}, nil
}

// CreateKey implements kms.Store.
func (s *KMS) CreateKey(ctx context.Context, k kms.Key, m kms.Material) error {
	args, err := kmsKeyArgs(k)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO kms_keys (description, spec, usage, state, manager, policy, created_at, deletion_date, material, rotation_enabled, rotation_days, next_rotation, tags, id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), args...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO kms_key_material (key_id, version, sealed, created_at) VALUES (?, ?, ?, ?)`),
			m.KeyID, m.Version, m.Sealed, unixNano(m.CreatedAt))
		return err
	})
}

// Key implements kms.Store.
func (s *KMS) Key(ctx context.Context, id string) (kms.Key, error) {
	k, err := scanKMSKey(s.queryRow(ctx, `SELECT `+kmsKeyColumns+` FROM kms_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, kms.ErrNotFound
	}
	return k, err
}

// ListKeys implements kms.Store.
func (s *KMS) ListKeys(ctx context.Context, after string, limit int) ([]kms.Key, error) {
	return queryAll(ctx, s.core, scanKMSKey, `SELECT `+kmsKeyColumns+` FROM kms_keys WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

// UpdateKey implements kms.Store.
func (s *KMS) UpdateKey(ctx context.Context, id string, update func(*kms.Key) (*kms.Material, error)) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		k, err := scanKMSKey(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+kmsKeyColumns+` FROM kms_keys WHERE id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return kms.ErrNotFound
		}
		if err != nil {
			return err
		}
		m, err := update(&k)
		if err != nil {
			return err
		}
		if m != nil {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO kms_key_material (key_id, version, sealed, created_at) VALUES (?, ?, ?, ?)`),
				id, m.Version, m.Sealed, unixNano(m.CreatedAt)); err != nil {
				return err
			}
		}
		args, err := kmsKeyArgs(k)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE kms_keys SET description = ?, spec = ?, usage = ?, state = ?, manager = ?, policy = ?, created_at = ?, deletion_date = ?,
			material = ?, rotation_enabled = ?, rotation_days = ?, next_rotation = ?, tags = ? WHERE id = ?`), args...)
		return err
	})
}

// KeyMaterial implements kms.Store.
func (s *KMS) KeyMaterial(ctx context.Context, id string, version uint32) (kms.Material, error) {
	m := kms.Material{KeyID: id, Version: version}
	var created int64
	err := s.queryRow(ctx, `SELECT sealed, created_at FROM kms_key_material WHERE key_id = ? AND version = ?`, id, version).Scan(&m.Sealed, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return m, kms.ErrNotFound
	}
	m.CreatedAt = fromUnixNano(created)
	return m, err
}

// PutAlias implements kms.Store.
func (s *KMS) PutAlias(ctx context.Context, a kms.Alias, replace bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if replace {
			res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE kms_aliases SET key_id = ?, updated_at = ? WHERE name = ?`), a.KeyID, unixNano(a.UpdatedAt), a.Name)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return kms.ErrNotFound
			}
			return nil
		}
		return s.insert(ctx, tx, kms.ErrAlreadyExists, `INSERT INTO kms_aliases (name, key_id, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			a.Name, a.KeyID, unixNano(a.CreatedAt), unixNano(a.UpdatedAt))
	})
}

func scanAlias(row scanner) (kms.Alias, error) {
	var a kms.Alias
	var created, updated int64
	err := row.Scan(&a.Name, &a.KeyID, &created, &updated)
	a.CreatedAt, a.UpdatedAt = fromUnixNano(created), fromUnixNano(updated)
	return a, err
}

// Alias implements kms.Store.
func (s *KMS) Alias(ctx context.Context, name string) (kms.Alias, error) {
	a, err := scanAlias(s.queryRow(ctx, `SELECT name, key_id, created_at, updated_at FROM kms_aliases WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return a, kms.ErrNotFound
	}
	return a, err
}

// DeleteAlias implements kms.Store.
func (s *KMS) DeleteAlias(ctx context.Context, name string) error {
	return s.execOne(ctx, kms.ErrNotFound, `DELETE FROM kms_aliases WHERE name = ?`, name)
}

// ListAliases implements kms.Store.
func (s *KMS) ListAliases(ctx context.Context, keyID string) ([]kms.Alias, error) {
	if keyID != "" {
		return queryAll(ctx, s.core, scanAlias, `SELECT name, key_id, created_at, updated_at FROM kms_aliases WHERE key_id = ? ORDER BY name`, keyID)
	}
	return queryAll(ctx, s.core, scanAlias, `SELECT name, key_id, created_at, updated_at FROM kms_aliases ORDER BY name`)
}

// DestroyKeys implements kms.Store.
func (s *KMS) DestroyKeys(ctx context.Context, now time.Time) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ids = nil // a retried transaction starts again
		ids = nil
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT id FROM kms_keys WHERE state = ? AND deletion_date <= ? ORDER BY id`), kms.StatePendingDeletion, now.UnixNano())
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			for _, q := range []string{
				`DELETE FROM kms_grants WHERE key_id = ?`,
				`DELETE FROM kms_aliases WHERE key_id = ?`,
				`DELETE FROM kms_key_material WHERE key_id = ?`,
				`DELETE FROM kms_keys WHERE id = ?`,
			} {
				if _, err := tx.ExecContext(ctx, s.d.rebind(q), id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return ids, err
}

var _ kms.GrantStore = (*KMS)(nil)

// PutGrant implements kms.GrantStore.
func (s *KMS) PutGrant(ctx context.Context, g kms.Grant) error {
	ops, err := json.Marshal(g.Operations)
	if err != nil {
		return err
	}
	cons, err := json.Marshal(map[string]map[string]string{"subset": g.ContextSubset, "equals": g.ContextEquals})
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO kms_grants (id, key_id, name, grantee, retiring, operations, constraints, issuer, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.KeyID, g.Name, g.Grantee, g.Retiring, string(ops), string(cons), g.Issuer, unixNano(g.CreatedAt))
	return err
}

// Grants implements kms.GrantStore.
func (s *KMS) Grants(ctx context.Context, keyID string) ([]kms.Grant, error) {
	return queryAll(ctx, s.core, func(row scanner) (kms.Grant, error) {
		var g kms.Grant
		var ops, cons string
		var created int64
		if err := row.Scan(&g.ID, &g.KeyID, &g.Name, &g.Grantee, &g.Retiring, &ops, &cons, &g.Issuer, &created); err != nil {
			return g, err
		}
		g.CreatedAt = fromUnixNano(created)
		var c map[string]map[string]string
		if err := json.Unmarshal([]byte(cons), &c); err != nil {
			return g, err
		}
		g.ContextSubset, g.ContextEquals = c["subset"], c["equals"]
		return g, json.Unmarshal([]byte(ops), &g.Operations)
	}, `SELECT id, key_id, name, grantee, retiring, operations, constraints, issuer, created_at FROM kms_grants WHERE key_id = ? ORDER BY created_at, id`, keyID)
}

// DeleteGrant implements kms.GrantStore.
func (s *KMS) DeleteGrant(ctx context.Context, keyID, id string) error {
	return s.execOne(ctx, kms.ErrNotFound, `DELETE FROM kms_grants WHERE key_id = ? AND id = ?`, keyID, id)
}

// GrantKey implements kms.GrantStore.
func (s *KMS) GrantKey(ctx context.Context, id string) (string, error) {
	var key string
	err := s.queryRow(ctx, `SELECT key_id FROM kms_grants WHERE id = ?`, id).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", kms.ErrNotFound
	}
	return key, err
}
