// Package e2etest holds what the end-to-end test packages share: the
// signet binary they run, built once per test binary, and the external
// programs they need.
package e2etest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// RequireTool returns the path of an external program: a test without it
// skips, naming it, unless SIGNET_REQUIRE_ALL=1 makes that a failure.
func RequireTool(t testing.TB, path string) string {
	t.Helper()
	resolved, err := exec.LookPath(path)
	if err == nil {
		return resolved
	}
	msg := fmt.Sprintf("%s not found (%v)", path, err)
	if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
		t.Fatalf("%s; SIGNET_REQUIRE_ALL=1 makes every external program mandatory", msg)
	}
	t.Skipf("%s; skipping (set SIGNET_REQUIRE_ALL=1 to make this a failure)", msg)
	return ""
}

// SignetBinary builds cmd/signet once per test binary and returns it.
func SignetBinary(t testing.TB) string {
	t.Helper()
	goTool := RequireTool(t, "go")
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "signet-e2e-"); buildErr != nil {
			return
		}
		bin := filepath.Join(buildDir, "signet")
		cmd := exec.Command(goTool, "build", "-o", bin, "github.com/signet/signet/cmd/signet")
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		buildBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// Cleanup removes the built binary: call it from TestMain after m.Run.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}
