// Package store is the database/sql implementation of every domain Store:
// installation settings and sealed keys, access keys (iam.KeyStore), IAM
// identities and policies, signing profiles, jobs and revocations, code
// signing configs, functions, versions, layers and their policies, the
// Event queue and reserved concurrency, function logs, the object store's
// metadata, and the audit log (kept in a database of its own).
//
// # Engine
//
// Two engines: SQLite (modernc.org/sqlite, pure Go), embedded, the
// default; and PostgreSQL (pgx), which several Signet nodes share. The SQL
// is written once with "?" placeholders behind a small dialect
// (placeholders, the migration set, engine-only statements), and the
// conformance suite in storetest takes any *DB and runs on both.
//
// # Durability and concurrency
//
// SQLite runs in WAL mode with synchronous=FULL, and every write is one
// transaction begun IMMEDIATE, so a write that returned survives a crash
// and a crash mid-write leaves nothing half-written; SQLite serialises
// writers. On PostgreSQL every transaction is SERIALIZABLE and is run
// again (a bounded number of times) when the database aborts it for a
// conflict with a concurrent one, so a check-then-write in one
// transaction means the same on both engines whatever the number of
// nodes.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" driver
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/signet/signet/internal/telemetry"
)

// ErrNotFound is returned for absent installation settings and access keys.
var ErrNotFound = errors.New("store: not found")

//go:embed migrations
var migrations embed.FS

// dialect holds what differs between engines.
type dialect struct {
	name       string
	migrations string // directory under migrations/
	rebind     func(string) string
	txOptions  *sql.TxOptions
	// retry reports whether a transaction failed only for a conflict
	// with a concurrent one, and may be run again.
	retry func(error) bool
	// duplicate reports whether a unique constraint refused a statement.
	duplicate func(error) bool
	// lockMigrations and unlockMigrations, on one connection, hold off
	// any other process migrating the same database.
	lockMigrations, unlockMigrations string
	// lockAudit, first in a READ COMMITTED transaction, makes appends to
	// the audit chain take turns across processes (each then reads the
	// chain's head as the one before it left it).
	lockAudit string
	// skipLocked ends a queue's claim query: on PostgreSQL a row another
	// claimer holds is skipped rather than waited for or fought over.
	skipLocked string
}

var sqliteDialect = dialect{name: "sqlite", migrations: "migrations/sqlite", rebind: func(q string) string { return q },
	retry: func(error) bool { return false },
	duplicate: func(err error) bool {
		var se *sqlite.Error
		return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	}}

var postgres = dialect{name: "postgres", migrations: "migrations/postgres", rebind: dollarParams,
	txOptions: &sql.TxOptions{Isolation: sql.LevelSerializable},
	retry: func(err error) bool {
		var pe *pgconn.PgError
		// serialization_failure, deadlock_detected
		return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
	},
	duplicate: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505" // unique_violation
	},
	lockMigrations: `SELECT pg_advisory_lock(7301861)`, unlockMigrations: `SELECT pg_advisory_unlock(7301861)`,
	lockAudit: `SELECT pg_advisory_xact_lock(7301862)`, skipLocked: ` FOR UPDATE SKIP LOCKED`}

// dollarParams rewrites "?" placeholders as PostgreSQL's $1, $2, …,
// leaving string literals and quoted identifiers alone.
func dollarParams(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Open opens the database a DSN names, applying pending migrations:
// postgres://… (or postgresql://…) for PostgreSQL, sqlite://PATH or a
// plain path for SQLite.
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return OpenPostgres(ctx, dsn)
	case strings.HasPrefix(dsn, "sqlite://"):
		return OpenSQLite(ctx, strings.TrimPrefix(dsn, "sqlite://"))
	case strings.Contains(dsn, "://"):
		return nil, fmt.Errorf("database %q: want postgres://… or sqlite://PATH", redactDSN(dsn))
	}
	return OpenSQLite(ctx, dsn)
}

// OpenPostgres opens a PostgreSQL database and applies pending
// migrations (several processes may do so at once).
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("failed to open %s: %w", redactDSN(dsn), err)
	}
	counter := &statementCounter{}
	cfg.Tracer = counter
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16) // all of them: a burst that opened them would otherwise reconnect (a PostgreSQL backend each) on the next
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := newDB(&core{db: db, d: postgres, statements: &counter.n})
	if err := s.db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("failed to connect to %s: %w", redactDSN(dsn), err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// redactDSN drops the password from a DSN, for messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(a malformed URL)"
	}
	return u.Redacted()
}

