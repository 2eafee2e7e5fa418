package store

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/signet/signet/internal/ssm"
)

var _ ssm.Store = (*SSM)(nil)

const ssmColumns = `name, version, type, key_id, value, description, allowed_pattern, tier, data_type, labels, modified_at, modified_by`

func scanParameter(row scanner) (ssm.Parameter, error) {
	var p ssm.Parameter
	var labels string
	var modified int64
	if err := row.Scan(&p.Name, &p.Version, &p.Type, &p.KeyID, &p.Value, &p.Description, &p.AllowedPattern, &p.Tier, &p.DataType, &labels, &modified, &p.ModifiedBy); err != nil {
		return p, err
	}
	p.ModifiedAt = fromUnixNano(modified)
	return p, json.Unmarshal([]byte(labels), &p.Labels)
}

// PutParameterVersion implements ssm.Store.
func (s *SSM) PutParameterVersion(ctx context.Context, p *ssm.Parameter, overwrite bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var latest, count int64
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COALESCE(MAX(version), 0), COUNT(*) FROM ssm_parameters WHERE name = ?`), p.Name).Scan(&latest, &count); err != nil {
			return err
		}
		if latest > 0 && !overwrite {
			return ssm.ErrExists
		}
		if count >= ssm.MaxVersions {
			// The oldest version goes, unless a label holds it.
			var oldest int64
			var labels string
			if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT version, labels FROM ssm_parameters WHERE name = ? ORDER BY version LIMIT 1`), p.Name).Scan(&oldest, &labels); err != nil {
				return err
			}
			if labels != "[]" && labels != "null" {
				return ssm.ErrVersionLimit
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM ssm_parameters WHERE name = ? AND version = ?`), p.Name, oldest); err != nil {
				return err
			}
		}
		p.Version = latest + 1
		if p.Labels == nil {
			p.Labels = []string{}
		}
		labels, err := json.Marshal(p.Labels)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO ssm_parameters (`+ssmColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			p.Name, p.Version, p.Type, p.KeyID, p.Value, p.Description, p.AllowedPattern, p.Tier, p.DataType, string(labels), unixNano(p.ModifiedAt), p.ModifiedBy)
		return err
	})
}

// ParameterVersions implements ssm.Store.
func (s *SSM) ParameterVersions(ctx context.Context, name string) ([]ssm.Parameter, error) {
	ps, err := queryAll(ctx, s.core, scanParameter, `SELECT `+ssmColumns+` FROM ssm_parameters WHERE name = ? ORDER BY version`, name)
	if err == nil && len(ps) == 0 {
		return nil, ssm.ErrNotFound
	}
	return ps, err
}

// LatestParameters implements ssm.Store.
func (s *SSM) LatestParameters(ctx context.Context, prefix, after string, limit int) ([]ssm.Parameter, error) {
	// Names with the prefix sort between it and prefix+U+10FFFF.
	return queryAll(ctx, s.core, scanParameter, `SELECT `+ssmColumns+` FROM ssm_parameters p
		WHERE name >= ? AND name < ? AND name > ? AND version = (SELECT MAX(version) FROM ssm_parameters q WHERE q.name = p.name)
		ORDER BY name LIMIT ?`, prefix, prefix+string(rune(0x10FFFF)), after, limit)
}

// DeleteParameter implements ssm.Store.
func (s *SSM) DeleteParameter(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.secureDelete(ctx, tx); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM ssm_parameters WHERE name = ?`), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ssm.ErrNotFound
		}
		return nil
	})
}

// SetLabels implements ssm.Store.
func (s *SSM) SetLabels(ctx context.Context, name string, version int64, labels []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT version, labels FROM ssm_parameters WHERE name = ?`), name)
		if err != nil {
			return err
		}
		type row struct {
			v      int64
			labels []string
		}
		var all []row
		for rows.Next() {
			var r row
			var l string
			if err := rows.Scan(&r.v, &l); err != nil {
				rows.Close()
				return err
			}
			json.Unmarshal([]byte(l), &r.labels)
			all = append(all, r)
		}
		rows.Close()
		if len(all) == 0 {
			return ssm.ErrNotFound
		}
		want := map[string]bool{}
		for _, l := range labels {
			want[l] = true
		}
		for _, r := range all {
			next := labels
			if r.v != version {
				// A label moves to the version it is given to.
				next = nil
				for _, l := range r.labels {
					if !want[l] {
						next = append(next, l)
					}
				}
			}
			if next == nil {
				next = []string{}
			}
			b, _ := json.Marshal(next)
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE ssm_parameters SET labels = ? WHERE name = ? AND version = ?`), string(b), name, r.v); err != nil {
				return err
			}
		}
		return nil
	})
}
