package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// roleSession creates a role (trusting the account) with an inline
// policy (none when doc is empty) and returns the credentials of a
// session of it.
func roleSession(t *testing.T, ts *servertest.Server, name, doc string) aws.CredentialsProvider {
	t.Helper()
	ctx := context.Background()
	acct := ts.AccountID()
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}}`
	if _, err := ts.IAM.CreateRole(ctx, name, "", "", trust, 0); err != nil {
		t.Fatal(err)
	}
	if doc != "" {
		if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, name, "p", doc); err != nil {
			t.Fatal(err)
		}
	}
	c, err := ts.IAM.AssumeRole(ctx, iam.Assumer{Principal: "arn:aws:iam::" + acct + ":root"}, "arn:aws:iam::"+acct+":role/"+name, "s-"+name, 0, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

// TestKMSAuthorizationMatrix: key policies, IAM policies, grants and
// condition keys together, each case as AWS's documented evaluation
// decides it: an explicit Deny anywhere wins; a key policy that names a
// principal allows it alone; one that names only the account delegates
// to IAM; one that names neither leaves IAM powerless; grants allow
// their operations within their constraints; an alias in a Resource
// names the alias, not its key (kms:ResourceAliases and
// kms:RequestAlias decide by alias); kms:ViaService tells use through
// SSM from direct use.
func TestKMSAuthorizationMatrix(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	acct := ts.AccountID()
	rootCreds := credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, "")
	root := kmsClient(ts, rootCreds)
	rootSSM := ssmClient(ts, rootCreds)
	user := func(name string) string { return "arn:aws:iam::" + acct + ":user/" + name }
	rootStatement := `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"}`
	keyPolicy := func(statements ...string) string {
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
	}
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
	allow := func(action, resource, cond string) string {
		st := fmt.Sprintf(`{"Effect":"Allow","Action":%q,"Resource":%q`, action, resource)
		if cond != "" {
			st += `,"Condition":` + cond
		}
		return `{"Version":"2012-10-17","Statement":[` + st + `}]}`
	}

	delegating := newKey("")
	other := newKey("")
	aliased := newKey("")
	if _, err := root.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/team-a"), TargetKeyId: aws.String(aliased)}); err != nil {
		t.Fatal(err)
	}
	kpDeny := newKey(keyPolicy(rootStatement,
		`{"Effect":"Deny","Principal":{"AWS":"`+user("admin")+`"},"Action":"kms:Decrypt","Resource":"*"}`))
	kpNamesIAMDenied := newKey(keyPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"` + user("iamdenied") + `"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}`))
	roleKey := newKey(keyPolicy(
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:role/app"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}`))
	foreign := newKey(keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`))
	viaSSM := newKey(keyPolicy(rootStatement,
		`{"Effect":"Allow","Principal":{"AWS":"`+user("viauser")+`"},"Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
			"Condition":{"StringEquals":{"kms:ViaService":"ssm.us-east-1.amazonaws.com"}}}`))
	paramCtx := newKey(keyPolicy(rootStatement,
		`{"Effect":"Allow","Principal":{"AWS":"`+user("paramuser")+`"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
			"Condition":{"StringEquals":{"kms:EncryptionContext:PARAMETER_ARN":"arn:aws:ssm:us-east-1:`+acct+`:parameter/app/db"}}}`))

	everyKMS := allow("kms:*", "*", "")
	clients := map[string]*kms.Client{
		"admin":     kmsUser(t, ts, "admin", everyKMS),
		"nothing":   kmsUser(t, ts, "nothing", ""),
		"iamdenied": kmsUser(t, ts, "iamdenied", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}`),
		"app":       kmsClient(ts, roleSession(t, ts, "app", "")),
		"otherrole": kmsClient(ts, roleSession(t, ts, "otherrole", everyKMS)),
		"notaction": kmsUser(t, ts, "notaction", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["kms:Decrypt","kms:ScheduleKeyDeletion"],"Resource":"*"}]}`),
		"notres":    kmsUser(t, ts, "notres", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","NotResource":%q}]}`, other)),
		"wildcard":  kmsUser(t, ts, "wildcard", allow("kms:Encrypt", "arn:aws:kms:*:"+acct+":key/*", "")),
		"otheracct": kmsUser(t, ts, "otheracct", allow("kms:Encrypt", "arn:aws:kms:*:111122223333:key/*", "")),
		"aliasres":  kmsUser(t, ts, "aliasres", allow("kms:Encrypt", "arn:aws:kms:us-east-1:"+acct+":alias/team-a", "")),
		"resalias": kmsUser(t, ts, "resalias", allow("kms:Encrypt", "arn:aws:kms:*:"+acct+":key/*",
			`{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/team-*"}}`)),
		"reqalias": kmsUser(t, ts, "reqalias", allow("kms:Encrypt", "*", `{"StringEquals":{"kms:RequestAlias":"alias/team-a"}}`)),
		"allkeys":  kmsUser(t, ts, "allkeys", allow("kms:Encrypt", "*", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["app","env"]}}`)),
		"allkeysnn": kmsUser(t, ts, "allkeysnn", allow("kms:Encrypt", "*",
			`{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["app","env"]},"Null":{"kms:EncryptionContextKeys":"false"}}`)),
		"anykey":   kmsUser(t, ts, "anykey", allow("kms:Encrypt", "*", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"app"}}`)),
		"ctxvalue": kmsUser(t, ts, "ctxvalue", allow("kms:Encrypt", "*", `{"StringEquals":{"kms:EncryptionContext:App":"x"}}`)),
		"acctcond": kmsUser(t, ts, "acctcond", allow("kms:Encrypt", "*", `{"StringEquals":{"kms:CallerAccount":"`+acct+`"}}`)),
		"acctelse": kmsUser(t, ts, "acctelse", allow("kms:Encrypt", "*", `{"StringEquals":{"kms:CallerAccount":"111122223333"}}`)),
		"viauser":  kmsUser(t, ts, "viauser", ""),
		"grantee":  kmsUser(t, ts, "grantee", ""),
		"grantdeny": kmsUser(t, ts, "grantdeny",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}`),
		"granteerole": kmsClient(ts, roleSession(t, ts, "granteerole", "")),
		"granter": kmsUser(t, ts, "granter", allow("kms:CreateGrant", "*",
			`{"ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt","Encrypt"]},"StringEquals":{"kms:GranteePrincipal":"`+user("grantee")+`"}}`)),
		"subsetonly": kmsUser(t, ts, "subsetonly", allow("kms:CreateGrant", "*", `{"StringEquals":{"kms:GrantConstraintType":"EncryptionContextSubset"}}`)),
	}
	ssmClients := map[string]*ssm.Client{
		"viauser":   ssmClient(ts, userCredentials(t, ts, "viauser-ssm", allow("ssm:*", "*", ""))),
		"paramuser": ssmUser(t, ts, "paramuser", allow("ssm:*", "*", "")),
		"aliasssm": ssmUser(t, ts, "aliasssm", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:*","Resource":"*"},
			{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/team-*"}}}]}`),
	}
	// viauser-ssm stands for viauser through SSM: the key policy names
	// it too.
	if _, err := root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(viaSSM), PolicyName: aws.String("default"), Policy: aws.String(keyPolicy(rootStatement,
		`{"Effect":"Allow","Principal":{"AWS":["`+user("viauser")+`","`+user("viauser-ssm")+`"]},"Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
			"Condition":{"StringEquals":{"kms:ViaService":"ssm.us-east-1.amazonaws.com"}}}`))}); err != nil {
		t.Fatal(err)
	}

	// Grants.
	grant := func(grantee string, ops []types.GrantOperation, c *types.GrantConstraints) *kms.CreateGrantOutput {
		g, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(other), GranteePrincipal: aws.String(grantee), Operations: ops, Constraints: c})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	grant(user("grantee"), []types.GrantOperation{types.GrantOperationDecrypt}, nil)
	grant(user("grantee"), []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDescribeKey},
		&types.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "x"}})
	grant(user("grantee"), []types.GrantOperation{types.GrantOperationGenerateDataKey},
		&types.GrantConstraints{EncryptionContextEquals: map[string]string{"app": "x"}})
	grant(user("grantdeny"), []types.GrantOperation{types.GrantOperationDecrypt}, nil)
	grant("arn:aws:iam::"+acct+":role/granteerole", []types.GrantOperation{types.GrantOperationEncrypt}, nil)
	revoked := grant(user("grantee"), []types.GrantOperation{types.GrantOperationReEncryptFrom, types.GrantOperationReEncryptTo}, nil)
	if _, err := root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(other), GrantId: revoked.GrantId}); err != nil {
		t.Fatal(err)
	}
	retired := grant(user("grantee"), []types.GrantOperation{types.GrantOperationGenerateDataKeyWithoutPlaintext}, nil)
	if _, err := root.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: retired.GrantToken}); err != nil {
		t.Fatal(err)
	}

	blob := func(key string, encCtx map[string]string) []byte {
		out, err := root.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("v"), EncryptionContext: encCtx})
		if err != nil {
			t.Fatal(err)
		}
		return out.CiphertextBlob
	}
	// SecureStrings for the SSM cases.
	for name, key := range map[string]string{"/via/p": viaSSM, "/app/db": paramCtx, "/app/other": paramCtx, "/team/p": aliased} {
		if _, err := rootSSM.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("s"), Type: ssmtypes.ParameterTypeSecureString, KeyId: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}

	type op func() error
	encrypt := func(who, key string, encCtx map[string]string) op {
		return func() error {
			_, err := clients[who].Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("v"), EncryptionContext: encCtx})
			return err
		}
	}
	decrypt := func(who, key string, encCtx map[string]string) op {
		b := blob(key, encCtx)
		return func() error {
			_, err := clients[who].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b, EncryptionContext: encCtx})
			return err
		}
	}
	describe := func(who, key string) op {
		return func() error {
			_, err := clients[who].DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
			return err
		}
	}
	dataKey := func(who, key string, encCtx map[string]string) op {
		return func() error {
			_, err := clients[who].GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(key), KeySpec: types.DataKeySpecAes256, EncryptionContext: encCtx})
			return err
		}
	}
	createGrant := func(who, grantee string, ops []types.GrantOperation, c *types.GrantConstraints) op {
		return func() error {
			_, err := clients[who].CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(delegating), GranteePrincipal: aws.String(grantee), Operations: ops, Constraints: c})
			return err
		}
	}
	decryptOp := []types.GrantOperation{types.GrantOperationDecrypt}
	reEncrypt := func(who, key string) op {
		b := blob(key, nil)
		return func() error {
			_, err := clients[who].ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: b, DestinationKeyId: aws.String(key)})
			return err
		}
	}
	getParam := func(who, name string) op {
		return func() error {
			_, err := ssmClients[who].GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
			return err
		}
	}
	putParam := func(who, name, key string) op {
		return func() error {
			_, err := ssmClients[who].PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("s2"), Type: ssmtypes.ParameterTypeSecureString,
				KeyId: aws.String(key), Overwrite: aws.Bool(true)})
			return err
		}
	}
	app := map[string]string{"app": "x"}
	cases := []struct {
		name    string
		op      op
		allowed bool
	}{
		// Explicit denies.
		{"key policy Deny beats IAM Allow", decrypt("admin", kpDeny, nil), false},
		{"key policy Deny names one action: IAM still allows the others", encrypt("admin", kpDeny, nil), true},
		{"IAM Deny beats a key policy that names the user", decrypt("iamdenied", kpNamesIAMDenied, nil), false},
		{"key policy naming the user allows what IAM does not deny", encrypt("iamdenied", kpNamesIAMDenied, nil), true},
		// Principals.
		{"key policy naming a role allows its session without IAM", encrypt("app", roleKey, nil), true},
		{"key policy naming a role: another role's session, IAM kms:*", encrypt("otherrole", roleKey, nil), false},
		{"key policy naming only another account: IAM kms:* cannot use it", encrypt("admin", foreign, nil), false},
		{"key policy naming only another account: not even DescribeKey", describe("admin", foreign), false},
		// IAM policy shapes.
		{"NotAction: an action it leaves out is allowed", encrypt("notaction", delegating, nil), true},
		{"NotAction: the action it names is not", decrypt("notaction", delegating, nil), false},
		{"NotResource: a key it does not name", encrypt("notres", delegating, nil), true},
		{"NotResource: the key it names", encrypt("notres", other, nil), false},
		{"Resource arn:aws:kms:*:ACCOUNT:key/*", encrypt("wildcard", delegating, nil), true},
		{"Resource of another account's keys", encrypt("otheracct", delegating, nil), false},
		{"alias ARN in Resource does not cover the key, named by alias", encrypt("aliasres", "alias/team-a", nil), false},
		{"alias ARN in Resource does not cover the key, named by id", encrypt("aliasres", aliased, nil), false},
		// Alias condition keys.
		{"kms:ResourceAliases: a key with a matching alias", encrypt("resalias", aliased, nil), true},
		{"kms:ResourceAliases: a key without aliases", encrypt("resalias", delegating, nil), false},
		{"kms:RequestAlias: the key named by that alias", encrypt("reqalias", "alias/team-a", nil), true},
		{"kms:RequestAlias: the same key named by its ARN", encrypt("reqalias", aliased, nil), false},
		// Encryption context conditions.
		{"ForAllValues kms:EncryptionContextKeys: keys in the set", encrypt("allkeys", delegating, map[string]string{"app": "x", "env": "p"}), true},
		{"ForAllValues kms:EncryptionContextKeys: a key outside the set", encrypt("allkeys", delegating, map[string]string{"app": "x", "team": "t"}), false},
		{"ForAllValues kms:EncryptionContextKeys: no context matches (AWS documents it)", encrypt("allkeys", delegating, nil), true},
		{"ForAllValues with Null false: no context refused", encrypt("allkeysnn", delegating, nil), false},
		{"ForAnyValue kms:EncryptionContextKeys: the key present", encrypt("anykey", delegating, map[string]string{"app": "x", "env": "p"}), true},
		{"ForAnyValue kms:EncryptionContextKeys: no context", encrypt("anykey", delegating, nil), false},
		{"kms:EncryptionContext:App matches the key whatever its case", encrypt("ctxvalue", delegating, map[string]string{"app": "x"}), true},
		{"kms:EncryptionContext:App: the value's case matters", encrypt("ctxvalue", delegating, map[string]string{"App": "X"}), false},
		{"kms:CallerAccount: the caller's account", encrypt("acctcond", delegating, nil), true},
		{"kms:CallerAccount: another account", encrypt("acctelse", delegating, nil), false},
		// kms:ViaService and SSM's encryption context.
		{"kms:ViaService ssm: direct use refused", encrypt("viauser", viaSSM, nil), false},
		{"kms:ViaService ssm: SecureString put through SSM", putParam("viauser", "/via/p", viaSSM), true},
		{"kms:ViaService ssm: SecureString read through SSM", getParam("viauser", "/via/p"), true},
		{"kms:EncryptionContext:PARAMETER_ARN through SSM: that parameter", getParam("paramuser", "/app/db"), true},
		{"kms:EncryptionContext:PARAMETER_ARN through SSM: put that parameter", putParam("paramuser", "/app/db", paramCtx), true},
		{"kms:EncryptionContext:PARAMETER_ARN through SSM: another parameter", getParam("paramuser", "/app/other"), false},
		{"kms:ResourceAliases through SSM: a key with a matching alias", getParam("aliasssm", "/team/p"), true},
		{"kms:ResourceAliases through SSM: a key without aliases", getParam("aliasssm", "/app/other"), false},
		// Grants.
		{"grant for Decrypt allows Decrypt", decrypt("grantee", other, nil), true},
		{"grant for Decrypt does not allow ReEncrypt", reEncrypt("grantee", other), false},
		{"EncryptionContextSubset: the context and more", encrypt("grantee", other, map[string]string{"app": "x", "env": "p"}), true},
		{"EncryptionContextSubset: another value", encrypt("grantee", other, map[string]string{"app": "y"}), false},
		{"EncryptionContextSubset: the key in another case (keys are case-insensitive in grants)", encrypt("grantee", other, map[string]string{"APP": "x"}), true},
		{"EncryptionContextSubset does not constrain DescribeKey", describe("grantee", other), true},
		{"EncryptionContextEquals: exactly the context", dataKey("grantee", other, app), true},
		{"EncryptionContextEquals: a superset", dataKey("grantee", other, map[string]string{"app": "x", "env": "p"}), false},
		{"EncryptionContextEquals: no context", dataKey("grantee", other, nil), false},
		{"EncryptionContextEquals: the key in another case", dataKey("grantee", other, map[string]string{"App": "x"}), true},
		{"grant to a role allows its session", encrypt("granteerole", other, nil), true},
		{"IAM Deny beats a grant", decrypt("grantdeny", other, nil), false},
		{"a revoked grant allows nothing", reEncrypt("grantee", other), false},
		{"a retired grant allows nothing", func() error {
			_, err := clients["grantee"].GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(other), KeySpec: types.DataKeySpecAes256})
			return err
		}, false},
		{"no grant, no policy", encrypt("nothing", other, nil), false},
		// CreateGrant's condition keys.
		{"kms:GrantOperations and kms:GranteePrincipal: within both", createGrant("granter", user("grantee"), decryptOp, nil), true},
		{"kms:GrantOperations: an operation outside the set", createGrant("granter", user("grantee"),
			[]types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationCreateGrant}, nil), false},
		{"kms:GranteePrincipal: another grantee", createGrant("granter", user("nothing"), decryptOp, nil), false},
		{"kms:GrantConstraintType: the constraint required", createGrant("subsetonly", user("grantee"), decryptOp,
			&types.GrantConstraints{EncryptionContextSubset: app}), true},
		{"kms:GrantConstraintType: no constraint", createGrant("subsetonly", user("grantee"), decryptOp, nil), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.op()
			if c.allowed && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !c.allowed && apiCode(err) != "AccessDeniedException" {
				t.Errorf("got %v, want AccessDeniedException", err)
			}
		})
	}
}

