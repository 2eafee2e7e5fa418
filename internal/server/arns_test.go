package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// principal is a user's (or a role session's) clients.
type principal struct {
	iam    *awsiam.Client
	sts    *sts.Client
	lambda *lambda.Client
	logs   *cloudwatchlogs.Client
}

func clientsOf(ts *servertest.Server, id, secret, token string) principal {
	creds := credentials.NewStaticCredentialsProvider(id, secret, token)
	cfg := aws.Config{Region: "us-east-1", Credentials: creds, Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
	return principal{
		iam:    awsiam.NewFromConfig(cfg, func(o *awsiam.Options) { o.BaseEndpoint = aws.String(ts.URL) }),
		sts:    sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(ts.URL) }),
		lambda: lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(ts.URL) }),
		logs:   cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(ts.URL) }),
	}
}

// userWithPolicy creates a user at path with an inline policy document.
func userWithPolicy(t *testing.T, ts *servertest.Server, name, path, doc string) principal {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.IAM.CreateUser(ctx, name, path); err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindUser, name, "p", doc); err != nil {
		t.Fatal(err)
	}
	id, secret, err := ts.IAM.CreateAccessKey(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return clientsOf(ts, id, secret, "")
}

func wantDenied(t *testing.T, what string, err error) {
	t.Helper()
	if c := apiCode(err); c != "AccessDenied" && c != "AccessDeniedException" {
		t.Errorf("%s: %v, want AccessDenied", what, err)
	}
}

