package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
)

// auditTables live in the audit database of an embedded installation.
var auditTables = []string{"audit_events", "audit_checkpoints", "audit_index"}

// CopyReport counts the rows Copy copied, by table.
type CopyReport map[string]int

// CopyInstallation copies an embedded installation (its main database
// and its audit database, which may be the same) into dst, an empty
// database (PostgreSQL, to move an installation onto several nodes):
// every table, every row, values as stored (sealed values stay sealed
// under the same master key; the audit chain's hashes cover bytes that
// are copied unchanged). dst must hold no installation yet.
func CopyInstallation(ctx context.Context, dst, main, auditDB *DB) (CopyReport, error) {
	if _, err := dst.Setting(ctx, "initialized"); err == nil {
		return nil, fmt.Errorf("the target database already holds an installation: copy into an empty database")
	}
	tables, err := main.tables(ctx)
	if err != nil {
		return nil, err
	}
	report := CopyReport{}
	for _, t := range tables {
		src := main
		if slices.Contains(auditTables, t) && auditDB != nil {
			src = auditDB
		}
		n, err := copyTable(ctx, dst, src, t)
		if err != nil {
			return report, fmt.Errorf("table %s: %w", t, err)
		}
		report[t] = n
	}
	if dst.d.name == "postgres" {
		if err := dst.resetIdentities(ctx); err != nil {
			return report, err
		}
	}
	return report, nil
}

// tables lists the database's tables in the order they were created (an
// order in which every foreign key points at a table before it), but
// the migrations' own.
func (s *core) tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY rowid`
	if s.d.name == "postgres" {
		q = `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> 'schema_migrations' ORDER BY c.oid`
	}
	rows, err := s.db.QueryContext(ctx, q)
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

// columnKinds returns the target's column types: "bytes", "int" or
// "text", by column.
func (s *core) columnKinds(ctx context.Context, table string) (map[string]string, error) {
	q := `SELECT name, type FROM pragma_table_info(?)`
	if s.d.name == "postgres" {
		q = `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?`
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q), table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	kinds := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		switch typ {
		case "bytea", "BLOB":
			kinds[name] = "bytes"
		case "bigint", "integer", "BIGINT", "INTEGER":
			kinds[name] = "int"
		default:
			kinds[name] = "text"
		}
	}
	return kinds, rows.Err()
}

func copyTable(ctx context.Context, dst, src *DB, table string) (int, error) {
	kinds, err := dst.columnKinds(ctx, table)
	if err != nil {
		return 0, err
	}
	rows, err := src.db.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	for _, c := range cols {
		if _, ok := kinds[c]; !ok {
			return 0, fmt.Errorf("the target has no column %s: are both databases at the same schema version?", c)
		}
	}
	insert := `INSERT INTO "` + table + `" (`
	for i, c := range cols {
		if i > 0 {
			insert += ", "
		}
		insert += `"` + c + `"`
	}
	insert += ") VALUES ("
	for i := range cols {
		if i > 0 {
			insert += ", "
		}
		insert += "?"
	}
	insert += ")"
	n := 0
	var batch [][]any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := dst.tx(ctx, func(tx *sql.Tx) error {
			st, err := tx.PrepareContext(ctx, dst.d.rebind(insert))
			if err != nil {
				return err
			}
			defer st.Close()
			for _, vals := range batch {
				if _, err := st.ExecContext(ctx, vals...); err != nil {
					return err
				}
			}
			return nil
		})
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, c := range cols {
			vals[i] = convert(vals[i], kinds[c])
		}
		batch = append(batch, vals)
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// convert gives a value the Go type the target column takes.
func convert(v any, kind string) any {
	switch x := v.(type) {
	case []byte:
		if kind == "text" {
			return string(x)
		}
		return x
	case string:
		if kind == "bytes" {
			return []byte(x)
		}
		return x
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case int64:
		if kind == "text" {
			return strconv.FormatInt(x, 10)
		}
	}
	return v
}

// resetIdentities moves every identity column's sequence past the rows
// copied in with explicit values.
func (s *core) resetIdentities(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return err
	}
	type col struct{ table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column); err != nil {
			rows.Close()
			return err
		}
		cols = append(cols, c)
	}
	rows.Close()
	for _, c := range cols {
		if _, err := s.db.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX("`+c.column+`") FROM "`+c.table+`"), 0) + 1, false)`, c.table, c.column); err != nil {
			return fmt.Errorf("table %s: %w", c.table, err)
		}
	}
	return nil
}
