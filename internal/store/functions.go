package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signet/signet/internal/functions"
)

var _ functions.Store = (*Lambda)(nil)

const functionColumns = `name, runtime, handler, role, description, timeout, memory_size, environment, code_sha256, code_size, code_path,
signing_profile_version_arn, signing_job_arn, last_modified, revision_id, layers, tags`

// Sealer encrypts values at rest (seal.Box).
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// SealWith makes the database seal function environment variables
// (which often hold secrets) with b, in $LATEST and in published
// versions, and seals those an earlier version stored in clear. Without
// it they are stored in clear.
func (s *Lambda) SealWith(ctx context.Context, b Sealer) error {
	s.sealer = b
	changed := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		changed = 0 // a retried transaction starts again
		if err := s.secureDelete(ctx, tx); err != nil {
			return err
		}
		type row struct{ name, env string }
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT name, environment FROM functions WHERE environment NOT LIKE 'sealed:%'`))
		if err != nil {
			return err
		}
		var clear []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.name, &r.env); err != nil {
				rows.Close()
				return err
			}
			clear = append(clear, r)
		}
		rows.Close()
		for _, r := range clear {
			var env map[string]string
			if err := json.Unmarshal([]byte(r.env), &env); err != nil {
				return fmt.Errorf("function %s: environment: %w", r.name, err)
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE functions SET environment = ? WHERE name = ?`), s.sealEnv(r.name, env), r.name); err != nil {
				return err
			}
			changed++
		}
		type vrow struct {
			name    string
			version int
			snap    string
		}
		vrows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT name, version, snapshot FROM function_versions`))
		if err != nil {
			return err
		}
		var vs []vrow
		for vrows.Next() {
			var r vrow
			if err := vrows.Scan(&r.name, &r.version, &r.snap); err != nil {
				vrows.Close()
				return err
			}
			vs = append(vs, r)
		}
		vrows.Close()
		for _, r := range vs {
			var v versionSnapshot
			if err := json.Unmarshal([]byte(r.snap), &v); err != nil {
				return fmt.Errorf("function %s version %d: %w", r.name, r.version, err)
			}
			if v.Environment == nil {
				continue
			}
			snap, err := s.snapshot(v.Function)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE function_versions SET snapshot = ? WHERE name = ? AND version = ?`), snap, r.name, r.version); err != nil {
				return err
			}
			changed++
		}
		return nil
	})
	if err == nil && changed > 0 {
		err = s.truncateLog(ctx)
	}
	return err
}

// sealedPrefix marks a sealed environment column.
const sealedPrefix = "sealed:v1:"

func envAD(function string) []byte { return []byte("signet-function-env-v1:" + function) }

// sealEnv encodes a function's environment for its column: sealed JSON
// when a sealer is set, else JSON.
func (s *Lambda) sealEnv(function string, env map[string]string) string {
	b, _ := json.Marshal(nonNil(env))
	if s.sealer == nil {
		return string(b)
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(s.sealer.Seal(b, envAD(function)))
}

// openEnv decodes an environment column.
func (s *Lambda) openEnv(function, col string) (map[string]string, error) {
	b := []byte(col)
	if rest, ok := strings.CutPrefix(col, sealedPrefix); ok {
		if s.sealer == nil {
			return nil, fmt.Errorf("function %s: its environment is sealed and no master key is available", function)
		}
		sealed, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("function %s: environment: %w", function, err)
		}
		if b, err = s.sealer.Open(sealed, envAD(function)); err != nil {
			return nil, fmt.Errorf("function %s: environment: %w", function, err)
		}
	}
	var env map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("function %s: environment: %w", function, err)
	}
	return env, nil
}

// versionSnapshot is a published version as stored: the function with
// its environment sealed apart.
type versionSnapshot struct {
	functions.Function
	SealedEnvironment string `json:",omitempty"`
}

