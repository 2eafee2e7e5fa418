package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// TestFunctionEnvironmentKMS: variables under a customer key (KMSKeyArn)
// are stored encrypted under it with aws:lambda:FunctionArn as context;
// GetFunctionConfiguration shows them only to a caller allowed
// kms:Decrypt (others get Environment.Error); Invoke decrypts them, and
// fails with Lambda's KMS*Exception when the key cannot; setting a key
// needs kms:Encrypt on it; the 4 KB limit holds without echoing values;
// and seed 003's encrypted helper (a ciphertext in a variable, decrypted
// by the function) works for a role allowed kms:Decrypt on that key only.
func TestFunctionEnvironmentKMS(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	acct := ts.AccountID()
	kc := kmsClient(ts, adminCreds(ts))
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	if _, err := kc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/lambda-env"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	lc := lambdaClient(ts)
	const token = "tok-5e1f0c9b7a"
	code := "import os, base64\nimport boto3\ndef handler(event, context):\n" +
		"    out = {'token': os.environ.get('API_TOKEN')}\n" +
		"    if os.environ.get('ENC_TOKEN'):\n        try:\n" +
		"            out['helper'] = boto3.client('kms').decrypt(CiphertextBlob=base64.b64decode(os.environ['ENC_TOKEN']))['Plaintext'].decode()\n" +
		"        except Exception as e:\n            out['helper'] = type(e).__name__ + ' ' + getattr(e, 'response', {}).get('Error', {}).get('Code', '')\n" +
		"    return out\n"
	zip := zipOf(t, map[string]string{"app.py": code})
	create := func(name, role string, env map[string]string, keyRef string) error {
		in := &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython311, Handler: aws.String("app.handler"),
			Role: aws.String(role), Timeout: aws.Int32(30), Code: &ltypes.FunctionCode{ZipFile: zip}, Environment: &ltypes.Environment{Variables: env}}
		if keyRef != "" {
			in.KMSKeyArn = aws.String(keyRef)
		}
		_, err := lc.CreateFunction(ctx, in)
		return err
	}
	if err := create("secret-env", ts.LambdaRole(t), map[string]string{"API_TOKEN": token}, "alias/lambda-env"); err != nil {
		t.Fatal(err)
	}
	f, err := ts.DB().Lambda.Function(ctx, "secret-env")
	if err != nil {
		t.Fatal(err)
	}
	if f.Environment != nil || f.EncryptedEnvironment == nil || f.KMSKeyARN != keyARN || strings.Contains(string(f.EncryptedEnvironment), token) {
		t.Fatalf("stored: environment %v, key %q, %d encrypted bytes", f.Environment, f.KMSKeyARN, len(f.EncryptedEnvironment))
	}
	cfg, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("secret-env")})
	if err != nil || cfg.Environment == nil || cfg.Environment.Variables["API_TOKEN"] != token || aws.ToString(cfg.KMSKeyArn) != keyARN {
		t.Fatalf("GetFunctionConfiguration by the administrator: %v %+v", err, cfg)
	}
	viewer := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Retryer: aws.NopRetryer{},
		Credentials: userCredentials(t, ts, "viewer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:Get*","Resource":"*"}]}`)})
	for _, get := range []func() (*ltypes.EnvironmentResponse, error){
		func() (*ltypes.EnvironmentResponse, error) {
			out, err := viewer.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("secret-env")})
			if err != nil {
				return nil, err
			}
			return out.Environment, nil
		},
		func() (*ltypes.EnvironmentResponse, error) {
			out, err := viewer.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("secret-env")})
			if err != nil {
				return nil, err
			}
			return out.Configuration.Environment, nil
		},
	} {
		env, err := get()
		if err != nil || env == nil || env.Variables != nil || env.Error == nil || aws.ToString(env.Error.ErrorCode) != "AccessDeniedException" {
			t.Errorf("a caller without kms:Decrypt: %v %+v", err, env)
		}
	}
	// Setting a key needs kms:Encrypt on it.
	deployer := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Retryer: aws.NopRetryer{},
		Credentials: userCredentials(t, ts, "deployer", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:*","iam:PassRole"],"Resource":"*"}]}`))})
	_, err = deployer.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("secret-env"), KMSKeyArn: aws.String(keyARN),
		Environment: &ltypes.Environment{Variables: map[string]string{"API_TOKEN": "other"}}})
	if apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "kms:Encrypt") {
		t.Errorf("UpdateFunctionConfiguration with a key, without kms:Encrypt: %v", err)
	}
	// Moving the variables off the key (or to another) without giving
	// them needs kms:Decrypt on the current key: else the response, and
	// every later GetFunction, would show them.
	mover := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Retryer: aws.NopRetryer{},
		Credentials: userCredentials(t, ts, "mover", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:*","iam:PassRole"],"Resource":"*"},{"Effect":"Allow","Action":"kms:Encrypt","Resource":%q}]}`, keyARN))})
	for _, to := range []string{"", keyARN} {
		_, err = mover.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("secret-env"), KMSKeyArn: aws.String(to)})
		if apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "kms:Decrypt") {
			t.Errorf("KMSKeyArn=%q without the variables and without kms:Decrypt: %v", to, err)
		}
	}
	if f, _ := ts.DB().Lambda.Function(ctx, "secret-env"); f.EncryptedEnvironment == nil {
		t.Fatal("the variables left the key")
	}
	// Names as Lambda takes them: its pattern (a name holding "=" would
	// smuggle another variable into the runtime), not its reserved ones.
	for _, tc := range []struct{ name, want string }{
		{"NODE_OPTIONS=--import=data:x", "regular expression pattern"},
		{"AWS_REGION", "reserved keys"},
		{"AWS_SESSION_TOKEN", "reserved keys"},
	} {
		if err := create("bad-name", ts.LambdaRole(t), map[string]string{tc.name: "x"}, ""); apiCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("a variable named %q: %v", tc.name, err)
		}
	}
	// The 4 KB limit, without the values in the message.
	big := map[string]string{"AA": strings.Repeat("v", 2500), "BB": strings.Repeat("w", 2500) + "secretish"}
	if err := create("too-big", ts.LambdaRole(t), big, ""); apiCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), "4KB") || strings.Contains(err.Error(), "secretish") {
		t.Errorf("5 KB of variables: %v", err)
	}
	if ts.Server.Invoke.Pool == nil {
		requireSandbox(t, ts.Server)
	}
	invoke := func(name string) (string, error) {
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name)})
		if err != nil {
			return "", err
		}
		return string(out.Payload), nil
	}
	if out, err := invoke("secret-env"); err != nil || !strings.Contains(out, `"token": "`+token+`"`) {
		t.Errorf("Invoke with variables under the key: %v %s", err, out)
	}
	// A disabled key, then one pending deletion: Lambda's 502 errors.
	if _, err := kc.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := invoke("secret-env"); apiCode(err) != "KMSDisabledException" {
		t.Errorf("Invoke with the key disabled: %v", err)
	}
	if _, err := kc.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyARN), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := invoke("secret-env"); apiCode(err) != "KMSInvalidStateException" {
		t.Errorf("Invoke with the key pending deletion: %v", err)
	}
	if _, err := kc.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	kc.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyARN)})
	// Seed 003's encrypted helper: the function decrypts a ciphertext
	// from its variables with kms:Decrypt on that one key.
	enc, err := kc.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte(token)})
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"ENC_TOKEN": base64.StdEncoding.EncodeToString(enc.CiphertextBlob)}
	for _, tc := range []struct{ name, policy, want string }{
		{"helper-allowed", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":%q}]}`, keyARN), `"helper": "` + token + `"`},
		{"helper-denied", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:kms:us-east-1:%s:key/00000000-0000-0000-0000-000000000000"}]}`, acct), `"helper": "ClientError AccessDeniedException"`},
	} {
		role, err := ts.IAM.CreateRole(ctx, tc.name+"-role", "/", "", servertest.LambdaTrustPolicy, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, tc.name+"-role", "p", tc.policy); err != nil {
			t.Fatal(err)
		}
		if err := create(tc.name, ts.IAM.RoleARN(role), vars, ""); err != nil {
			t.Fatal(err)
		}
		if out, err := invoke(tc.name); err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %v %s, want %s", tc.name, err, out, tc.want)
		}
	}
}
