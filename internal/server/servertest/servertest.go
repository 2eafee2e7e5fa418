// Package servertest runs a real Signet server on a loopback port for
// tests of its clients.
package servertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/store"
	"github.com/signet/signet/internal/store/pgtest"
)

// Server is a running server.
type Server struct {
	*server.Server
	URL    string          // http://127.0.0.1:PORT
	Creds  aws.Credentials // the bootstrap administrator
	log    *logBuffer
	stop   func()
	cache  string
	client *http.Client
}

// CacheDir is a user cache directory (XDG_CACHE_HOME) for clients of
// this server alone: what a client pins per endpoint there (signet
// verify's root) is not met by a later server on a recycled port.
func (s *Server) CacheDir() string { return s.cache }

// Stop stops the server before the test ends (it is stopped then
// anyway).
func (s *Server) Stop() { s.stop() }

// Log returns what the server has logged so far.
func (s *Server) Log() string { return s.log.String() }

// Start runs a server on a fresh data directory until the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartIn(tb, tb.TempDir())
}

// StartIn runs a server on the data directory dir until the test ends.
func StartIn(tb testing.TB, dir string) *Server {
	tb.Helper()
	return StartWith(tb, func(c *config.Config) { c.DataDir = dir })
}

// StartWith runs a server on a fresh data directory, with the
// configuration changed by edit, until the test ends.
func StartWith(tb testing.TB, edit func(*config.Config)) *Server {
	tb.Helper()
	return start(tb, edit, nil)
}

// StartWithLogLevel is StartWith with the server logging at level
// (Info otherwise): Debug shows everything the server may log.
func StartWithLogLevel(tb testing.TB, level slog.Level, edit func(*config.Config)) *Server {
	tb.Helper()
	return startLogging(tb, edit, nil, level)
}

// StartWithClock runs a server whose signing service and rate limits
// read the time from now (set before the server serves, so no request
// sees another clock).
func StartWithClock(tb testing.TB, now func() time.Time) *Server {
	tb.Helper()
	return start(tb, func(*config.Config) {}, now)
}

// StartWithConfigAndClock is StartWith and StartWithClock together.
func StartWithConfigAndClock(tb testing.TB, edit func(*config.Config), now func() time.Time) *Server {
	tb.Helper()
	return start(tb, edit, now)
}

func start(tb testing.TB, edit func(*config.Config), now func() time.Time) *Server {
	tb.Helper()
	return startLogging(tb, edit, now, slog.LevelInfo)
}

// StartEmbedded is StartWith on SQLite in the data directory whatever
// SIGNET_TEST_STORE says.
func StartEmbedded(tb testing.TB, edit func(*config.Config)) *Server {
	tb.Helper()
	return startOn(tb, edit, nil, slog.LevelInfo, true)
}

func startLogging(tb testing.TB, edit func(*config.Config), now func() time.Time, level slog.Level) *Server {
	tb.Helper()
	return startOn(tb, edit, now, level, false)
}

// StartWithOptions runs a server with a configuration edit and Open's
// options.
func StartWithOptions(tb testing.TB, edit func(*config.Config), opts ...server.Option) *Server {
	tb.Helper()
	return startOpts(tb, edit, nil, slog.LevelInfo, false, opts)
}

func startOn(tb testing.TB, edit func(*config.Config), now func() time.Time, level slog.Level, embedded bool) *Server {
	tb.Helper()
	return startOpts(tb, edit, now, level, embedded, nil)
}

func startOpts(tb testing.TB, edit func(*config.Config), now func() time.Time, level slog.Level, embedded bool, extra []server.Option) *Server {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir = tb.TempDir()
	cfg.Listen = l.Addr().String()
	// A runtime's init may take longer than Lambda's 10 s on a loaded
	// machine; tests of that bound set their own.
	cfg.Functions.InitTimeout = "2m"
	edit(&cfg)
	if os.Getenv(StoreEnv) == "postgres" && cfg.DatabaseURL == "" && !embedded {
		cfg.DatabaseURL = postgresFor(tb, cfg.DataDir)
	}
	opts := extra
	if now != nil {
		opts = append(opts, server.WithClock(now))
	}
	// The server's log is shown when the test fails.
	log := &logBuffer{}
	srv, err := server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: level})), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("the log of the signet server at %s:\n%s", cfg.Listen, log.String())
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done; srv.Close() }) }
	tb.Cleanup(stop)
	ts := &Server{Server: srv, URL: "http://" + l.Addr().String(), Creds: ReadCredentials(tb, srv.CredentialsPath()), log: log, stop: stop, cache: tb.TempDir()}
	if cfg.TLS.Enabled() {
		ts.URL = "https://" + l.Addr().String()
		if ca := srv.TLSCA(); ca != nil {
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.TLSClientConfig = &tls.Config{RootCAs: pool}
			ts.client = &http.Client{Transport: t}
		}
	}
	return ts
}

// HTTPClient is a client for the server: one that trusts its TLS CA when
// it serves HTTPS with a certificate of its own.
func (s *Server) HTTPClient() *http.Client {
	if s.client == nil {
		return http.DefaultClient
	}
	return s.client
}

