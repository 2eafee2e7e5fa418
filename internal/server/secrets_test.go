package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/logs"
	"github.com/signet/signet/internal/server/servertest"
)

func smClient(ts *servertest.Server, creds aws.CredentialsProvider) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds, Retryer: aws.NopRetryer{}})
}

func adminCreds(ts *servertest.Server) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, "")
}

// describeRaw is DescribeSecret's response body, with the fields the
// SDK does not know.
func describeRaw(t *testing.T, ts *servertest.Server, id string) []byte {
	t.Helper()
	body := fmt.Sprintf(`{"SecretId":%q}`, id)
	req, _ := http.NewRequest("POST", ts.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.DescribeSecret")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), ts.Creds, req, hex.EncodeToString(sum[:]), "secretsmanager", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// functionLogs is everything a function logged.
func functionLogs(t *testing.T, ts *servertest.Server, fn string) string {
	t.Helper()
	events, err := ts.DB().Logs.LogEvents(context.Background(), logs.Query{Group: "/aws/lambda/" + fn})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range events {
		b.WriteString(e.Message + "\n")
	}
	return b.String()
}

// waitForLogs waits (with a deadline) until a function's log holds
// every line wanted, and returns it.
func waitForLogs(t *testing.T, ts *servertest.Server, fn string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		logs := functionLogs(t, ts, fn)
		missing := ""
		for _, w := range want {
			if !strings.Contains(logs, w) {
				missing = w
			}
		}
		if missing == "" {
			return logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log of %s lacks %s:\n%s", fn, missing, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitUntil polls cond until it holds, failing the test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// auditEvents is the JSON of the audit events of an action.
func auditEvents(t *testing.T, ts *servertest.Server, action string) string {
	t.Helper()
	recs, err := ts.AuditDB().Audit.AuditRecords(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, r := range recs {
		if r.Event.Action == action {
			b, _ := json.Marshal(r.Event)
			out = append(append(out, b...), '\n')
		}
	}
	return string(out)
}

// TestSecretsManager: the SDK's create, read by stage and version, put,
// stage moves, describe, list with filters, versions, tags, policies,
// deletion with recovery, and the error codes AWS gives; values are
// never stored in clear.
func TestSecretsManager(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	c := smClient(ts, adminCreds(ts))
	const v1, v2 = `{"username":"app","password":"p-3b9d6f1a7c2e"}`, `{"username":"app","password":"p-8e4a2c6b0d1f"}`
	created, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/db"), SecretString: aws.String(v1),
		Description: aws.String("the database"), Tags: []smtypes.Tag{{Key: aws.String("team"), Value: aws.String("payments")}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.ARN)
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:"+ts.Server.AccountID()+":secret:prod/db-") || created.VersionId == nil {
		t.Fatalf("CreateSecret: %s %v", arn, created.VersionId)
	}
	get, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db")})
	if err != nil || aws.ToString(get.SecretString) != v1 || !slices.Equal(get.VersionStages, []string{"AWSCURRENT"}) || aws.ToString(get.ARN) != arn {
		t.Fatalf("GetSecretValue: %v %+v", err, get)
	}
	put, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(v2)})
	if err != nil {
		t.Fatal(err)
	}
	prev, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(prev.SecretString) != v1 {
		t.Errorf("AWSPREVIOUS: %v %v", err, prev)
	}
	bin, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("certs/key"), SecretBinary: []byte{0, 1, 2, 0xff}})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: bin.ARN}); err != nil || !bytes.Equal(b.SecretBinary, []byte{0, 1, 2, 0xff}) || b.SecretString != nil {
		t.Errorf("binary secret: %v %+v", err, b)
	}
	// Stages: AWSCURRENT moves back only with RemoveFromVersionId.
	_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("prod/db"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: created.VersionId})
	if apiCode(err) != "InvalidParameterException" {
		t.Errorf("stage move without RemoveFromVersionId: %v", err)
	}
	if _, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("prod/db"), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: created.VersionId, RemoveFromVersionId: put.VersionId}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("prod/db")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.VersionIdsToStages[aws.ToString(created.VersionId)], []string{"AWSCURRENT"}) || !slices.Equal(d.VersionIdsToStages[aws.ToString(put.VersionId)], []string{"AWSPREVIOUS"}) ||
		aws.ToString(d.Description) != "the database" || len(d.Tags) != 1 || d.KmsKeyId != nil || d.CreatedDate == nil || aws.ToBool(d.RotationEnabled) {
		t.Errorf("DescribeSecret: %+v", d)
	}
	// BatchGetSecretValue: values and per-secret errors.
	batch, err := c.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"prod/db", "nope"}})
	if err != nil || len(batch.SecretValues) != 1 || aws.ToString(batch.SecretValues[0].SecretString) != v1 || len(batch.Errors) != 1 || aws.ToString(batch.Errors[0].ErrorCode) != "ResourceNotFoundException" {
		t.Errorf("BatchGetSecretValue: %v %+v", err, batch)
	}
	// ListSecrets: filters and paging.
	for i := range 3 {
		if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("dev/app%d", i)), SecretString: aws.String("x")}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var token *string
	for {
		l, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{"dev/"}}}, MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l.SecretList {
			names = append(names, aws.ToString(s.Name))
		}
		if token = l.NextToken; token == nil {
			break
		}
	}
	if !slices.Equal(names, []string{"dev/app0", "dev/app1", "dev/app2"}) {
		t.Errorf("ListSecrets name filter, 2 a page: %v", names)
	}
	l, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeTagValue, Values: []string{"pay"}}}})
	if err != nil || len(l.SecretList) != 1 || aws.ToString(l.SecretList[0].Name) != "prod/db" {
		t.Errorf("ListSecrets tag-value filter: %v %+v", err, l)
	}
	vs, err := c.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("prod/db")})
	if err != nil || len(vs.Versions) != 2 {
		t.Errorf("ListSecretVersionIds: %v %+v", err, vs)
	}
	pw, err := c.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(24), ExcludePunctuation: aws.Bool(true)})
	if err != nil || len(aws.ToString(pw.RandomPassword)) != 24 || strings.ContainsAny(aws.ToString(pw.RandomPassword), "!#$%&()*+,-./:;<=>?@[]^_`{|}~") {
		t.Errorf("GetRandomPassword: %v %v", err, pw)
	}
	// Deletion with a recovery window, refused twice, restored.
	del, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("dev/app0"), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil || del.DeletionDate == nil || del.DeletionDate.Sub(time.Now()) < 6*24*time.Hour {
		t.Fatalf("DeleteSecret: %v %+v", err, del)
	}
	errCases := []struct {
		name, code, msg string
		err             error
	}{
		{"delete twice", "InvalidRequestException", "already scheduled for deletion", second(c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("dev/app0")}))},
		{"read deleted", "InvalidRequestException", "marked for deletion", second(c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("dev/app0")}))},
		{"unknown", "ResourceNotFoundException", "can't find the specified secret", second(c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")}))},
		{"exists", "ResourceExistsException", "already exists", second(c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/db"), SecretString: aws.String("x")}))},
		{"both values", "InvalidParameterException", "both a binary", second(c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("x"), SecretString: aws.String("x"), SecretBinary: []byte("y")}))},
		{"window", "InvalidParameterException", "between 7 and 30", second(c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("prod/db"), RecoveryWindowInDays: aws.Int64(31)}))},
		{"no stage", "ResourceNotFoundException", "staging label: AWSPENDING", second(c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db"), VersionStage: aws.String("AWSPENDING")}))},
		{"policy", "MalformedPolicyDocumentException", "syntax error", second(c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("prod/db"), ResourcePolicy: aws.String(`{"Version":"2012-10-17"}`)}))},
		{"unknown key", "InvalidParameterException", "not usable", second(c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("k"), SecretString: aws.String("x"), KmsKeyId: aws.String("alias/none")}))},
		{"too large", "InvalidParameterException", "maximum size", second(c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("prod/db"), SecretString: aws.String(strings.Repeat("x", 65537))}))},
		{"no rotation function", "InvalidRequestException", "No Lambda rotation function", second(c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("prod/db")}))},
	}
	for _, tc := range errCases {
		if apiCode(tc.err) != tc.code || !strings.Contains(fmt.Sprint(tc.err), tc.msg) {
			t.Errorf("%s: %v, want %s containing %q", tc.name, tc.err, tc.code, tc.msg)
		}
	}
	if _, err := c.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("dev/app0")}); err != nil {
		t.Fatal(err)
	}
	if g, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("dev/app0")}); err != nil || aws.ToString(g.SecretString) != "x" {
		t.Errorf("after RestoreSecret: %v %v", err, g)
	}
	if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("dev/app1"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("dev/app1")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("after a forced delete: %v", err)
	}
	// Nothing of any value is in the data directory in clear.
	filepath.Walk(ts.Config().DataDir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, v := range []string{"p-3b9d6f1a7c2e", "p-8e4a2c6b0d1f"} {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds a secret value in clear", p)
			}
		}
		return nil
	})
}

