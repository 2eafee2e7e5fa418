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
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

func kmsClient(ts *servertest.Server, creds aws.CredentialsProvider) *kms.Client {
	return kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds, Retryer: aws.NopRetryer{}})
}

// userCredentials creates a user with an inline policy (none when doc
// is empty) and an access key, and returns its credentials.
func userCredentials(t *testing.T, ts *servertest.Server, name, doc string) aws.CredentialsProvider {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.IAM.CreateUser(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	if doc != "" {
		if err := ts.IAM.PutInlinePolicy(ctx, iam.KindUser, name, "p", doc); err != nil {
			t.Fatal(err)
		}
	}
	id, secret, err := ts.IAM.CreateAccessKey(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewStaticCredentialsProvider(id, secret, "")
}

// kmsUser creates a user with an inline policy and returns its KMS client.
func kmsUser(t *testing.T, ts *servertest.Server, name, doc string) *kms.Client {
	t.Helper()
	return kmsClient(ts, userCredentials(t, ts, name, doc))
}

// TestKMSRoundTrip: the SDK's encrypt/decrypt with an encryption
// context, data keys, aliases, rotation and the error codes AWS gives.
func TestKMSRoundTrip(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	c := kmsClient(ts, credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, ""))
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("app secrets")})
	if err != nil {
		t.Fatal(err)
	}
	md := k.KeyMetadata
	if md.KeyState != types.KeyStateEnabled || md.KeySpec != types.KeySpecSymmetricDefault || md.KeyManager != types.KeyManagerTypeCustomer ||
		!strings.HasPrefix(aws.ToString(md.Arn), "arn:aws:kms:us-east-1:"+ts.AccountID()+":key/") {
		t.Errorf("KeyMetadata %+v", md)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	encCtx := map[string]string{"purpose": "test"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("hunter2"), EncryptionContext: encCtx})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(enc.KeyId) != aws.ToString(md.Arn) || bytes.Contains(enc.CiphertextBlob, []byte("hunter2")) {
		t.Errorf("Encrypt answered key %s", aws.ToString(enc.KeyId))
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil || string(dec.Plaintext) != "hunter2" || aws.ToString(dec.KeyId) != aws.ToString(md.Arn) {
		t.Fatalf("Decrypt = %v, %v", dec, err)
	}
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256})
	if err != nil || len(dk.Plaintext) != 32 {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	if back, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob}); err != nil || !bytes.Equal(back.Plaintext, dk.Plaintext) {
		t.Fatalf("the data key: %v", err)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx}); err != nil {
		t.Errorf("after rotation the old ciphertext: %v", err)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		code string
	}{
		{"disabled", func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
			return err
		}(), "DisabledException"},
		{"wrong context", func() error {
			c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: md.KeyId})
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
			return err
		}(), "InvalidCiphertextException"},
		{"garbage", func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("garbage")})
			return err
		}(), "InvalidCiphertextException"},
		{"4097 bytes", func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: make([]byte, 4097)})
			return err
		}(), "ValidationException"},
		{"unknown key", func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("11111111-1111-4111-8111-111111111111"), Plaintext: []byte("x")})
			return err
		}(), "NotFoundException"},
		{"alias twice", func() error {
			_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: md.KeyId})
			return err
		}(), "AlreadyExistsException"},
		{"pending deletion", func() error {
			k2, _ := c.CreateKey(ctx, &kms.CreateKeyInput{})
			c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k2.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)})
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k2.KeyMetadata.KeyId, Plaintext: []byte("x")})
			return err
		}(), "KMSInvalidStateException"},
		{"malformed policy", func() error {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(`{"Statement":[]}`)})
			return err
		}(), "MalformedPolicyDocumentException"},
	}
	for _, tc := range cases {
		if got := apiCode(tc.err); got != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, tc.err, tc.code)
		}
	}
}