// TestKMSRetireGrant: as in AWS, a grant alone says who may retire it:
// its retiring principal, and its grantee when it grants RetireGrant,
// need no policy; kms:RetireGrant in a key policy has no effect; a
// retiring principal that is the account delegates to IAM; an IAM Deny
// still refuses.
func TestKMSRetireGrant(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	acct := ts.AccountID()
	root := kmsClient(ts, credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, ""))
	user := func(name string) string { return "arn:aws:iam::" + acct + ":user/" + name }
	k, err := root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"` + user("keypolicy") + `"},"Action":"kms:RetireGrant","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	key := k.KeyMetadata.Arn
	clients := map[string]*kms.Client{
		"retirer":   kmsUser(t, ts, "retirer", ""),
		"stranger":  kmsUser(t, ts, "stranger", ""),
		"grantee":   kmsUser(t, ts, "grantee", ""),
		"keypolicy": kmsUser(t, ts, "keypolicy", ""),
		"iamretire": kmsUser(t, ts, "iamretire", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:RetireGrant","Resource":"*"}]}`),
		"denied":    kmsUser(t, ts, "denied", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:RetireGrant","Resource":"*"}]}`),
	}
	type grantSpec struct {
		retiring string
		ops      []types.GrantOperation
	}
	decryptOnly := []types.GrantOperation{types.GrantOperationDecrypt}
	cases := []struct {
		name    string
		grant   grantSpec
		who     string
		byToken bool
		allowed bool
	}{
		{"retiring principal, no policy, by token", grantSpec{user("retirer"), decryptOnly}, "retirer", true, true},
		{"retiring principal, no policy, by key and grant id", grantSpec{user("retirer"), decryptOnly}, "retirer", false, true},
		{"an unrelated principal without policy", grantSpec{user("retirer"), decryptOnly}, "stranger", true, false},
		{"the grantee, when the grant does not grant RetireGrant", grantSpec{user("retirer"), decryptOnly}, "grantee", true, false},
		{"the grantee, when the grant grants RetireGrant", grantSpec{"", []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationRetireGrant}}, "grantee", true, true},
		{"kms:RetireGrant in the key policy alone has no effect", grantSpec{user("retirer"), decryptOnly}, "keypolicy", true, false},
		{"kms:RetireGrant in IAM, the grant names another retiring principal", grantSpec{user("retirer"), decryptOnly}, "iamretire", true, false},
		{"kms:RetireGrant in IAM, the account is the retiring principal", grantSpec{"arn:aws:iam::" + acct + ":root", decryptOnly}, "iamretire", true, true},
		{"the account is the retiring principal, no IAM permission", grantSpec{"arn:aws:iam::" + acct + ":root", decryptOnly}, "stranger", true, false},
		{"the retiring principal with an IAM Deny of kms:RetireGrant", grantSpec{user("denied"), decryptOnly}, "denied", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := &kms.CreateGrantInput{KeyId: key, GranteePrincipal: aws.String(user("grantee")), Operations: c.grant.ops}
			if c.grant.retiring != "" {
				in.RetiringPrincipal = aws.String(c.grant.retiring)
			}
			g, err := root.CreateGrant(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			retire := &kms.RetireGrantInput{GrantToken: g.GrantToken}
			if !c.byToken {
				retire = &kms.RetireGrantInput{KeyId: key, GrantId: g.GrantId}
			}
			_, err = clients[c.who].RetireGrant(ctx, retire)
			if c.allowed && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.allowed && apiCode(err) != "AccessDeniedException" {
				t.Fatalf("got %v, want AccessDeniedException", err)
			}
			list, err := root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: key})
			if err != nil {
				t.Fatal(err)
			}
			still := false
			for _, lg := range list.Grants {
				still = still || aws.ToString(lg.GrantId) == aws.ToString(g.GrantId)
			}
			if still == c.allowed {
				t.Errorf("after RetireGrant the grant is listed: %v, want %v", still, !c.allowed)
			}
			if still {
				if _, err := root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: key, GrantId: g.GrantId}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	// A retiring principal retires its own grant, not another on the key.
	mine, _ := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key, GranteePrincipal: aws.String(user("grantee")), RetiringPrincipal: aws.String(user("retirer")), Operations: decryptOnly})
	theirs, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key, GranteePrincipal: aws.String(user("grantee")), RetiringPrincipal: aws.String(user("stranger")), Operations: decryptOnly})
	if err != nil || mine == nil {
		t.Fatal(err)
	}
	if _, err := clients["retirer"].RetireGrant(ctx, &kms.RetireGrantInput{KeyId: key, GrantId: theirs.GrantId}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("retiring another principal's grant on the same key: %v", err)
	}
	if _, err := clients["stranger"].RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: aws.String("no-such-token")}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("an unknown token, without policy: %v", err)
	}
}
