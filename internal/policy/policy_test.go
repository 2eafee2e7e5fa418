package policy

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func mustParse(t testing.TB, kind Kind, doc string) *Document {
	t.Helper()
	d, err := Parse([]byte(doc), kind)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return d
}

func mustFile(t testing.TB, name string) *Document {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, Identity, string(b))
}

const (
	acct      = "123456789012"
	dev       = "arn:aws:iam::123456789012:user/dev"
	ciRole    = "arn:aws:iam::123456789012:role/ci"
	ciSession = "arn:aws:sts::123456789012:assumed-role/ci/build-42"
	auditor   = "arn:aws:iam::123456789012:user/auditor"
	profile   = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/signing_profile_for_lambda"
	fn        = "arn:aws:lambda:us-east-1:123456789012:function:hello-world-lambda"
	csc       = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdefg"
	other     = "arn:aws:iam::999999999999:user/mallory"
)

// TestDecisionMatrix is the table of principals, actions, resources and
// conditions with the decisions AWS's evaluation logic gives.
func TestDecisionMatrix(t *testing.T) {
	boundary := mustFile(t, "DeveloperPermissionBoundary.json")
	devAccess := mustFile(t, "DeveloperAccess.json")
	ciPolicy := mustParse(t, Identity, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["signer:StartSigningJob","signer:DescribeSigningJob","signer:GetSigningProfile","s3:GetObject","s3:PutObject","s3:GetObjectVersion"],"Resource":"*"},
		{"Effect":"Allow","Action":["lambda:UpdateFunctionCode","lambda:GetFunction"],"Resource":"arn:aws:lambda:*:123456789012:function:*"},
		{"Effect":"Allow","Action":"lambda:PutFunctionCodeSigningConfig","Resource":"*","Condition":{"ArnLike":{"lambda:CodeSigningConfigArn":"arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-*"}}}]}`)
	auditorPolicy := mustParse(t, Identity, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","NotAction":["iam:*","signer:Start*","signer:Revoke*","signer:Put*"],"Resource":"*","Condition":{
			"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.1.7"]},
			"Bool":{"aws:SecureTransport":"true"},
			"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}},
		{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}},
		{"Effect":"Allow","Action":"logs:FilterLogEvents","Resource":"arn:aws:logs:*:*:log-group:/aws/lambda/${aws:username}-*"}]}`)
	profilePolicy := mustParse(t, Resource, `{"Version":"2012-10-17","Statement":[
		{"Sid":"cross-account","Effect":"Allow","Principal":{"AWS":"999999999999"},"Action":"signer:StartSigningJob","Resource":"`+profile+`"},
		{"Sid":"dev-may-describe","Effect":"Allow","Principal":{"AWS":"`+dev+`"},"Action":"signer:GetSigningProfile","Resource":"`+profile+`"}]}`)
	tagged := mustParse(t, Identity, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"lambda:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]},"NumericLessThanEquals":{"lambda:MemorySize":"1024"}}},
		{"Effect":"Allow","Action":"signer:TagResource","Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":["team*"]},"Null":{"aws:MultiFactorAuthAge":"false"}}}]}`)

	developer := Policies{Identity: []*Document{devAccess}, Boundary: boundary}
	ci := Policies{Identity: []*Document{ciPolicy}, RoleARN: ciRole}
	ctxAuditor := func(ip, secure, when, region string) map[string][]string {
		m := map[string][]string{"aws:sourceip": {ip}, "aws:securetransport": {secure}, "aws:currenttime": {when}, "aws:username": {"auditor"}}
		if region != "" {
			m["aws:requestedregion"] = []string{region}
		}
		return m
	}
	okCtx := ctxAuditor("10.1.2.3", "true", "2026-11-23T00:00:00Z", "us-east-1")
	tests := []struct {
		name      string
		p         Policies
		principal string
		action    string
		resource  string
		ctx       map[string][]string
		want      Effect
		reason    string // substring of the reason
	}{
		// Seed 001's developer: AdministratorAccess minus code signing
		// configs, under DeveloperPermissionBoundary.
		{"dev updates code", developer, dev, "lambda:UpdateFunctionCode", fn, nil, Allow, ""},
		{"dev creates function", developer, dev, "lambda:CreateFunction", fn, nil, Allow, ""},
		{"dev invokes", developer, dev, "lambda:InvokeFunction", fn, nil, Allow, ""},
		{"dev reads logs", developer, dev, "logs:FilterLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:*", nil, Allow, ""},
		{"dev uploads to s3", developer, dev, "s3:PutObject", "arn:aws:s3:::lambda-artifacts/hello.zip", nil, Allow, ""},
		{"dev signs", developer, dev, "signer:StartSigningJob", profile, nil, ExplicitDeny, "permissions boundary"},
		{"dev creates profile", developer, dev, "signer:PutSigningProfile", profile, nil, ExplicitDeny, "permissions boundary"},
		{"dev revokes", developer, dev, "signer:RevokeSignature", "*", nil, ExplicitDeny, "permissions boundary"},
		{"dev lists platforms", developer, dev, "signer:ListSigningPlatforms", "*", nil, ExplicitDeny, "permissions boundary"},
		{"dev creates user", developer, dev, "iam:CreateUser", "arn:aws:iam::123456789012:user/x", nil, ExplicitDeny, "permissions boundary"},
		{"dev attaches policy", developer, dev, "iam:AttachUserPolicy", dev, nil, ExplicitDeny, "permissions boundary"},
		{"dev removes own boundary", developer, dev, "iam:DeleteUserPermissionsBoundary", dev, nil, ExplicitDeny, "permissions boundary"},
		{"dev reads iam", developer, dev, "iam:GetUser", dev, nil, Allow, ""},
		{"dev action case differs", developer, dev, "IAM:createuser", dev, nil, ExplicitDeny, "permissions boundary"},
		{"dev runs instances", developer, dev, "ec2:RunInstances", "*", nil, ExplicitDeny, "permissions boundary"},
		{"dev creates csc", developer, dev, "lambda:CreateCodeSigningConfig", "*", nil, ExplicitDeny, "identity-based policy"},
		{"dev updates csc", developer, dev, "lambda:UpdateCodeSigningConfig", csc, nil, ExplicitDeny, "identity-based policy"},
		{"dev deletes csc", developer, dev, "lambda:DeleteCodeSigningConfig", csc, nil, ExplicitDeny, "identity-based policy"},
		{"dev attaches csc", developer, dev, "lambda:PutFunctionCodeSigningConfig", fn, nil, ExplicitDeny, "identity-based policy"},
		{"dev detaches csc", developer, dev, "lambda:DeleteFunctionCodeSigningConfig", fn, nil, ExplicitDeny, "identity-based policy"},
		{"dev without identity policy", Policies{Boundary: boundary}, dev, "lambda:UpdateFunctionCode", fn, nil, ImplicitDeny, "no identity-based policy allows the lambda:UpdateFunctionCode action"},
		{"boundary alone grants nothing", Policies{Identity: []*Document{ciPolicy}, Boundary: mustParse(t, Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)}, dev, "signer:StartSigningJob", profile, nil, ImplicitDeny, "no permissions boundary allows"},
		{"resource policy names dev despite boundary deny? no: explicit deny wins", Policies{Identity: []*Document{devAccess}, Boundary: boundary, Resource: []*Document{profilePolicy}}, dev, "signer:GetSigningProfile", profile, nil, ExplicitDeny, "permissions boundary"},
		{"resource policy names dev, boundary silent", Policies{Boundary: mustParse(t, Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:*","Resource":"*"}}`), Resource: []*Document{profilePolicy}}, dev, "signer:GetSigningProfile", profile, nil, Allow, ""},

		// The CI role (through AssumeRole) signs and deploys.
		{"ci signs", ci, ciSession, "signer:StartSigningJob", profile, nil, Allow, ""},
		{"ci describes job", ci, ciSession, "signer:DescribeSigningJob", "arn:aws:signer:us-east-1:123456789012:/signing-jobs/1", nil, Allow, ""},
		{"ci deploys", ci, ciSession, "lambda:UpdateFunctionCode", fn, nil, Allow, ""},
		{"ci deploys to another account", ci, ciSession, "lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:999999999999:function:x", nil, ImplicitDeny, "no identity-based policy"},
		{"ci creates profile", ci, ciSession, "signer:PutSigningProfile", profile, nil, ImplicitDeny, "no identity-based policy"},
		{"ci attaches our csc", ci, ciSession, "lambda:PutFunctionCodeSigningConfig", fn, map[string][]string{"lambda:codesigningconfigarn": {csc}}, Allow, ""},
		{"ci attaches foreign csc", ci, ciSession, "lambda:PutFunctionCodeSigningConfig", fn, map[string][]string{"lambda:codesigningconfigarn": {"arn:aws:lambda:us-east-1:999999999999:code-signing-config:csc-x"}}, ImplicitDeny, ""},
		{"ci attaches csc, key absent", ci, ciSession, "lambda:PutFunctionCodeSigningConfig", fn, nil, ImplicitDeny, ""},
		{"ci deletes function", ci, ciSession, "lambda:DeleteFunction", fn, nil, ImplicitDeny, ""},

		// Conditions.
		{"auditor reads from the office", Policies{Identity: []*Document{auditorPolicy}}, auditor, "lambda:GetFunction", fn, okCtx, Allow, ""},
		{"auditor from a single allowed ip", Policies{Identity: []*Document{auditorPolicy}}, auditor, "lambda:GetFunction", fn, ctxAuditor("192.168.1.7", "true", "2026-11-23T00:00:00Z", "us-east-1"), Allow, ""},
		{"auditor from elsewhere", Policies{Identity: []*Document{auditorPolicy}}, auditor, "lambda:GetFunction", fn, ctxAuditor("203.0.113.9", "true", "2026-11-23T00:00:00Z", "us-east-1"), ImplicitDeny, ""},
		{"auditor over http", Policies{Identity: []*Document{auditorPolicy}}, auditor, "lambda:GetFunction", fn, ctxAuditor("10.1.2.3", "false", "2026-11-23T00:00:00Z", "us-east-1"), ImplicitDeny, ""},
		{"auditor after expiry", Policies{Identity: []*Document{auditorPolicy}}, auditor, "lambda:GetFunction", fn, ctxAuditor("10.1.2.3", "true", "2027-02-01T00:00:00Z", "us-east-1"), ImplicitDeny, ""},
		{"auditor in another region", Policies{Identity: []*Document{auditorPolicy}}, auditor, "lambda:GetFunction", fn, ctxAuditor("10.1.2.3", "true", "2026-11-23T00:00:00Z", "ap-south-1"), ExplicitDeny, "identity-based policy"},
		{"auditor, no region key: IfExists makes the Deny apply", Policies{Identity: []*Document{auditorPolicy}}, auditor, "lambda:GetFunction", fn, ctxAuditor("10.1.2.3", "true", "2026-11-23T00:00:00Z", ""), ExplicitDeny, "identity-based policy"},
		{"auditor NotAction excludes signing", Policies{Identity: []*Document{auditorPolicy}}, auditor, "signer:StartSigningJob", profile, okCtx, ImplicitDeny, ""},
		{"auditor NotAction excludes iam", Policies{Identity: []*Document{auditorPolicy}}, auditor, "iam:GetUser", auditor, okCtx, ImplicitDeny, ""},
		{"policy variable matches own group", Policies{Identity: []*Document{auditorPolicy}}, auditor, "logs:FilterLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/auditor-tools", ctxAuditor("203.0.113.9", "false", "2026-11-23T00:00:00Z", "us-east-1"), Allow, ""},
		{"policy variable refuses another's group", Policies{Identity: []*Document{auditorPolicy}}, auditor, "logs:FilterLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/dev-tools", ctxAuditor("203.0.113.9", "false", "2026-11-23T00:00:00Z", "us-east-1"), ImplicitDeny, ""},
		{"ForAllValues subset", Policies{Identity: []*Document{tagged}}, dev, "lambda:TagResource", fn, map[string][]string{"aws:tagkeys": {"env"}, "lambda:memorysize": {"512"}}, Allow, ""},
		{"ForAllValues extra key", Policies{Identity: []*Document{tagged}}, dev, "lambda:TagResource", fn, map[string][]string{"aws:tagkeys": {"env", "cost"}, "lambda:memorysize": {"512"}}, ImplicitDeny, ""},
		{"numeric over", Policies{Identity: []*Document{tagged}}, dev, "lambda:CreateFunction", fn, map[string][]string{"lambda:memorysize": {"2048"}}, ImplicitDeny, ""},
		{"numeric key absent", Policies{Identity: []*Document{tagged}}, dev, "lambda:CreateFunction", fn, nil, ImplicitDeny, ""},
		{"ForAnyValue StringLike + Null false", Policies{Identity: []*Document{tagged}}, dev, "signer:TagResource", profile, map[string][]string{"aws:tagkeys": {"x", "team-a"}, "aws:multifactorauthage": {"30"}}, Allow, ""},
		{"Null false without the key", Policies{Identity: []*Document{tagged}}, dev, "signer:TagResource", profile, map[string][]string{"aws:tagkeys": {"team-a"}}, ImplicitDeny, ""},

		// Resource-based policies (AddProfilePermission).
		{"other account via profile permission", Policies{Resource: []*Document{profilePolicy}}, other, "signer:StartSigningJob", profile, nil, Allow, ""},
		{"other account, other action", Policies{Resource: []*Document{profilePolicy}}, other, "signer:PutSigningProfile", profile, nil, ImplicitDeny, ""},
		{"other account, other profile", Policies{Resource: []*Document{profilePolicy}}, other, "signer:StartSigningJob", profile + "2", nil, ImplicitDeny, ""},
		{"wildcard resource in request", Policies{Identity: []*Document{mustParse(t, Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"signer:*","Resource":"arn:aws:signer:*:*:/signing-profiles/*"}}`)}}, dev, "signer:ListSigningProfiles", "*", nil, ImplicitDeny, ""},
		{"question mark", Policies{Identity: []*Document{mustParse(t, Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:Get?unction","Resource":"*"}}`)}}, dev, "lambda:GetFunction", fn, nil, Allow, ""},
		{"NotResource", Policies{Identity: []*Document{mustParse(t, Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:*","NotResource":"arn:aws:lambda:*:*:function:prod-*"}}`)}}, dev, "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:prod-payments", nil, ImplicitDeny, ""},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			account := acct
			if strings.Contains(tc.principal, "999999999999") {
				account = "999999999999"
			}
			d := Evaluate(tc.p, Request{Principal: tc.principal, Account: account, Action: tc.action, Resource: tc.resource, Context: tc.ctx})
			if d.Effect != tc.want || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("%s %s on %s: %v (%s), want %v (%s)", tc.principal, tc.action, tc.resource, d.Effect, d.Reason, tc.want, tc.reason)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		doc  string
		kind Kind
		want string
	}{
		{`{}`, Identity, "Version is required"},
		{`{"Version":"2012-10-17"}`, Identity, "Statement is required"},
		{`{"Version":"2012-10-17","Statement":[]}`, Identity, "must not be empty"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`, Identity, `Effect must be "Allow" or "Deny"`},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}`, Identity, "Action or NotAction is required"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}}`, Identity, "Resource or NotResource is required"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"StartSigningJob","Resource":"*"}}`, Identity, "SERVICE:ACTION"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}`, Identity, "has no Principal"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, Trust, "Principal is required"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"a:b":"c"}}}}`, Identity, "not supported"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}}}`, Identity, "not a valid value"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}}`, Identity, "unknown field"},
		{`{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"*","Resource":"*"}]}`, Identity, "unique"},
		{`not json`, Identity, "not a JSON policy"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.doc), tc.kind)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s): %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "abbbc", true}, {"a*c", "abcd", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"**", "x", true}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxcyyb", false},
	} {
		if got := globMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

// FuzzParse: any document parses or is refused as malformed; one that
// parses evaluates without panicking.
func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/DeveloperPermissionBoundary.json")
	f.Add(b)
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"1"},"Action":"*","Resource":"*","Condition":{"ForAnyValue:StringLikeIfExists":{"a:b":["${aws:username}"]}}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, k := range []Kind{Identity, Resource, Trust} {
			d, err := Parse(doc, k)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error not ErrMalformed: %v", err)
				}
				continue
			}
			Evaluate(Policies{Identity: []*Document{d}, Resource: []*Document{d}, Boundary: d},
				Request{Principal: dev, Account: acct, Action: "signer:StartSigningJob", Resource: profile, Context: map[string][]string{"a:b": {"x"}, "aws:username": {"dev"}}})
		}
	})
}

