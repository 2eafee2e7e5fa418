package cli_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/signet/signet/internal/server/servertest"
)

func TestFunctionCommands(t *testing.T) {
	srv := servertest.Start(t)
	work := t.TempDir()
	pkg := filepath.Join(work, "function.zip")
	writeZip(t, pkg)
	if code, _, stderr := run(t, srv, "profile", "create", "signing_profile_for_lambda", "--platform", "AWSLambda-SHA384-ECDSA"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(t, srv, "sign", pkg, "--profile", "signing_profile_for_lambda"); code != 0 {
		t.Fatal(stderr)
	}
	signed := filepath.Join(work, "function-signed.zip")
	profileARN := "arn:aws:signer:us-east-1:" + srv.AccountID() + ":/signing-profiles/signing_profile_for_lambda"
	code, stdout, stderr := run(t, srv, "csc", "create", "--publisher", profileARN, "--policy", "Enforce")
	if code != 0 {
		t.Fatal(stderr)
	}
	csc := regexp.MustCompile(`arn:aws:lambda:\S+:code-signing-config:csc-[a-z0-9]{17}`).FindString(stdout)
	if csc == "" {
		t.Fatalf("csc create printed no ARN:\n%s", stdout)
	}
	cases := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"fail/unsigned-under-enforce", []string{"function", "create", "hello-world-lambda", "--zip", pkg, "--code-signing-config", csc}, 1, "CodeVerificationFailedException"},
		{"ok/signed", []string{"function", "create", "hello-world-lambda", "--zip", signed, "--code-signing-config", csc}, 0, "signing_profile_for_lambda/"},
		{"ok/get", []string{"function", "get", "hello-world-lambda"}, 0, "Signing job"},
		{"ok/reuses-basic-execution-role", []string{"function", "create", "second", "--zip", signed}, 0, "second"},
		{"ok/given-role", []string{"function", "create", "third", "--zip", signed, "--role", srv.LambdaRole(t)}, 0, "third"},
		{"fail/role-lambda-cannot-assume", []string{"function", "create", "fourth", "--zip", signed, "--role", "arn:aws:iam::" + srv.AccountID() + ":role/nobody"}, 1,
			"The role defined for the function cannot be assumed by Lambda."},
		{"ok/list", []string{"function", "list"}, 0, "hello-world-lambda"},
		{"fail/update-unsigned", []string{"function", "update-code", "hello-world-lambda", "--zip", pkg}, 1, "Lambda cannot deploy the function"},
		{"ok/csc-list", []string{"csc", "list"}, 0, "Enforce"},
		{"fail/csc-delete-in-use", []string{"csc", "delete", csc}, 1, "ResourceConflictException"},
		{"ok/detach", []string{"csc", "detach", "hello-world-lambda"}, 0, "detached"},
		{"ok/update-unsigned-without-config", []string{"function", "update-code", "hello-world-lambda", "--zip", pkg}, 0, "hello-world-lambda"},
		{"ok/attach", []string{"csc", "attach", "hello-world-lambda", csc}, 0, "attached"},
		{"ok/delete", []string{"function", "delete", "hello-world-lambda"}, 0, "deleted function"},
		{"ok/csc-delete", []string{"csc", "delete", csc}, 0, "deleted"},
		{"fail/no-zip", []string{"function", "create", "x"}, 2, "needs --zip"},
		{"ok/audit-tail", []string{"audit", "tail", "--data-dir", srv.Config().DataDir}, 0, "Deny"},
		{"ok/audit-verify", []string{"audit", "verify", "--data-dir", srv.Config().DataDir}, 0, "audit log intact"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, srv, c.args...)
			if code != c.code || !strings.Contains(stdout+stderr, c.out) {
				t.Errorf("exit %d, want %d, output lacks %q:\n%s%s", code, c.code, c.out, stdout, stderr)
			}
		})
	}
	// Without --role, function create made the basic execution role once
	// and gave it to both functions.
	role, err := srv.IAM.Role(context.Background(), "signet-lambda-basic-execution")
	if err != nil || !strings.Contains(role.TrustPolicy, "lambda.amazonaws.com") {
		t.Fatalf("basic execution role: %+v %v", role, err)
	}
	if f, err := srv.Functions.Get(context.Background(), "second"); err != nil || f.Role != srv.IAM.RoleARN(role) {
		t.Errorf("function second has role %q (%v), want %s", f.Role, err, srv.IAM.RoleARN(role))
	}
}