// Engine names the database engine: "sqlite" or "postgres".
func (s *core) Engine() string { return s.d.name }

// DB is the metadata database: one connection pool, one schema. Each
// domain reaches what it stores through a view of it, which has that
// domain's methods only and is what the domain's service is given
// (signing.Service gets db.Signing, iam.Service db.IAM, …); DB itself
// keeps what concerns the whole database (migrations, installation
// settings, notifications across nodes).
type DB struct {
	*core
	Signing     *Signing     // signing profiles and versions, CRL numbers, OCSP responders, signing jobs
	CodeSigning *CodeSigning // code signing configs
	Lambda      *Lambda      // functions, versions, layers, permissions, Event invocations, concurrency
	Logs        *Logs        // function log events
	Objects     *Objects     // buckets, object versions, multipart uploads
	IAM         *IAM         // users, roles, policies, access keys
	KMS         *KMS         // KMS keys, key material, aliases, grants
	Keys        *Keys        // sealed installation keys
	SSM         *SSM         // parameters
	Secrets     *Secrets     // secrets and their rotations
	Audit       *Audit       // the audit chain and its checkpoints
	Workloads   *Workloads   // continuous validation's queued inputs and saved state
	Console     *Console     // web console sessions
}

// The views: each is the database seen by one domain.
type (
	Signing     struct{ *core }
	CodeSigning struct{ *core }
	Lambda      struct{ *core }
	Logs        struct{ *core }
	Objects     struct{ *core }
	IAM         struct{ *core }
	KMS         struct{ *core }
	Keys        struct{ *core }
	SSM         struct{ *core }
	Secrets     struct{ *core }
	Audit       struct{ *core }
	Workloads   struct{ *core }
	Console     struct{ *core }
)

func newDB(c *core) *DB {
	return &DB{core: c, Signing: &Signing{c}, CodeSigning: &CodeSigning{c}, Lambda: &Lambda{c}, Logs: &Logs{c}, Objects: &Objects{c},
		IAM: &IAM{c}, KMS: &KMS{c}, Keys: &Keys{c}, SSM: &SSM{c}, Secrets: &Secrets{c}, Audit: &Audit{c}, Workloads: &Workloads{c},
		Console: &Console{c}}
}

// core is the connection pool and the dialect the views share.
type core struct {
	db         *sql.DB
	d          dialect
	sealer     Sealer        // see SealWith
	statements *atomic.Int64 // statements sent (PostgreSQL)
	// serialHeld sums the time serialTx transactions held their lock;
	// retries counts transactions run again after a conflict.
	serialHeld, retries atomic.Int64
}

// Contention reports, for measurements, how long transactions have held
// the locks that make nodes take turns (the audit chain's), in total,
// and how many transactions were run again after a serialization
// conflict.
func (s *core) Contention() (held time.Duration, retries int64) {
	return time.Duration(s.serialHeld.Load()), s.retries.Load()
}

// Statements returns how many statements the database has been sent
// (each a round trip), for measurements; 0 with SQLite, which is not
// across a network.
func (s *core) Statements() int64 {
	if s.statements == nil {
		return 0
	}
	return s.statements.Load()
}

// statementCounter is a pgx tracer that counts statements.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// applies pending migrations.
func OpenSQLite(ctx context.Context, file string) (*DB, error) {
	q := sqliteParams()
	// The database is its owner's alone (SQLite gives its -wal and -shm
	// files the database's mode).
	if f, err := os.OpenFile(file, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}
	db, err := sql.Open("sqlite", "file:"+file+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("failed to open %s: %w", file, err)
	}
	s := newDB(&core{db: db, d: sqliteDialect})
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Migration is one schema change of an engine's migration set.
type Migration struct {
	Version int
	Name    string // its file, e.g. 0020_access_key_source_identity.sql
	body    string
}

// ErrSchemaTooNew reports a database migrated by a newer Signet than
// this one: it refuses to use it rather than misread it.
var ErrSchemaTooNew = errors.New("the database's schema is newer than this Signet knows")

// migrationSet returns the engine's migrations, in order.
func (s *core) migrationSet() ([]Migration, error) {
	entries, err := fs.ReadDir(migrations, s.d.migrations)
	if err != nil {
		return nil, fmt.Errorf("failed to read migrations: %w", err)
	}
	var set []Migration
	for _, e := range entries {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		body, err := fs.ReadFile(migrations, path.Join(s.d.migrations, e.Name()))
		if err != nil {
			return nil, err
		}
		set = append(set, Migration{Version: n, Name: e.Name(), body: string(body)})
	}
	slices.SortFunc(set, func(a, b Migration) int { return a.Version - b.Version })
	return set, nil
}

// Pending returns the highest schema version applied (0: none) and the
// migrations not applied yet. It fails with ErrSchemaTooNew when the
// database has a version this Signet does not know.
func (s *DB) Pending(ctx context.Context) (int, []Migration, error) { return s.pending(ctx) }

func (s *core) pending(ctx context.Context) (int, []Migration, error) {
	set, err := s.migrationSet()
	if err != nil {
		return 0, nil, err
	}
	applied := map[int]bool{}
	highest := 0
	rows, err := s.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err == nil {
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return 0, nil, err
			}
			applied[v] = true
			highest = max(highest, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, nil, err
		}
	} else if exists, xerr := s.tableExists(ctx, "schema_migrations"); xerr != nil || exists {
		return 0, nil, err
	}
	if known := set[len(set)-1].Version; highest > known {
		return highest, nil, fmt.Errorf("%w: it is at version %d, this Signet knows up to %d; run the newer signet (or restore a backup taken before it ran)", ErrSchemaTooNew, highest, known)
	}
	var pending []Migration
	for _, m := range set {
		if !applied[m.Version] {
			pending = append(pending, m)
		}
	}
	return highest, pending, nil
}

