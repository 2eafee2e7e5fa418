package server_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// userClient creates a user with an inline policy and returns a signer
// client with its key.
func userClient(t *testing.T, ts *servertest.Server, name, policy string) *signer.Client {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.IAM.CreateUser(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindUser, name, "p", policy); err != nil {
		t.Fatal(err)
	}
	id, secret, err := ts.IAM.CreateAccessKey(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
}

// TestRateLimits: a burst over the limit is throttled with
// ThrottlingException; traffic under the rate never is. The limiter's
// clock is the test's, so the outcome does not depend on how fast the
// calls are made.
func TestRateLimits(t *testing.T) {
	var clk clock
	clk.Set(time.Now())
	ts := servertest.StartWithConfigAndClock(t, func(c *config.Config) {
		c.RateLimits = config.RateLimits{Rate: 100, Burst: 100, Actions: map[string]config.RateLimit{"signer:GetSigningPlatform": {Rate: 8, Burst: 4}}}
	}, clk.Now)
	ctx := context.Background()
	c := userClient(t, ts, "reader", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"signer:*","Resource":"*"}}`)
	in := &signer.GetSigningPlatformInput{PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}
	noRetry := func(o *signer.Options) { o.RetryMaxAttempts = 1 }
	call := func() (throttled bool) {
		t.Helper()
		_, err := c.GetSigningPlatform(ctx, in, noRetry)
		switch {
		case apiCode(err) == "ThrottlingException":
			if !strings.Contains(err.Error(), "Rate exceeded") {
				t.Errorf("throttling message: %v", err)
			}
			return true
		case err != nil:
			t.Fatal(err)
		}
		return false
	}
	// A burst of 20 at one instant: the bucket's 4 pass.
	throttled := 0
	for range 20 {
		if call() {
			throttled++
		}
	}
	if throttled != 16 {
		t.Errorf("a burst of 20 at a limit of 8/s (burst 4): %d throttled, want 16", throttled)
	}
	// Another action has its own bucket.
	if _, err := c.ListSigningPlatforms(ctx, &signer.ListSigningPlatformsInput{}, noRetry); err != nil {
		t.Errorf("another action after the burst: %v", err)
	}
	// 1/8 s later one token is back, and only one.
	clk.Set(clk.Now().Add(time.Second / 8))
	if call() {
		t.Error("1/8 s after the burst: throttled, want one call to pass")
	}
	if !call() {
		t.Error("a second call 1/8 s after the burst passed, want it throttled")
	}
	// Under the rate: one call every 250 ms (4/s) never throttles.
	for i := range 12 {
		clk.Set(clk.Now().Add(250 * time.Millisecond))
		if call() {
			t.Fatalf("call %d under the rate was throttled", i)
		}
	}
}

// TestAuthorization checks AccessDeniedException's shape and that IAM
// changes take effect at once.
func TestAuthorization(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	c := userClient(t, ts, "limited", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"signer:ListSigningPlatforms","Resource":"*"}}`)
	if _, err := c.ListSigningPlatforms(ctx, &signer.ListSigningPlatformsInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("p1"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")})
	want := "User: arn:aws:iam::" + ts.AccountID() + ":user/limited is not authorized to perform: signer:PutSigningProfile on resource: arn:aws:signer:us-east-1:" +
		ts.AccountID() + ":/signing-profiles/p1 because no identity-based policy allows the signer:PutSigningProfile action"
	if apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), want) {
		t.Fatalf("PutSigningProfile: %v\nwant %s", err, want)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindUser, "limited", "p2", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"signer:PutSigningProfile","Resource":"*"}}`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("p1"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
		t.Fatalf("after the policy was added: %v", err)
	}
	// Deleting the user's key and the user revokes access.
	keys, _ := ts.IAM.AccessKeys(ctx, "limited")
	if err := ts.IAM.DeleteAccessKey(ctx, "limited", keys[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListSigningPlatforms(ctx, &signer.ListSigningPlatformsInput{}); apiCode(err) != "UnrecognizedClientException" {
		t.Errorf("after the key was deleted: %v", err)
	}
}

// TestFunctionPolicy: a function's resource-based policy (AddPermission)
// grants a user with no identity policy exactly the action it names.
func TestFunctionPolicy(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	admin := lambdaClient(ts)
	if _, err := admin.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("shared"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.IAM.CreateUser(ctx, "partner", ""); err != nil {
		t.Fatal(err)
	}
	id, secret, _ := ts.IAM.CreateAccessKey(ctx, "partner")
	partner := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	get := &lambda.GetFunctionInput{FunctionName: aws.String("shared")}
	if _, err := partner.GetFunction(ctx, get); apiCode(err) != "AccessDeniedException" {
		t.Fatalf("before AddPermission: %v", err)
	}
	userARN := "arn:aws:iam::" + ts.AccountID() + ":user/partner"
	out, err := admin.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("shared"), StatementId: aws.String("partner-read"),
		Action: aws.String("lambda:GetFunction"), Principal: aws.String(userARN)})
	if err != nil || !strings.Contains(aws.ToString(out.Statement), `"Sid":"partner-read"`) {
		t.Fatalf("AddPermission: %v %v", err, out)
	}
	if _, err := admin.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("shared"), StatementId: aws.String("partner-read"),
		Action: aws.String("lambda:GetFunction"), Principal: aws.String(userARN)}); apiCode(err) != "ResourceConflictException" {
		t.Errorf("duplicate statement id: %v", err)
	}
	pol, err := admin.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("shared")})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), userARN) {
		t.Fatalf("GetPolicy: %v %v", err, pol)
	}
	if _, err := partner.GetFunction(ctx, get); err != nil {
		t.Errorf("granted action: %v", err)
	}
	if _, err := partner.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("shared")}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("another action: %v", err)
	}
	if _, err := admin.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("shared"), StatementId: aws.String("partner-read")}); err != nil {
		t.Fatal(err)
	}
	if _, err := partner.GetFunction(ctx, get); apiCode(err) != "AccessDeniedException" {
		t.Errorf("after RemovePermission: %v", err)
	}
	if _, err := admin.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("shared")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetPolicy without statements: %v", err)
	}
}

// TestEnforceConfigPolicy runs the policy docs/iam.md gives for
// "functions only under an Enforce config", read from that page, with
// the lambda:CodeSigningConfigArn condition key.
func TestEnforceConfigPolicy(t *testing.T) {
	page, err := os.ReadFile("../../docs/iam.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(page), "## Functions only under an Enforce config")
	_, block, ok2 := strings.Cut(sec, "```json\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/iam.md has no json block under ## Functions only under an Enforce config")
	}
	const docARN = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdefg"
	if !strings.Contains(block, docARN) {
		t.Fatalf("the policy does not name %s:\n%s", docARN, block)
	}
	ts := servertest.Start(t)
	ctx := context.Background()
	admin := lambdaClient(ts)
	versionARN := "arn:aws:signer:us-east-1:" + ts.AccountID() + ":/signing-profiles/p/ABCDEFGHIJ"
	newCSC := func() *string {
		out, err := admin.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}},
			CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyEnforce}})
		if err != nil {
			t.Fatal(err)
		}
		return out.CodeSigningConfig.CodeSigningConfigArn
	}
	approved, other := newCSC(), newCSC()
	if _, err := ts.IAM.CreateRole(ctx, "r", "", "", lambdaTrust, 0); err != nil {
		t.Fatal(err)
	}
	role := aws.String("arn:aws:iam::" + ts.AccountID() + ":role/r")
	if _, err := admin.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("g"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("a.b"), Role: role, Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}}); err != nil {
		t.Fatal(err)
	}
	userClient(t, ts, "dev", strings.ReplaceAll(block, docARN, aws.ToString(approved)))
	id, secret, err := ts.IAM.CreateAccessKey(ctx, "dev") // a second key, for a Lambda client
	if err != nil {
		t.Fatal(err)
	}
	dev := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	create := func(csc *string) error {
		_, err := dev.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("f"), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("a.b"), Role: role, Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}, CodeSigningConfigArn: csc})
		return err
	}
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"fail/create-without-config", func() error { return create(nil) }, "AccessDeniedException"},
		{"fail/create-other-config", func() error { return create(other) }, "AccessDeniedException"},
		// Authorized: the unsigned package then meets the deploy gate.
		{"ok/create-approved-config", func() error { return create(approved) }, "CodeVerificationFailedException"},
		{"fail/attach-other", func() error {
			_, err := dev.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("g"), CodeSigningConfigArn: other})
			return err
		}, "AccessDeniedException"},
		{"ok/attach-approved", func() error {
			_, err := dev.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("g"), CodeSigningConfigArn: approved})
			return err
		}, ""},
		{"fail/detach", func() error {
			_, err := dev.DeleteFunctionCodeSigningConfig(ctx, &lambda.DeleteFunctionCodeSigningConfigInput{FunctionName: aws.String("g")})
			return err
		}, "AccessDeniedException"},
		{"fail/switch-to-warn", func() error {
			_, err := dev.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: approved,
				CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyWarn}})
			return err
		}, "AccessDeniedException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); apiCode(err) != c.code {
				t.Errorf("error %v, want code %q", err, c.code)
			}
		})
	}
}

