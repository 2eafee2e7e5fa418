package cli_test

import (
	"archive/zip"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/server/servertest"
)

func TestInvokeAndLogs(t *testing.T) {
	srv := servertest.Start(t)
	if srv.Invoke.Pool == nil {
		t.Skipf("functions cannot run here: %v", srv.Invoke.Unavailable)
	}
	pkg := filepath.Join(t.TempDir(), "function.zip")
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	f, _ := zw.Create("lambda_function.py")
	f.Write([]byte("def lambda_handler(event, context):\n    print('event', event)\n    return event['key1']\n"))
	zw.Close()
	if err := os.WriteFile(pkg, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, srv, "function", "create", "hello", "--zip", pkg); code != 0 {
		t.Fatal(stderr)
	}
	cases := []struct {
		name         string
		args         []string
		code         int
		stdout, errs string
	}{
		{"ok/invoke", []string{"invoke", "hello", "--payload", `{"key1":"hello, world!"}`}, 0, `"hello, world!"`, ""},
		{"ok/invoke-log", []string{"invoke", "hello", "--payload", `{"key1":"x"}`, "--log"}, 0, `"x"`, "REPORT RequestId: "},
		{"fail/function-error", []string{"invoke", "hello", "--payload", `{}`}, 1, `"errorType": "KeyError"`, "the function failed (Unhandled): KeyError"},
		{"ok/event", []string{"invoke", "hello", "--payload", `{"key1":"queued"}`, "--event"}, 0, "queued (status 202)", ""},
		{"fail/bad-json", []string{"invoke", "hello", "--payload", `{`}, 2, "", "not valid JSON"},
		{"fail/unknown", []string{"invoke", "nope"}, 1, "", "ResourceNotFoundException"},
		{"fail/logs-unknown", []string{"logs", "nope"}, 1, "", "ResourceNotFoundException: The specified log group does not exist."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, srv, c.args...)
			if code != c.code || !strings.Contains(stdout, c.stdout) || !strings.Contains(stderr, c.errs) {
				t.Errorf("exit %d, want %d; stdout %q (want %q); stderr %q (want %q)", code, c.code, stdout, c.stdout, stderr, c.errs)
			}
		})
	}
	// The queued invocation runs and its log, like the others, is readable.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, stdout, _ := run(t, srv, "logs", "hello")
		if strings.Contains(stdout, "'key1': 'queued'") {
			if strings.Count(stdout, "REPORT RequestId") < 4 {
				t.Errorf("logs show %d invocations, want 4:\n%s", strings.Count(stdout, "REPORT RequestId"), stdout)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs did not show the queued invocation in 2 minutes:\n%s", stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// --follow prints the events there are, then new ones as they happen,
	// each once. An event before it starts shows its first poll is done,
	// so the second is seen by following.
	run(t, srv, "invoke", "hello", "--payload", `{"key1":"followed-1"}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- cli.Main(ctx, []string{"logs", "hello", "--follow", "--filter", "followed"}, out, &bytes.Buffer{})
	}()
	waitFor := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(out.String(), what); {
			if time.Now().After(deadline) {
				t.Fatalf("logs --follow did not print %q in 2 minutes: %q", what, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("'key1': 'followed-1'")
	run(t, srv, "invoke", "hello", "--payload", `{"key1":"followed-2"}`)
	waitFor("'key1': 'followed-2'")
	cancel()
	if code := <-done; code != 0 || strings.Count(out.String(), "'key1': 'followed-1'") != 1 {
		t.Errorf("logs --follow: exit %d, output %q; want 0 and each event once", code, out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsFollowInterruptedMidPoll: interrupting `signet logs --follow`
// while a poll is in flight ends it cleanly (status 0), as between polls.
// The endpoint accepts the connection and never answers, so the poll is
// in flight when the test interrupts, however fast the machine is.
func TestLogsFollowInterruptedMidPoll(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n"), 0o600)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("SIGNET_ENDPOINT", "http://"+ln.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- cli.Main(ctx, []string{"logs", "hello", "--follow"}, &bytes.Buffer{}, &stderr) }()
	select {
	case c := <-accepted:
		defer c.Close()
	case code := <-done:
		t.Fatalf("logs --follow ended (status %d) before polling: %s", code, stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("logs --follow did not connect in 2 minutes")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("logs --follow interrupted mid-poll: status %d, want 0; stderr %q", code, stderr.String())
	}
}