func (s *core) tableExists(ctx context.Context, name string) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if s.d.name == "postgres" {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	}
	var n int
	err := s.db.QueryRowContext(ctx, s.d.rebind(q), name).Scan(&n)
	return n > 0, err
}

// Migrate applies the pending migrations, each in a transaction of its
// own, and returns them. Processes migrating the same PostgreSQL
// database at once take turns.
func (s *DB) Migrate(ctx context.Context) ([]Migration, error) { return s.applyPending(ctx) }

func (s *core) applyPending(ctx context.Context) ([]Migration, error) {
	if s.d.lockMigrations != "" {
		// A session lock, taken before any transaction: a transaction
		// that waited for a lock inside it would still see the database
		// as it was before the other migrator committed.
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, s.d.lockMigrations); err != nil {
			return nil, fmt.Errorf("failed to lock the schema for migration: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), s.d.unlockMigrations)
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("failed to create schema_migrations: %w", err)
	}
	_, pending, err := s.pending(ctx)
	if err != nil {
		return nil, err
	}
	for i, m := range pending {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			for _, stmt := range splitStatements(m.body) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					if s.d.duplicate(err) {
						// A migration that adds a unique constraint the
						// existing rows break: its comment says which rows
						// and how to resolve them.
						return fmt.Errorf("%s: existing rows break the unique constraint it adds; resolve them as its comment (internal/store/migrations) says and start again: %w", m.Name, err)
					}
					return fmt.Errorf("%s: %w", m.Name, err)
				}
			}
			_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), m.Version, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return pending[:i], fmt.Errorf("failed to apply migration: %w", err)
		}
	}
	return pending, nil
}

func (s *core) migrate(ctx context.Context) error {
	_, err := s.applyPending(ctx)
	return err
}

// sqliteParams are the connection settings of every SQLite database.
func sqliteParams() url.Values {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	return q
}

// OpenUnmigrated opens the database a DSN names (as Open) without
// applying migrations, for `signet migrate` to show and apply them.
func OpenUnmigrated(ctx context.Context, dsn string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("failed to open %s: %w", redactDSN(dsn), err)
		}
		s := newDB(&core{db: db, d: postgres})
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("failed to connect to %s: %w", redactDSN(dsn), err)
		}
		return s, nil
	}
	file := strings.TrimPrefix(dsn, "sqlite://")
	if _, err := os.Stat(file); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+file+"?"+sqliteParams().Encode())
	if err != nil {
		return nil, err
	}
	return newDB(&core{db: db, d: sqliteDialect}), nil
}

// splitStatements splits a migration on semicolons at line ends, dropping
// comment lines.
func splitStatements(body string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(body, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

// maxTxAttempts bounds how many times a transaction the database aborted
// for a conflict with a concurrent one is run.
const maxTxAttempts = 20

// tx runs fn in a transaction, committing if it returns nil. On
// PostgreSQL a transaction aborted for a serialization conflict or a
// deadlock is run again from the start, so fn must do nothing but its
// statements and setting its results.
func (s *core) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tx1(ctx, s.d.txOptions, fn)
		if err == nil || !s.d.retry(err) || attempt == maxTxAttempts {
			return err
		}
		s.retries.Add(1)
		// Back off a little, more after each conflict, with jitter so
		// that the same transactions do not meet again.
		d := time.Duration(attempt*attempt) * time.Millisecond
		d += time.Duration(rand.Int64N(int64(d) + 1))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return err
		}
	}
}