// TestProfilePermissionsGrant: a signing profile's permissions
// (AddProfilePermission) grant the principal they name the action on
// that profile, and nothing else.
func TestProfilePermissionsGrant(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	admin := ts.Signer()
	for _, name := range []string{"shared", "private"} {
		if _, err := admin.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(name), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
			t.Fatal(err)
		}
	}
	c := userClient(t, ts, "reader", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"signer:ListSigningPlatforms","Resource":"*"}}`)
	get := func(name string) error {
		_, err := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String(name)})
		return err
	}
	if err := get("shared"); apiCode(err) != "AccessDeniedException" {
		t.Fatalf("before AddProfilePermission: %v", err)
	}
	if _, err := admin.AddProfilePermission(ctx, &signer.AddProfilePermissionInput{ProfileName: aws.String("shared"), StatementId: aws.String("reader"),
		Action: aws.String("signer:GetSigningProfile"), Principal: aws.String("arn:aws:iam::" + ts.AccountID() + ":user/reader")}); err != nil {
		t.Fatal(err)
	}
	if err := get("shared"); err != nil {
		t.Errorf("the granted action: %v", err)
	}
	if err := get("private"); apiCode(err) != "AccessDeniedException" {
		t.Errorf("another profile: %v", err)
	}
	if _, err := c.CancelSigningProfile(ctx, &signer.CancelSigningProfileInput{ProfileName: aws.String("shared")}); apiCode(err) != "AccessDeniedException" {
		t.Errorf("another action: %v", err)
	}
}
