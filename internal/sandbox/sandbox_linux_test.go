package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain makes the test binary a sandbox init when Start re-executes
// it: it runs the command in the payload as the sandbox user, with its
// output on the control socket, and exits with its status.
func TestMain(m *testing.M) {
	if IsInit() {
		in, err := Enter()
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox init:", err)
			os.Exit(100)
		}
		var args []string
		json.Unmarshal(in.Payload, &args)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		cmd.Stdout, cmd.Stderr = in.Control, in.Control
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: in.RunAs}
		runtime.LockOSThread()
		if err := Confine(); err != nil {
			fmt.Fprintln(in.Control, "confine:", err)
			os.Exit(1)
		}
		runErr := cmd.Run()
		// Whatever the program did to its process budget, the init
		// process can still start threads (the Go runtime starts them
		// when it needs them): each locked goroutine holds one.
		var started, release sync.WaitGroup
		release.Add(1)
		for range initThreads {
			started.Add(1)
			go func() {
				runtime.LockOSThread()
				started.Done()
				release.Wait()
			}()
		}
		started.Wait()
		release.Done()
		fmt.Fprintf(in.Control, "init started %d threads\n", initThreads)
		if runErr != nil {
			fmt.Fprintln(in.Control, "exit:", runErr)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// initThreads is how many threads the test init starts after its
// program ended.
const initThreads = 16

func host(t *testing.T) *Host {
	t.Helper()
	h, err := NewHost()
	if err != nil {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatalf("sandboxes unavailable: %v", err)
		}
		t.Skipf("sandboxes unavailable (needs cgroups and user namespaces): %v", err)
	}
	return h
}

// run runs a shell script in a sandbox and returns its output and
// whether it succeeded.
func run(t *testing.T, h *Host, cfg Config, script string) (string, bool) {
	t.Helper()
	cfg.Payload, _ = json.Marshal([]string{"/bin/sh", "-c", script})
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("t%d", time.Now().UnixNano())
	}
	if cfg.Limits.MemoryBytes == 0 {
		cfg.Limits = Limits{MemoryBytes: 128 << 20, Pids: 64, CPUs: 1, TmpBytes: 16 << 20}
	}
	cfg.Stderr = os.Stderr
	sb, err := h.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	out := make(chan []byte)
	go func() { b, _ := io.ReadAll(sb.Control); out <- b }()
	select {
	case <-sb.Done():
	case <-time.After(2 * time.Minute):
		t.Fatal("sandbox did not finish in 2 minutes")
	}
	sb.Kill()
	b := <-out
	return string(b), sb.ExitError() == nil
}

