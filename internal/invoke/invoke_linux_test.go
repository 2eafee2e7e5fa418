package invoke

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/sandbox"
)

func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatalf("%s is required (SIGNET_REQUIRE_ALL=1)", name)
		}
		t.Skipf("%s not installed", name)
	}
}

// dirCode is a CodeReader over files in a directory.
type dirCode string

func (d dirCode) NewRangeReader(ctx context.Context, path string, off, length int64) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), path))
}

type memLogs struct {
	mu     sync.Mutex
	events map[string][]LogEvent
}

func (m *memLogs) Write(group, stream string, events []LogEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events == nil {
		m.events = map[string][]LogEvent{}
	}
	m.events[group] = append(m.events[group], events...)
}

type fixture struct {
	pool *Pool
	code string
	logs *memLogs
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	host, err := sandbox.NewHost()
	if err != nil {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatalf("sandboxes unavailable: %v", err)
		}
		t.Skipf("sandboxes unavailable: %v", err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	code := filepath.Join(dir, "packages")
	os.MkdirAll(code, 0o700)
	logs := &memLogs{}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	pool, err := NewPool(cfg, host, &Unpacker{Dir: filepath.Join(dir, "sandbox"), Reader: dirCode(code)}, filepath.Join(dir, "sandbox"), logs,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return &fixture{pool: pool, code: code, logs: logs}
}

// zipFiles builds a deployment package.
func zipFiles(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		if name == "bootstrap" {
			h.SetMode(0o755)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
	}
	zw.Close()
	return buf.Bytes()
}

// function stores a package and returns a function using it.
func (fx *fixture) function(t testing.TB, name, runtime, handler string, pkg []byte) functions.Function {
	sum := sha256.Sum256(pkg)
	path := fmt.Sprintf("%x.zip", sum)
	if err := os.WriteFile(filepath.Join(fx.code, path), pkg, 0o600); err != nil {
		t.Fatal(err)
	}
	return functions.Function{Name: name, Runtime: runtime, Handler: handler, Timeout: 30, MemorySize: 128,
		CodeSHA256: base64.StdEncoding.EncodeToString(sum[:]), CodeSize: int64(len(pkg)), CodePath: path, RevisionID: "r1"}
}

func (fx *fixture) invoke(t testing.TB, f functions.Function, payload string) Result {
	t.Helper()
	res, err := fx.pool.Invoke(context.Background(), Request{Function: f, Version: "$LATEST", ARN: "arn:aws:lambda:us-east-1:123456789012:function:" + f.Name, Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

const helloPy = `
def lambda_handler(event, context):
    print("value1 = " + event["key1"])
    return event["key1"]
`

func TestPythonHello(t *testing.T) {
	requireTool(t, "python3")
	fx := newFixture(t, Config{})
	f := fx.function(t, "hello-world-lambda", "python3.12", "lambda_function.lambda_handler", zipFiles(t, map[string]string{"lambda_function.py": helloPy}))
	for i := range 2 {
		res := fx.invoke(t, f, `{"key1":"hello, world!"}`)
		if res.FunctionError != "" || string(res.Payload) != `"hello, world!"` {
			t.Fatalf("invocation %d: error %q payload %s\nlog:\n%s", i, res.FunctionError, res.Payload, res.Log)
		}
		log := string(res.Log)
		for _, want := range []string{"START RequestId: " + res.RequestID + " Version: $LATEST", "value1 = hello, world!", "END RequestId: " + res.RequestID,
			"REPORT RequestId: " + res.RequestID + "\tDuration: ", "\tBilled Duration: ", "\tMemory Size: 128 MB\tMax Memory Used: "} {
			if !strings.Contains(log, want) {
				t.Errorf("invocation %d log lacks %q:\n%s", i, want, log)
			}
		}
		if hasInit := strings.Contains(log, "Init Duration: "); hasInit != (i == 0) {
			t.Errorf("invocation %d: Init Duration reported=%v, want only on the cold start:\n%s", i, hasInit, log)
		}
	}
	if fx.pool.Idle() != 1 {
		t.Errorf("%d idle environments, want the one reused", fx.pool.Idle())
	}
}

func TestPythonErrors(t *testing.T) {
	requireTool(t, "python3")
	fx := newFixture(t, Config{})
	f := fx.function(t, "raises", "python3.11", "app.handler", zipFiles(t, map[string]string{"app.py": "def handler(event, context):\n    raise ValueError('bad input: ' + str(event))\n"}))
	res := fx.invoke(t, f, `{"a":1}`)
	var e struct {
		ErrorMessage string   `json:"errorMessage"`
		ErrorType    string   `json:"errorType"`
		StackTrace   []string `json:"stackTrace"`
	}
	if err := json.Unmarshal(res.Payload, &e); err != nil || res.FunctionError != "Unhandled" || e.ErrorType != "ValueError" ||
		e.ErrorMessage != "bad input: {'a': 1}" || len(e.StackTrace) == 0 || !strings.Contains(e.StackTrace[0], "/var/task/app.py") {
		t.Errorf("raising handler: %q %s", res.FunctionError, res.Payload)
	}
	// A handled error keeps the environment.
	if fx.pool.Idle() != 1 {
		t.Errorf("%d idle environments after a function error, want 1", fx.pool.Idle())
	}
	g := fx.function(t, "noimport", "python3.11", "missing.handler", zipFiles(t, map[string]string{"app.py": "x = 1\n"}))
	res = fx.invoke(t, g, `{}`)
	if res.FunctionError != "Unhandled" || errorTypeOf(res.Payload) != "Runtime.ImportModuleError" || !strings.Contains(string(res.Log), "INIT_REPORT") {
		t.Errorf("missing module: %q %s\n%s", res.FunctionError, res.Payload, res.Log)
	}
}

var (
	goHelloOnce sync.Once
	goHelloBin  []byte
	goHelloErr  error
)

// goHello builds testdata/gohello, an aws-lambda-go function.
func goHello(t testing.TB) []byte {
	t.Helper()
	requireTool(t, "go")
	goHelloOnce.Do(func() {
		out := filepath.Join(os.TempDir(), fmt.Sprintf("gohello-%d", os.Getpid()))
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = "testdata/gohello"
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			goHelloErr = fmt.Errorf("building testdata/gohello: %v\n%s", err, b)
			return
		}
		goHelloBin, goHelloErr = os.ReadFile(out)
		os.Remove(out)
	})
	if goHelloErr != nil {
		t.Fatal(goHelloErr)
	}
	return goHelloBin
}

func TestGoHandler(t *testing.T) {
	fx := newFixture(t, Config{})
	f := fx.function(t, "go-hello", "provided.al2023", "bootstrap", zipFiles(t, map[string]string{"bootstrap": string(goHello(t))}))
	for range 2 {
		res := fx.invoke(t, f, `{"key1":"hello, world!"}`)
		var out map[string]string
		if err := json.Unmarshal(res.Payload, &out); err != nil || res.FunctionError != "" || out["echo"] != "hello, world!" ||
			out["function"] != "go-hello" || out["requestId"] != res.RequestID {
			t.Fatalf("go handler: %q %s\n%s", res.FunctionError, res.Payload, res.Log)
		}
		if !strings.Contains(string(res.Log), "go handler got hello, world!") {
			t.Errorf("log lacks the handler's output:\n%s", res.Log)
		}
	}
	res := fx.invoke(t, f, `{"fail":true}`)
	if res.FunctionError != "Unhandled" || !strings.Contains(string(res.Payload), `"errorMessage":"asked to fail"`) {
		t.Errorf("failing go handler: %q %s", res.FunctionError, res.Payload)
	}
	g := fx.function(t, "no-bootstrap", "provided", "x", zipFiles(t, map[string]string{"main.go": "package main"}))
	res = fx.invoke(t, g, `{}`)
	if res.FunctionError != "Unhandled" || errorTypeOf(res.Payload) != "Runtime.InvalidEntrypoint" {
		t.Errorf("package without bootstrap: %q %s", res.FunctionError, res.Payload)
	}
}

func TestNodeHandlers(t *testing.T) {
	requireTool(t, "node")
	fx := newFixture(t, Config{})
	pkg := zipFiles(t, map[string]string{
		"index.js": `exports.handler = async (event, context) => { console.log("got", event.key1); return {echo: event.key1, fn: context.functionName, left: context.getRemainingTimeInMillis() > 0}; };`,
		"cb.js":    `exports.handler = (event, context, callback) => { setTimeout(() => callback(null, "cb:" + event.key1), 5); };`,
		"fail.js":  `exports.handler = async () => { throw new TypeError("nope"); };`,
	})
	for _, tc := range []struct{ handler, want, wantErr string }{
		{"index.handler", `{"echo":"hi","fn":"node","left":true}`, ""},
		{"cb.handler", `"cb:hi"`, ""},
		{"fail.handler", `"errorType":"TypeError"`, "Unhandled"},
	} {
		f := fx.function(t, "node", "nodejs20.x", tc.handler, pkg)
		f.RevisionID = tc.handler
		res := fx.invoke(t, f, `{"key1":"hi"}`)
		if res.FunctionError != tc.wantErr || !strings.Contains(string(res.Payload), tc.want) {
			t.Errorf("%s: %q %s, want %q %s\n%s", tc.handler, res.FunctionError, res.Payload, tc.wantErr, tc.want, res.Log)
		}
		if tc.handler == "index.handler" && !strings.Contains(string(res.Log), "\tINFO\tgot hi") {
			t.Errorf("console.log line not in Lambda's format:\n%s", res.Log)
		}
	}
}

// failurePids is the pids limit of TestSandboxFailures' sandboxes: room
// for the init process's threads and the runtime, and small enough that a
// fork bomb reaches it after a few forks, however slowly the machine
// forks.
const failurePids = 32

// TestSandboxFailures runs handlers that try to leave their sandbox or
// exhaust it: each must fail as a function error, and the next
// invocation must work. The handlers' Timeouts are generous except
// where the timeout is what is tested: the limits, not the clock, stop
// them.
func TestSandboxFailures(t *testing.T) {
	requireTool(t, "python3")
	fx := newFixture(t, Config{Pids: failurePids})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var reachedAny atomic.Bool
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reachedAny.Store(true)
			c.Close()
		}
	}()
	secret := filepath.Join(t.TempDir(), "master.key")
	os.WriteFile(secret, []byte("secret"), 0o644) // readable by anyone on the host
	// The fork bomb counts its children and says how many it had when
	// fork failed: fewer than the pids limit shows the limit stopped it.
	forkBomb := "import os\ndef handler(e, c):\n    n = 0\n    try:\n        while True:\n            if os.fork() == 0:\n                os.execv('/bin/sleep', ['sleep', '600'])\n            n += 1\n" +
		"    except BlockingIOError as err:\n        raise BlockingIOError('%s after %d processes' % (err.strerror, n))\n"
	tests := []struct {
		name, code, wantType, wantMsg string
		timeout, memory               int
		check                         func(msg string) error
	}{
		{"connect to a host TCP server", fmt.Sprintf("import socket\ndef handler(e, c):\n    socket.create_connection(('127.0.0.1', %d), timeout=30)\n", ln.Addr().(*net.TCPAddr).Port),
			"ConnectionRefusedError", "Connection refused", 60, 128, nil},
		{"resolve and reach the internet", "import urllib.request\ndef handler(e, c):\n    urllib.request.urlopen('http://example.com', timeout=30)\n",
			"URLError", "", 60, 128, nil},
		{"allocate beyond MemorySize", "def handler(e, c):\n    b = bytearray(300 << 20)\n    return len(b)\n", "Runtime.OutOfMemory", "signal: killed", 60, 128, nil},
		{"fork bomb", forkBomb, "BlockingIOError", "Resource temporarily unavailable after ", 60, 1024, func(msg string) error {
			var n int
			if _, err := fmt.Sscanf(msg[strings.Index(msg, "after "):], "after %d processes", &n); err != nil {
				return err
			}
			if n < 1 || n >= failurePids {
				return fmt.Errorf("fork failed after %d processes, want between 1 and the pids limit %d", n, failurePids)
			}
			return nil
		}},
		{"exceed Timeout", "import time\ndef handler(e, c):\n    time.sleep(600)\n", "Sandbox.Timedout", "Task timed out after 1.00 seconds", 1, 128, nil},
		{"read a file of the data directory", fmt.Sprintf("def handler(e, c):\n    return open(%q).read()\n", secret), "FileNotFoundError", "No such file", 60, 128, nil},
		{"write its code", "def handler(e, c):\n    open('/var/task/app.py', 'w').write('x')\n", "OSError", "Read-only file system", 60, 128, nil},
		{"write the root", "def handler(e, c):\n    open('/evil', 'w').write('x')\n", "OSError", "Read-only file system", 60, 128, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fx.function(t, "sb", "python3.11", "app.handler", zipFiles(t, map[string]string{"app.py": tc.code}))
			f.Timeout, f.MemorySize, f.RevisionID = tc.timeout, tc.memory, tc.name
			res := fx.invoke(t, f, `{}`)
			if res.FunctionError != "Unhandled" || errorTypeOf(res.Payload) != tc.wantType || !strings.Contains(string(res.Payload), tc.wantMsg) {
				t.Errorf("%s: %q %s, want Unhandled %s %q\n%s", tc.name, res.FunctionError, res.Payload, tc.wantType, tc.wantMsg, res.Log)
			} else if tc.check != nil {
				var e struct{ ErrorMessage string }
				json.Unmarshal(res.Payload, &e)
				if err := tc.check(e.ErrorMessage); err != nil {
					t.Errorf("%s: %v\n%s", tc.name, err, res.Payload)
				}
			}
			ok := fx.function(t, "sb-ok", "python3.11", "app.handler", zipFiles(t, map[string]string{"app.py": "def handler(e, c):\n    open('/tmp/x', 'w').write('ok')\n    return open('/tmp/x').read()\n"}))
			if res := fx.invoke(t, ok, `{}`); string(res.Payload) != `"ok"` {
				t.Errorf("after %s, a function writing /tmp: %q %s", tc.name, res.FunctionError, res.Payload)
			}
		})
	}
	if reachedAny.Load() {
		t.Error("a sandbox reached a TCP server on the host's loopback")
	}
}

// TestInstanceLifecycle: environments are reused while warm, replaced
// when they die, closed once idle for longer than IdleTimeout, and a
// function's reserved concurrency throttles the invocations beyond it.
// The idle clock and the held slot are the test's, so nothing depends on
// how fast the machine runs.
func TestInstanceLifecycle(t *testing.T) {
	requireTool(t, "python3")
	fx := newFixture(t, Config{IdleTimeout: time.Hour})
	code := "import os\ncount = 0\ndef handler(e, c):\n    global count\n    count += 1\n    if e.get('crash'):\n        os._exit(3)\n    if e.get('big'):\n        return 'x' * (7 << 20)\n    return count\n"
	f := fx.function(t, "life", "python3.11", "app.handler", zipFiles(t, map[string]string{"app.py": code}))
	// Room for the 7 MB response twice over in the runtime and in the
	// sandbox's init process, which under -race is this test binary with
	// the race detector's shadow memory: the test is about the
	// environment's life, not its memory.
	f.MemorySize = 512
	if a, b := fx.invoke(t, f, `{}`), fx.invoke(t, f, `{}`); string(a.Payload) != "1" || string(b.Payload) != "2" {
		t.Errorf("warm reuse: %s then %s, want 1 then 2", a.Payload, b.Payload)
	}
	res := fx.invoke(t, f, `{"crash":true}`)
	if errorTypeOf(res.Payload) != "Runtime.ExitError" || !strings.Contains(string(res.Payload), "exit status 3") {
		t.Errorf("crash: %s", res.Payload)
	}
	if res := fx.invoke(t, f, `{}`); string(res.Payload) != "1" {
		t.Errorf("after a crash: %s, want a fresh environment (1)", res.Payload)
	}
	// An idle environment that dies is replaced, not handed an invocation.
	fx.invoke(t, f, `{}`)
	fx.pool.mu.Lock()
	for _, fi := range fx.pool.fns {
		for _, in := range fi.idle {
			in.sb.Kill()
			<-in.sb.Done()
		}
	}
	fx.pool.mu.Unlock()
	if res := fx.invoke(t, f, `{}`); res.FunctionError != "" || string(res.Payload) != "1" {
		t.Errorf("after the idle environment died: %q %s, want a fresh environment (1)", res.FunctionError, res.Payload)
	}
	if res := fx.invoke(t, f, `{"big":true}`); errorTypeOf(res.Payload) != "Function.ResponseSizeTooLarge" {
		t.Errorf("7 MB response: %s", res.Payload)
	}
	// Idle for less than IdleTimeout: kept; for longer: closed.
	if res := fx.invoke(t, f, `{}`); res.FunctionError != "" {
		t.Fatalf("after the 7 MB response: %q %s\n%s", res.FunctionError, res.Payload, res.Log)
	}
	fx.pool.reapIdle(time.Now().Add(time.Hour - time.Minute))
	if n := fx.pool.Idle(); n != 1 {
		t.Errorf("%d idle environments before the idle timeout, want 1", n)
	}
	fx.pool.reapIdle(time.Now().Add(time.Hour + time.Minute))
	if n := fx.pool.Idle(); n != 0 {
		t.Errorf("%d idle environments after the idle timeout, want 0", n)
	}
	// Concurrency: one reserved slot, held as a running invocation holds
	// it; a second concurrent call is throttled.
	fx.pool.SetReserved("life", 1)
	held, _, err := fx.pool.acquire("life:$LATEST", f.RevisionID+"/"+f.CodeSHA256, "life")
	if err != nil {
		t.Fatal(err)
	}
	_, err = fx.pool.Invoke(context.Background(), Request{Function: f, Version: "$LATEST", Payload: []byte(`{}`)})
	if te, ok := err.(*ThrottleError); !ok || te.Limit != LimitReserved {
		t.Errorf("second concurrent invocation: %v, want a throttle", err)
	}
	fx.pool.release("life", held, false)
	if _, _, th := fx.pool.Metrics.Snapshot("life"); th != 1 {
		t.Errorf("throttles metric %d, want 1", th)
	}
	if res := fx.invoke(t, f, `{}`); res.FunctionError != "" || string(res.Payload) != "1" {
		t.Errorf("with the reserved slot free again: %q %s, want a fresh environment (1)", res.FunctionError, res.Payload)
	}
	fx.pool.SetReserved("life", 0)
	if _, err := fx.pool.Invoke(context.Background(), Request{Function: f, Version: "$LATEST"}); err == nil {
		t.Error("reserved concurrency 0 did not throttle")
	}
}
