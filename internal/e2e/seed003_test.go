package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// seed003Function reads the API token both ways seed 003 recommends:
// decrypting a KMS ciphertext from its variables, and reading the
// SecureString through boto3 and through the extension on
// localhost:2773. It reports what each way gave.
const seed003Function = `import base64, json, os, urllib.error, urllib.request
import boto3

def lambda_handler(event, context):
    out = {}
    try:
        blob = base64.b64decode(os.environ["ENC_API_TOKEN"])
        out["kms"] = boto3.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"].decode()
    except Exception as e:
        out["kms"] = getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)
    try:
        out["ssm"] = boto3.client("ssm").get_parameter(Name="/hello/api-token", WithDecryption=True)["Parameter"]["Value"]
    except Exception as e:
        out["ssm"] = getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)
    req = urllib.request.Request("http://localhost:2773/systemsmanager/parameters/get?name=/hello/api-token&withDecryption=true")
    req.add_header("X-Aws-Parameters-Secrets-Token", os.environ["AWS_SESSION_TOKEN"])
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            out["extension"] = json.loads(r.read())["Parameter"]["Value"]
    except urllib.error.HTTPError as e:
        out["extension"] = "HTTP %d" % e.code
    return out
`

// TestAWSCLISeed003: seed 003's two patterns end to end with the AWS
// CLI: an API token KMS-encrypted into a function's variable and
// decrypted by the function with kms:Decrypt scoped to that key, and a
// SecureString read with boto3 get_parameter(WithDecryption=True) and
// through localhost:2773 with ssm:GetParameter scoped to that parameter;
// an identical function whose role lacks the permissions is refused each
// way.
func TestAWSCLISeed003(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	if !s.sandboxesAvailable(t) {
		return
	}
	if exec.Command("/usr/bin/python3", "-c", "import boto3").Run() != nil {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatal("Debian's python3-boto3 is not installed (apt-get install python3-boto3)")
		}
		t.Skip("needs Debian's python3-boto3 (apt-get install python3-boto3)")
	}
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
	const token = "tok-seed003-8d41c7"
	keyARN := run("kms", "create-key", "--description", "lambda-params")["KeyMetadata"].(map[string]any)["Arn"].(string)
	run("kms", "create-alias", "--alias-name", "alias/lambda-params", "--target-key-id", keyARN)
	plain := filepath.Join(s.home, "token.txt")
	os.WriteFile(plain, []byte(token), 0o600)
	enc := run("kms", "encrypt", "--key-id", "alias/lambda-params", "--plaintext", "fileb://"+plain)["CiphertextBlob"].(string)
	run("ssm", "put-parameter", "--name", "/hello/api-token", "--type", "SecureString", "--key-id", "alias/lambda-params", "--value", token)
	paramARN := run("ssm", "get-parameter", "--name", "/hello/api-token")["Parameter"].(map[string]any)["ARN"].(string)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	pkg := filepath.Join(s.home, "seed003.zip")
	os.WriteFile(pkg, zipOf(t, map[string]string{"lambda_function.py": seed003Function}), 0o644)
	for _, tc := range []struct {
		name, policy        string
		kms, ssm, extension string
	}{
		{"allowed", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":%q},{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":%q}]}`, keyARN, paramARN),
			token, token, token},
		{"refused", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}`,
			"AccessDeniedException", "AccessDeniedException", "HTTP 403"},
	} {
		role := run("iam", "create-role", "--role-name", "seed003-"+tc.name, "--assume-role-policy-document", trust)["Role"].(map[string]any)["Arn"].(string)
		run("iam", "put-role-policy", "--role-name", "seed003-"+tc.name, "--policy-name", "secrets", "--policy-document", tc.policy)
		fn := "hello-" + tc.name
		run("lambda", "create-function", "--function-name", fn, "--runtime", "python3.11", "--handler", "lambda_function.lambda_handler",
			"--role", role, "--timeout", "60", "--zip-file", "fileb://"+pkg, "--environment", "Variables={ENC_API_TOKEN="+enc+"}")
		resp := filepath.Join(s.home, fn+".json")
		out := run("lambda", "invoke", "--function-name", fn, resp)
		if out["FunctionError"] != nil {
			b, _ := os.ReadFile(resp)
			t.Fatalf("%s: %v %s", fn, out, b)
		}
		var got struct{ KMS, SSM, Extension string }
		b, _ := os.ReadFile(resp)
		json.Unmarshal(b, &got)
		if got.KMS != tc.kms || got.SSM != tc.ssm || got.Extension != tc.extension {
			t.Errorf("%s: kms %q, boto3 ssm %q, extension %q; want %q, %q, %q", fn, got.KMS, got.SSM, got.Extension, tc.kms, tc.ssm, tc.extension)
		}
	}
}