// ReadCredentials reads the default profile of a shared-credentials file.
func ReadCredentials(tb testing.TB, path string) aws.Credentials {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var c aws.Credentials
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " = ")
		if !ok {
			continue
		}
		switch k {
		case "aws_access_key_id":
			c.AccessKeyID = v
		case "aws_secret_access_key":
			c.SecretAccessKey = v
		}
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		tb.Fatalf("credentials file %s lacks a key", path)
	}
	return c
}

// Signer returns an aws-sdk-go-v2 Signer client for the server, with
// retries off.
func (s *Server) Signer() *signer.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return s.Creds, nil })}
	return signer.NewFromConfig(cfg, func(o *signer.Options) {
		o.BaseEndpoint = aws.String(s.URL)
		o.Retryer = aws.NopRetryer{}
		if s.client != nil {
			o.HTTPClient = s.client
		}
	})
}

// S3 returns an aws-sdk-go-v2 S3 client for the server (path-style).
func (s *Server) S3() *s3.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return s.Creds, nil })}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.URL)
		o.UsePathStyle = true
		o.Retryer = aws.NopRetryer{}
		if s.client != nil {
			o.HTTPClient = s.client
		}
	})
}

// LambdaTrustPolicy lets Lambda assume a role: the trust policy of a
// function's execution role.
const LambdaTrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// LambdaRole returns the ARN of a role that functions may be given
// (CreateFunction refuses a role that does not exist or that Lambda may
// not assume), creating it on first use.
func (s *Server) LambdaRole(tb testing.TB) string {
	tb.Helper()
	return LambdaRole(tb, s.Server)
}

// LambdaRole is [Server.LambdaRole] for a server the test opened itself.
func LambdaRole(tb testing.TB, srv *server.Server) string {
	tb.Helper()
	ctx := context.Background()
	r, err := srv.IAM.Role(ctx, "lambda-test-role")
	if err != nil {
		if r, err = srv.IAM.CreateRole(ctx, "lambda-test-role", "/", "execution role of test functions", LambdaTrustPolicy, 0); err != nil {
			tb.Fatal(err)
		}
	}
	return srv.IAM.RoleARN(r)
}

// RequireAll reports whether SIGNET_REQUIRE_ALL=1 asks that tests fail
// rather than skip when something they need is missing.
func RequireAll() bool { return os.Getenv("SIGNET_REQUIRE_ALL") == "1" }

// logBuffer is a server log kept in memory, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StoreEnv names the variable that, set to "postgres", runs every test
// server on a PostgreSQL database of its own (pgtest) instead of SQLite
// in its data directory.
const StoreEnv = "SIGNET_TEST_STORE"

var (
	pgMu  sync.Mutex
	pgDBs = map[string]string{} // data directory → its database
)

// postgresFor returns the database of a data directory, created the
// first time, so that a server restarted on the same directory finds
// its installation again.
func postgresFor(tb testing.TB, dir string) string {
	pgMu.Lock()
	defer pgMu.Unlock()
	if dsn, ok := pgDBs[dir]; ok {
		return dsn
	}
	dsn := pgtest.DSN(tb)
	pgDBs[dir] = dsn
	tb.Cleanup(func() {
		pgMu.Lock()
		delete(pgDBs, dir)
		pgMu.Unlock()
	})
	return dsn
}

// DatabaseContent returns, for each place the server's database keeps
// data, its bytes: with SQLite the files of the data directory's
// databases (write-ahead logs included); with PostgreSQL every table,
// each column of each row as the server stored it (bytea raw, text as
// text), for tests that look for what must not be stored in clear.
func (s *Server) DatabaseContent(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	if s.Config().DatabaseURL == "" {
		for _, f := range []string{"signet.db", "signet.db-wal", "audit.db", "audit.db-wal"} {
			if b, err := os.ReadFile(filepath.Join(s.Config().DataDir, f)); err == nil {
				out[f] = b
			}
		}
		return out
	}
	db, err := sql.Open("pgx", s.Config().DatabaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	tables, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	for _, name := range names {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+name+`"`)
		if err != nil {
			tb.Fatal(err)
		}
		cols, _ := rows.Columns()
		var buf bytes.Buffer
		for rows.Next() {
			raw := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range raw {
				ptrs[i] = &raw[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			for _, c := range raw {
				buf.Write(c)
				buf.WriteByte(0)
			}
		}
		rows.Close()
		out["table "+name] = buf.Bytes()
	}
	return out
}

// AuditEvents reads the audit log where the server keeps it (DATA_DIR/
// audit.db, or the shared PostgreSQL database), from a connection of its
// own.
func (s *Server) AuditEvents(tb testing.TB) []audit.Event {
	tb.Helper()
	ctx := context.Background()
	var db *store.DB
	var err error
	if dsn := s.Config().DatabaseURL; dsn != "" {
		db, err = store.OpenUnmigrated(ctx, dsn)
	} else {
		db, err = store.OpenUnmigrated(ctx, "sqlite://"+filepath.Join(s.Config().DataDir, "audit.db"))
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Audit.AuditRecords(ctx, 0, 1<<30)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]audit.Event, len(recs))
	for i, r := range recs {
		out[i] = r.Event
	}
	return out
}
