package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet/signet/internal/server/servertest"
)

// TestIAMCommands walks a user and a role through their life with
// `signet iam`, including the conflicts that keep a principal or policy
// in use from being deleted.
func TestIAMCommands(t *testing.T) {
	srv := servertest.Start(t)
	acct := srv.AccountID()
	doc := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(doc, []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:Get*","Resource":"*"}}`), 0o644)
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"sts:AssumeRole"}}`
	parn := "arn:aws:iam::" + acct + ":policy/readers"
	steps := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"iam", "whoami"}, 0, `"Arn": "arn:aws:iam::` + acct + `:root"`},
		{[]string{"iam", "create-user", "alice"}, 0, `"UserName": "alice"`},
		{[]string{"iam", "create-user", "alice"}, 1, "EntityAlreadyExists"},
		{[]string{"iam", "create-user", "Alice"}, 1, "EntityAlreadyExists"}, // names are not distinguished by case
		{[]string{"iam", "create-user", "bad name"}, 1, "ValidationError"},
		{[]string{"iam", "create-policy", "readers", "file://" + doc}, 0, `"Arn": "` + parn + `"`},
		{[]string{"iam", "create-policy", "broken", `{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`}, 1, "MalformedPolicyDocument"},
		{[]string{"iam", "put-user-policy", "alice", "inline", "file://" + doc}, 0, ""},
		{[]string{"iam", "attach-user-policy", "alice", parn}, 0, ""},
		{[]string{"iam", "put-user-permissions-boundary", "alice", parn}, 0, ""},
		{[]string{"iam", "get-user", "alice"}, 0, `"PermissionsBoundaryArn": "` + parn + `"`},
		{[]string{"iam", "create-access-key", "alice"}, 0, "aws_access_key_id = AKIA"},
		{[]string{"iam", "get-policy", parn}, 0, `"AttachmentCount": 1`},
		{[]string{"iam", "delete-policy", parn}, 1, "DeleteConflict"},
		{[]string{"iam", "create-role", "deployer", trust}, 0, `"RoleName": "deployer"`},
		{[]string{"iam", "create-role", "DEPLOYER", trust}, 1, "EntityAlreadyExists"},
		{[]string{"iam", "create-role", "nobody", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`}, 1, "Principal is required"},
		{[]string{"iam", "assume-role", "arn:aws:iam::" + acct + ":role/deployer", "s1"}, 0, "AWS_SESSION_TOKEN="},
		{[]string{"iam", "assume-role", "arn:aws:iam::" + acct + ":role/missing", "s1"}, 1, "AccessDenied"},
		{[]string{"iam", "put-role-policy", "deployer", "p", "file://" + doc}, 0, ""},
		{[]string{"iam", "delete-role", "deployer"}, 1, "DeleteConflict"},
		{[]string{"iam", "delete-role-policy", "deployer", "p"}, 0, ""},
		{[]string{"iam", "delete-role", "deployer"}, 0, ""},
		{[]string{"iam", "delete-user", "alice"}, 1, "must delete access keys first"},
	}
	for _, s := range steps {
		code, stdout, stderr := run(t, srv, s.args...)
		if code != s.code || !strings.Contains(stdout+stderr, s.out) {
			t.Fatalf("%s: exit %d, want %d with %q:\n%s%s", strings.Join(s.args, " "), code, s.code, s.out, stdout, stderr)
		}
	}
	// Take alice apart, then delete her and the policy.
	keys, _ := srv.IAM.AccessKeys(t.Context(), "alice")
	for _, s := range [][]string{
		{"iam", "delete-access-key", "alice", keys[0].ID},
		{"iam", "delete-user-policy", "alice", "inline"},
		{"iam", "detach-user-policy", "alice", parn},
		{"iam", "delete-user-permissions-boundary", "alice"},
		{"iam", "delete-user", "alice"},
		{"iam", "delete-policy", parn},
	} {
		if code, stdout, stderr := run(t, srv, s...); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(s, " "), code, stdout, stderr)
		}
	}
	if code, _, stderr := run(t, srv, "iam", "get-user", "alice"); code != 1 || !strings.Contains(stderr, "NoSuchEntity") {
		t.Errorf("get-user after delete: %d %s", code, stderr)
	}
}
