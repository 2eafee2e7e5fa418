package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	_ "modernc.org/sqlite"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
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
		{"edit, delete, reorder and truncate at once", []string{
			`UPDATE audit_events SET event = replace(event, '"Allow"', '"Deny"') WHERE seq = 1`,
			`DELETE FROM audit_events WHERE seq = 3`,
			`UPDATE audit_events SET seq = -1 WHERE seq = 5`, `UPDATE audit_events SET seq = 5 WHERE seq = 6`, `UPDATE audit_events SET seq = 6 WHERE seq = -1`,
			`DELETE FROM audit_events WHERE seq = 8`,
		}, "audit record 1: edited\naudit record 3: missing\naudit record 5: does not follow the record before it: it follows record 6\n" +
			"audit record 6: does not follow the record before it: it follows record 4\naudit record 7: does not follow the record before it: it follows record 5\naudit record 8: deleted"},
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
			code, out := verify(t, dir)
			if code == 0 {
				t.Errorf("exit 0, output %q", out)
			}
			// Every damaged record is named, one a line, in order.
			var got []string
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "audit record ") {
					got = append(got, line)
				}
			}
			for i, w := range strings.Split(tc.want, "\n") {
				if i >= len(got) || !strings.HasPrefix(got[i], w) {
					t.Errorf("line %d of the report is not %q:\n%s", i+1, w, out)
				}
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

// signedGet sends a GET of rawPath (sent as is) signed for service with
// creds, as the AWS CLI signs it, and returns the status.
func signedGet(t *testing.T, url, rawPath, service string, creds aws.Credentials) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+rawPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" }).
		SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAuditHostileText sends signed requests, allowed and denied, whose
// paths hold invalid UTF-8 and control characters: they are recorded
// escaped, `signet audit verify` still passes, and an edit of a later
// record is still reported.
func TestAuditHostileText(t *testing.T) {
	dir := t.TempDir()
	srv := servertest.StartIn(t, dir)
	ctx := context.Background()
	if _, err := srv.IAM.CreateUser(ctx, "mallory", "/"); err != nil {
		t.Fatal(err)
	}
	id, secret, err := srv.IAM.CreateAccessKey(ctx, "mallory")
	if err != nil {
		t.Fatal(err)
	}
	mallory := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	for _, c := range []struct {
		path, service string
		creds         aws.Credentials
	}{
		{"/bucket/%FF%1B%5B2Jkey", "s3", srv.Creds},                    // allowed: NoSuchBucket
		{"/bucket/%FF%0Afake%5Cx41", "s3", mallory},                    // denied
		{"/signing-profiles/%FF%E2%80%AEp", "signer", mallory},         // denied
		{"/signing-profiles/%C0%AF%0D%0Aevil%00", "signer", srv.Creds}, // allowed: not found
	} {
		if code := signedGet(t, srv.URL, c.path, c.service, c.creds); code < 400 || code >= 500 {
			t.Fatalf("GET %s: status %d, want a 4xx", c.path, code)
		}
	}
	code, stdout, stderr := run(t, srv, "profile", "get", "after")
	if code == 0 {
		t.Fatalf("profile get after: %s%s", stdout, stderr)
	}
	// Reads and refusals are recorded within moments, not before the
	// response: wait for all five records.
	var out bytes.Buffer
	var recs []audit.Record
	for deadline := time.Now().Add(10 * time.Second); len(recs) < 5 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		out.Reset()
		cli.Main(ctx, []string{"audit", "query", "--data-dir", dir, "--output", "json"}, &out, io.Discard)
		recs = nil
		if err := json.Unmarshal(out.Bytes(), &recs); err != nil {
			t.Fatal(err)
		}
	}
	if len(recs) != 5 || !strings.HasSuffix(recs[4].Event.Resource, "/after") {
		t.Fatalf("want 5 records, the last of profile 'after':\n%s", out.String())
	}
	want := []string{`bucket/\xff\x1b[2Jkey`, `bucket/\xff\nfake\\x41`, `\xff\u202ep`, `\xc0\xaf\r\nevil\x00`}
	for i, w := range want {
		if !strings.HasSuffix(recs[i].Event.Resource, w) {
			t.Errorf("record %d's resource is %s, want it to end in %s", i+1, recs[i].Event.Resource, w)
		}
	}
	if code, out := verify(t, dir); code != 0 || !strings.Contains(out, "audit log intact") {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "audit.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_events SET event = replace(event, 'signer:GetSigningProfile', 'signer:ListSigningProfiles') WHERE seq = 5`); err != nil {
		t.Fatal(err)
	}
	if code, out := verify(t, dir); code == 0 || !strings.Contains(out, "audit record 5: edited") {
		t.Errorf("after editing record 5: exit %d\n%s", code, out)
	}
}
