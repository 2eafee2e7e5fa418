package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/signet/signet/internal/functions"
)

var _ functions.Store = (*DB)(nil)

const functionColumns = `name, runtime, handler, role, description, timeout, memory_size, environment, code_sha256, code_size, code_path,
signing_profile_version_arn, signing_job_arn, last_modified, revision_id, layers, tags`

func scanFunction(row scanner) (functions.Function, error) {
	var f functions.Function
	var env, layers, tags string
	var modified int64
	err := row.Scan(&f.Name, &f.Runtime, &f.Handler, &f.Role, &f.Description, &f.Timeout, &f.MemorySize, &env, &f.CodeSHA256, &f.CodeSize, &f.CodePath,
		&f.SigningProfileVersionARN, &f.SigningJobARN, &modified, &f.RevisionID, &layers, &tags)
	if err != nil {
		return f, err
	}
	f.LastModified = fromUnixNano(modified)
	return f, errors.Join(json.Unmarshal([]byte(env), &f.Environment), json.Unmarshal([]byte(layers), &f.Layers), json.Unmarshal([]byte(tags), &f.Tags))
}

func functionArgs(f functions.Function) []any {
	env, _ := json.Marshal(nonNil(f.Environment))
	layers := f.Layers
	if layers == nil {
		layers = []functions.LayerUse{}
	}
	lj, _ := json.Marshal(layers)
	tj, _ := json.Marshal(nonNil(f.Tags))
	return []any{f.Name, f.Runtime, f.Handler, f.Role, f.Description, f.Timeout, f.MemorySize, string(env), f.CodeSHA256, f.CodeSize, f.CodePath,
		f.SigningProfileVersionARN, f.SigningJobARN, unixNano(f.LastModified), f.RevisionID, string(lj), string(tj)}
}

// CreateFunction implements functions.Store.
func (s *DB) CreateFunction(ctx context.Context, f functions.Function, cscID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM functions WHERE name = ?`), f.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return functions.ErrExists
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO functions (`+functionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), functionArgs(f)...); err != nil {
			return err
		}
		if cscID != "" {
			_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO function_code_signing_configs (function_name, csc_id) VALUES (?, ?)`), f.Name, cscID)
			return err
		}
		return nil
	})
}

// Function implements functions.Store.
func (s *DB) Function(ctx context.Context, name string) (functions.Function, error) {
	f, err := scanFunction(s.queryRow(ctx, `SELECT `+functionColumns+` FROM functions WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return f, functions.ErrNotFound
	}
	return f, err
}

// UpdateFunction implements functions.Store.
func (s *DB) UpdateFunction(ctx context.Context, name string, fn func(*functions.Function) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		f, err := scanFunction(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+functionColumns+` FROM functions WHERE name = ?`), name))
		if errors.Is(err, sql.ErrNoRows) {
			return functions.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := fn(&f); err != nil {
			return err
		}
		args := functionArgs(f)
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE functions SET runtime = ?, handler = ?, role = ?, description = ?, timeout = ?, memory_size = ?, environment = ?, code_sha256 = ?, code_size = ?, code_path = ?,
signing_profile_version_arn = ?, signing_job_arn = ?, last_modified = ?, revision_id = ?, layers = ?, tags = ? WHERE name = ?`), append(args[1:], name)...)
		return err
	})
}

// DeleteFunction implements functions.Store.
func (s *DB) DeleteFunction(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM function_code_signing_configs WHERE function_name = ?`, `DELETE FROM function_concurrency WHERE function_name = ?`,
			`DELETE FROM function_permissions WHERE function_name = ?`} {
			if _, err := tx.ExecContext(ctx, s.d.rebind(q), name); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM functions WHERE name = ?`), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return functions.ErrNotFound
		}
		return nil
	})
}

// ListFunctions implements functions.Store.
func (s *DB) ListFunctions(ctx context.Context, after string, limit int) ([]functions.Function, error) {
	return queryAll(ctx, s, scanFunction, `SELECT `+functionColumns+` FROM functions WHERE name > ? ORDER BY name LIMIT ?`, after, limit)
}

// FunctionCSC implements functions.Store.
func (s *DB) FunctionCSC(ctx context.Context, name string) (string, error) {
	var id string
	err := s.queryRow(ctx, `SELECT csc_id FROM function_code_signing_configs WHERE function_name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// SetFunctionCSC implements functions.Store.
func (s *DB) SetFunctionCSC(ctx context.Context, name, cscID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM function_code_signing_configs WHERE function_name = ?`), name); err != nil {
			return err
		}
		if cscID == "" {
			return nil
		}
		return insertForFunction(ctx, s, tx, name, `INSERT INTO function_code_signing_configs (function_name, csc_id) SELECT ?, ?`, name, cscID)
	})
}

// insertForFunction runs an INSERT … SELECT of a row that belongs to a
// function, provided the function exists when the statement runs, and
// returns functions.ErrNotFound if it does not. The check and the insert
// are one statement in the caller's transaction, so a row is never
// written for a function that DeleteFunction removed in between (a
// re-created function would inherit it).
func insertForFunction(ctx context.Context, s *DB, tx *sql.Tx, function, insert string, args ...any) error {
	res, err := tx.ExecContext(ctx, s.d.rebind(insert+` WHERE EXISTS (SELECT 1 FROM functions WHERE name = ?)`), append(args, function)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return functions.ErrNotFound
	}
	return nil
}

// FunctionsByCSC implements functions.Store.
func (s *DB) FunctionsByCSC(ctx context.Context, cscID, after string, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT function_name FROM function_code_signing_configs WHERE csc_id = ? AND function_name > ? ORDER BY function_name LIMIT ?`), cscID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// PublishVersion implements functions.Store.
func (s *DB) PublishVersion(ctx context.Context, name string, at time.Time) (functions.Function, int, error) {
	var f functions.Function
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		f, err = scanFunction(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+functionColumns+` FROM functions WHERE name = ?`), name))
		if errors.Is(err, sql.ErrNoRows) {
			return functions.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COALESCE(MAX(version), 0) FROM function_versions WHERE name = ?`), name).Scan(&n); err != nil {
			return err
		}
		n++
		snap, err := json.Marshal(f)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO function_versions (name, version, snapshot, code_path, created_at) VALUES (?, ?, ?, ?, ?)`), name, n, string(snap), f.CodePath, unixNano(at))
		return err
	})
	return f, n, err
}