func (s *Lambda) snapshot(f functions.Function) (string, error) {
	v := versionSnapshot{Function: f}
	if s.sealer != nil {
		v.SealedEnvironment, v.Environment = s.sealEnv(f.Name, f.Environment), nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func (s *Lambda) scanFunction(row scanner) (functions.Function, error) {
	var f functions.Function
	var env, layers, tags string
	var modified int64
	err := row.Scan(&f.Name, &f.Runtime, &f.Handler, &f.Role, &f.Description, &f.Timeout, &f.MemorySize, &env, &f.CodeSHA256, &f.CodeSize, &f.CodePath,
		&f.SigningProfileVersionARN, &f.SigningJobARN, &modified, &f.RevisionID, &layers, &tags)
	if err != nil {
		return f, err
	}
	f.LastModified = fromUnixNano(modified)
	f.Environment, err = s.openEnv(f.Name, env)
	if err == nil {
		err = splitEnv(&f)
	}
	return f, errors.Join(err, json.Unmarshal([]byte(layers), &f.Layers), json.Unmarshal([]byte(tags), &f.Tags))
}

// A function whose variables are encrypted under a customer key keeps
// the key's ARN and the ciphertext in its environment column, under names
// no variable can have (they start with NUL); the column is sealed under
// the master key as any other.
const (
	envKMSKey = "\x00kms-key-arn"
	envSealed = "\x00kms-sealed"
)

func joinEnv(f functions.Function) map[string]string {
	if f.KMSKeyARN == "" && f.EncryptedEnvironment == nil {
		return f.Environment
	}
	env := map[string]string{envKMSKey: f.KMSKeyARN}
	if f.EncryptedEnvironment != nil {
		env[envSealed] = base64.StdEncoding.EncodeToString(f.EncryptedEnvironment)
	}
	for k, v := range f.Environment {
		env[k] = v
	}
	return env
}

func splitEnv(f *functions.Function) error {
	key, ok := f.Environment[envKMSKey]
	if !ok {
		return nil
	}
	f.KMSKeyARN = key
	delete(f.Environment, envKMSKey)
	if b64, ok := f.Environment[envSealed]; ok {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return fmt.Errorf("function %s: its encrypted environment: %w", f.Name, err)
		}
		f.EncryptedEnvironment = b
		delete(f.Environment, envSealed)
	}
	if len(f.Environment) == 0 {
		f.Environment = nil
	}
	return nil
}

func (s *Lambda) functionArgs(f functions.Function) []any {
	env := s.sealEnv(f.Name, joinEnv(f))
	layers := f.Layers
	if layers == nil {
		layers = []functions.LayerUse{}
	}
	lj, _ := json.Marshal(layers)
	tj, _ := json.Marshal(nonNil(f.Tags))
	return []any{f.Name, f.Runtime, f.Handler, f.Role, f.Description, f.Timeout, f.MemorySize, env, f.CodeSHA256, f.CodeSize, f.CodePath,
		f.SigningProfileVersionARN, f.SigningJobARN, unixNano(f.LastModified), f.RevisionID, string(lj), string(tj)}
}

// CreateFunction implements functions.Store.
func (s *Lambda) CreateFunction(ctx context.Context, f functions.Function, cscID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.insert(ctx, tx, functions.ErrExists, `INSERT INTO functions (`+functionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.functionArgs(f)...); err != nil {
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
func (s *Lambda) Function(ctx context.Context, name string) (functions.Function, error) {
	f, err := s.scanFunction(s.queryRow(ctx, `SELECT `+functionColumns+` FROM functions WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return f, functions.ErrNotFound
	}
	return f, err
}

// UpdateFunction implements functions.Store.
func (s *Lambda) UpdateFunction(ctx context.Context, name string, fn func(*functions.Function) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		f, err := s.scanFunction(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+functionColumns+` FROM functions WHERE name = ?`), name))
		if errors.Is(err, sql.ErrNoRows) {
			return functions.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := fn(&f); err != nil {
			return err
		}
		args := s.functionArgs(f)
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE functions SET runtime = ?, handler = ?, role = ?, description = ?, timeout = ?, memory_size = ?, environment = ?, code_sha256 = ?, code_size = ?, code_path = ?,
signing_profile_version_arn = ?, signing_job_arn = ?, last_modified = ?, revision_id = ?, layers = ?, tags = ? WHERE name = ?`), append(args[1:], name)...)
		return err
	})
}

// DeleteFunction implements functions.Store.
func (s *Lambda) DeleteFunction(ctx context.Context, name string) error {
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
func (s *Lambda) ListFunctions(ctx context.Context, after string, limit int) ([]functions.Function, error) {
	return queryAll(ctx, s.core, s.scanFunction, `SELECT `+functionColumns+` FROM functions WHERE name > ? ORDER BY name LIMIT ?`, after, limit)
}

// FunctionCSC implements functions.Store.
func (s *Lambda) FunctionCSC(ctx context.Context, name string) (string, error) {
	var id string
	err := s.queryRow(ctx, `SELECT csc_id FROM function_code_signing_configs WHERE function_name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// SetFunctionCSC implements functions.Store.
func (s *Lambda) SetFunctionCSC(ctx context.Context, name, cscID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM function_code_signing_configs WHERE function_name = ?`), name); err != nil {
			return err
		}
		if cscID == "" {
			return nil
		}
		return insertForFunction(ctx, s.core, tx, name, `INSERT INTO function_code_signing_configs (function_name, csc_id) SELECT ?, ?`, name, cscID)
	})
}

