package server_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/signet/signet/internal/server/servertest"
)

func ssmClient(ts *servertest.Server, creds aws.CredentialsProvider) *ssm.Client {
	return ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds, Retryer: aws.NopRetryer{}})
}

func ssmUser(t *testing.T, ts *servertest.Server, name, doc string) *ssm.Client {
	t.Helper()
	return ssmClient(ts, userCredentials(t, ts, name, doc))
}

// TestSSMParameters: String, StringList and SecureString parameters
// through the SDK: versions, selectors, labels, paths, history, tiers,
// patterns, and the SecureString never stored in clear.
func TestSSMParameters(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	c := ssmClient(ts, credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, ""))
	put := func(in *ssm.PutParameterInput) *ssm.PutParameterOutput {
		t.Helper()
		out, err := c.PutParameter(ctx, in)
		if err != nil {
			t.Fatalf("PutParameter %s: %v", aws.ToString(in.Name), err)
		}
		return out
	}
	const secret = "tok-9f2c1e7a3b5d4c6e"
	put(&ssm.PutParameterInput{Name: aws.String("/app/dev/url"), Value: aws.String("https://example.test"), Type: types.ParameterTypeString})
	put(&ssm.PutParameterInput{Name: aws.String("/app/dev/hosts"), Value: aws.String("a,b,c"), Type: types.ParameterTypeStringList})
	put(&ssm.PutParameterInput{Name: aws.String("/app/dev/db/password"), Value: aws.String(secret), Type: types.ParameterTypeSecureString})
	v2 := put(&ssm.PutParameterInput{Name: aws.String("/app/dev/url"), Value: aws.String("https://example.test/v2"), Overwrite: aws.Bool(true)})
	if v2.Version != 2 || v2.Tier != types.ParameterTierStandard {
		t.Errorf("overwrite: %+v", v2)
	}
	got, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/dev/db/password"), WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(got.Parameter.Value) != secret || got.Parameter.Type != types.ParameterTypeSecureString {
		t.Fatalf("GetParameter WithDecryption = %+v, %v", got, err)
	}
	enc, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/dev/db/password")})
	if err != nil || strings.Contains(aws.ToString(enc.Parameter.Value), secret) {
		t.Fatalf("without decryption the value is %q, %v", aws.ToString(enc.Parameter.Value), err)
	}
	if old, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/dev/url:1")}); err != nil || aws.ToString(old.Parameter.Value) != "https://example.test" || aws.ToString(old.Parameter.Selector) != ":1" {
		t.Errorf("by version: %+v, %v", old, err)
	}
	if _, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/app/dev/url"), ParameterVersion: aws.Int64(1), Labels: []string{"stable"}}); err != nil {
		t.Fatal(err)
	}
	if l, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/dev/url:stable")}); err != nil || l.Parameter.Version != 1 {
		t.Errorf("by label: %+v, %v", l, err)
	}
	byPath, err := c.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app/dev"), WithDecryption: aws.Bool(true)})
	if err != nil || len(byPath.Parameters) != 2 {
		t.Fatalf("GetParametersByPath (not recursive) = %d, %v", len(byPath.Parameters), err)
	}
	rec, err := c.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true), MaxResults: aws.Int32(2)})
	if err != nil || len(rec.Parameters) != 2 || rec.NextToken == nil {
		t.Fatalf("recursive page 1 = %d, %v", len(rec.Parameters), err)
	}
	rec2, err := c.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true), NextToken: rec.NextToken})
	if err != nil || len(rec2.Parameters) != 1 || rec2.NextToken != nil {
		t.Fatalf("recursive page 2 = %d, %v", len(rec2.Parameters), err)
	}
	hist, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/app/dev/url")})
	if err != nil || len(hist.Parameters) != 2 || hist.Parameters[0].Labels[0] != "stable" {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	many, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/app/dev/hosts", "/app/none"}})
	if err != nil || len(many.Parameters) != 1 || len(many.InvalidParameters) != 1 {
		t.Fatalf("GetParameters = %+v, %v", many, err)
	}
	// The SecureString is not in the database in clear.
	content := ts.DatabaseContent(t)
	if len(content) == 0 {
		t.Fatal("found no database content to look into")
	}
	for sink, b := range content {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the SecureString's value is in the database in clear (%s)", sink)
		}
	}
	cases := []struct {
		name string
		err  error
		code string
	}{
		{"exists", func() error {
			_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/dev/url"), Value: aws.String("x"), Type: types.ParameterTypeString})
			return err
		}(), "ParameterAlreadyExists"},
		{"not found", func() error {
			_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/none")})
			return err
		}(), "ParameterNotFound"},
		{"no version 9", func() error {
			_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/dev/url:9")})
			return err
		}(), "ParameterVersionNotFound"},
		{"too large", func() error {
			_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/big"), Value: aws.String(strings.Repeat("x", 4097)), Type: types.ParameterTypeString, Tier: types.ParameterTierStandard})
			return err
		}(), "ValidationException"},
		{"pattern", func() error {
			_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/port"), Value: aws.String("eighty"), Type: types.ParameterTypeString, AllowedPattern: aws.String(`^\d+$`)})
			return err
		}(), "ParameterPatternMismatchException"},
		{"bad pattern", func() error {
			_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/port"), Value: aws.String("80"), Type: types.ParameterTypeString, AllowedPattern: aws.String(`(`)})
			return err
		}(), "InvalidAllowedPatternException"},
		{"unknown key", func() error {
			_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/s"), Value: aws.String("v"), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/none")})
			return err
		}(), "InvalidKeyId"},
		{"reserved name", func() error {
			_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/aws/x"), Value: aws.String("v"), Type: types.ParameterTypeString})
			return err
		}(), "ValidationException"},
	}
	for _, tc := range cases {
		if got := apiCode(tc.err); got != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, tc.err, tc.code)
		}
	}
	if big := put(&ssm.PutParameterInput{Name: aws.String("/big"), Value: aws.String(strings.Repeat("x", 5000)), Type: types.ParameterTypeSecureString, Tier: types.ParameterTierAdvanced}); big.Tier != types.ParameterTierAdvanced {
		t.Errorf("advanced: %+v", big)
	}
	if d, err := c.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: []string{"/big", "/nothing"}}); err != nil || len(d.DeletedParameters) != 1 || len(d.InvalidParameters) != 1 {
		t.Errorf("DeleteParameters = %+v, %v", d, err)
	}
}

