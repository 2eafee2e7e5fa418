package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/signet/signet/internal/signing"
)

var _ signing.Store = (*Signing)(nil)

const profileColumns = `name, version, platform_id, validity_value, validity_type, signing_parameters, overrides, tags, status, status_reason, created_at, canceled_at`

type overridesJSON struct {
	EncryptionAlgorithm string `json:"encryptionAlgorithm,omitempty"`
	HashAlgorithm       string `json:"hashAlgorithm,omitempty"`
	ImageFormat         string `json:"imageFormat,omitempty"`
}

func profileArgs(p signing.Profile) ([]any, error) {
	params, err := json.Marshal(nonNil(p.SigningParameters))
	if err != nil {
		return nil, err
	}
	tags, err := json.Marshal(nonNil(p.Tags))
	if err != nil {
		return nil, err
	}
	ov, err := json.Marshal(overridesJSON(p.Overrides))
	if err != nil {
		return nil, err
	}
	return []any{p.Name, p.Version, p.PlatformID, p.Validity.Value, string(p.Validity.Type), string(params), string(ov), string(tags),
		string(p.Status), p.StatusReason, unixNano(p.CreatedAt), unixNano(p.CanceledAt)}, nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

type scanner interface{ Scan(...any) error }

func scanProfile(row scanner) (signing.Profile, error) {
	var p signing.Profile
	var vt, params, ov, tags, status string
	var created, canceled int64
	if err := row.Scan(&p.Name, &p.Version, &p.PlatformID, &p.Validity.Value, &vt, &params, &ov, &tags, &status, &p.StatusReason, &created, &canceled); err != nil {
		return p, err
	}
	p.Validity.Type = signing.ValidityType(vt)
	p.Status = signing.Status(status)
	p.CreatedAt, p.CanceledAt = fromUnixNano(created), fromUnixNano(canceled)
	var o overridesJSON
	if err := errors.Join(json.Unmarshal([]byte(params), &p.SigningParameters), json.Unmarshal([]byte(ov), &o), json.Unmarshal([]byte(tags), &p.Tags)); err != nil {
		return p, fmt.Errorf("failed to decode profile %s: %w", p.Name, err)
	}
	p.Overrides = signing.Overrides(o)
	return p, nil
}

func insertVersion(ctx context.Context, tx *sql.Tx, s *core, v signing.Version) error {
	_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO signing_profile_versions (profile_name, version, key_id, certificate, created_at) VALUES (?, ?, ?, ?, ?)`),
		v.ProfileName, v.Version, v.KeyID, v.Certificate, unixNano(v.CreatedAt))
	return err
}

// CreateProfile implements signing.Store.
func (s *Signing) CreateProfile(ctx context.Context, p signing.Profile, v signing.Version) error {
	args, err := profileArgs(p)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.insert(ctx, tx, signing.ErrConflict, `INSERT INTO signing_profiles (`+profileColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			if errors.Is(err, signing.ErrConflict) {
				return err
			}
			return fmt.Errorf("failed to insert profile: %w", err)
		}
		return insertVersion(ctx, tx, s.core, v)
	})
}

// AddVersion implements signing.Store.
func (s *Signing) AddVersion(ctx context.Context, prev string, p signing.Profile, v signing.Version) error {
	args, err := profileArgs(p)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT version FROM signing_profiles WHERE name = ?`), p.Name).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return signing.ErrNotFound
		}
		if err != nil {
			return err
		}
		if cur != prev {
			return signing.ErrConflict
		}
		if err := insertVersion(ctx, tx, s.core, v); err != nil {
			return fmt.Errorf("failed to insert version: %w", err)
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE signing_profiles SET version = ?, platform_id = ?, validity_value = ?, validity_type = ?, signing_parameters = ?, overrides = ?, tags = ?, status = ?, status_reason = ?, created_at = ?, canceled_at = ? WHERE name = ?`),
			append(args[1:], p.Name)...)
		return err
	})
}

// Profile implements signing.Store.
func (s *Signing) Profile(ctx context.Context, name string) (signing.Profile, error) {
	p, err := scanProfile(s.queryRow(ctx, `SELECT `+profileColumns+` FROM signing_profiles WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return p, signing.ErrNotFound
	}
	return p, err
}