// BenchmarkDecision decides with a 20-statement identity policy and the
// seed's boundary; the deciding statement is the last one.
func BenchmarkDecision(b *testing.B) {
	var sts []string
	for i := range 19 {
		sts = append(sts, fmt.Sprintf(`{"Sid":"s%d","Effect":"Allow","Action":["lambda:Get*","lambda:List*","s3:Get*"],"Resource":"arn:aws:lambda:us-east-1:123456789012:function:team%d-*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}`, i, i))
	}
	sts = append(sts, `{"Sid":"deploy","Effect":"Allow","Action":"lambda:UpdateFunctionCode","Resource":"arn:aws:lambda:us-east-1:123456789012:function:*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`)
	identity := mustParse(b, Identity, `{"Version":"2012-10-17","Statement":[`+strings.Join(sts, ",")+`]}`)
	boundary := mustFile(b, "DeveloperPermissionBoundary.json")
	p := Policies{Identity: []*Document{identity}, Boundary: boundary}
	r := Request{Principal: dev, Account: acct, Action: "lambda:UpdateFunctionCode", Resource: fn,
		Context: map[string][]string{"aws:sourceip": {"10.0.0.7"}, "aws:requestedregion": {"us-east-1"}}}
	for b.Loop() {
		if !Evaluate(p, r).Allowed() {
			b.Fatal("denied")
		}
	}
}