func second[A any](_ A, err error) error { return err }

// TestSecretsAuthorization: GetSecretValue needs kms:Decrypt on the key as
// well as the secret's own permission (the AWS managed key only through
// Secrets Manager), a resource policy allows another principal, and
// RotateSecret needs lambda:InvokeFunction on the rotation function.
func TestSecretsAuthorization(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	admin := smClient(ts, adminCreds(ts))
	acct := ts.Server.AccountID()
	key, err := kmsClient(ts, adminCreds(ts)).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	mk := func(name, kmsKey string) string {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("value-of-" + name)}
		if kmsKey != "" {
			in.KmsKeyId = aws.String(kmsKey)
		}
		out, err := admin.CreateSecret(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	defaultARN := mk("app/default", "")
	customARN := mk("app/custom", keyARN)
	otherARN := mk("other/secret", "")
	getOnly := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:%s:secret:app/*"}]}`, acct)
	getAndDecrypt := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:%s:secret:app/*"},
		{"Effect":"Allow","Action":"kms:Decrypt","Resource":%q}]}`, acct, keyARN)
	readers := map[string]*secretsmanager.Client{
		"get only":        smClient(ts, userCredentials(t, ts, "get-only", getOnly)),
		"get and decrypt": smClient(ts, userCredentials(t, ts, "get-decrypt", getAndDecrypt)),
		"nothing":         smClient(ts, userCredentials(t, ts, "nothing", "")),
	}
	tests := []struct {
		who, secret string
		want        string // "" allowed, else the error code
	}{
		// The AWS managed key allows every principal of the account
		// through Secrets Manager: the secret's permission decides.
		{"get only", defaultARN, ""},
		{"get only", "app/default", ""},
		// A customer key's policy delegates to IAM, which lacks kms:Decrypt.
		{"get only", customARN, "AccessDeniedException"},
		{"get and decrypt", customARN, ""},
		{"get and decrypt", otherARN, "AccessDeniedException"},
		{"nothing", defaultARN, "AccessDeniedException"},
	}
	for _, tc := range tests {
		out, err := readers[tc.who].GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(tc.secret)})
		if apiCode(err) != tc.want {
			t.Errorf("%s reads %s: %v, want %q", tc.who, tc.secret, err, tc.want)
		} else if err == nil && !strings.HasPrefix(aws.ToString(out.SecretString), "value-of-") {
			t.Errorf("%s reads %s: %q", tc.who, tc.secret, aws.ToString(out.SecretString))
		} else if err != nil && strings.Contains(err.Error(), "value-of-") {
			t.Errorf("the refusal carries the value: %v", err)
		}
	}
	// A batch with a secret refused: its audit record names the one
	// released.
	batchReader := smClient(ts, userCredentials(t, ts, "batch-reader", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:BatchGetSecretValue","Resource":"*"},
		{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:%s:secret:app/*"},{"Effect":"Allow","Action":"kms:Decrypt","Resource":%q}]}`, acct, keyARN)))
	if out, err := batchReader.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{customARN, otherARN}}); err != nil ||
		len(out.SecretValues) != 1 || len(out.Errors) != 1 {
		t.Errorf("BatchGetSecretValue, one allowed and one refused: %v %+v", err, out)
	}
	// (The batch's record waits for durability before the response: it is there.)
	if ev := auditEvents(t, ts, "secretsmanager:GetSecretValue") + auditEvents(t, ts, "secretsmanager:BatchGetSecretValue"); !strings.Contains(ev, "released "+customARN+" version ") {
		t.Errorf("the batch's audit record does not name the secret it released: %s", ev)
	}
	// BatchGetSecretValue needs GetSecretValue on every secret, the
	// first included.
	batcher := smClient(ts, userCredentials(t, ts, "batcher", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:BatchGetSecretValue","Resource":"*"}]}`))
	if out, err := batcher.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{defaultARN}}); err != nil || len(out.SecretValues) != 0 ||
		len(out.Errors) != 1 || aws.ToString(out.Errors[0].ErrorCode) != "AccessDeniedException" {
		t.Errorf("BatchGetSecretValue without GetSecretValue: %v %+v", err, out)
	}
	// The AWS managed key is not usable directly.
	userKMS := kmsClient(ts, userCredentials(t, ts, "kms-user", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`))
	if _, err := userKMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/aws/secretsmanager"), Plaintext: []byte("x")}); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("direct use of alias/aws/secretsmanager: %v", err)
	}
	// A resource policy lets "nothing" read app/default.
	pol := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:user/nothing"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`, acct)
	if _, err := admin.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(defaultARN), ResourcePolicy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	if _, err := readers["nothing"].GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(defaultARN)}); err != nil {
		t.Errorf("read allowed by the resource policy: %v", err)
	}
	if gp, err := admin.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(defaultARN)}); err != nil || aws.ToString(gp.ResourcePolicy) != pol {
		t.Errorf("GetResourcePolicy: %v %v", err, gp)
	}
	if _, err := readers["nothing"].GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(otherARN)}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("the policy of one secret allowed another: %v", err)
	}
	if _, err := admin.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: aws.String(defaultARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := readers["nothing"].GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(defaultARN)}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("after DeleteResourcePolicy: %v", err)
	}
	// Writing under a customer key needs kms:GenerateDataKey on it.
	writer := smClient(ts, userCredentials(t, ts, "writer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}`))
	if _, err := writer.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(customARN), SecretString: aws.String("new")}); apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "kms:GenerateDataKey") {
		t.Errorf("put under a customer key without kms permission: %v", err)
	}
	if _, err := writer.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(defaultARN), SecretString: aws.String("new")}); err != nil {
		t.Errorf("put under the managed key: %v", err)
	}
	// Listing shows only what the caller may describe.
	lister := smClient(ts, userCredentials(t, ts, "lister", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:ListSecrets","secretsmanager:DescribeSecret"],"Resource":"arn:aws:secretsmanager:us-east-1:%s:secret:app/*"},{"Effect":"Allow","Action":"secretsmanager:ListSecrets","Resource":"*"}]}`, acct)))
	l, err := lister.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	if err != nil || len(l.SecretList) != 2 {
		t.Errorf("ListSecrets by a principal allowed app/*: %v %d secrets", err, len(l.SecretList))
	}
	// Leaving out what the caller may not describe does not make the
	// request a refusal in the audit log.
	// (A read's record is written in the background: wait for it.)
	var ev string
	for deadline := time.Now().Add(time.Minute); ev == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ev = auditEvents(t, ts, "secretsmanager:ListSecrets")
	}
	if !strings.Contains(ev, `"decision":"Allow"`) || strings.Contains(ev, `"decision":"Deny"`) {
		t.Errorf("the audit record of ListSecrets: %s", ev)
	}
	// RotateSecret needs lambda:InvokeFunction on the function.
	requireSandbox(t, ts.Server)
	lc := lambdaClient(ts)
	fn, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("rotator"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("app.handler"), Role: aws.String(ts.LambdaRole(t)),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(t, map[string]string{"app.py": "def handler(e, c):\n    return None\n"})}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = writer.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(defaultARN), RotationLambdaARN: fn.FunctionArn, RotateImmediately: aws.Bool(false)})
	if apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "lambda:InvokeFunction") {
		t.Errorf("RotateSecret without lambda:InvokeFunction: %v", err)
	}
	_, err = admin.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(defaultARN), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:" + acct + ":function:none"), RotateImmediately: aws.Bool(false)})
	if apiCode(err) != "InvalidRequestException" {
		t.Errorf("RotateSecret with an unknown function: %v", err)
	}
}

// TestSecretRotationWithAFunction: RotateSecret returns at once and the
// worker runs the rotation function's steps with Lambda's event; a
// function that fails testSecret leaves AWSCURRENT where it was, and the
// failure shows in DescribeSecret and the audit log; a second
// RotateSecret is refused with AWS's message meanwhile.
func TestSecretRotationWithAFunction(t *testing.T) {
	ts := servertest.Start(t)
	requireSandbox(t, ts.Server)
	ctx := context.Background()
	c := smClient(ts, adminCreds(ts))
	lc := lambdaClient(ts)
	// The function prints each event and fails at testSecret.
	code := "import json\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event, sort_keys=True))\n" +
		"    if event['Step'] == 'testSecret':\n        raise ValueError('cannot log in with the pending password')\n"
	fn, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("rotator"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("app.handler"), Role: aws.String(ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, map[string]string{"app.py": code})}})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String("original")})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("db"), RotationLambdaARN: fn.FunctionArn,
		RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("db")}); apiCode(err) != "InvalidRequestException" ||
		!strings.Contains(err.Error(), "A previous rotation isn't complete. That rotation will be reattempted.") {
		t.Errorf("second RotateSecret: %v", err)
	}
	// Wait (with a deadline) for the failure to be recorded.
	var d *secretsmanager.DescribeSecretOutput
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err = c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(describeRaw(t, ts, "db")), "SignetLastRotationFailure") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	raw := string(describeRaw(t, ts, "db"))
	if !strings.Contains(raw, `"Step":"testSecret"`) || !strings.Contains(raw, "ValueError") {
		t.Fatalf("DescribeSecret after the failed step: %s", raw)
	}
	// The function's message may hold anything (a secret): it is in the
	// function's log, not in what DescribeSecret shows.
	if strings.Contains(raw, "cannot log in") {
		t.Errorf("DescribeSecret shows the function's error message: %s", raw)
	}
	if !aws.ToBool(d.RotationEnabled) || aws.ToString(d.RotationLambdaARN) != aws.ToString(fn.FunctionArn) || aws.ToInt64(d.RotationRules.AutomaticallyAfterDays) != 30 {
		t.Errorf("rotation configuration: %+v", d)
	}
	if g, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")}); err != nil || aws.ToString(g.SecretString) != "original" {
		t.Errorf("AWSCURRENT after the failed rotation: %v %v", err, g)
	}
	// The function saw Lambda's events for createSecret, setSecret and
	// testSecret, with the secret's ARN and the version's token.
	// (Logs are stored in the background: wait for them.)
	var want []string
	for _, step := range []string{"createSecret", "setSecret", "testSecret"} {
		want = append(want, fmt.Sprintf(`EVENT {"ClientRequestToken": "%s", "SecretId": "%s", "Step": "%s"}`, aws.ToString(rot.VersionId), aws.ToString(sec.ARN), step))
	}
	logs := waitForLogs(t, ts, "rotator", want...)
	if strings.Contains(logs, "finishSecret") {
		t.Errorf("finishSecret ran after testSecret failed")
	}
	if ev := auditEvents(t, ts, "secretsmanager:RotationStep"); !strings.Contains(ev, "RotationFailed") || !strings.Contains(ev, "testSecret") || strings.Contains(ev, "cannot log in") {
		t.Errorf("audit of the rotation: %s", ev)
	}
	// CancelRotateSecret turns it off.
	if _, err := c.CancelRotateSecret(ctx, &secretsmanager.CancelRotateSecretInput{SecretId: aws.String("db")}); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")}); aws.ToBool(d.RotationEnabled) {
		t.Errorf("rotation still enabled after CancelRotateSecret")
	}
}

// TestSecretRotationTemplate: a Python function in the shape of AWS's
// rotation template, calling Secrets Manager with boto3 as its execution
// role (through the endpoint inside its sandbox), rotates a secret: a new
// password becomes AWSCURRENT and the old AWSPREVIOUS, and what the
// function did is audited as assumed-role/ROLE/FUNCTION. A secret whose
// test fails keeps its AWSCURRENT.
func TestSecretRotationTemplate(t *testing.T) {
	ts := servertest.Start(t)
	requireSandbox(t, ts.Server)
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Skip("needs /usr/bin/python3")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import boto3").Run(); err != nil {
		if servertest.RequireAll() {
			t.Fatalf("Debian's python3-boto3 is not installed (apt-get install python3-boto3): %v", err)
		}
		t.Skipf("needs Debian's python3-boto3 (apt-get install python3-boto3): %v", err)
	}
	ctx := context.Background()
	acct := ts.Server.AccountID()
	c := smClient(ts, adminCreds(ts))
	role, err := ts.IAM.CreateRole(ctx, "rotation-role", "/", "", servertest.LambdaTrustPolicy, 0)
	if err != nil {
		t.Fatal(err)
	}
	pol := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:GetSecretValue","secretsmanager:PutSecretValue","secretsmanager:UpdateSecretVersionStage"],"Resource":"arn:aws:secretsmanager:us-east-1:%s:secret:db/*"},
		{"Effect":"Allow","Action":"secretsmanager:GetRandomPassword","Resource":"*"}]}`, acct)
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, "rotation-role", "rotate", pol); err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile(filepath.Join("testdata", "rotation", "lambda_function.py"))
	if err != nil {
		t.Fatal(err)
	}
	fn, err := lambdaClient(ts).CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("rotator"), Runtime: ltypes.RuntimePython311,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.IAM.RoleARN(role)), Timeout: aws.Int32(60),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(t, map[string]string{"lambda_function.py": string(code)})}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, value string
		rotates     bool
	}{
		{"db/app", `{"username":"app","password":"original-2f8c"}`, true},
		{"db/failing", `{"username":"app","password":"original-7d1e","fail_test":true}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(tc.name), SecretString: aws.String(tc.value)}); err != nil {
				t.Fatal(err)
			}
			rot, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(tc.name), RotationLambdaARN: fn.FunctionArn,
				RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}})
			if err != nil {
				t.Fatal(err)
			}
			// Wait, with a deadline, for the rotation to end either way.
			waitUntil(t, 3*time.Minute, "the rotation to end", func() bool {
				sec, err := ts.Server.Secrets.Find(ctx, tc.name)
				return err == nil && (!sec.Rotation.LastRotated.IsZero() || sec.Rotation.FailedStep != "")
			})
			cur, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(tc.name)})
			if err != nil {
				t.Fatal(err)
			}
			d, _ := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(tc.name)})
			if !tc.rotates {
				if aws.ToString(cur.SecretString) != tc.value || !strings.Contains(string(describeRaw(t, ts, tc.name)), `"Step":"testSecret"`) {
					t.Errorf("after a failed testSecret: current %s; %s", aws.ToString(cur.SecretString), describeRaw(t, ts, tc.name))
				}
				if !slices.Equal(d.VersionIdsToStages[aws.ToString(rot.VersionId)], []string{"AWSPENDING"}) {
					t.Errorf("the pending version after the failure: %v", d.VersionIdsToStages)
				}
				return
			}
			var doc struct{ Username, Password string }
			json.Unmarshal([]byte(aws.ToString(cur.SecretString)), &doc)
			if aws.ToString(cur.VersionId) != aws.ToString(rot.VersionId) || doc.Username != "app" || len(doc.Password) != 32 || strings.Contains(tc.value, doc.Password) {
				t.Errorf("AWSCURRENT after the rotation: %s %s", aws.ToString(cur.VersionId), aws.ToString(cur.SecretString))
			}
			prev, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(tc.name), VersionStage: aws.String("AWSPREVIOUS")})
			if err != nil || aws.ToString(prev.SecretString) != tc.value {
				t.Errorf("AWSPREVIOUS: %v %v", err, prev)
			}
			if d.LastRotatedDate == nil || d.NextRotationDate == nil || d.NextRotationDate.Sub(*d.LastRotatedDate) != 30*24*time.Hour {
				t.Errorf("rotation dates: %v %v", d.LastRotatedDate, d.NextRotationDate)
			}
			if ev := auditEvents(t, ts, "secretsmanager:PutSecretValue"); !strings.Contains(ev, "assumed-role/rotation-role/rotator") || !strings.Contains(ev, `"sourceIp":"sandbox"`) {
				t.Errorf("the function's PutSecretValue is not audited as its role session from its sandbox: %s", ev)
			}
		})
	}
}