// ProfileVersion implements signing.Store.
func (s *Signing) ProfileVersion(ctx context.Context, name, version string) (signing.Version, error) {
	v, err := scanProfileVersion(s.queryRow(ctx, `SELECT `+profileVersionColumns+` FROM signing_profile_versions WHERE profile_name = ? AND version = ?`, name, version))
	if errors.Is(err, sql.ErrNoRows) {
		return v, signing.ErrNotFound
	}
	return v, err
}

const profileVersionColumns = `profile_name, version, key_id, certificate, created_at, revoked_at, revocation_effective_from, revoked_by, revocation_reason`

func scanProfileVersion(row scanner) (signing.Version, error) {
	var v signing.Version
	var created, revoked, effective int64
	err := row.Scan(&v.ProfileName, &v.Version, &v.KeyID, &v.Certificate, &created, &revoked, &effective, &v.RevokedBy, &v.RevocationReason)
	v.CreatedAt, v.RevokedAt, v.EffectiveFrom = fromUnixNano(created), fromUnixNano(revoked), fromUnixNano(effective)
	return v, err
}

// RevokeVersion implements signing.Store.
func (s *Signing) RevokeVersion(ctx context.Context, name, version string, fn func(*signing.Profile, *signing.Version) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		p, err := scanProfile(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+profileColumns+` FROM signing_profiles WHERE name = ?`), name))
		if errors.Is(err, sql.ErrNoRows) {
			return signing.ErrNotFound
		}
		if err != nil {
			return err
		}
		v, err := scanProfileVersion(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+profileVersionColumns+` FROM signing_profile_versions WHERE profile_name = ? AND version = ?`), name, version))
		if errors.Is(err, sql.ErrNoRows) {
			return signing.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := fn(&p, &v); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE signing_profiles SET status = ?, status_reason = ? WHERE name = ?`), string(p.Status), p.StatusReason, name); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE signing_profile_versions SET revoked_at = ?, revocation_effective_from = ?, revoked_by = ?, revocation_reason = ? WHERE profile_name = ? AND version = ?`),
			unixNano(v.RevokedAt), unixNano(v.EffectiveFrom), v.RevokedBy, v.RevocationReason, name, version); err != nil {
			return err
		}
		return s.bumpRevocationEpoch(ctx, tx)
	})
}

// bumpRevocationEpoch increments the revocation counter in tx, the
// revocation's own transaction.
func (s *Signing) bumpRevocationEpoch(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO revocation_epoch (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = revocation_epoch.n + 1`)
	return err
}

// RevocationEpoch implements signing.Store: the number of revocations
// committed (0 before the first).
func (s *Signing) RevocationEpoch(ctx context.Context) (int64, error) {
	var n int64
	err := s.queryRow(ctx, `SELECT n FROM revocation_epoch WHERE id = 1`).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// RevokedVersions implements signing.Store.
func (s *Signing) RevokedVersions(ctx context.Context) ([]signing.Version, error) {
	return queryAll(ctx, s.core, scanProfileVersion, `SELECT `+profileVersionColumns+` FROM signing_profile_versions WHERE revoked_at > 0 ORDER BY revoked_at, profile_name, version`)
}

// NextCRLNumber implements signing.Store.
func (s *Signing) NextCRLNumber(ctx context.Context, issuer string) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		n = 0 // a retried transaction starts again
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT number FROM crl_numbers WHERE issuer = ?`), issuer).Scan(&n)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			n = 1
			_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO crl_numbers (issuer, number) VALUES (?, ?)`), issuer, n)
			return err
		case err != nil:
			return err
		}
		n++
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE crl_numbers SET number = ? WHERE issuer = ?`), n, issuer)
		return err
	})
	return n, err
}

