package invoke

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestStopFunction: StopFunction ends an invocation in progress (as its
// runtime's exit) and the function's idle environments, and returns
// once their processes are gone.
func TestStopFunction(t *testing.T) {
	requireTool(t, "python3")
	fx := newFixture(t, Config{})
	f := fx.function(t, "stopped", "python3.11", "app.handler", zipFiles(t, map[string]string{"app.py": "import time\ndef handler(e, c):\n    if e.get('sleep'):\n        time.sleep(60)\n    return 'ok'\n"}))
	f.Timeout = 120
	fx.invoke(t, f, `{}`)
	if fx.pool.Idle() != 1 {
		t.Fatalf("%d idle environments, want 1", fx.pool.Idle())
	}
	done := make(chan Result)
	go func() { done <- fx.invoke(t, f, `{"sleep":true}`) }()
	// Wait until the invocation runs in an environment.
	deadline := time.Now().Add(20 * time.Second)
	var pid int
	for pid == 0 {
		fx.pool.mu.Lock()
		for in := range fx.pool.running["stopped"] {
			pid = in.sb.Pid
		}
		fx.pool.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the invocation did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fx.invoke(t, f, `{}`) // a second, idle environment
	// A published version's environment, which keeps its own code.
	if res, err := fx.pool.Invoke(context.Background(), Request{Function: f, Version: "1", Payload: []byte(`{}`)}); err != nil || string(res.Payload) != `"ok"` {
		t.Fatalf("version 1: %v %s", err, res.Payload)
	}
	fx.pool.StopFunction("stopped", "$LATEST")
	// StopFunction returns once the sandbox's init process, pid 1 of its
	// pid namespace, is reaped: every process of the sandbox is gone.
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		t.Errorf("the running environment's init process %d is still there after StopFunction", pid)
	}
	res := <-done
	if res.FunctionError != "Unhandled" || errorTypeOf(res.Payload) != "Runtime.ExitError" {
		t.Errorf("stopped invocation: %q %s", res.FunctionError, res.Payload)
	}
	n := fx.pool.Idle()
	fx.pool.mu.Lock()
	v1 := fx.pool.fns["stopped:1"]
	v1idle := 0
	if v1 != nil {
		v1idle = len(v1.idle)
	}
	fx.pool.mu.Unlock()
	if n != 1 || v1idle != 1 {
		t.Errorf("after StopFunction of $LATEST: %d idle environments, want version 1's only", n)
	}
	fx.pool.StopFunction("stopped", "")
	if n := fx.pool.Idle(); n != 0 {
		t.Errorf("%d idle environments after StopFunction of every version", n)
	}
	if res := fx.invoke(t, f, `{}`); string(res.Payload) != `"ok"` {
		t.Errorf("after StopFunction: %q %s", res.FunctionError, res.Payload)
	}
}

// TestStartErrorsAreFunctionErrors: a package that cannot be unpacked or
// a runtime that cannot run fails the invocation as the function's
// error, not Signet's.
func TestStartErrorsAreFunctionErrors(t *testing.T) {
	name := func(kind error) string {
		switch kind {
		case ErrBadPackage:
			return "BadPackage"
		case ErrUnsupportedRuntime:
			return "UnsupportedRuntime"
		}
		return "other"
	}
	fx := newFixture(t, Config{StartErrorType: name})
	bad := fx.function(t, "badzip", "python3.11", "app.handler", []byte("PK\x03\x04 not a zip"))
	res, err := fx.pool.Invoke(context.Background(), Request{Function: bad, Version: "$LATEST"})
	if err != nil || res.FunctionError != "Unhandled" || errorTypeOf(res.Payload) != "BadPackage" {
		t.Errorf("package that is not a zip: %v %q %s", err, res.FunctionError, res.Payload)
	}
	rt := fx.function(t, "badruntime", "java21", "x", zipFiles(t, map[string]string{"a": "b"}))
	res, err = fx.pool.Invoke(context.Background(), Request{Function: rt, Version: "$LATEST"})
	if err != nil || res.FunctionError != "Unhandled" || errorTypeOf(res.Payload) != "UnsupportedRuntime" {
		t.Errorf("runtime that cannot run: %v %q %s", err, res.FunctionError, res.Payload)
	}
}

// TestForgetCode: the unpacked files of a package go with ForgetCode.
func TestForgetCode(t *testing.T) {
	dir := t.TempDir()
	pkg := zipEntries([2]string{"app.py", "x"})
	task, err := unpack(t, dir, pkg)
	if err != nil {
		t.Fatal(err)
	}
	u := &Unpacker{Dir: filepath.Join(dir, "cache")}
	if u.codeDir("p.zip") != task {
		t.Fatalf("unpacked at %s, want %s", task, u.codeDir("p.zip"))
	}
	if err := u.Remove("p.zip"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(task); !os.IsNotExist(err) {
		t.Errorf("unpacked code still there after Remove: %v", err)
	}
}