// insertForFunction runs an INSERT … SELECT of a row that belongs to a
// function, provided the function exists when the statement runs, and
// returns functions.ErrNotFound if it does not. The check and the insert
// are one statement in the caller's transaction, so a row is never
// written for a function that DeleteFunction removed in between (a
// re-created function would inherit it). A row with the same key is
// functions.ErrExists.
func insertForFunction(ctx context.Context, s *core, tx *sql.Tx, function, insert string, args ...any) error {
	res, err := tx.ExecContext(ctx, s.d.rebind(insert+` WHERE EXISTS (SELECT 1 FROM functions WHERE name = ?)`), append(args, function)...)
	if err != nil {
		if s.d.duplicate(err) {
			return functions.ErrExists
		}
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return functions.ErrNotFound
	}
	return nil
}

// FunctionsByCSC implements functions.Store.
func (s *Lambda) FunctionsByCSC(ctx context.Context, cscID, after string, limit int) ([]string, error) {
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
func (s *Lambda) PublishVersion(ctx context.Context, name string, at time.Time) (functions.Function, int, error) {
	var f functions.Function
	var n int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		f, n = functions.Function{}, 0 // a retried transaction starts again
		var err error
		f, err = s.scanFunction(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+functionColumns+` FROM functions WHERE name = ?`), name))
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
		snap, err := s.snapshot(f)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO function_versions (name, version, snapshot, code_path, created_at) VALUES (?, ?, ?, ?, ?)`), name, n, snap, f.CodePath, unixNano(at))
		return err
	})
	return f, n, err
}

// FunctionVersion implements functions.Store.
func (s *Lambda) FunctionVersion(ctx context.Context, name string, version int) (functions.Function, error) {
	var snap string
	err := s.queryRow(ctx, `SELECT snapshot FROM function_versions WHERE name = ? AND version = ?`, name, version).Scan(&snap)
	if errors.Is(err, sql.ErrNoRows) {
		return functions.Function{}, functions.ErrNotFound
	}
	if err != nil {
		return functions.Function{}, err
	}
	var v versionSnapshot
	if err := json.Unmarshal([]byte(snap), &v); err != nil {
		return functions.Function{}, err
	}
	f := v.Function
	if v.SealedEnvironment != "" {
		env, err := s.openEnv(name, v.SealedEnvironment)
		if err != nil {
			return functions.Function{}, err
		}
		f.Environment = env
	}
	return f, nil
}

// CodePathInUse implements functions.Store.
func (s *Lambda) CodePathInUse(ctx context.Context, path string) (bool, error) {
	var n int
	err := s.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM functions WHERE code_path = ?) + (SELECT COUNT(*) FROM function_versions WHERE code_path = ?)`, path, path).Scan(&n)
	return n > 0, err
}

// DeleteFunctionVersions implements functions.Store.
func (s *Lambda) DeleteFunctionVersions(ctx context.Context, name string) ([]string, error) {
	var paths []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		paths = nil // a retried transaction starts again
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

var _ functions.LayerStore = (*Lambda)(nil)

// PublishLayer implements functions.LayerStore.
func (s *Lambda) PublishLayer(ctx context.Context, l functions.LayerVersion) (functions.LayerVersion, error) {
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
func (s *Lambda) Layer(ctx context.Context, name string, version int) (functions.LayerVersion, error) {
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

var _ functions.PermissionStore = (*Lambda)(nil)

// AddFunctionStatement implements functions.PermissionStore.
func (s *Lambda) AddFunctionStatement(ctx context.Context, function, sid, statement string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return insertForFunction(ctx, s.core, tx, function, `INSERT INTO function_permissions (function_name, statement_id, statement, created_at) SELECT ?, ?, ?, ?`,
			function, sid, statement, unixNano(time.Now()))
	})
}

// RemoveFunctionStatement implements functions.PermissionStore.
func (s *Lambda) RemoveFunctionStatement(ctx context.Context, function, sid string) error {
	return s.execOne(ctx, functions.ErrNotFound, `DELETE FROM function_permissions WHERE function_name = ? AND statement_id = ?`, function, sid)
}

// FunctionStatements implements functions.PermissionStore.
func (s *Lambda) FunctionStatements(ctx context.Context, function string) ([]string, error) {
	return queryAll(ctx, s.core, func(r scanner) (string, error) {
		var st string
		return st, r.Scan(&st)
	}, `SELECT statement FROM function_permissions WHERE function_name = ? ORDER BY created_at, statement_id`, function)
}