// TestSSMSeedPolicy: seed 003's function role may read exactly its one
// parameter (ssm:GetParameter* on its ARN) decrypted with its one key
// (kms:Decrypt on the key ARN), and nothing else; a role without
// kms:Decrypt gets the SecureString refused WithDecryption.
func TestSSMSeedPolicy(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	rootCreds := credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, "")
	admin := ssmClient(ts, rootCreds)
	keys := kmsClient(ts, rootCreds)
	k, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("api token key")})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := keys.CreateKey(ctx, &kms.CreateKeyInput{})
	keyARN, otherARN := aws.ToString(k.KeyMetadata.Arn), aws.ToString(other.KeyMetadata.Arn)
	for name, key := range map[string]string{"/lambda/api-token": keyARN, "/lambda/other-token": keyARN, "/lambda/other-key": otherARN} {
		if _, err := admin.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v-" + name), Type: types.ParameterTypeSecureString, KeyId: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/lambda/default-key"), Value: aws.String("d"), Type: types.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	acct := ts.AccountID()
	param := "arn:aws:ssm:us-east-1:" + acct + ":parameter/lambda/api-token"
	seed := ssmUser(t, ts, "function-role", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"kms:Decrypt","Resource":"%s"},
		{"Effect":"Allow","Action":["ssm:GetParameter*"],"Resource":"%s"}]}`, keyARN, param))
	noKMS := ssmUser(t, ts, "no-kms", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:GetParameter*"],"Resource":"%s"}]}`, param))
	ssmOnly := ssmUser(t, ts, "ssm-only", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:*","Resource":"*"}]}`)
	get := func(c *ssm.Client, name string, decrypt bool) error {
		_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(decrypt)})
		return err
	}
	cases := []struct {
		name    string
		c       *ssm.Client
		param   string
		decrypt bool
		allowed bool
	}{
		{"seed role: its parameter, decrypted", seed, "/lambda/api-token", true, true},
		{"seed role: its parameter, encrypted", seed, "/lambda/api-token", false, true},
		{"seed role: another parameter under the same key", seed, "/lambda/other-token", true, false},
		{"seed role: another parameter", seed, "/lambda/other-key", false, false},
		{"no kms:Decrypt: encrypted value", noKMS, "/lambda/api-token", false, true},
		{"no kms:Decrypt: WithDecryption refused", noKMS, "/lambda/api-token", true, false},
		{"ssm:* only: a customer key's parameter, decrypted", ssmOnly, "/lambda/other-key", true, false},
		{"ssm:* only: the aws/ssm key's parameter, decrypted (its key policy allows use through SSM)", ssmOnly, "/lambda/default-key", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := get(c.c, c.param, c.decrypt)
			if c.allowed && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !c.allowed && apiCode(err) != "AccessDeniedException" {
				t.Errorf("got %v, want AccessDeniedException", err)
			}
		})
	}
	// The aws/ssm key cannot be used directly, outside SSM.
	ssmOnlyKMS := kmsUser(t, ts, "kms-direct", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)
	alias, err := keys.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ssm")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ssmOnlyKMS.Encrypt(ctx, &kms.EncryptInput{KeyId: alias.KeyMetadata.KeyId, Plaintext: []byte("x")}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("direct use of the AWS managed key: %v", err)
	}
	if alias.KeyMetadata.KeyManager != "AWS" {
		t.Errorf("alias/aws/ssm: %+v", alias.KeyMetadata)
	}
}
