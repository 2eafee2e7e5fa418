package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/signet/signet/internal/iam"
)

// Setting returns an installation setting, or ErrNotFound.
func (s *core) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.queryRow(ctx, `SELECT value FROM installation WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("failed to read setting %s: %w", key, err)
	}
	return v, nil
}

// AccessKey is a stored access key (see iam.KeyRing, which seals its
// secret).
type AccessKey = iam.StoredKey

// sessionTokenPrefix marks a hashed session token.
const sessionTokenPrefix = "sha256:"

// HashSessionToken is what is stored of a session token (see
// iam.HashSessionToken).
func HashSessionToken(token string) string { return iam.HashSessionToken(token) }

// HashClearSessionTokens replaces session tokens that an earlier version
// stored in clear with their hashes, and reports how many it replaced.
func (s *IAM) HashClearSessionTokens(ctx context.Context) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0 // a retried transaction starts again
		if err := s.secureDelete(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT access_key_id, session_token FROM access_keys WHERE session_token <> '' AND session_token NOT LIKE 'sha256:%'`))
		if err != nil {
			return err
		}
		clear := map[string]string{}
		for rows.Next() {
			var id, tok string
			if err := rows.Scan(&id, &tok); err != nil {
				rows.Close()
				return err
			}
			clear[id] = tok
		}
		rows.Close()
		for id, tok := range clear {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE access_keys SET session_token = ? WHERE access_key_id = ?`), HashSessionToken(tok), id); err != nil {
				return err
			}
		}
		n = len(clear)
		return nil
	})
	if err == nil && n > 0 {
		err = s.truncateLog(ctx)
	}
	return n, err
}

// CreateAccessKey stores a new access key. It fails if the id exists.
func (s *IAM) CreateAccessKey(ctx context.Context, k AccessKey) error {
	_, err := s.exec(ctx, `INSERT INTO access_keys (access_key_id, secret, session_token, expires_at, principal_arn, principal_id, source_identity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.SealedSecret, k.SessionTokenHash, unixNano(k.Expires), k.PrincipalARN, k.PrincipalID, k.SourceIdentity, unixNano(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("failed to store access key: %w", err)
	}
	return nil
}

// AccessKey returns the access key with the given id, or ErrNotFound.
func (s *IAM) AccessKey(ctx context.Context, id string) (AccessKey, error) {
	k := AccessKey{ID: id}
	var exp, created int64
	err := s.queryRow(ctx, `SELECT secret, session_token, expires_at, principal_arn, principal_id, source_identity, created_at FROM access_keys WHERE access_key_id = ?`, id).
		Scan(&k.SealedSecret, &k.SessionTokenHash, &exp, &k.PrincipalARN, &k.PrincipalID, &k.SourceIdentity, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return AccessKey{}, fmt.Errorf("%w: access key %s (%w)", ErrNotFound, id, iam.ErrNotFound)
	}
	if err != nil {
		return AccessKey{}, fmt.Errorf("failed to read access key: %w", err)
	}
	k.Expires, k.CreatedAt = fromUnixNano(exp), fromUnixNano(created)
	return k, nil
}

// Initialize stores the installation settings and the bootstrap access
// key in one transaction, unless "initialized" is already set; it reports
// whether it stored them. Initialisation thus happens exactly once, even
// if two processes race or one is killed midway.
func (s *DB) Initialize(ctx context.Context, settings map[string]string, bootstrap AccessKey) (bool, error) {
	stored := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stored = false // a retried transaction starts again
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM installation WHERE key = 'initialized'`)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		for k, v := range settings {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO installation (key, value) VALUES (?, ?)`), k, v); err != nil {
				return fmt.Errorf("failed to store setting %s: %w", k, err)
			}
		}
		k := bootstrap
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO access_keys (access_key_id, secret, session_token, expires_at, principal_arn, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
			k.ID, k.SealedSecret, k.SessionTokenHash, unixNano(k.Expires), k.PrincipalARN, unixNano(k.CreatedAt)); err != nil {
			return fmt.Errorf("failed to store bootstrap access key: %w", err)
		}
		stored = true
		return nil
	})
	return stored, err
}

// AddSettings stores settings in one transaction unless the first of keys
// already exists (then it stores nothing and reports false), so that a
// group of settings is added exactly once.
func (s *DB) AddSettings(ctx context.Context, keys []string, settings map[string]string) (bool, error) {
	stored := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stored = false // a retried transaction starts again
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM installation WHERE key = ?`), keys[0]).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO installation (key, value) VALUES (?, ?)`), k, settings[k]); err != nil {
				return fmt.Errorf("failed to store setting %s: %w", k, err)
			}
		}
		stored = true
		return nil
	})
	return stored, err
}