func TestSandboxIsolation(t *testing.T) {
	h := host(t)
	code := t.TempDir()
	os.WriteFile(filepath.Join(code, "hello.txt"), []byte("hello"), 0o644)
	secret := filepath.Join(t.TempDir(), "master.key")
	os.WriteFile(secret, []byte("secret"), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	cfg := Config{Binds: []Bind{{Source: code, Target: "/var/task"}}}
	tests := []struct {
		name, script string
		wantOK       bool
		wantOut      string
	}{
		{"reads its code", "cat /var/task/hello.txt", true, "hello"},
		{"is in its own pid namespace", "test $$ -lt 50 && cat /proc/1/cmdline", true, initArg},
		{"runs as the sandbox user", "id -u", true, "993"},
		{"writes /tmp", "echo x > /tmp/x && cat /tmp/x", true, "x"},
		{"cannot write its code", "echo x > /var/task/hello.txt", false, ""},
		{"cannot write the root", "echo x > /x", false, ""},
		{"cannot write /usr", "touch /usr/x", false, ""},
		{"cannot read the host file", "cat " + secret, false, ""},
		{"cannot see host processes", "test $(ls /proc | grep -c '^[0-9]') -le 6", true, ""},
		{"has no network", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d", port), false, ""},
		{"cannot create namespaces", "unshare -U -r true", false, "Operation not permitted"},
		{"cannot mount", "mount -t tmpfs none /tmp", false, ""},
		{"cannot trace", "strace -f true", false, "Operation not permitted"},
		// fd 3 is ls's own, reading the directory.
		{"inherits only 0, 1 and 2", `fds=$(ls /proc/self/fd | tr '\n' ' '); echo "$fds"; test "$fds" = "0 1 2 3 "`, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := run(t, h, cfg, tc.script)
			if ok != tc.wantOK || !strings.Contains(out, tc.wantOut) {
				t.Errorf("%q: ok=%v out=%q; want ok=%v out containing %q", tc.script, ok, out, tc.wantOK, tc.wantOut)
			}
		})
	}
	select {
	case <-accepted:
		t.Error("a sandbox reached a TCP server on the host's loopback")
	default:
	}
}

func TestSandboxLimits(t *testing.T) {
	h := host(t)
	lim := Limits{MemoryBytes: 64 << 20, Pids: 32, CPUs: 0.5, TmpBytes: 8 << 20}
	t.Run("memory", func(t *testing.T) {
		cfg := Config{Limits: lim, Name: "mem"}
		cfg.Payload, _ = json.Marshal([]string{"/usr/bin/python3", "-c", "b = bytearray(200 << 20); print('allocated')"})
		cfg.Stderr = os.Stderr
		sb, err := h.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		out, _ := io.ReadAll(sb.Control)
		<-sb.Done()
		if strings.Contains(string(out), "allocated") || !sb.OOMKilled() {
			t.Errorf("allocating 200 MB under a 64 MB limit: out=%q oom=%v", out, sb.OOMKilled())
		}
		if p := sb.PeakMemory(); p < 32<<20 || p > 64<<20 {
			t.Errorf("peak memory %d, want near the 64 MB limit", p)
		}
	})
	t.Run("pids", func(t *testing.T) {
		// The children outlive the loop (the sandbox ends with the shell),
		// so the limit is reached however slowly the machine forks.
		out, ok := run(t, h, Config{Limits: lim}, "for i in $(seq 100); do sleep 600 & done; echo started all")
		if ok || !strings.Contains(out, "fork") || strings.Contains(out, "started all") {
			t.Errorf("100 processes under a limit of 32: ok=%v %q", ok, out)
		}
		// The sleeps still hold the whole budget; the init process is
		// not held to it.
		if !strings.Contains(out, fmt.Sprintf("init started %d threads", initThreads)) {
			t.Errorf("after the program exhausted its processes, the init process could not start threads: %q", out)
		}
	})
	t.Run("tmp size", func(t *testing.T) {
		out, ok := run(t, h, Config{Limits: lim}, "head -c 16777216 /dev/zero > /tmp/big")
		if ok || !strings.Contains(out, "No space") {
			t.Errorf("16 MB into an 8 MB /tmp: ok=%v %q", ok, out)
		}
	})
}

func TestLimitFiles(t *testing.T) {
	l := Limits{MemoryBytes: 128 << 20, Pids: 1024, CPUs: 0.5}
	want := map[CgroupVersion]map[string]string{
		CgroupV1: {"m/memory.limit_in_bytes": "134217728", "p/pids.max": "1088", "c/cpu.cfs_quota_us": "50000", "c/cpu.shares": "512"},
		CgroupV2: {"g/memory.max": "134217728", "g/pids.max": "1088", "g/cpu.max": "50000 100000", "g/cpu.weight": "50", "g/memory.swap.max": "0"},
	}
	dirs := map[CgroupVersion][]string{CgroupV1: {"m", "p", "c"}, CgroupV2: {"g"}}
	for v, w := range want {
		got := map[string]string{}
		for _, f := range limitFiles(v, dirs[v], l) {
			got[f.path] = f.value
		}
		for k, val := range w {
			if got[k] != val {
				t.Errorf("%v %s = %q, want %q", v, k, got[k], val)
			}
		}
	}
}