// ListProfiles implements signing.Store.
func (s *Signing) ListProfiles(ctx context.Context, q signing.ProfileQuery) ([]signing.Profile, error) {
	where := []string{"name > ?"}
	args := []any{q.After}
	if q.PlatformID != "" {
		where = append(where, "platform_id = ?")
		args = append(args, q.PlatformID)
	}
	if len(q.Statuses) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(q.Statuses)-1)+")")
		for _, st := range q.Statuses {
			args = append(args, string(st))
		}
	}
	args = append(args, q.Limit)
	return queryAll(ctx, s.core, scanProfile, `SELECT `+profileColumns+` FROM signing_profiles WHERE `+strings.Join(where, " AND ")+` ORDER BY name LIMIT ?`, args...)
}

// UpdateProfile implements signing.Store.
func (s *Signing) UpdateProfile(ctx context.Context, name string, fn func(*signing.Profile) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		p, err := scanProfile(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+profileColumns+` FROM signing_profiles WHERE name = ?`), name))
		if errors.Is(err, sql.ErrNoRows) {
			return signing.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := fn(&p); err != nil {
			return err
		}
		tags, err := json.Marshal(nonNil(p.Tags))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE signing_profiles SET status = ?, status_reason = ?, canceled_at = ?, tags = ? WHERE name = ?`),
			string(p.Status), p.StatusReason, unixNano(p.CanceledAt), string(tags), name)
		return err
	})
}

func scanPolicy(row scanner) (signing.Policy, error) {
	var pol signing.Policy
	var doc string
	if err := row.Scan(&doc, &pol.RevisionID); err != nil {
		return pol, err
	}
	if err := json.Unmarshal([]byte(doc), &pol.Permissions); err != nil {
		return pol, fmt.Errorf("failed to decode policy: %w", err)
	}
	return pol, nil
}

// Policy implements signing.Store.
func (s *Signing) Policy(ctx context.Context, name string) (signing.Policy, error) {
	pol, err := scanPolicy(s.queryRow(ctx, `SELECT policy, policy_revision FROM signing_profiles WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return pol, signing.ErrNotFound
	}
	return pol, err
}

// UpdatePolicy implements signing.Store.
func (s *Signing) UpdatePolicy(ctx context.Context, name string, fn func(*signing.Policy) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		pol, err := scanPolicy(tx.QueryRowContext(ctx, s.d.rebind(`SELECT policy, policy_revision FROM signing_profiles WHERE name = ?`), name))
		if errors.Is(err, sql.ErrNoRows) {
			return signing.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := fn(&pol); err != nil {
			return err
		}
		perms := pol.Permissions
		if perms == nil {
			perms = []signing.Permission{}
		}
		doc, err := json.Marshal(perms)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE signing_profiles SET policy = ?, policy_revision = ? WHERE name = ?`), string(doc), pol.RevisionID, name)
		return err
	})
}

var _ signing.ResponderStore = (*Signing)(nil)

// ocspResponderSetting names the installation setting holding an
// issuer's OCSP responder: "KEYID BASE64-DER".
func ocspResponderSetting(issuer string) string { return "ocsp_responder/" + issuer }

// OCSPResponder implements signing.ResponderStore.
func (s *Signing) OCSPResponder(ctx context.Context, issuer string) (string, []byte, error) {
	v, err := s.Setting(ctx, ocspResponderSetting(issuer))
	if errors.Is(err, ErrNotFound) {
		return "", nil, signing.ErrNotFound
	}
	if err != nil {
		return "", nil, err
	}
	keyID, b64, ok := strings.Cut(v, " ")
	der, derr := base64.StdEncoding.DecodeString(b64)
	if !ok || derr != nil {
		return "", nil, fmt.Errorf("OCSP responder of %s: malformed setting", issuer)
	}
	return keyID, der, nil
}

// PutOCSPResponder implements signing.ResponderStore.
func (s *Signing) PutOCSPResponder(ctx context.Context, issuer, keyID string, cert []byte) error {
	_, err := s.exec(ctx, `INSERT INTO installation (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		ocspResponderSetting(issuer), keyID+" "+base64.StdEncoding.EncodeToString(cert))
	if err != nil {
		return fmt.Errorf("failed to store OCSP responder of %s: %w", issuer, err)
	}
	return nil
}
