package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	stypes "github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// decoded is a policy document as IAM returns it, URL-decoded.
func decoded(t *testing.T, doc *string) string {
	t.Helper()
	s, err := url.QueryUnescape(aws.ToString(doc))
	if err != nil {
		t.Fatalf("document %q is not URL-encoded: %v", aws.ToString(doc), err)
	}
	return s
}

// TestIAMReadOperations: the operations that read managed and inline
// policies round-trip through the Go SDK, page, and answer NoSuchEntity
// for what does not exist.
func TestIAMReadOperations(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	admin := clientsOf(ts, ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, "").iam
	acct := ts.AccountID()

	// A document with spaces and newlines, which IAM's URL-encoding must
	// carry as they are.
	doc := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Sid\": \"Read all\", \"Effect\": \"Allow\", \"Action\": \"signer:Get*\", \"Resource\": \"*\"}]\n}"
	arns := map[string]string{}
	for _, p := range []struct{ name, path string }{{"e-readers", "/"}, {"a-auditors", "/team/"}, {"c-ci", "/"}, {"b-boundary", "/"}, {"d-deploy", "/team/"}} {
		out, err := admin.CreatePolicy(ctx, &awsiam.CreatePolicyInput{PolicyName: aws.String(p.name), Path: aws.String(p.path), PolicyDocument: aws.String(doc)})
		if err != nil {
			t.Fatal(err)
		}
		arns[p.name] = aws.ToString(out.Policy.Arn)
	}
	if _, err := admin.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("ci"), Path: aws.String("/build/"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"sts:AssumeRole"}}`)}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"e-readers", "a-auditors"} {
		if _, err := admin.AttachUserPolicy(ctx, &awsiam.AttachUserPolicyInput{UserName: aws.String("dev"), PolicyArn: aws.String(arns[n])}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.AttachRolePolicy(ctx, &awsiam.AttachRolePolicyInput{RoleName: aws.String("ci"), PolicyArn: aws.String(arns["c-ci"])}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"z-inline", "m-inline", "a-inline"} {
		if _, err := admin.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String(n), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("ci"), PolicyName: aws.String("sign"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}

	t.Run("ListPolicies", func(t *testing.T) {
		var names []string
		in := &awsiam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal, MaxItems: aws.Int32(2)}
		for pages := 0; ; pages++ {
			out, err := admin.ListPolicies(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Policies) > 2 || out.IsTruncated != (out.Marker != nil) {
				t.Fatalf("page %d: %d policies, truncated %v, marker %v", pages, len(out.Policies), out.IsTruncated, out.Marker)
			}
			for _, p := range out.Policies {
				names = append(names, aws.ToString(p.PolicyName))
				want := map[string]int32{"e-readers": 1, "a-auditors": 1, "c-ci": 1}[aws.ToString(p.PolicyName)]
				if aws.ToInt32(p.AttachmentCount) != want || aws.ToString(p.DefaultVersionId) != "v1" || aws.ToString(p.Arn) != arns[aws.ToString(p.PolicyName)] ||
					!p.IsAttachable || aws.ToString(p.PolicyId) == "" || p.CreateDate == nil {
					t.Errorf("policy %+v", p)
				}
			}
			if !out.IsTruncated {
				break
			}
			in.Marker = out.Marker
		}
		if want := []string{"a-auditors", "b-boundary", "c-ci", "d-deploy", "e-readers"}; !slices.Equal(names, want) {
			t.Errorf("paged through %v, want %v", names, want)
		}
		list := func(in *awsiam.ListPoliciesInput) []string {
			t.Helper()
			out, err := admin.ListPolicies(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range out.Policies {
				names = append(names, aws.ToString(p.PolicyName))
			}
			return names
		}
		if got := list(&awsiam.ListPoliciesInput{OnlyAttached: true}); !slices.Equal(got, []string{"a-auditors", "c-ci", "e-readers"}) {
			t.Errorf("OnlyAttached: %v", got)
		}
		if got := list(&awsiam.ListPoliciesInput{PathPrefix: aws.String("/team/")}); !slices.Equal(got, []string{"a-auditors", "d-deploy"}) {
			t.Errorf("PathPrefix /team/: %v", got)
		}
		if got := list(&awsiam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeAws}); len(got) != 0 {
			t.Errorf("Scope AWS (Signet has no AWS managed policies): %v", got)
		}
		if _, err := admin.ListPolicies(ctx, &awsiam.ListPoliciesInput{MaxItems: aws.Int32(0)}); apiCode(err) != "ValidationError" || !strings.Contains(err.Error(), "maxItems") {
			t.Errorf("MaxItems 0: %v", err)
		}
	})

	t.Run("GetPolicyVersion", func(t *testing.T) {
		out, err := admin.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: aws.String(arns["a-auditors"]), VersionId: aws.String("v1")})
		if err != nil {
			t.Fatal(err)
		}
		if v := out.PolicyVersion; decoded(t, v.Document) != doc || aws.ToString(v.VersionId) != "v1" || !v.IsDefaultVersion || v.CreateDate == nil {
			t.Errorf("PolicyVersion %+v (document %q)", v, decoded(t, v.Document))
		}
		if _, err := admin.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: aws.String(arns["a-auditors"]), VersionId: aws.String("v2")}); apiCode(err) != "NoSuchEntity" {
			t.Errorf("version v2: %v, want NoSuchEntity", err)
		}
		if _, err := admin.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: aws.String("arn:aws:iam::" + acct + ":policy/none"), VersionId: aws.String("v1")}); apiCode(err) != "NoSuchEntity" {
			t.Errorf("missing policy: %v, want NoSuchEntity", err)
		}
		if _, err := admin.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: aws.String(arns["a-auditors"]), VersionId: aws.String("latest")}); apiCode(err) != "ValidationError" || !strings.Contains(err.Error(), "versionId") {
			t.Errorf("version latest: %v, want ValidationError", err)
		}
	})

	t.Run("AttachedAndInline", func(t *testing.T) {
		au, err := admin.ListAttachedUserPolicies(ctx, &awsiam.ListAttachedUserPoliciesInput{UserName: aws.String("dev")})
		if err != nil || len(au.AttachedPolicies) != 2 || aws.ToString(au.AttachedPolicies[0].PolicyName) != "a-auditors" ||
			aws.ToString(au.AttachedPolicies[0].PolicyArn) != arns["a-auditors"] || aws.ToString(au.AttachedPolicies[1].PolicyArn) != arns["e-readers"] || au.IsTruncated {
			t.Errorf("ListAttachedUserPolicies = %+v, %v", au, err)
		}
		ar, err := admin.ListAttachedRolePolicies(ctx, &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String("ci")})
		if err != nil || len(ar.AttachedPolicies) != 1 || aws.ToString(ar.AttachedPolicies[0].PolicyArn) != arns["c-ci"] {
			t.Errorf("ListAttachedRolePolicies = %+v, %v", ar, err)
		}
		var names []string
		in := &awsiam.ListUserPoliciesInput{UserName: aws.String("dev"), MaxItems: aws.Int32(2)}
		for {
			out, err := admin.ListUserPolicies(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, out.PolicyNames...)
			if !out.IsTruncated {
				break
			}
			in.Marker = out.Marker
		}
		if want := []string{"a-inline", "m-inline", "z-inline"}; !slices.Equal(names, want) {
			t.Errorf("ListUserPolicies paged: %v, want %v", names, want)
		}
		rp, err := admin.ListRolePolicies(ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String("ci")})
		if err != nil || !slices.Equal(rp.PolicyNames, []string{"sign"}) {
			t.Errorf("ListRolePolicies = %+v, %v", rp, err)
		}
		up, err := admin.GetUserPolicy(ctx, &awsiam.GetUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("m-inline")})
		if err != nil || aws.ToString(up.UserName) != "dev" || aws.ToString(up.PolicyName) != "m-inline" || decoded(t, up.PolicyDocument) != doc {
			t.Errorf("GetUserPolicy = %+v, %v", up, err)
		}
		gr, err := admin.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("ci"), PolicyName: aws.String("sign")})
		if err != nil || aws.ToString(gr.RoleName) != "ci" || decoded(t, gr.PolicyDocument) != doc {
			t.Errorf("GetRolePolicy = %+v, %v", gr, err)
		}
		for what, err := range map[string]error{
			"GetUserPolicy of a missing policy": func() error {
				_, err := admin.GetUserPolicy(ctx, &awsiam.GetUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("none")})
				return err
			}(),
			"GetRolePolicy of a missing role": func() error {
				_, err := admin.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("none"), PolicyName: aws.String("sign")})
				return err
			}(),
			"ListUserPolicies of a missing user": func() error {
				_, err := admin.ListUserPolicies(ctx, &awsiam.ListUserPoliciesInput{UserName: aws.String("none")})
				return err
			}(),
			"ListAttachedRolePolicies of a missing role": func() error {
				_, err := admin.ListAttachedRolePolicies(ctx, &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String("none")})
				return err
			}(),
		} {
			if apiCode(err) != "NoSuchEntity" {
				t.Errorf("%s: %v, want NoSuchEntity", what, err)
			}
		}
	})

	t.Run("Boundaries", func(t *testing.T) {
		if _, err := admin.PutUserPermissionsBoundary(ctx, &awsiam.PutUserPermissionsBoundaryInput{UserName: aws.String("dev"), PermissionsBoundary: aws.String(arns["b-boundary"])}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.PutRolePermissionsBoundary(ctx, &awsiam.PutRolePermissionsBoundaryInput{RoleName: aws.String("ci"), PermissionsBoundary: aws.String(arns["b-boundary"])}); err != nil {
			t.Fatal(err)
		}
		u, err := admin.GetUser(ctx, &awsiam.GetUserInput{UserName: aws.String("dev")})
		if err != nil || u.User.PermissionsBoundary == nil || aws.ToString(u.User.PermissionsBoundary.PermissionsBoundaryArn) != arns["b-boundary"] ||
			u.User.PermissionsBoundary.PermissionsBoundaryType != iamtypes.PermissionsBoundaryAttachmentTypePolicy {
			t.Errorf("GetUser boundary = %+v, %v", u, err)
		}
		r, err := admin.GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String("ci")})
		if err != nil || r.Role.PermissionsBoundary == nil || aws.ToString(r.Role.PermissionsBoundary.PermissionsBoundaryArn) != arns["b-boundary"] ||
			aws.ToString(r.Role.Arn) != "arn:aws:iam::"+acct+":role/build/ci" {
			t.Errorf("GetRole boundary = %+v, %v", r, err)
		}
	})
}

// TestSimulatePrincipalPolicy is seed 001's governed deployment asked of
// the simulator: a developer (a user, and a role) under
// DeveloperPermissionBoundary (verbatim), whose own policy lets them
// deploy their functions but not change code signing configs. The
// simulator answers as the real calls are answered, because it is the
// server's own authorizer.
func TestSimulatePrincipalPolicy(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	acct := ts.AccountID()
	admin := clientsOf(ts, ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, "")
	boundary, err := os.ReadFile("../e2e/testdata/DeveloperPermissionBoundary.json")
	if err != nil {
		t.Fatal(err)
	}
	bp, err := admin.iam.CreatePolicy(ctx, &awsiam.CreatePolicyInput{PolicyName: aws.String("DeveloperPermissionBoundary"), PolicyDocument: aws.String(string(boundary))})
	if err != nil {
		t.Fatal(err)
	}
	developer := `{"Version": "2012-10-17", "Statement": [
		{"Sid": "OwnFunctions", "Effect": "Allow", "Action": "lambda:*", "Resource": "arn:aws:lambda:us-east-1:` + acct + `:function:dev-*"},
		{"Sid": "Signing", "Effect": "Allow", "Action": "signer:*", "Resource": "*"},
		{"Sid": "TeamInvokes", "Effect": "Allow", "Action": "lambda:InvokeAsync", "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/team": "dev"}}},
		{"Sid": "NoCodeSigningConfigChanges", "Effect": "Deny", "Action": ["lambda:CreateCodeSigningConfig", "lambda:UpdateCodeSigningConfig",
			"lambda:DeleteCodeSigningConfig", "lambda:PutFunctionCodeSigningConfig", "lambda:DeleteFunctionCodeSigningConfig"], "Resource": "*"}]}`
	userARN := "arn:aws:iam::" + acct + ":user/dev"
	roleARN := "arn:aws:iam::" + acct + ":role/teams/developer"
	dev := userWithPolicy(t, ts, "dev", "", developer)
	devID, devSecret, err := ts.IAM.CreateAccessKey(ctx, "dev") // a second key, for Signer
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.SetBoundary(ctx, iam.KindUser, "dev", aws.ToString(bp.Policy.Arn)); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.IAM.CreateRole(ctx, "developer", "/teams/", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"`+acct+`"},"Action":"sts:AssumeRole"}}`, 0); err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, "developer", "developer", developer); err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.SetBoundary(ctx, iam.KindRole, "developer", aws.ToString(bp.Policy.Arn)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dev-app", "prod-app"} {
		if _, err := admin.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}}); err != nil {
			t.Fatal(err)
		}
	}
	fn := func(name string) string { return "arn:aws:lambda:us-east-1:" + acct + ":function:" + name }
	profile := "arn:aws:signer:us-east-1:" + acct + ":/signing-profiles/signing_profile_for_lambda"

	simulate := func(source string, action, resource string, keys ...iamtypes.ContextEntry) iamtypes.EvaluationResult {
		t.Helper()
		out, err := admin.iam.SimulatePrincipalPolicy(ctx, &awsiam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(source),
			ActionNames: []string{action}, ResourceArns: []string{resource}, ContextEntries: keys})
		if err != nil {
			t.Fatalf("simulate %s %s on %s: %v", source, action, resource, err)
		}
		if len(out.EvaluationResults) != 1 {
			t.Fatalf("simulate %s %s: %d results", source, action, len(out.EvaluationResults))
		}
		return out.EvaluationResults[0]
	}
	type want struct {
		decision        iamtypes.PolicyEvaluationDecisionType
		policy, typ     string // the matched statement's source, "" for none
		boundaryAllowed bool
	}
	check := func(source, action, resource string, w want) {
		t.Helper()
		r := simulate(source, action, resource)
		var matched []string
		for _, m := range r.MatchedStatements {
			matched = append(matched, aws.ToString(m.SourcePolicyId)+"/"+string(m.SourcePolicyType))
		}
		wantMatched := []string(nil)
		if w.policy != "" {
			wantMatched = []string{w.policy + "/" + w.typ}
		}
		if r.EvalDecision != w.decision || aws.ToString(r.EvalActionName) != action || aws.ToString(r.EvalResourceName) != resource || !slices.Equal(matched, wantMatched) ||
			r.PermissionsBoundaryDecisionDetail == nil || r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary != w.boundaryAllowed {
			t.Errorf("%s %s on %s: %s, matched %v, boundary %+v; want %s, matched %v, boundary allows %v",
				source, action, resource, r.EvalDecision, matched, r.PermissionsBoundaryDecisionDetail, w.decision, wantMatched, w.boundaryAllowed)
		}
	}
	for _, c := range []struct{ source, inline, typ string }{{userARN, "p", "user"}, {roleARN, "developer", "role"}} {
		check(c.source, "signer:StartSigningJob", profile, want{iamtypes.PolicyEvaluationDecisionTypeExplicitDeny, "DeveloperPermissionBoundary", "user-managed", false})
		check(c.source, "lambda:UpdateFunctionCode", fn("dev-app"), want{iamtypes.PolicyEvaluationDecisionTypeAllowed, c.inline, c.typ, true})
		check(c.source, "lambda:UpdateFunctionCode", fn("prod-app"), want{iamtypes.PolicyEvaluationDecisionTypeImplicitDeny, "", "", true})
		check(c.source, "lambda:PutFunctionCodeSigningConfig", fn("dev-app"), want{iamtypes.PolicyEvaluationDecisionTypeExplicitDeny, c.inline, c.typ, true})
		check(c.source, "iam:CreateUser", "*", want{iamtypes.PolicyEvaluationDecisionTypeExplicitDeny, "DeveloperPermissionBoundary", "user-managed", false})
		check(c.source, "secretsmanager:GetSecretValue", "*", want{iamtypes.PolicyEvaluationDecisionTypeImplicitDeny, "", "", true})
	}

	// The real calls get the same answers.
	if _, err := dev.lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("dev-app"), ZipFile: zipOf(t, helloZip)}); err != nil {
		t.Errorf("developer UpdateFunctionCode of dev-app (simulated allowed): %v", err)
	}
	if _, err := dev.lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("prod-app"), ZipFile: zipOf(t, helloZip)}); apiCode(err) != "AccessDeniedException" ||
		!strings.Contains(err.Error(), "no identity-based policy allows") {
		t.Errorf("developer UpdateFunctionCode of prod-app (simulated implicitDeny): %v", err)
	}
	ds := signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: credentials.NewStaticCredentialsProvider(devID, devSecret, ""), Retryer: aws.NopRetryer{}})
	_, err = ds.StartSigningJob(ctx, &signer.StartSigningJobInput{ProfileName: aws.String("signing_profile_for_lambda"), ClientRequestToken: aws.String("t"),
		Source:      &stypes.Source{S3: &stypes.S3Source{BucketName: aws.String("b"), Key: aws.String("k"), Version: aws.String("1")}},
		Destination: &stypes.Destination{S3: &stypes.S3Destination{BucketName: aws.String("b")}}})
	if apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "explicit deny in a permissions boundary") {
		t.Errorf("developer StartSigningJob (simulated explicitDeny by the boundary): %v", err)
	}

	// Condition keys: missing ones are reported, and given ones decide.
	r := simulate(userARN, "lambda:InvokeAsync", fn("prod-app"))
	if r.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeImplicitDeny || !slices.Equal(r.MissingContextValues, []string{"aws:resourcetag/team"}) {
		t.Errorf("without aws:ResourceTag/team: %s, missing %v", r.EvalDecision, r.MissingContextValues)
	}
	r = simulate(userARN, "lambda:InvokeAsync", fn("prod-app"), iamtypes.ContextEntry{ContextKeyName: aws.String("aws:ResourceTag/team"),
		ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{"dev"}})
	if r.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed || len(r.MissingContextValues) != 0 {
		t.Errorf("with aws:ResourceTag/team=dev: %s, missing %v", r.EvalDecision, r.MissingContextValues)
	}

	// A resource's own policy counts: a function policy grants a user
	// without policies of its own.
	partner := userWithPolicy(t, ts, "partner", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}`)
	if _, err := admin.lambda.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("prod-app"), StatementId: aws.String("partner-read"),
		Action: aws.String("lambda:GetFunction"), Principal: aws.String("arn:aws:iam::" + acct + ":user/partner")}); err != nil {
		t.Fatal(err)
	}
	r = simulate("arn:aws:iam::"+acct+":user/partner", "lambda:GetFunction", fn("prod-app"))
	if r.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed || len(r.MatchedStatements) != 1 || r.MatchedStatements[0].SourcePolicyType != iamtypes.PolicySourceTypeResource ||
		r.PermissionsBoundaryDecisionDetail != nil {
		t.Errorf("partner GetFunction through the function policy: %+v", r)
	}
	if _, err := partner.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("prod-app")}); err != nil {
		t.Errorf("partner GetFunction (simulated allowed): %v", err)
	}
	// …but only for a caller who may read that policy: one who may only
	// simulate learns nothing of it (the function policy is not read).
	sim := userWithPolicy(t, ts, "simulator", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:SimulatePrincipalPolicy","Resource":"*"}}`)
	out, err := sim.iam.SimulatePrincipalPolicy(ctx, &awsiam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::" + acct + ":user/partner"),
		ActionNames: []string{"lambda:GetFunction"}, ResourceArns: []string{fn("prod-app")}})
	if err != nil || len(out.EvaluationResults) != 1 || out.EvaluationResults[0].EvalDecision != iamtypes.PolicyEvaluationDecisionTypeImplicitDeny ||
		len(out.EvaluationResults[0].MatchedStatements) != 0 {
		t.Errorf("simulated by a caller who may not read the function policy: %+v, %v; want implicitDeny, no statement", out, err)
	}

	// Several actions and resources, paged.
	in := &awsiam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(userARN), MaxItems: aws.Int32(3),
		ActionNames: []string{"lambda:GetFunction", "lambda:UpdateFunctionCode", "signer:GetSigningProfile"}, ResourceArns: []string{fn("dev-app"), fn("prod-app")}}
	var got []string
	for {
		out, err := admin.iam.SimulatePrincipalPolicy(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.EvaluationResults {
			got = append(got, aws.ToString(r.EvalActionName)+" "+strings.TrimPrefix(aws.ToString(r.EvalResourceName), fn(""))+" "+string(r.EvalDecision))
		}
		if !out.IsTruncated {
			break
		}
		in.Marker = out.Marker
	}
	wantPaged := []string{"lambda:GetFunction dev-app allowed", "lambda:GetFunction prod-app implicitDeny", "lambda:UpdateFunctionCode dev-app allowed",
		"lambda:UpdateFunctionCode prod-app implicitDeny", "signer:GetSigningProfile dev-app explicitDeny", "signer:GetSigningProfile prod-app explicitDeny"}
	if !slices.Equal(got, wantPaged) {
		t.Errorf("paged results:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantPaged, "\n"))
	}

	// Errors: a principal that does not exist, an ARN that is no user or
	// role, and a caller not allowed iam:SimulatePrincipalPolicy.
	if _, err := admin.iam.SimulatePrincipalPolicy(ctx, &awsiam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::" + acct + ":user/nobody"),
		ActionNames: []string{"signer:StartSigningJob"}}); apiCode(err) != "NoSuchEntity" {
		t.Errorf("missing user: %v, want NoSuchEntity", err)
	}
	if _, err := admin.iam.SimulatePrincipalPolicy(ctx, &awsiam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::" + acct + ":role/developer"),
		ActionNames: []string{"signer:StartSigningJob"}}); apiCode(err) != "NoSuchEntity" {
		t.Errorf("role ARN without the role's path: %v, want NoSuchEntity", err)
	}
	if _, err := admin.iam.SimulatePrincipalPolicy(ctx, &awsiam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::" + acct + ":group/devs"),
		ActionNames: []string{"signer:StartSigningJob"}}); apiCode(err) != "InvalidInput" {
		t.Errorf("group ARN: %v, want InvalidInput", err)
	}
	if _, err := admin.iam.SimulatePrincipalPolicy(ctx, &awsiam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(userARN),
		ActionNames: []string{"signer:StartSigningJob"}, PolicyInputList: []string{developer}}); apiCode(err) != "InvalidInput" || !strings.Contains(err.Error(), "PolicyInputList") {
		t.Errorf("PolicyInputList: %v, want InvalidInput naming it", err)
	}
	_, err = partner.iam.SimulatePrincipalPolicy(ctx, &awsiam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(userARN), ActionNames: []string{"signer:StartSigningJob"}})
	if apiCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "iam:SimulatePrincipalPolicy on resource: "+userARN) {
		t.Errorf("caller without iam:SimulatePrincipalPolicy: %v, want AccessDenied", err)
	}

	t.Run("May", func(t *testing.T) {
		for _, c := range []struct {
			who, action, resource string
			want                  bool
		}{
			{"user/partner", "lambda:GetFunction", fn("prod-app"), true},               // the function policy
			{"user/partner", "lambda:GetFunctionConfiguration", fn("prod-app"), false}, // not in it
			{"user/dev", "lambda:UpdateFunctionCode", fn("dev-app"), true},
			{"user/dev", "signer:GetSigningProfile", profile, false}, // allowed by its policy, denied by its boundary
		} {
			caller := awsapi.Caller{PrincipalARN: "arn:aws:iam::" + acct + ":" + c.who}
			got, audited := ts.May(ctx, caller, c.action, c.resource)
			if got != c.want || audited != "" {
				t.Errorf("May(%s, %s, %s) = %v, audit decision %q; want %v and none", c.who, c.action, c.resource, got, audited, c.want)
			}
		}
	})

	t.Run("AWSCLI", func(t *testing.T) {
		const awsCLI = "/usr/bin/aws"
		if _, err := os.Stat(awsCLI); err != nil {
			if servertest.RequireAll() {
				t.Fatalf("%s not found (%v); SIGNET_REQUIRE_ALL=1 makes it mandatory", awsCLI, err)
			}
			t.Skipf("%s not found (%v); skipping (set SIGNET_REQUIRE_ALL=1 to make this a failure)", awsCLI, err)
		}
		home := t.TempDir()
		run := func(args ...string) map[string]any {
			t.Helper()
			cmd := exec.Command(awsCLI, append(args, "--endpoint-url", ts.URL, "--region", "us-east-1", "--no-cli-pager", "--output", "json")...)
			cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
				"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"), "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1",
				"AWS_ACCESS_KEY_ID=" + ts.Creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ts.Creds.SecretAccessKey}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
			}
			out := map[string]any{}
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stdout.String())
			}
			return out
		}
		lp := run("iam", "list-policies", "--scope", "Local")
		if ps, _ := lp["Policies"].([]any); len(ps) != 1 || ps[0].(map[string]any)["PolicyName"] != "DeveloperPermissionBoundary" || ps[0].(map[string]any)["DefaultVersionId"] != "v1" {
			t.Errorf("list-policies: %v", lp)
		}
		// The CLI decodes the URL-encoded document into JSON.
		pv := run("iam", "get-policy-version", "--policy-arn", aws.ToString(bp.Policy.Arn), "--version-id", "v1")
		if d, ok := pv["PolicyVersion"].(map[string]any)["Document"].(map[string]any); !ok || d["Version"] != "2012-10-17" {
			t.Errorf("get-policy-version: the document is not decoded: %v", pv)
		}
		sim := run("iam", "simulate-principal-policy", "--policy-source-arn", userARN, "--action-names", "signer:StartSigningJob", "lambda:UpdateFunctionCode",
			"--resource-arns", fn("dev-app"))
		var got []string
		for _, r := range sim["EvaluationResults"].([]any) {
			r := r.(map[string]any)
			got = append(got, r["EvalActionName"].(string)+" "+r["EvalDecision"].(string))
		}
		if want := []string{"signer:StartSigningJob explicitDeny", "lambda:UpdateFunctionCode allowed"}; !slices.Equal(got, want) {
			t.Errorf("simulate-principal-policy: %v, want %v\n%v", got, want, sim)
		}
	})
}