// TestIAMResourceARNs: IAM authorizes users, roles and policies by their
// real ARNs, path included, and an operation without UserName against
// the caller's own user.
func TestIAMResourceARNs(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	acct := ts.AccountID()
	if _, err := ts.IAM.CreateUser(ctx, "boss", "/admins/"); err != nil {
		t.Fatal(err)
	}
	dev := userWithPolicy(t, ts, "dev", "/devs/", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iam:*","sts:AssumeRole"],"Resource":"*"},
		{"Effect":"Deny","Action":"iam:*","Resource":"arn:aws:iam::`+acct+`:user/admins/*"},
		{"Effect":"Deny","Action":"iam:*","Resource":"arn:aws:iam::`+acct+`:policy/admins/*"},
		{"Effect":"Deny","Action":"iam:CreateAccessKey","Resource":"arn:aws:iam::`+acct+`:user/devs/dev"},
		{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::`+acct+`:role/admins/*"}]}`)

	// A Deny on user/admins/* holds whether or not the request spells the path.
	if _, err := dev.iam.GetUser(ctx, &awsiam.GetUserInput{UserName: aws.String("boss")}); true {
		wantDenied(t, "GetUser boss", err)
	}
	if _, err := dev.iam.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("boss"), PolicyName: aws.String("x"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)}); true {
		wantDenied(t, "PutUserPolicy boss", err)
	}
	if _, err := dev.iam.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("boss")}); true {
		wantDenied(t, "CreateAccessKey boss", err)
	}
	// Without UserName, the caller's own user is the resource: the Deny on
	// it holds, and GetUser answers the caller.
	if _, err := dev.iam.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{}); true {
		wantDenied(t, "CreateAccessKey of the caller's own user", err)
	}
	if me, err := dev.iam.GetUser(ctx, &awsiam.GetUserInput{}); err != nil || aws.ToString(me.User.Arn) != "arn:aws:iam::"+acct+":user/devs/dev" {
		t.Errorf("GetUser without UserName: %v %v", me, err)
	}
	// Managed policies are named by their whole ARN.
	admins, err := ts.IAM.CreatePolicy(ctx, "AdminAccess", "/admins/", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.iam.DeletePolicy(ctx, &awsiam.DeletePolicyInput{PolicyArn: aws.String("arn:aws:iam::" + acct + ":policy/AdminAccess")}); apiCode(err) != "NoSuchEntity" {
		t.Errorf("DeletePolicy by a path-less ARN of %s: %v, want NoSuchEntity", ts.IAM.PolicyARN(admins), err)
	}
	if _, err := ts.IAM.Policy(ctx, ts.IAM.PolicyARN(admins)); err != nil {
		t.Errorf("the policy is gone: %v", err)
	}
	// AssumeRole names the role by its whole ARN: role/ops is not
	// role/admins/ops, and the Deny on role/admins/* holds.
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/devs/dev"},"Action":"sts:AssumeRole"}}`
	if _, err := ts.IAM.CreateRole(ctx, "ops", "/admins/", "", trust, 0); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{"arn:aws:iam::" + acct + ":role/ops", "arn:aws:iam::" + acct + ":role/admins/ops"} {
		if _, err := dev.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("s1")}); true {
			wantDenied(t, "AssumeRole "+arn, err)
		}
	}
}

// TestRoleSessionsBoundToRoleID: a role session dies with its role; a
// new role of the same name does not revive it.
func TestRoleSessionsBoundToRoleID(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	acct := ts.AccountID()
	dev := userWithPolicy(t, ts, "dev", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}`)
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/dev"},"Action":"sts:AssumeRole"}}`
	read := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}}`
	makeRole := func() {
		if _, err := ts.IAM.CreateRole(ctx, "deployer", "", "", trust, 0); err != nil {
			t.Fatal(err)
		}
		if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, "deployer", "read", read); err != nil {
			t.Fatal(err)
		}
	}
	makeRole()
	out, err := dev.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/deployer"), RoleSessionName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	session := clientsOf(ts, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	if _, err := session.lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("the session: %v", err)
	}
	if err := ts.IAM.DeleteInlinePolicy(ctx, iam.KindRole, "deployer", "read"); err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.DeleteRole(ctx, "deployer"); err != nil {
		t.Fatal(err)
	}
	makeRole()
	if _, err := session.lambda.ListFunctions(ctx, &lambda.ListFunctionsInput{}); true {
		wantDenied(t, "a session of the deleted role, after a role of the same name was created", err)
	}
	if _, err := session.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); true {
		wantDenied(t, "GetCallerIdentity of the dead session", err)
	}
}

// TestLambdaAndLogsResourceARNs: Lambda authorizes the normalized
// function ARN however the function is named, a layer version's real
// ARN, and CloudWatch Logs the log group the request names.
func TestLambdaAndLogsResourceARNs(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	acct := ts.AccountID()
	admin := lambdaClient(ts)
	fn := "arn:aws:lambda:us-east-1:" + acct + ":function:"
	dev := userWithPolicy(t, ts, "dev", "", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["lambda:*","iam:PassRole"],"Resource":"*"},
		{"Effect":"Deny","Action":"lambda:*","Resource":["`+fn+`secret","`+fn+`secret:*"]},
		{"Effect":"Deny","Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:`+acct+`:layer:lib:2"},
		{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:us-east-1:`+acct+`:log-group:/aws/lambda/mine:*"}]}`)
	for _, name := range []string{fn + "secret", acct + ":function:secret", "secret"} {
		_, err := dev.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}})
		wantDenied(t, "CreateFunction "+name, err)
	}
	if _, err := dev.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(acct + ":function:mine"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}}); err != nil {
		t.Errorf("CreateFunction by a partial ARN: %v", err)
	}
	if _, err := admin.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("mine")}); err != nil {
		t.Errorf("the function created by a partial ARN: %v", err)
	}
	if _, err := admin.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("secret"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}}); err != nil {
		t.Fatal(err)
	}
	// Invoke and the concurrency operations take qualified names too.
	for _, name := range []string{"secret", "secret:$LATEST", acct + ":function:secret:$LATEST", fn + "secret:$LATEST"} {
		_, err := dev.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"key1":"x"}`)})
		wantDenied(t, "Invoke "+name, err)
	}
	if _, err := dev.lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(acct + ":function:secret"), ReservedConcurrentExecutions: aws.Int32(1)}); true {
		wantDenied(t, "PutFunctionConcurrency by a partial ARN", err)
	}

	// GetLayerVersion authorizes the version asked for.
	for range 2 {
		if _, err := admin.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("lib"),
			Content: &ltypes.LayerVersionContentInput{ZipFile: zipOf(t, map[string]string{"python/lib.py": "X = 1\n"})}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dev.lambda.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(1)}); err != nil {
		t.Errorf("GetLayerVersion lib:1: %v", err)
	}
	if _, err := dev.lambda.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("lib"), VersionNumber: aws.Int64(2)}); true {
		wantDenied(t, "GetLayerVersion lib:2", err)
	}

	// Logs: the policy names one log group.
	mine, other := "/aws/lambda/mine", "/aws/lambda/other"
	if _, err := dev.logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(mine)}); apiCode(err) == "AccessDeniedException" {
		t.Errorf("FilterLogEvents on the allowed group: %v", err)
	}
	if _, err := dev.logs.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(mine)}); apiCode(err) == "AccessDeniedException" {
		t.Errorf("DescribeLogStreams on the allowed group: %v", err)
	}
	if _, err := dev.logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(mine), LogStreamName: aws.String("s")}); apiCode(err) == "AccessDeniedException" {
		t.Errorf("GetLogEvents on the allowed group: %v", err)
	}
	if _, err := dev.logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(other)}); true {
		wantDenied(t, "FilterLogEvents on another group", err)
	}
	if _, err := dev.logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupIdentifier: aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:" + other),
		LogStreamName: aws.String("s")}); true {
		wantDenied(t, "GetLogEvents on another group named by ARN", err)
	}
}

// TestAddPermissionDeleteFunctionRace runs AddPermission and
// DeleteFunction concurrently, then re-creates the function: the new
// function never has a statement added to the old one.
func TestAddPermissionDeleteFunctionRace(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	lc := lambdaClient(ts)
	role := ts.LambdaRole(t)
	zip := zipOf(t, helloZip)
	create := func() {
		t.Helper()
		if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("f"), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(role), Code: &ltypes.FunctionCode{ZipFile: zip}}); err != nil {
			t.Fatal(err)
		}
	}
	create()
	for round := range 50 {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lc.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("f"), StatementId: aws.String(fmt.Sprintf("r%d-%d", round, i)),
					Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("f")}); err != nil {
				t.Errorf("DeleteFunction: %v", err)
			}
		}()
		wg.Wait()
		create()
		if pol, err := lc.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("f")}); err == nil {
			t.Fatalf("round %d: the re-created function has the policy %s", round, aws.ToString(pol.Policy))
		} else if apiCode(err) != "ResourceNotFoundException" {
			t.Fatalf("round %d: GetPolicy: %v", round, err)
		}
	}
}
