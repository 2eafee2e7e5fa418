package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/signet/signet/internal/iam"
)

var _ iam.Store = (*IAM)(nil)

// insertUnique inserts a user, role or policy. Their names are unique
// regardless of case, as in IAM (a unique index on lower(name)).
func (s *IAM) insertUnique(ctx context.Context, q string, args ...any) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.insert(ctx, tx, iam.ErrExists, q, args...) })
}

// CreateUser implements iam.Store.
func (s *IAM) CreateUser(ctx context.Context, u iam.User) error {
	return s.insertUnique(ctx, `INSERT INTO iam_users (name, id, path, boundary, created_at) VALUES (?, ?, ?, ?, ?)`,
		u.Name, u.ID, u.Path, u.Boundary, unixNano(u.Created))
}

func scanUser(r scanner) (iam.User, error) {
	var u iam.User
	var created int64
	err := r.Scan(&u.Name, &u.ID, &u.Path, &u.Boundary, &created)
	u.Created = fromUnixNano(created)
	return u, err
}

// User implements iam.Store.
func (s *IAM) User(ctx context.Context, name string) (iam.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT name, id, path, boundary, created_at FROM iam_users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, iam.ErrNotFound
	}
	return u, err
}

// ListUsers implements iam.Store.
func (s *IAM) ListUsers(ctx context.Context) ([]iam.User, error) {
	return queryAll(ctx, s.core, scanUser, `SELECT name, id, path, boundary, created_at FROM iam_users ORDER BY name`)
}

// deletePrincipal deletes a user or role that has no policies.
func (s *IAM) deletePrincipal(ctx context.Context, table string, kind iam.PrincipalKind, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT (SELECT COUNT(*) FROM iam_inline_policies WHERE kind = ? AND principal = ?) +
			(SELECT COUNT(*) FROM iam_attachments WHERE kind = ? AND principal = ?)`), kind, name, kind, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return iam.ErrConflict
		}
		res, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM `+table+` WHERE name = ?`), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return iam.ErrNotFound
		}
		return nil
	})
}

// DeleteUser implements iam.Store.
func (s *IAM) DeleteUser(ctx context.Context, name string) error {
	return s.deletePrincipal(ctx, "iam_users", iam.KindUser, name)
}

// CreateRole implements iam.Store.
func (s *IAM) CreateRole(ctx context.Context, r iam.Role) error {
	return s.insertUnique(ctx, `INSERT INTO iam_roles (name, id, path, description, trust_policy, max_session_duration, boundary, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.Name, r.ID, r.Path, r.Description, r.TrustPolicy, r.MaxSessionDuration, r.Boundary, unixNano(r.Created))
}

func scanRole(row scanner) (iam.Role, error) {
	var r iam.Role
	var created int64
	err := row.Scan(&r.Name, &r.ID, &r.Path, &r.Description, &r.TrustPolicy, &r.MaxSessionDuration, &r.Boundary, &created)
	r.Created = fromUnixNano(created)
	return r, err
}

const roleColumns = `name, id, path, description, trust_policy, max_session_duration, boundary, created_at`

// Role implements iam.Store.
func (s *IAM) Role(ctx context.Context, name string) (iam.Role, error) {
	r, err := scanRole(s.queryRow(ctx, `SELECT `+roleColumns+` FROM iam_roles WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, iam.ErrNotFound
	}
	return r, err
}

// ListRoles implements iam.Store.
func (s *IAM) ListRoles(ctx context.Context) ([]iam.Role, error) {
	return queryAll(ctx, s.core, scanRole, `SELECT `+roleColumns+` FROM iam_roles ORDER BY name`)
}

// DeleteRole implements iam.Store.
func (s *IAM) DeleteRole(ctx context.Context, name string) error {
	return s.deletePrincipal(ctx, "iam_roles", iam.KindRole, name)
}

func principalTable(kind iam.PrincipalKind) string {
	if kind == iam.KindRole {
		return "iam_roles"
	}
	return "iam_users"
}

// SetBoundary implements iam.Store.
func (s *IAM) SetBoundary(ctx context.Context, kind iam.PrincipalKind, name, policyARN string) error {
	return s.execOne(ctx, iam.ErrNotFound, `UPDATE `+principalTable(kind)+` SET boundary = ? WHERE name = ?`, policyARN, name)
}

// CreateManagedPolicy implements iam.Store.
func (s *IAM) CreateManagedPolicy(ctx context.Context, p iam.ManagedPolicy) error {
	return s.insertUnique(ctx, `INSERT INTO iam_policies (name, id, path, description, document, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		p.Name, p.ID, p.Path, p.Description, p.Document, unixNano(p.Created))
}

const policyColumns = `name, id, path, description, document, created_at,
	(SELECT COUNT(*) FROM iam_attachments WHERE policy_name = iam_policies.name)`

func scanManagedPolicy(r scanner) (iam.ManagedPolicy, error) {
	var p iam.ManagedPolicy
	var created int64
	err := r.Scan(&p.Name, &p.ID, &p.Path, &p.Description, &p.Document, &created, &p.Attachments)
	p.Created = fromUnixNano(created)
	return p, err
}

// ManagedPolicy implements iam.Store.
func (s *IAM) ManagedPolicy(ctx context.Context, name string) (iam.ManagedPolicy, error) {
	p, err := scanManagedPolicy(s.queryRow(ctx, `SELECT `+policyColumns+` FROM iam_policies WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return p, iam.ErrNotFound
	}
	return p, err
}