// TestAuditorPolicy reads the read-only auditor policy from docs/iam.md
// and asks the simulator what it allows: the reads, and no write, no
// decryption and no secret value.
func TestAuditorPolicy(t *testing.T) {
	page, err := os.ReadFile("../../docs/iam.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(page), "### A read-only auditor")
	_, block, ok2 := strings.Cut(sec, "```json\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/iam.md has no json block under ### A read-only auditor")
	}
	ts := servertest.Start(t)
	ctx := context.Background()
	auditor := userWithPolicy(t, ts, "auditor", "", block)
	arn := "arn:aws:iam::" + ts.AccountID() + ":user/auditor"
	in := &awsiam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(arn), ActionNames: []string{
		"signer:ListSigningJobs", "signer:DescribeSigningJob", "signer:GetSigningProfile", "lambda:GetFunction", "lambda:ListFunctions",
		"lambda:GetCodeSigningConfig", "iam:ListPolicies", "iam:GetPolicyVersion", "iam:SimulatePrincipalPolicy", "secretsmanager:DescribeSecret",
		"secretsmanager:ListSecrets", "signet:ListWorkloads", "logs:FilterLogEvents", "kms:DescribeKey", "kms:ListKeys",
		"signer:StartSigningJob", "signer:RevokeSignature", "signer:PutSigningProfile", "lambda:UpdateFunctionCode", "lambda:PutFunctionCodeSigningConfig",
		"iam:CreateUser", "iam:PutUserPolicy", "secretsmanager:GetSecretValue", "kms:Decrypt", "ssm:GetParameter", "s3:GetObject", "s3:PutObject"}}
	// The auditor may ask this of itself.
	out, err := auditor.iam.SimulatePrincipalPolicy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var allowed []string
	for _, r := range out.EvaluationResults {
		if r.EvalDecision == iamtypes.PolicyEvaluationDecisionTypeAllowed {
			allowed = append(allowed, aws.ToString(r.EvalActionName))
		}
	}
	if want := in.ActionNames[:15]; !slices.Equal(allowed, want) {
		t.Errorf("the auditor may %v\nwant %v", allowed, want)
	}
}