// claimTx runs a queue claim: on PostgreSQL at READ COMMITTED, where
// the claim query's FOR UPDATE SKIP LOCKED gives each claimer another
// row (SERIALIZABLE would make concurrent claimers conflict and run
// again); on SQLite, tx.
func (s *core) claimTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.d.skipLocked == "" {
		return s.tx(ctx, fn)
	}
	return s.tx1(ctx, readCommitted, fn)
}

var readCommitted = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

// serialTx runs fn in a transaction that holds lock (a statement taking
// a transaction-scoped lock) from its start, at READ COMMITTED, so that
// fn's reads see what every earlier holder committed. Without a lock
// (SQLite, where writers take turns anyway), it is tx.
func (s *core) serialTx(ctx context.Context, lock string, fn func(*sql.Tx) error) error {
	if lock == "" {
		return s.tx(ctx, fn)
	}
	var locked time.Time
	err := s.tx1(ctx, readCommitted, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, lock); err != nil {
			return err
		}
		locked = time.Now()
		return fn(tx)
	})
	if !locked.IsZero() { // held until the commit (or rollback) ended
		s.serialHeld.Add(int64(time.Since(locked)))
	}
	return err
}

// tx1 runs fn once in a transaction with opts, committing if it returns
// nil.
func (s *core) tx1(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) (err error) {
	ctx, span := s.span(ctx, "db.transaction", "")
	defer telemetry.End(span, &err)
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("failed to begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("failed to commit: %w", err)
	}
	return nil
}

func (s *core) exec(ctx context.Context, q string, args ...any) (_ sql.Result, err error) {
	ctx, span := s.span(ctx, "db.exec", q)
	defer telemetry.End(span, &err)
	return s.db.ExecContext(ctx, s.d.rebind(q), args...)
}

// span starts a span for a statement or transaction of the database: its
// text (placeholders only, never values) is an attribute.
func (s *core) span(ctx context.Context, name, q string) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, trace.SpanFromContext(ctx)
	}
	attrs := []attribute.KeyValue{attribute.String("db.system.name", s.d.name)}
	if q != "" {
		attrs = append(attrs, attribute.String("db.query.text", q))
	}
	return telemetry.Start(ctx, name, attrs...)
}

// execOne runs a statement that must change at least one row, returning
// missing when it changes none.
func (s *core) execOne(ctx context.Context, missing error, q string, args ...any) error {
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return missing
	}
	return nil
}

// insert runs an INSERT in tx. When a unique constraint refuses it (the
// row exists, or a concurrent transaction committed it first) it returns
// exists, the domain's conflict error: creates rely on the constraint
// rather than on a look beforehand.
func (s *core) insert(ctx context.Context, tx *sql.Tx, exists error, q string, args ...any) error {
	_, err := tx.ExecContext(ctx, s.d.rebind(q), args...)
	if err != nil && s.d.duplicate(err) {
		return exists
	}
	return err
}

func (s *core) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx, span := s.span(ctx, "db.query", q)
	defer span.End()
	return s.db.QueryRowContext(ctx, s.d.rebind(q), args...)
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, s *core, scan func(scanner) (T, error), q string, args ...any) (_ []T, err error) {
	ctx, span := s.span(ctx, "db.query", q)
	defer telemetry.End(span, &err)
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// unixNano stores a time as nanoseconds since 1970. Times beyond what
// that holds (before 1678, after 2262) are clamped to its ends: left to
// t.UnixNano they would wrap around, so that a query's "from 2300"
// would match every row and a time far ahead would be stored as one
// long past.
func unixNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minStoredTime):
		return math.MinInt64
	case t.After(maxStoredTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minStoredTime = time.Unix(0, math.MinInt64)
	maxStoredTime = time.Unix(0, math.MaxInt64)
)

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// secureDelete makes the transaction's connection overwrite what it
// deletes or replaces, for the statements that replace a secret stored
// in clear (SQLite otherwise leaves old content in free space).
func (s *core) secureDelete(ctx context.Context, tx *sql.Tx) error {
	if s.d.name != "sqlite" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `PRAGMA secure_delete = ON`)
	return err
}

// truncateLog checkpoints the write-ahead log and truncates it, so that
// pages replaced by secureDelete statements leave no copy behind.
func (s *core) truncateLog(ctx context.Context) error {
	if s.d.name != "sqlite" {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}
