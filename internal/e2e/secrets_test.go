package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAWSCLISecretsManager: the real AWS CLI creates a secret under a
// customer key, reads it, puts a new value, moves a stage, describes and
// lists it, and starts a rotation with a function: rotate-secret returns
// at once, a second one is refused with AWS's message, and
// describe-secret shows the rotation configured.
func TestAWSCLISecretsManager(t *testing.T) {
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
	run("kms", "create-alias", "--alias-name", "alias/db-secrets", "--target-key-id", key)
	const v1, v2 = `{"username":"app","password":"first-6c1d"}`, `{"username":"app","password":"second-9a4e"}`
	created := run("secretsmanager", "create-secret", "--name", "prod/db", "--kms-key-id", "alias/db-secrets", "--secret-string", v1)
	arn := created["ARN"].(string)
	if !strings.Contains(arn, ":secret:prod/db-") {
		t.Fatalf("create-secret: %v", created)
	}
	if g := run("secretsmanager", "get-secret-value", "--secret-id", "prod/db"); g["SecretString"] != v1 {
		t.Errorf("get-secret-value: %v", g)
	}
	put := run("secretsmanager", "put-secret-value", "--secret-id", arn, "--secret-string", v2)
	if g := run("secretsmanager", "get-secret-value", "--secret-id", "prod/db"); g["SecretString"] != v2 || g["VersionId"] != put["VersionId"] {
		t.Errorf("after put-secret-value: %v", g)
	}
	if g := run("secretsmanager", "get-secret-value", "--secret-id", "prod/db", "--version-stage", "AWSPREVIOUS"); g["SecretString"] != v1 {
		t.Errorf("AWSPREVIOUS: %v", g)
	}
	run("secretsmanager", "update-secret-version-stage", "--secret-id", "prod/db", "--version-stage", "AWSCURRENT",
		"--move-to-version-id", created["VersionId"].(string), "--remove-from-version-id", put["VersionId"].(string))
	if g := run("secretsmanager", "get-secret-value", "--secret-id", "prod/db"); g["SecretString"] != v1 {
		t.Errorf("after moving AWSCURRENT back: %v", g)
	}
	d := run("secretsmanager", "describe-secret", "--secret-id", "prod/db")
	if !strings.HasSuffix(d["KmsKeyId"].(string), key) || len(d["VersionIdsToStages"].(map[string]any)) != 2 {
		t.Errorf("describe-secret: %v", d)
	}
	if l := run("secretsmanager", "list-secrets", "--filters", "Key=name,Values=prod/")["SecretList"].([]any); len(l) != 1 {
		t.Errorf("list-secrets: %v", l)
	}
	for _, c := range []struct {
		name, code string
		args       []string
	}{
		{"exists", "ResourceExistsException", []string{"secretsmanager", "create-secret", "--name", "prod/db", "--secret-string", "x"}},
		{"not found", "ResourceNotFoundException", []string{"secretsmanager", "get-secret-value", "--secret-id", "prod/none"}},
		{"no function", "InvalidRequestException", []string{"secretsmanager", "rotate-secret", "--secret-id", "prod/db"}},
	} {
		r := s.runAWS(t, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, "("+c.code+")") {
			t.Errorf("%s: exit %d, %s; want (%s)", c.name, r.code, r.stderr, c.code)
		}
	}
	if !s.sandboxesAvailable(t) {
		return
	}
	pkg := filepath.Join(s.home, "rotator.zip")
	os.WriteFile(pkg, zipOf(t, map[string]string{"app.py": "def handler(event, context):\n    print(event['Step'])\n"}), 0o644)
	fn := run("lambda", "create-function", "--function-name", "rotator", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", s.lambdaRole(t), "--zip-file", "fileb://"+pkg)["FunctionArn"].(string)
	rot := run("secretsmanager", "rotate-secret", "--secret-id", "prod/db", "--rotation-lambda-arn", fn, "--rotation-rules", "AutomaticallyAfterDays=30")
	if rot["VersionId"] == nil {
		t.Fatalf("rotate-secret: %v", rot)
	}
	if r := s.runAWS(t, "secretsmanager", "rotate-secret", "--secret-id", "prod/db"); r.code == 0 ||
		!strings.Contains(r.stderr, "A previous rotation isn't complete. That rotation will be reattempted.") {
		t.Errorf("second rotate-secret: exit %d %s", r.code, r.stderr)
	}
	d = run("secretsmanager", "describe-secret", "--secret-id", "prod/db")
	if d["RotationEnabled"] != true || d["RotationLambdaARN"] != fn || d["RotationRules"].(map[string]any)["AutomaticallyAfterDays"] != float64(30) {
		t.Errorf("describe-secret after rotate-secret: %v", d)
	}
	// This function does not move AWSCURRENT (it calls no API): the
	// rotation fails at finishSecret and AWSCURRENT stays.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		sec, err := s.srv.Secrets.Find(t.Context(), "prod/db")
		if err != nil {
			t.Fatal(err)
		}
		if sec.Rotation.FailedStep != "" {
			if sec.Rotation.FailedStep != "finishSecret" || !strings.Contains(sec.Rotation.Failure, "AWSCURRENT") {
				t.Errorf("rotation failure: %+v", sec.Rotation)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rotation did not end in 2 minutes: %+v", sec.Rotation)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if g := run("secretsmanager", "get-secret-value", "--secret-id", "prod/db"); g["SecretString"] != v1 {
		t.Errorf("AWSCURRENT after the failed rotation: %v", g)
	}
}
