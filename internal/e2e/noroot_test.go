package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeWithoutRoot runs `signet serve` as an unprivileged user (as
// nobody when the test runs as root): the banner says that functions
// cannot run, everything else works, and `aws lambda invoke` gets
// ServiceException at once, without the AWS CLI retrying it (the server
// sees exactly one Invoke).
func TestServeWithoutRoot(t *testing.T) {
	awsPath := requireTool(t, awsCLI)
	bin := signetBinary(t)
	dir, err := os.MkdirTemp("", "signet-noroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Readable and executable by nobody (the build directory is 0700).
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "signet")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(exe, "serve", "--data-dir", filepath.Join(dir, "data"), "--listen", addr)
	cmd.Dir = dir
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		if t.Failed() {
			t.Logf("signet serve:\n%s", log)
		}
	})
	for deadline := time.Now().Add(time.Minute); ; {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("signet serve exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("signet serve is not healthy after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if banner := waitServing(t, log); !strings.Contains(banner, "signet: functions cannot run here (") || !strings.Contains(banner, "Invoke answers ServiceException") {
		t.Errorf("the banner does not say that functions cannot run:\n%s", log)
	}
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o700)
	s := &cliServer{aws: awsPath, addr: addr, home: home, credFile: filepath.Join(dir, "data", "credentials"), scheme: "http"}
	zip := filepath.Join(home, "function.zip")
	if err := os.WriteFile(zip, helloZip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := s.runService(t, "", "iam", "create-role", "--role-name", "lambda-role", "--assume-role-policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`); r.code != 0 {
		t.Fatalf("create-role: %s", r.stderr)
	}
	if r := s.runService(t, "", "sts", "get-caller-identity", "--query", "Account", "--output", "text"); r.code != 0 {
		t.Fatalf("get-caller-identity: %s", r.stderr)
	} else {
		s.account = strings.TrimSpace(r.stdout)
	}
	if r := s.runService(t, "", "lambda", "create-function", "--function-name", "hello", "--runtime", "python3.12", "--handler", "lambda_function.lambda_handler",
		"--role", "arn:aws:iam::"+s.account+":role/lambda-role", "--zip-file", "fileb://"+zip); r.code != 0 {
		t.Fatalf("create-function without root: exit %d %s", r.code, r.stderr)
	}
	r := s.runService(t, "", "lambda", "invoke", "--function-name", "hello", "--cli-binary-format", "raw-in-base64-out", "--payload", `{"key1":"x"}`,
		filepath.Join(home, "response.json"))
	if r.code != cliServiceError || !strings.Contains(r.stderr, "(ServiceException)") || !strings.Contains(r.stderr, "functions cannot run on this host") {
		t.Fatalf("invoke without root: exit %d %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "reached max retries") {
		t.Errorf("the AWS CLI retried: %s", r.stderr)
	}
	// The audit log has one InvokeFunction record: the CLI did not retry.
	// (Records of calls that change nothing are written within
	// milliseconds of the response, so poll for the first.)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []byte
	for {
		q := exec.CommandContext(ctx, exe, "audit", "query", "--data-dir", filepath.Join(dir, "data"), "--action", "lambda:InvokeFunction")
		out, err = q.CombinedOutput()
		if err != nil {
			t.Fatalf("signet audit query: %v\n%s", err, out)
		}
		if strings.Count(string(out), "lambda:InvokeFunction") > 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(string(out), "lambda:InvokeFunction"); n != 1 {
		t.Errorf("%d Invoke calls reached the server, want 1 (no retries):\n%s", n, out)
	}
}
