package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// userClients are a user's Lambda and Signer clients, with retries off.
type userClients struct {
	lambda *lambda.Client
	signer *signer.Client
}

// newUser creates a user allowed actions on every resource.
func newUser(t *testing.T, ts *servertest.Server, name string, actions ...string) userClients {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.IAM.CreateUser(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	allow(t, ts, name, "p", actions...)
	id, secret, err := ts.IAM.CreateAccessKey(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewStaticCredentialsProvider(id, secret, "")
	return userClients{
		lambda: lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds, Retryer: aws.NopRetryer{}}),
		signer: signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds, Retryer: aws.NopRetryer{}}),
	}
}

// allow gives a user an inline policy allowing actions on everything.
func allow(t *testing.T, ts *servertest.Server, user, policyName string, actions ...string) {
	t.Helper()
	doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["%s"],"Resource":"*"}}`, strings.Join(actions, `","`))
	if err := ts.IAM.PutInlinePolicy(context.Background(), iam.KindUser, user, policyName, doc); err != nil {
		t.Fatal(err)
	}
}

// TestSecondResources lists every operation that reads or writes a
// second resource for its caller (a confused deputy if unchecked) and
// shows, for each, that a caller allowed the operation but not the
// second resource is refused, and is served once that is allowed too.
func TestSecondResources(t *testing.T) {
	e := newJobEnv(t)
	ts := e.ts
	ctx := context.Background()
	admin := lambdaClient(ts)
	acct := ts.AccountID()
	version := e.put(t, "artifacts", "app.zip", zipOf(t, helloZip))
	role := ts.LambdaRole(t)
	if _, err := admin.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("lib"),
		Content: &ltypes.LayerVersionContentInput{ZipFile: zipOf(t, map[string]string{"python/lib.py": "X = 1\n"})}}); err != nil {
		t.Fatal(err)
	}
	layer := "arn:aws:lambda:us-east-1:" + acct + ":layer:lib:1"
	if _, err := admin.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("existing"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(role), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	fresh := func() string { n++; return fmt.Sprintf("fn%d", n) }
	fromS3 := func(version string) *ltypes.FunctionCode {
		c := &ltypes.FunctionCode{S3Bucket: aws.String("artifacts"), S3Key: aws.String("app.zip")}
		if version != "" {
			c.S3ObjectVersion = aws.String(version)
		}
		return c
	}
	create := func(c userClients, code *ltypes.FunctionCode, layers ...string) error {
		if code == nil {
			code = &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}
		}
		_, err := c.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(fresh()), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(role), Code: code, Layers: layers})
		return err
	}
	startJob := func(c userClients) error {
		_, err := c.signer.StartSigningJob(ctx, &signer.StartSigningJobInput{ClientRequestToken: aws.String(fresh()), ProfileName: aws.String("signing_profile_for_lambda"),
			Source:      &types.Source{S3: &types.S3Source{BucketName: aws.String("artifacts"), Key: aws.String("app.zip"), Version: aws.String(version)}},
			Destination: &types.Destination{S3: &types.S3Destination{BucketName: aws.String("artifacts"), Prefix: aws.String("signed/")}}})
		return err
	}
	denied := func(action, resource string) string {
		return "is not authorized to perform: " + action + " on resource: " + resource
	}
	unreadable := func(object string) string {
		return "S3 Error Code: AccessDenied. S3 Error Message: Access Denied (arn:aws:s3:::" + object + " does not exist, or you are not allowed"
	}
	for _, c := range []struct {
		name   string
		allow  []string // the operation, and the other second resources it needs
		second string   // the second resource's action, missing at first
		call   func(userClients) error
		code   string // the refusal's error code
		msg    string // what the refusal must say
	}{
		{"StartSigningJob/source", []string{"signer:StartSigningJob", "s3:PutObject"}, "s3:GetObject", startJob,
			"AccessDeniedException", denied("s3:GetObjectVersion", "arn:aws:s3:::artifacts/app.zip")},
		{"StartSigningJob/destination", []string{"signer:StartSigningJob", "s3:GetObjectVersion"}, "s3:PutObject", startJob,
			"AccessDeniedException", denied("s3:PutObject", "arn:aws:s3:::artifacts/signed/")},
		{"CreateFunction/code", []string{"lambda:CreateFunction", "iam:PassRole"}, "s3:GetObjectVersion",
			func(u userClients) error { return create(u, fromS3(version)) }, "InvalidParameterValueException", unreadable("artifacts/app.zip")},
		{"UpdateFunctionCode/code", []string{"lambda:UpdateFunctionCode"}, "s3:GetObject", func(u userClients) error {
			_, err := u.lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("existing"), S3Bucket: aws.String("artifacts"), S3Key: aws.String("app.zip")})
			return err
		}, "InvalidParameterValueException", unreadable("artifacts/app.zip")},
		{"PublishLayerVersion/code", []string{"lambda:PublishLayerVersion"}, "s3:GetObject", func(u userClients) error {
			_, err := u.lambda.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("other"),
				Content: &ltypes.LayerVersionContentInput{S3Bucket: aws.String("artifacts"), S3Key: aws.String("app.zip")}})
			return err
		}, "InvalidParameterValueException", unreadable("artifacts/app.zip")},
		{"CreateFunction/layer", []string{"lambda:CreateFunction", "iam:PassRole"}, "lambda:GetLayerVersion",
			func(u userClients) error { return create(u, nil, layer) }, "AccessDeniedException", denied("lambda:GetLayerVersion", layer)},
		{"UpdateFunctionConfiguration/layer", []string{"lambda:UpdateFunctionConfiguration"}, "lambda:GetLayerVersion", func(u userClients) error {
			_, err := u.lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("existing"), Layers: []string{layer}})
			return err
		}, "AccessDeniedException", denied("lambda:GetLayerVersion", layer)},
		{"CreateFunction/role", []string{"lambda:CreateFunction"}, "iam:PassRole",
			func(u userClients) error { return create(u, nil) }, "AccessDeniedException", denied("iam:PassRole", role)},
		{"UpdateFunctionConfiguration/role", []string{"lambda:UpdateFunctionConfiguration"}, "iam:PassRole", func(u userClients) error {
			_, err := u.lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("existing"), Role: aws.String(role)})
			return err
		}, "AccessDeniedException", denied("iam:PassRole", role)},
	} {
		t.Run(c.name, func(t *testing.T) {
			user := strings.NewReplacer("/", "-").Replace(c.name)
			u := newUser(t, ts, user, c.allow...)
			err := c.call(u)
			if apiCode(err) != c.code || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("allowed %v but not %s: %v\nwant %s saying %q", c.allow, c.second, err, c.code, c.msg)
			}
			allow(t, ts, user, "second", c.second)
			if err := c.call(u); err != nil {
				t.Errorf("allowed %s too: %v", c.second, err)
			}
		})
	}
	// s3:GetObject stands in for s3:GetObjectVersion on the source, but an
	// explicit Deny of either refuses.
	t.Run("StartSigningJob/source-denied", func(t *testing.T) {
		u := newUser(t, ts, "denied-source", "signer:StartSigningJob", "s3:PutObject", "s3:GetObjectVersion")
		doc := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::artifacts/app.zip"}}`
		if err := ts.IAM.PutInlinePolicy(ctx, iam.KindUser, "denied-source", "deny", doc); err != nil {
			t.Fatal(err)
		}
		if err := startJob(u); apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), denied("s3:GetObject", "arn:aws:s3:::artifacts/app.zip")+" with an explicit deny") {
			t.Errorf("s3:GetObject denied on the source: %v", err)
		}
	})
	// DeleteObjects is allowed on the bucket; each key is a second
	// resource, refused in the answer's Errors.
	t.Run("DeleteObjects/key", func(t *testing.T) {
		if _, err := ts.IAM.CreateUser(ctx, "deleter", ""); err != nil {
			t.Fatal(err)
		}
		policy := func(res string) {
			doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:DeleteObject","Resource":"` + res + `"}}`
			if err := ts.IAM.PutInlinePolicy(ctx, iam.KindUser, "deleter", "p", doc); err != nil {
				t.Fatal(err)
			}
		}
		policy("arn:aws:s3:::artifacts")
		id, secret, err := ts.IAM.CreateAccessKey(ctx, "deleter")
		if err != nil {
			t.Fatal(err)
		}
		c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true, Retryer: aws.NopRetryer{},
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
		del := func() (*s3.DeleteObjectsOutput, error) {
			return c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("artifacts"), Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("app.zip")}}}})
		}
		out, err := del()
		if err != nil || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Code) != "AccessDenied" {
			t.Fatalf("allowed s3:DeleteObject on the bucket only: %+v %v", out, err)
		}
		policy("arn:aws:s3:::artifacts*")
		if out, err := del(); err != nil || len(out.Errors) != 0 || len(out.Deleted) != 1 {
			t.Errorf("allowed s3:DeleteObject on the keys too: %+v %v", out, err)
		}
	})
}