// ListManagedPolicies implements iam.Store.
func (s *IAM) ListManagedPolicies(ctx context.Context) ([]iam.ManagedPolicy, error) {
	return queryAll(ctx, s.core, scanManagedPolicy, `SELECT `+policyColumns+` FROM iam_policies ORDER BY name`)
}

// DeleteManagedPolicy implements iam.Store.
func (s *IAM) DeleteManagedPolicy(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT (SELECT COUNT(*) FROM iam_attachments WHERE policy_name = ?) +
			(SELECT COUNT(*) FROM iam_users WHERE boundary LIKE ?) + (SELECT COUNT(*) FROM iam_roles WHERE boundary LIKE ?)`),
			name, "%:policy/%"+name, "%:policy/%"+name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return iam.ErrConflict
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM iam_policies WHERE name = ?`), name)
		return err
	})
}

// PutInlinePolicy implements iam.Store.
func (s *IAM) PutInlinePolicy(ctx context.Context, kind iam.PrincipalKind, principal, name, document string) error {
	_, err := s.exec(ctx, `INSERT INTO iam_inline_policies (kind, principal, policy_name, document) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, principal, policy_name) DO UPDATE SET document = excluded.document`, kind, principal, name, document)
	return err
}

// AttachPolicy implements iam.Store.
func (s *IAM) AttachPolicy(ctx context.Context, kind iam.PrincipalKind, principal, policyName string) error {
	_, err := s.exec(ctx, `INSERT INTO iam_attachments (kind, principal, policy_name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, kind, principal, policyName)
	return err
}

// PrincipalPolicies implements iam.Store.
func (s *IAM) PrincipalPolicies(ctx context.Context, kind iam.PrincipalKind, principal string) ([]iam.InlinePolicy, []string, error) {
	inline, err := queryAll(ctx, s.core, func(r scanner) (iam.InlinePolicy, error) {
		var p iam.InlinePolicy
		return p, r.Scan(&p.Name, &p.Document)
	}, `SELECT policy_name, document FROM iam_inline_policies WHERE kind = ? AND principal = ? ORDER BY policy_name`, kind, principal)
	if err != nil {
		return nil, nil, err
	}
	attached, err := queryAll(ctx, s.core, func(r scanner) (string, error) {
		var v string
		return v, r.Scan(&v)
	}, `SELECT policy_name FROM iam_attachments WHERE kind = ? AND principal = ? ORDER BY policy_name`, kind, principal)
	return inline, attached, err
}

// AccessKeysOf lists the access keys of a principal.
func (s *IAM) AccessKeysOf(ctx context.Context, principalARN string) ([]iam.KeyInfo, error) {
	return queryAll(ctx, s.core, func(r scanner) (iam.KeyInfo, error) {
		var k iam.KeyInfo
		var created int64
		err := r.Scan(&k.ID, &created)
		k.Created = fromUnixNano(created)
		return k, err
	}, `SELECT access_key_id, created_at FROM access_keys WHERE principal_arn = ? AND session_token = '' ORDER BY created_at`, principalARN)
}

// DeleteAccessKey deletes a principal's access key.
func (s *IAM) DeleteAccessKey(ctx context.Context, id, principalARN string) error {
	return s.execOne(ctx, iam.ErrNotFound, `DELETE FROM access_keys WHERE access_key_id = ? AND principal_arn = ?`, id, principalARN)
}

// DeleteExpiredKeys removes temporary credentials that expired before t.
func (s *IAM) DeleteExpiredKeys(ctx context.Context, t time.Time) error {
	_, err := s.exec(ctx, `DELETE FROM access_keys WHERE expires_at <> 0 AND expires_at < ?`, unixNano(t))
	return err
}

// DeleteInlinePolicy implements iam.Store.
func (s *IAM) DeleteInlinePolicy(ctx context.Context, kind iam.PrincipalKind, principal, name string) error {
	return s.execOne(ctx, iam.ErrNotFound, `DELETE FROM iam_inline_policies WHERE kind = ? AND principal = ? AND policy_name = ?`, kind, principal, name)
}

// DetachPolicy implements iam.Store.
func (s *IAM) DetachPolicy(ctx context.Context, kind iam.PrincipalKind, principal, policyName string) error {
	return s.execOne(ctx, iam.ErrNotFound, `DELETE FROM iam_attachments WHERE kind = ? AND principal = ? AND policy_name = ?`, kind, principal, policyName)
}
