package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAWSCLISSM: the real AWS CLI puts a SecureString under a customer
// key (by alias), reads it back with --with-decryption, lists a path,
// labels a version and reads it by label.
func TestAWSCLISSM(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	run := func(args ...string) map[string]any {
		t.Helper()
		r := s.runAWS(t, args...)
		if r.code != 0 {
			t.Fatalf("aws %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
		var out map[string]any
		if strings.TrimSpace(r.stdout) != "" {
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("aws %s: %v\n%s", args[1], err, r.stdout)
			}
		}
		return out
	}
	key := run("kms", "create-key")["KeyMetadata"].(map[string]any)["KeyId"].(string)
	run("kms", "create-alias", "--alias-name", "alias/lambda-params", "--target-key-id", key)
	run("ssm", "put-parameter", "--name", "/hello/api-token", "--type", "SecureString", "--key-id", "alias/lambda-params", "--value", "tok-123")
	run("ssm", "put-parameter", "--name", "/hello/stage", "--type", "String", "--value", "dev")
	out := run("ssm", "put-parameter", "--name", "/hello/stage", "--type", "String", "--value", "prod", "--overwrite")
	if out["Version"] != float64(2) {
		t.Errorf("overwrite: %v", out)
	}
	p := run("ssm", "get-parameter", "--name", "/hello/api-token", "--with-decryption")["Parameter"].(map[string]any)
	if p["Value"] != "tok-123" || p["Type"] != "SecureString" {
		t.Errorf("get-parameter --with-decryption: %v", p)
	}
	if p := run("ssm", "get-parameter", "--name", "/hello/api-token")["Parameter"].(map[string]any); strings.Contains(p["Value"].(string), "tok-123") {
		t.Errorf("without decryption: %v", p)
	}
	list := run("ssm", "get-parameters-by-path", "--path", "/hello", "--with-decryption")["Parameters"].([]any)
	if len(list) != 2 {
		t.Errorf("get-parameters-by-path: %v", list)
	}
	run("ssm", "label-parameter-version", "--name", "/hello/stage", "--parameter-version", "1", "--labels", "first")
	if p := run("ssm", "get-parameter", "--name", "/hello/stage:first")["Parameter"].(map[string]any); p["Value"] != "dev" {
		t.Errorf("by label: %v", p)
	}
	for _, c := range []struct {
		name, code string
		args       []string
	}{
		{"exists", "ParameterAlreadyExists", []string{"ssm", "put-parameter", "--name", "/hello/stage", "--type", "String", "--value", "x"}},
		{"not found", "ParameterNotFound", []string{"ssm", "get-parameter", "--name", "/hello/none"}},
		{"unknown key", "InvalidKeyId", []string{"ssm", "put-parameter", "--name", "/hello/s", "--type", "SecureString", "--key-id", "alias/none", "--value", "v"}},
	} {
		r := s.runAWS(t, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, "("+c.code+")") {
			t.Errorf("%s: exit %d, %s; want (%s)", c.name, r.code, r.stderr, c.code)
		}
	}
}