// TestCodeObjectsMissingOrForbidden: a package object the caller may not
// read and one that does not exist get the same answer, so that the
// answer tells nothing about buckets and keys the caller cannot see.
func TestCodeObjectsMissingOrForbidden(t *testing.T) {
	e := newJobEnv(t)
	ts := e.ts
	e.put(t, "artifacts", "app.zip", zipOf(t, helloZip))
	reader := newUser(t, ts, "reader", "lambda:CreateFunction", "iam:PassRole", "s3:GetObject")
	stranger := newUser(t, ts, "stranger", "lambda:CreateFunction", "iam:PassRole")
	role := ts.LambdaRole(t)
	create := func(u userClients, bucket, key string) error {
		_, err := u.lambda.CreateFunction(context.Background(), &lambda.CreateFunctionInput{FunctionName: aws.String("f"), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(role), Code: &ltypes.FunctionCode{S3Bucket: aws.String(bucket), S3Key: aws.String(key)}})
		return err
	}
	message := func(err error, object string) string {
		if apiCode(err) != "InvalidParameterValueException" {
			t.Fatalf("%s: %v, want InvalidParameterValueException", object, err)
		}
		m := err.Error()
		m = strings.ReplaceAll(m[strings.Index(m, "InvalidParameterValueException"):], object, "OBJECT")
		return m
	}
	forbidden := message(create(stranger, "artifacts", "app.zip"), "artifacts/app.zip")
	for _, o := range [][2]string{{"artifacts", "missing.zip"}, {"no-such-bucket", "app.zip"}} {
		if missing := message(create(reader, o[0], o[1]), o[0]+"/"+o[1]); missing != forbidden {
			t.Errorf("missing %s/%s:\n%s\nforbidden:\n%s", o[0], o[1], missing, forbidden)
		}
	}
	if err := create(reader, "artifacts", "app.zip"); err != nil {
		t.Errorf("a readable object: %v", err)
	}
}

