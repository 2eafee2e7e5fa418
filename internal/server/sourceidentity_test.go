package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// TestSourceIdentity: AssumeRole's SourceIdentity as on AWS. Setting
// one needs sts:SetSourceIdentity in the trust policy (which may
// constrain it with sts:SourceIdentity); the session's requests carry it
// as aws:SourceIdentity and the audit log records it; a session
// assumed from it keeps it, cannot change it, and needs
// sts:SetSourceIdentity of the next role too.
func TestSourceIdentity(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	acct := ts.AccountID()
	root := `"Principal":{"AWS":"arn:aws:iam::` + acct + `:root"}`
	trust := func(actions, cond string) string {
		return `{"Version":"2012-10-17","Statement":{"Effect":"Allow",` + root + `,"Action":` + actions + cond + `}}`
	}
	roles := map[string]string{
		"plain":   trust(`"sts:AssumeRole"`, ""),
		"tagged":  trust(`["sts:AssumeRole","sts:SetSourceIdentity"]`, `,"Condition":{"StringEquals":{"sts:SourceIdentity":"alice"}}`),
		"next":    trust(`["sts:AssumeRole","sts:SetSourceIdentity"]`, ""),
		"next-no": trust(`"sts:AssumeRole"`, ""),
	}
	// Each role may create users only in a session whose source identity
	// is alice, and assume the others.
	perms := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"},` +
		`{"Effect":"Allow","Action":"iam:CreateUser","Resource":"*","Condition":{"StringEquals":{"aws:SourceIdentity":"alice"}}}]}`
	for name, doc := range roles {
		if _, err := ts.IAM.CreateRole(ctx, name, "/", "", doc, 0); err != nil {
			t.Fatal(err)
		}
		if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, name, "p", perms); err != nil {
			t.Fatal(err)
		}
	}
	clients := func(c aws.Credentials) (*sts.Client, *awsiam.Client) {
		cfg := aws.Config{Region: "us-east-1", Credentials: credentials.StaticCredentialsProvider{Value: c}, RetryMaxAttempts: 1}
		return sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(ts.URL) }),
			awsiam.NewFromConfig(cfg, func(o *awsiam.Options) { o.BaseEndpoint = aws.String(ts.URL) })
	}
	admin, _ := clients(ts.Creds)
	assume := func(c *sts.Client, role, source string) (*sts.AssumeRoleOutput, error) {
		in := &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/" + role), RoleSessionName: aws.String("s-" + role)}
		if source != "" {
			in.SourceIdentity = aws.String(source)
		}
		return c.AssumeRole(ctx, in)
	}
	creds := func(out *sts.AssumeRoleOutput) aws.Credentials {
		return aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	}

	for _, tc := range []struct{ role, source, code string }{
		{"plain", "alice", "AccessDenied"}, // no sts:SetSourceIdentity
		{"tagged", "bob", "AccessDenied"},  // the trust policy wants alice
		{"tagged", "aws:alice", "ValidationError"},
		{"tagged", "a", "ValidationError"},
		{"tagged", "al:ice", "ValidationError"}, // so no caller can pose as a function (its ARN)
	} {
		if _, err := assume(admin, tc.role, tc.source); apiCode(err) != tc.code {
			t.Errorf("AssumeRole %s with source identity %q: %v, want %s", tc.role, tc.source, err, tc.code)
		}
	}

	// Without a source identity, the condition on aws:SourceIdentity
	// does not hold.
	out, err := assume(admin, "plain", "")
	if err != nil {
		t.Fatal(err)
	}
	if out.SourceIdentity != nil {
		t.Errorf("AssumeRole without SourceIdentity answered %q", *out.SourceIdentity)
	}
	_, plainIAM := clients(creds(out))
	if _, err := plainIAM.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("u1")}); apiCode(err) != "AccessDenied" {
		t.Errorf("CreateUser without a source identity: %v", err)
	}

	out, err = assume(admin, "tagged", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.SourceIdentity) != "alice" {
		t.Errorf("AssumeRole answered SourceIdentity %q", aws.ToString(out.SourceIdentity))
	}
	aliceSTS, aliceIAM := clients(creds(out))
	if _, err := aliceIAM.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("u2")}); err != nil {
		t.Errorf("CreateUser with source identity alice: %v", err)
	}
	type record struct {
		Principal      string `json:"principal"`
		Decision       string `json:"decision"`
		SourceIdentity string `json:"sourceIdentity"`
	}
	var listed []record
	for _, line := range strings.Split(strings.TrimSpace(auditEvents(t, ts, "iam:CreateUser")), "\n") {
		var e record
		json.Unmarshal([]byte(line), &e)
		listed = append(listed, e)
	}
	if len(listed) != 2 || listed[0].SourceIdentity != "" || listed[0].Decision != "Deny" ||
		listed[1].SourceIdentity != "alice" || listed[1].Decision != "Allow" || !strings.HasSuffix(listed[1].Principal, ":assumed-role/tagged/s-tagged") {
		t.Errorf("audit records of CreateUser: %+v", listed)
	}

	// Role chaining keeps the source identity, which the next trust
	// policy must allow setting, and which cannot change.
	if _, err := assume(aliceSTS, "next-no", ""); apiCode(err) != "AccessDenied" {
		t.Errorf("chained AssumeRole without sts:SetSourceIdentity: %v", err)
	}
	if _, err := assume(aliceSTS, "next", "carol"); err == nil {
		t.Errorf("chained AssumeRole changed the source identity")
	}
	out, err = assume(aliceSTS, "next", "")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.SourceIdentity) != "alice" {
		t.Errorf("chained session's SourceIdentity %q, want alice", aws.ToString(out.SourceIdentity))
	}
	_, nextIAM := clients(creds(out))
	if _, err := nextIAM.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("u3")}); err != nil {
		t.Errorf("CreateUser in the chained session: %v", err)
	}
}