// TestKMSAuthorization: a key's policy and IAM decide together, as in
// AWS: the default policy delegates to IAM; a policy naming a user
// allows it without IAM; a policy that does not name the account refuses
// whatever IAM allows; explicit denies win; encryption-context
// conditions hold exactly.
func TestKMSAuthorization(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	root := kmsClient(ts, credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, ""))
	acct := ts.AccountID()
	newKey := func(policy string) string {
		in := &kms.CreateKeyInput{}
		if policy != "" {
			in.Policy = aws.String(policy)
		}
		k, err := root.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(k.KeyMetadata.Arn)
	}
	delegating := newKey("")
	direct := newKey(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:user/named"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}`, acct))
	denying := newKey(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionContext:team":"payments"}}}]}`, acct))
	everyKMS := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
	users := map[string]*kms.Client{
		"admin":   kmsUser(t, ts, "admin", everyKMS),
		"named":   kmsUser(t, ts, "named", ""),
		"nothing": kmsUser(t, ts, "nothing", ""),
		"onekey":  kmsUser(t, ts, "onekey", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"%s"}]}`, delegating)),
		"ctx": kmsUser(t, ts, "ctx", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"%s",
			"Condition":{"StringEquals":{"kms:EncryptionContext:PARAMETER_ARN":"arn:aws:ssm:us-east-1:%s:parameter/db"}}}]}`, delegating, acct)),
		"denied": kmsUser(t, ts, "denied", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}`),
	}
	blob := func(key string, encCtx map[string]string) []byte {
		out, err := root.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("v"), EncryptionContext: encCtx})
		if err != nil {
			t.Fatal(err)
		}
		return out.CiphertextBlob
	}
	dbCtx := map[string]string{"PARAMETER_ARN": "arn:aws:ssm:us-east-1:" + acct + ":parameter/db"}
	otherCtx := map[string]string{"PARAMETER_ARN": "arn:aws:ssm:us-east-1:" + acct + ":parameter/other"}
	type op func(c *kms.Client) error
	encrypt := func(key string, encCtx map[string]string) op {
		return func(c *kms.Client) error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("v"), EncryptionContext: encCtx})
			return err
		}
	}
	decrypt := func(b []byte, encCtx map[string]string) op {
		return func(c *kms.Client) error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b, EncryptionContext: encCtx})
			return err
		}
	}
	describe := func(key string) op {
		return func(c *kms.Client) error {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
			return err
		}
	}
	cases := []struct {
		user, name string
		op         op
		allowed    bool
	}{
		{"admin", "default policy delegates: IAM allows encrypt", encrypt(delegating, nil), true},
		{"admin", "default policy delegates: IAM allows decrypt", decrypt(blob(delegating, nil), nil), true},
		{"admin", "default policy delegates: describe", describe(delegating), true},
		{"nothing", "no IAM policy: encrypt refused", encrypt(delegating, nil), false},
		{"nothing", "no IAM policy: describe refused", describe(delegating), false},
		{"admin", "key policy names another user: IAM cannot grant", encrypt(direct, nil), false},
		{"admin", "key policy names another user: describe refused too", describe(direct), false},
		{"named", "key policy names the user: allowed without IAM", encrypt(direct, nil), true},
		{"named", "named user decrypts", decrypt(blob(direct, nil), nil), true},
		{"named", "named user: an action the key policy does not give", describe(direct), false},
		{"named", "named user: another key delegating to IAM, no IAM", encrypt(delegating, nil), false},
		{"onekey", "IAM on one key ARN: that key", encrypt(delegating, nil), true},
		{"onekey", "IAM on one key ARN: that key by alias-less id", decrypt(blob(delegating, nil), nil), true},
		{"onekey", "IAM on one key ARN: another key", encrypt(denying, nil), false},
		{"onekey", "IAM on one key ARN: another action", describe(delegating), false},
		{"ctx", "context condition met: encrypt", encrypt(delegating, dbCtx), true},
		{"ctx", "context condition met: decrypt", decrypt(blob(delegating, dbCtx), dbCtx), true},
		{"ctx", "context condition: another value", encrypt(delegating, otherCtx), false},
		{"ctx", "context condition: no context", encrypt(delegating, nil), false},
		{"ctx", "context condition: decrypt another parameter's value", decrypt(blob(delegating, otherCtx), otherCtx), false},
		{"denied", "explicit IAM deny on decrypt", decrypt(blob(delegating, nil), nil), false},
		{"denied", "explicit IAM deny leaves encrypt", encrypt(delegating, nil), true},
		{"admin", "key policy deny: decrypt without the team context", decrypt(blob(denying, nil), nil), false},
		{"admin", "key policy deny: decrypt with the team context", decrypt(blob(denying, map[string]string{"team": "payments"}), map[string]string{"team": "payments"}), true},
		{"admin", "key policy deny does not touch encrypt", encrypt(denying, nil), true},
	}
	for _, c := range cases {
		t.Run(c.user+"/"+c.name, func(t *testing.T) {
			err := c.op(users[c.user])
			if c.allowed && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !c.allowed && apiCode(err) != "AccessDeniedException" {
				t.Errorf("got %v, want AccessDeniedException", err)
			}
		})
	}
}

// TestKMSGrants: a grant lets its grantee use a key its policy does not
// open to it, for the grant's operations and encryption context only,
// until the grant is revoked or retired; tags round trip.
func TestKMSGrants(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	root := kmsClient(ts, credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, ""))
	grantee := kmsUser(t, ts, "grantee", "")
	granteeARN := "arn:aws:iam::" + ts.AccountID() + ":user/grantee"
	k, err := root.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	key := k.KeyMetadata.Arn
	encrypt := func(c *kms.Client, encCtx map[string]string) error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key, Plaintext: []byte("v"), EncryptionContext: encCtx})
		return err
	}
	if err := encrypt(grantee, map[string]string{"app": "x"}); apiCode(err) != "AccessDeniedException" {
		t.Fatalf("before the grant: %v", err)
	}
	subset, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key, GranteePrincipal: aws.String(granteeARN),
		Operations:  []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		encCtx  map[string]string
		allowed bool
	}{
		{"the granted context", map[string]string{"app": "x"}, true},
		{"a superset of it", map[string]string{"app": "x", "env": "prod"}, true},
		{"another value", map[string]string{"app": "y"}, false},
		{"no context", nil, false},
	} {
		if err := encrypt(grantee, c.encCtx); (err == nil) != c.allowed {
			t.Errorf("subset grant, %s: %v, want allowed=%v", c.name, err, c.allowed)
		}
	}
	if _, err := grantee.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("an operation the grant does not give: %v", err)
	}
	list, err := root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: key})
	if err != nil || len(list.Grants) != 1 || aws.ToString(list.Grants[0].GranteePrincipal) != granteeARN {
		t.Fatalf("ListGrants = %+v, %v", list, err)
	}
	if _, err := root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: key, GrantId: subset.GrantId}); err != nil {
		t.Fatal(err)
	}
	if err := encrypt(grantee, map[string]string{"app": "x"}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("after RevokeGrant: %v", err)
	}
	// EncryptionContextEquals: exactly that context.
	equals, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key, GranteePrincipal: aws.String(granteeARN),
		Operations:  []types.GrantOperation{types.GrantOperationEncrypt},
		Constraints: &types.GrantConstraints{EncryptionContextEquals: map[string]string{"app": "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := encrypt(grantee, map[string]string{"app": "x"}); err != nil {
		t.Errorf("equals grant, the context: %v", err)
	}
	if err := encrypt(grantee, map[string]string{"app": "x", "env": "prod"}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("equals grant, a superset: %v", err)
	}
	if _, err := root.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: equals.GrantToken}); err != nil {
		t.Fatal(err)
	}
	if err := encrypt(grantee, map[string]string{"app": "x"}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("after RetireGrant: %v", err)
	}
	if _, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key, GranteePrincipal: aws.String(granteeARN), Operations: []types.GrantOperation{"Sign"}}); apiCode(err) != "ValidationException" {
		t.Errorf("a grant of an operation a symmetric key lacks: %v", err)
	}
	// Tags.
	if _, err := root.TagResource(ctx, &kms.TagResourceInput{KeyId: key, Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("payments")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := root.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: key})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].TagValue) != "payments" {
		t.Fatalf("ListResourceTags = %+v, %v", tags, err)
	}
	if _, err := root.UntagResource(ctx, &kms.UntagResourceInput{KeyId: key, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	if tags, _ := root.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: key}); len(tags.Tags) != 0 {
		t.Errorf("after UntagResource: %+v", tags.Tags)
	}
}