// TestExecutionRole: CreateFunction and UpdateFunctionConfiguration take
// only a role of this account that exists (its ARN, path included) and
// whose trust policy lets Lambda assume it, as Lambda does.
func TestExecutionRole(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	lc := lambdaClient(ts)
	acct := ts.AccountID()
	good := ts.LambdaRole(t)
	ci, err := ts.IAM.CreateRole(ctx, "ci", "/", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+acct+`:root"},"Action":"sts:AssumeRole"}}`, 0)
	if err != nil {
		t.Fatal(err)
	}
	pathed, err := ts.IAM.CreateRole(ctx, "svc", "/service/", "", servertest.LambdaTrustPolicy, 0)
	if err != nil {
		t.Fatal(err)
	}
	const msg = "The role defined for the function cannot be assumed by Lambda."
	for _, role := range []string{
		"arn:aws:iam::" + acct + ":role/missing",
		"arn:aws:iam::111111111111:role/lambda-test-role",
		ts.IAM.RoleARN(ci),
		"arn:aws:iam::" + acct + ":role/svc", // the role is /service/svc
		"lambda-test-role",
	} {
		_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("f"), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(role), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}})
		if apiCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), msg) {
			t.Errorf("CreateFunction with role %s: %v, want InvalidParameterValueException %q", role, err, msg)
		}
	}
	for name, role := range map[string]string{"plain": good, "pathed": ts.IAM.RoleARN(pathed)} {
		if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(role), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}}); err != nil {
			t.Errorf("CreateFunction with role %s: %v", role, err)
		}
	}
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("plain"), Role: aws.String(ts.IAM.RoleARN(ci))}); apiCode(err) != "InvalidParameterValueException" {
		t.Errorf("UpdateFunctionConfiguration to a role Lambda may not assume: %v", err)
	}
}

// TestS3MissingKeysHidden: S3 tells a caller that a key does not exist
// only if the caller may list the bucket; any other caller gets
// AccessDenied, as for a key it may not read.
func TestS3MissingKeysHidden(t *testing.T) {
	e := newJobEnv(t)
	ts := e.ts
	ctx := context.Background()
	e.put(t, "artifacts", "app.zip", zipOf(t, helloZip))
	if _, err := ts.IAM.CreateUser(ctx, "reader", ""); err != nil {
		t.Fatal(err)
	}
	allow(t, ts, "reader", "p", "s3:GetObject", "s3:GetObjectVersion")
	id, secret, err := ts.IAM.CreateAccessKey(ctx, "reader")
	if err != nil {
		t.Fatal(err)
	}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true, Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	get := func(key string) (error, error) {
		_, gerr := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key)})
		_, herr := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key)})
		return gerr, herr
	}
	status := func(err error) int {
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			return re.HTTPStatusCode()
		}
		return 0
	}
	if g, h := get("app.zip"); g != nil || h != nil {
		t.Fatalf("reading an object: %v %v", g, h)
	}
	if g, h := get("missing.zip"); apiCode(g) != "AccessDenied" || status(h) != 403 {
		t.Errorf("a missing key without s3:ListBucket: GetObject %v, HeadObject %v; want AccessDenied (403)", g, h)
	}
	allow(t, ts, "reader", "list", "s3:ListBucket")
	if g, h := get("missing.zip"); apiCode(g) != "NoSuchKey" || status(h) != 404 {
		t.Errorf("a missing key with s3:ListBucket: GetObject %v, HeadObject %v; want NoSuchKey (404)", g, h)
	}
}
