package cli_test

import (
	"archive/zip"
	"bytes"
	"context"
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
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, stdout, _ := run(t, srv, "logs", "hello")
		if strings.Contains(stdout, "'key1': 'queued'") {
			if strings.Count(stdout, "REPORT RequestId") < 4 {
				t.Errorf("logs show %d invocations, want 4:\n%s", strings.Count(stdout, "REPORT RequestId"), stdout)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs did not show 4 invocations in 15 s:\n%s", stdout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// --follow prints new invocations as they happen.
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- cli.Main(ctx, []string{"logs", "hello", "--follow", "--filter", "followed"}, out, &bytes.Buffer{})
	}()
	time.Sleep(500 * time.Millisecond)
	run(t, srv, "invoke", "hello", "--payload", `{"key1":"followed"}`)
	for i := 0; i < 100 && !strings.Contains(out.String(), "followed"); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 || !strings.Contains(out.String(), "followed") {
		t.Errorf("logs --follow: exit %d, output %q", code, out.String())
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
