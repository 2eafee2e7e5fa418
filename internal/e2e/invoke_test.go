package e2e

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, content := range files {
		f, _ := w.Create(name)
		f.Write([]byte(content))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestAWSCLIInvoke covers Invoke's modes, errors and limits with the real
// AWS CLI.
func TestAWSCLIInvoke(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	if !s.sandboxesAvailable(t) {
		t.Skip("functions cannot run here")
	}
	dataDir := filepath.Dir(s.credFile)
	code := `import os, time
def handler(event, context):
    print("event", event)
    if event.get("raise"):
        raise RuntimeError("Something went wrong")
    if event.get("secret"):
        return open(event["secret"]).read()
    if event.get("write"):
        open(event["write"], "w").write("x")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"version": context.function_version, "remaining": context.get_remaining_time_in_millis() > 0, "arn": context.invoked_function_arn}
`
	pkg := filepath.Join(s.home, "fn.zip")
	os.WriteFile(pkg, zipOf(t, map[string]string{"app.py": code}), 0o644)
	aws := func(args ...string) cliResult {
		t.Helper()
		return s.runService(t, "", "lambda", args...)
	}
	if r := aws("create-function", "--function-name", "fn", "--runtime", "python3.11", "--handler", "app.handler", "--timeout", "2",
		"--role", s.lambdaRole(t), "--zip-file", "fileb://"+pkg); r.code != 0 {
		t.Fatalf("create-function: %s", r.stderr)
	}
	resp := filepath.Join(s.home, "out.json")
	invoke := func(payload string, extra ...string) (cliResult, string) {
		t.Helper()
		os.Remove(resp)
		args := append([]string{"invoke", "--function-name", "fn", "--cli-binary-format", "raw-in-base64-out", "--payload", payload}, extra...)
		r := aws(append(args, resp)...)
		b, _ := os.ReadFile(resp)
		return r, string(b)
	}

	r, body := invoke(`{"raise":true}`)
	if r.code != 0 || !strings.Contains(r.stdout, `"FunctionError": "Unhandled"`) || !strings.Contains(body, `"errorType": "RuntimeError"`) ||
		!strings.Contains(body, `"errorMessage": "Something went wrong"`) || !strings.Contains(body, `"stackTrace"`) {
		t.Errorf("raising handler: %s %s %s", r.stdout, r.stderr, body)
	}
	r, body = invoke(`{"secret":"` + filepath.Join(dataDir, "master.key") + `"}`)
	if !strings.Contains(r.stdout, "Unhandled") || !strings.Contains(body, "FileNotFoundError") {
		t.Errorf("reading the data directory's master.key: %s %s", r.stdout, body)
	}
	r, body = invoke(`{"write":"/var/task/app.py"}`)
	if !strings.Contains(r.stdout, "Unhandled") || !strings.Contains(body, "Read-only file system") {
		t.Errorf("writing its code: %s %s", r.stdout, body)
	}
	r, body = invoke(`{"sleep":600}`)
	if !strings.Contains(r.stdout, "Unhandled") || !strings.Contains(body, "Task timed out after 2.00 seconds") {
		t.Errorf("timeout: %s %s", r.stdout, body)
	}

	// Published versions and qualifiers.
	if r := aws("publish-version", "--function-name", "fn"); r.code != 0 {
		t.Fatalf("publish-version: %s", r.stderr)
	}
	r, body = invoke(`{}`, "--qualifier", "1")
	if !strings.Contains(r.stdout, `"ExecutedVersion": "1"`) || !strings.Contains(body, `"version": "1"`) || !strings.Contains(body, `function:fn:1"`) {
		t.Errorf("qualifier 1: %s %s", r.stdout, body)
	}
	if r, _ = invoke(`{}`, "--qualifier", "7"); r.code != 254 || !strings.Contains(r.stderr, "ResourceNotFoundException") {
		t.Errorf("missing version: %d %s", r.code, r.stderr)
	}

	// Modes.
	if r, _ = invoke(`{}`, "--invocation-type", "DryRun"); r.code != 0 || !strings.Contains(r.stdout, `"StatusCode": 204`) {
		t.Errorf("DryRun: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r, _ = invoke(`{"key1":"from an event"}`, "--invocation-type", "Event"); r.code != 0 || !strings.Contains(r.stdout, `"StatusCode": 202`) {
		t.Errorf("Event: %d %s %s", r.code, r.stdout, r.stderr)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		tail := s.runService(t, "", "logs", "tail", "/aws/lambda/fn", "--since", "1h")
		if strings.Contains(tail.stdout, "from an event") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Event invocation did not run in 2 minutes:\n%s", tail.stdout)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Bad input.
	big := `{"k":"` + strings.Repeat("x", 6<<20) + `"}`
	bigFile := filepath.Join(s.home, "big.json")
	os.WriteFile(bigFile, []byte(big), 0o644)
	eventFile := filepath.Join(s.home, "event.json")
	os.WriteFile(eventFile, []byte(`{"k":"`+strings.Repeat("x", 300<<10)+`"}`), 0o644)
	for _, tc := range []struct {
		name    string
		args    []string
		code    string
		message string
	}{
		{"payload over 6 MB", []string{"--payload", "fileb://" + bigFile}, "RequestTooLargeException", "6291456"},
		{"event payload over 256 KB", []string{"--payload", "fileb://" + eventFile, "--invocation-type", "Event"}, "RequestTooLargeException", "262144"},
		{"payload not JSON", []string{"--payload", `{not json`, "--cli-binary-format", "raw-in-base64-out"}, "InvalidRequestContentException", "Could not parse request body into json"},
		{"unknown function", []string{"--function-name", "nope"}, "ResourceNotFoundException", "Function not found"},
	} {
		args := append([]string{"invoke", "--function-name", "fn"}, tc.args...)
		if tc.name == "unknown function" {
			args = append([]string{"invoke"}, tc.args...)
		}
		r := aws(append(args, resp)...)
		if r.code != 254 || !strings.Contains(r.stderr, "("+tc.code+")") || !strings.Contains(r.stderr, tc.message) {
			t.Errorf("%s: exit %d %s", tc.name, r.code, r.stderr)
		}
	}

	// Throttling: no concurrency reserved means none may run.
	if r := aws("put-function-concurrency", "--function-name", "fn", "--reserved-concurrent-executions", "0"); r.code != 0 || !strings.Contains(r.stdout, `"ReservedConcurrentExecutions": 0`) {
		t.Fatalf("put-function-concurrency: %s %s", r.stdout, r.stderr)
	}
	if r := aws("get-function-concurrency", "--function-name", "fn"); !strings.Contains(r.stdout, `"ReservedConcurrentExecutions": 0`) {
		t.Errorf("get-function-concurrency: %s %s", r.stdout, r.stderr)
	}
	if r, _ = invoke(`{}`); r.code != 254 || !strings.Contains(r.stderr, "(TooManyRequestsException)") || !strings.Contains(r.stderr, "Rate Exceeded.") {
		t.Errorf("throttled invoke: exit %d %s", r.code, r.stderr)
	}
	if r := aws("put-function-concurrency", "--function-name", "fn", "--reserved-concurrent-executions", "1000"); r.code != 254 || !strings.Contains(r.stderr, "UnreservedConcurrentExecution below its minimum") {
		t.Errorf("reserving more than the account has: exit %d %s", r.code, r.stderr)
	}
	if r := aws("delete-function-concurrency", "--function-name", "fn"); r.code != 0 {
		t.Errorf("delete-function-concurrency: %s", r.stderr)
	}
	if r, _ = invoke(`{}`); r.code != 0 {
		t.Errorf("invoke after removing the reservation: %s", r.stderr)
	}
}