// FunctionVersion implements functions.Store.
func (s *DB) FunctionVersion(ctx context.Context, name string, version int) (functions.Function, error) {
	var snap string
	err := s.queryRow(ctx, `SELECT snapshot FROM function_versions WHERE name = ? AND version = ?`, name, version).Scan(&snap)
	if errors.Is(err, sql.ErrNoRows) {
		return functions.Function{}, functions.ErrNotFound
	}
	if err != nil {
		return functions.Function{}, err
	}
	var f functions.Function
	return f, json.Unmarshal([]byte(snap), &f)
}

// CodePathInUse implements functions.Store.
func (s *DB) CodePathInUse(ctx context.Context, path string) (bool, error) {
	var n int
	err := s.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM functions WHERE code_path = ?) + (SELECT COUNT(*) FROM function_versions WHERE code_path = ?)`, path, path).Scan(&n)
	return n > 0, err
}

// DeleteFunctionVersions implements functions.Store.
func (s *DB) DeleteFunctionVersions(ctx context.Context, name string) ([]string, error) {
	var paths []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT DISTINCT code_path FROM function_versions WHERE name = ?`), name)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return err
			}
			paths = append(paths, p)
		}
		rows.Close()
		_, err = tx.ExecContext(ctx, s.d.rebind(`DELETE FROM function_versions WHERE name = ?`), name)
		return err
	})
	return paths, err
}

var _ functions.LayerStore = (*DB)(nil)

// PublishLayer implements functions.LayerStore.
func (s *DB) PublishLayer(ctx context.Context, l functions.LayerVersion) (functions.LayerVersion, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COALESCE(MAX(version), 0) + 1 FROM layer_versions WHERE name = ?`), l.Name).Scan(&l.Version); err != nil {
			return err
		}
		rt, err := json.Marshal(nonNilSlice(l.Runtimes))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO layer_versions (name, version, description, runtimes, code_sha256, code_size, code_path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			l.Name, l.Version, l.Description, string(rt), l.CodeSHA256, l.CodeSize, l.CodePath, unixNano(l.CreatedAt))
		return err
	})
	return l, err
}

// Layer implements functions.LayerStore.
func (s *DB) Layer(ctx context.Context, name string, version int) (functions.LayerVersion, error) {
	l := functions.LayerVersion{Name: name, Version: version}
	var rt string
	var created int64
	err := s.queryRow(ctx, `SELECT description, runtimes, code_sha256, code_size, code_path, created_at FROM layer_versions WHERE name = ? AND version = ?`, name, version).
		Scan(&l.Description, &rt, &l.CodeSHA256, &l.CodeSize, &l.CodePath, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return l, functions.ErrNotFound
	}
	if err != nil {
		return l, err
	}
	l.CreatedAt = fromUnixNano(created)
	return l, json.Unmarshal([]byte(rt), &l.Runtimes)
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var _ functions.PermissionStore = (*DB)(nil)

// AddFunctionStatement implements functions.PermissionStore.
func (s *DB) AddFunctionStatement(ctx context.Context, function, sid, statement string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM function_permissions WHERE function_name = ? AND statement_id = ?`), function, sid).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return functions.ErrExists
		}
		return insertForFunction(ctx, s, tx, function, `INSERT INTO function_permissions (function_name, statement_id, statement, created_at) SELECT ?, ?, ?, ?`,
			function, sid, statement, unixNano(time.Now()))
	})
}

// RemoveFunctionStatement implements functions.PermissionStore.
func (s *DB) RemoveFunctionStatement(ctx context.Context, function, sid string) error {
	return s.execOne(ctx, functions.ErrNotFound, `DELETE FROM function_permissions WHERE function_name = ? AND statement_id = ?`, function, sid)
}

// FunctionStatements implements functions.PermissionStore.
func (s *DB) FunctionStatements(ctx context.Context, function string) ([]string, error) {
	return queryAll(ctx, s, func(r scanner) (string, error) {
		var st string
		return st, r.Scan(&st)
	}, `SELECT statement FROM function_permissions WHERE function_name = ? ORDER BY created_at, statement_id`, function)
}
