package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
)

// auditedDataDir runs a server, makes some calls, stops it (which signs a
// checkpoint) and returns its data directory.
func auditedDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir, cfg.Listen = dir, l.Addr().String()
	srv, err := server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", srv.CredentialsPath())
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("SIGNET_ENDPOINT", "http://"+l.Addr().String())
	for i := range 8 {
		var out, errb bytes.Buffer
		args := []string{"profile", "create", fmt.Sprintf("p%d", i), "--platform", "AWSLambda-SHA384-ECDSA"}
		if i%2 == 1 {
			args = []string{"profile", "get", fmt.Sprintf("p%d", i-1)}
		}
		if code := cli.Main(context.Background(), args, &out, &errb); code != 0 {
			t.Fatal(errb.String())
		}
	}
	cancel()
	<-done
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func verify(t *testing.T, dir string) (int, string) {
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), []string{"audit", "verify", "--data-dir", dir}, &out, &errb)
	return code, out.String() + errb.String()
}

func copyDir(t *testing.T, src string) string {
	dst := t.TempDir()
	for _, name := range []string{"signet.db", "audit.db", "master.key"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, name), b, 0o600)
	}
	return dst
}

// TestAuditTamper edits, deletes and reorders single records, and
// rewrites the chain from one record on, directly in the database:
// `signet audit verify` names the record each time.
func TestAuditTamper(t *testing.T) {
	src := auditedDataDir(t)
	if code, out := verify(t, src); code != 0 || !strings.Contains(out, "audit log intact: 8 records") || !strings.Contains(out, "1 signed checkpoints verified") {
		t.Fatalf("untouched log: exit %d %s", code, out)
	}
	var tail bytes.Buffer
	cli.Main(context.Background(), []string{"audit", "query", "--data-dir", src, "--action", "signer:Put*", "--output", "json"}, &tail, io.Discard)
	var recs []audit.Record
	json.Unmarshal(tail.Bytes(), &recs)
	if len(recs) != 4 || recs[0].Event.Decision != "Allow" || !recs[0].Event.BreakGlass || !strings.HasPrefix(recs[0].Event.Outcome, "200") {
		t.Errorf("audit query signer:Put*: %s", tail.String())
	}
	tests := []struct {
		name   string
		tamper []string
		want   string
	}{
		{"edit", []string{`UPDATE audit_events SET event = replace(event, 'signer:GetSigningProfile', 'signer:ListSigningProfiles') WHERE seq = 4`},
			"audit record 4: edited"},
		{"delete", []string{`DELETE FROM audit_events WHERE seq = 5`}, "audit record 5: missing"},
		{"reorder", []string{`UPDATE audit_events SET seq = -1 WHERE seq = 3`, `UPDATE audit_events SET seq = 3 WHERE seq = 4`, `UPDATE audit_events SET seq = 4 WHERE seq = -1`},
			"audit record 3: does not follow the record before it"},
		{"truncate the end", []string{`DELETE FROM audit_events WHERE seq >= 7`}, "audit record 8: deleted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, src)
			db, err := sql.Open("sqlite", filepath.Join(dir, "audit.db"))
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range tc.tamper {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			if code, out := verify(t, dir); code == 0 || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output %q, want it to name %q", code, out, tc.want)
			}
		})
	}
	t.Run("rewrite the chain from record 6", func(t *testing.T) {
		// An attacker with the database recomputes every hash after an
		// edit: the chain is consistent, the signed checkpoint is not.
		dir := copyDir(t, src)
		db, err := sql.Open("sqlite", filepath.Join(dir, "audit.db"))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(`SELECT seq, event, prev_hash FROM audit_events WHERE seq >= 6 ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		type rec struct {
			seq  int64
			ev   string
			prev string
		}
		var rs []rec
		for rows.Next() {
			var r rec
			rows.Scan(&r.seq, &r.ev, &r.prev)
			rs = append(rs, r)
		}
		rows.Close()
		prev := rs[0].prev
		for i, r := range rs {
			var e audit.Event
			json.Unmarshal([]byte(r.ev), &e)
			if i == 0 {
				e.Principal = "arn:aws:iam::000000000000:user/someone-else"
			}
			h, _ := audit.Hash(prev, e)
			b, _ := json.Marshal(e)
			if _, err := db.Exec(`UPDATE audit_events SET event = ?, prev_hash = ?, hash = ? WHERE seq = ?`, string(b), prev, h, r.seq); err != nil {
				t.Fatal(err)
			}
			prev = h
		}
		db.Close()
		if code, out := verify(t, dir); code == 0 || !strings.Contains(out, "audit record 8: rewritten") {
			t.Errorf("exit %d, output %q", code, out)
		}
	})
}
