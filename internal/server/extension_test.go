package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// extensionReader reads through the extension on localhost:2773 (with
// the session token, or a forged one) and through boto3.
const extensionReader = `import json, os, urllib.error, urllib.request
import boto3

def get(path, token):
    req = urllib.request.Request("http://localhost:2773" + path)
    req.add_header("X-Aws-Parameters-Secrets-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return [r.status, json.loads(r.read())]
    except urllib.error.HTTPError as e:
        return [e.code, e.read().decode()]

def handler(event, context):
    token = "forged" if event.get("forge") else os.environ["AWS_SESSION_TOKEN"]
    out = {}
    if "secret" in event:
        out["secret"] = get("/secretsmanager/get?secretId=" + event["secret"], token)
    if "param" in event:
        out["param"] = get("/systemsmanager/parameters/get?name=" + event["param"] + "&withDecryption=true", token)
        try:
            out["sdk"] = boto3.client("ssm").get_parameter(Name=event["param"], WithDecryption=True)["Parameter"]["Value"]
        except Exception as e:
            out["sdk"] = type(e).__name__
    return out
`

// TestParametersAndSecretsExtension: seed 003's SecureString read through
// the extension and through boto3 by a role allowed exactly that (and
// refused both ways without ssm:GetParameter), the token check, and seed
// 004's secret read through the extension, rotated, and read again at
// once with the new AWSCURRENT (a write evicts the cached answer in every
// environment; an unchanged value is served from the cache).
func TestParametersAndSecretsExtension(t *testing.T) {
	ts := servertest.Start(t)
	requireSandbox(t, ts.Server)
	if err := exec.Command("/usr/bin/python3", "-c", "import boto3").Run(); err != nil {
		if servertest.RequireAll() {
			t.Fatalf("Debian's python3-boto3 is not installed (apt-get install python3-boto3): %v", err)
		}
		t.Skipf("needs Debian's python3-boto3: %v", err)
	}
	ctx := context.Background()
	acct := ts.AccountID()
	admin := adminCreds(ts)
	key, err := kmsClient(ts, admin).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	if _, err := ssmClient(ts, admin).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/hello/api-token"), Type: ssmtypes.ParameterTypeSecureString,
		KeyId: aws.String(keyARN), Value: aws.String("tok-4c2e9a")}); err != nil {
		t.Fatal(err)
	}
	sm := smClient(ts, admin)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db/creds"), SecretString: aws.String(`{"username":"app","password":"first-77ab"}`)}); err != nil {
		t.Fatal(err)
	}
	// Seed 003's policy, plus reading the database secret.
	seed003 := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":%q},
		{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":"arn:aws:ssm:us-east-1:%s:parameter/hello/api-token"},
		{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:%s:secret:db/creds-*"}]}`, keyARN, acct, acct)
	noSSM := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":%q}]}`, keyARN)
	lc := lambdaClient(ts)
	mkFunction := func(name, policy string) {
		role, err := ts.IAM.CreateRole(ctx, name+"-role", "/", "", servertest.LambdaTrustPolicy, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, name+"-role", "p", policy); err != nil {
			t.Fatal(err)
		}
		if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython311,
			Handler: aws.String("app.handler"), Role: aws.String(ts.IAM.RoleARN(role)), Timeout: aws.Int32(60),
			Code: &ltypes.FunctionCode{ZipFile: zipOf(t, map[string]string{"app.py": extensionReader})}}); err != nil {
			t.Fatal(err)
		}
	}
	mkFunction("reader", seed003)
	mkFunction("no-ssm", noSSM)
	type reply struct {
		Secret []json.RawMessage
		Param  []json.RawMessage
		SDK    string
	}
	invoke := func(fn, event string) reply {
		t.Helper()
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(event)})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("Invoke %s: %v %s", fn, err, out.Payload)
		}
		var r reply
		if err := json.Unmarshal(out.Payload, &r); err != nil {
			t.Fatalf("%s: %v", out.Payload, err)
		}
		return r
	}
	status := func(pair []json.RawMessage) string {
		if len(pair) != 2 {
			return "none"
		}
		return string(pair[0])
	}
	secretString := func(pair []json.RawMessage) string {
		var v struct{ SecretString string }
		if len(pair) == 2 {
			json.Unmarshal(pair[1], &v)
		}
		return v.SecretString
	}
	// Seed 003: the SecureString both ways.
	r := invoke("reader", `{"param":"/hello/api-token","secret":"db/creds"}`)
	var p struct{ Parameter struct{ Value string } }
	json.Unmarshal(r.Param[1], &p)
	if status(r.Param) != "200" || p.Parameter.Value != "tok-4c2e9a" || r.SDK != "tok-4c2e9a" {
		t.Errorf("reader, the SecureString: extension %s %s, boto3 %q", status(r.Param), r.Param, r.SDK)
	}
	if status(r.Secret) != "200" || secretString(r.Secret) != `{"username":"app","password":"first-77ab"}` {
		t.Errorf("reader, the secret through the extension: %s", r.Secret)
	}
	r = invoke("no-ssm", `{"param":"/hello/api-token"}`)
	if status(r.Param) != "403" || !strings.Contains(string(r.Param[1]), "AccessDeniedException") || r.SDK != "ClientError" {
		t.Errorf("a role without ssm:GetParameter: extension %s, boto3 %q", r.Param, r.SDK)
	}
	r = invoke("reader", `{"param":"/hello/api-token","secret":"db/creds","forge":true}`)
	if status(r.Param) != "403" || status(r.Secret) != "403" {
		t.Errorf("a forged token: %s %s", r.Param, r.Secret)
	}
	// An unchanged value comes from the environment's cache: no
	// GetSecretValue reaches Signet.
	reads := strings.Count(auditEvents(t, ts, "secretsmanager:GetSecretValue"), "assumed-role/reader-role/reader")
	if r := invoke("reader", `{"secret":"db/creds"}`); secretString(r.Secret) != `{"username":"app","password":"first-77ab"}` {
		t.Errorf("a second read: %s", r.Secret)
	}
	if n := strings.Count(auditEvents(t, ts, "secretsmanager:GetSecretValue"), "assumed-role/reader-role/reader"); n != reads {
		t.Errorf("a second read within the TTL reached Signet: %d GetSecretValue records, was %d", n, reads)
	}
	// Seed 004: the secret rotates (AWS's template shape, its own role);
	// the next read, well within the 300 s TTL, has the new password.
	rotRole, err := ts.IAM.CreateRole(ctx, "rotation-role", "/", "", servertest.LambdaTrustPolicy, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, "rotation-role", "p", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile(filepath.Join("testdata", "rotation", "lambda_function.py"))
	if err != nil {
		t.Fatal(err)
	}
	fn, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("rotator"), Runtime: ltypes.RuntimePython311,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.IAM.RoleARN(rotRole)), Timeout: aws.Int32(60),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(t, map[string]string{"lambda_function.py": string(code)})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("db/creds"), RotationLambdaARN: fn.FunctionArn,
		RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 3*time.Minute, "the rotation to finish", func() bool {
		d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db/creds")})
		return err == nil && d.LastRotatedDate != nil
	})
	cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db/creds")})
	if err != nil {
		t.Fatal(err)
	}
	if r := invoke("reader", `{"secret":"db/creds"}`); secretString(r.Secret) != aws.ToString(cur.SecretString) || strings.Contains(secretString(r.Secret), "first-77ab") {
		t.Errorf("the read after the rotation: %s, want the new AWSCURRENT %s", r.Secret, aws.ToString(cur.SecretString))
	}
}
