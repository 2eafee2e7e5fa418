package consoletest

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	stypes "github.com/aws/aws-sdk-go-v2/service/signer/types"
	"github.com/aws/smithy-go"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// XSS payloads: seeded into names, descriptions, tags, log lines and
// reasons. Each would set window.__xss, or open a dialog, if a page let
// it run.
const (
	XSSImg    = `<img src=x onerror="window.__xss=1">`
	XSSSvg    = `"><svg onload="window.__xss=2">`
	XSSScript = `</pre><script>window.__xss=3</script>`
)

// Key is an access key.
type Key struct{ ID, Secret string }

// World is a server seeded as seed 000 leaves it (a signed function
// deployed under an Enforce code signing config) with seed 001's
// principals: an administrator, a read-only auditor and a developer
// under the developer permissions boundary.
type World struct {
	TS                       *servertest.Server
	Admin, Auditor, Dev      Key
	Function, FunctionARN    string
	Profile, ProfileVersion  string
	JobID, SignedKey, Bucket string
	Unsigned                 []byte
	SecretARN                string
	ConfigID, ConfigARN      string
	Role                     string // a role with a boundary
	JobCreated               time.Time
	Lambda                   *lambda.Client // the installation's administrator (root key)
	Signer                   *signer.Client
}

// AuditorPolicy is the read-only auditor of docs/iam.md, read from the
// page: every Get, List and Describe, the simulator, and nothing that
// changes anything or reveals a secret's value.
func AuditorPolicy(t testing.TB) string {
	t.Helper()
	page := readRepo(t, "docs", "iam.md")
	_, sec, ok := strings.Cut(page, "### A read-only auditor")
	_, block, ok2 := strings.Cut(sec, "```json\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/iam.md has no json block under ### A read-only auditor")
	}
	return block
}

// developerAccess is seed 001's developer policy: everything but code
// signing configs (and the boundary takes signing and IAM writes away).
const developerAccess = `{"Version":"2012-10-17","Statement":[
 {"Sid":"AdministratorAccess","Effect":"Allow","Action":"*","Resource":"*"},
 {"Sid":"NoCodeSigningConfigChanges","Effect":"Deny","Action":["lambda:CreateCodeSigningConfig","lambda:UpdateCodeSigningConfig",
  "lambda:DeleteCodeSigningConfig","lambda:PutFunctionCodeSigningConfig","lambda:DeleteFunctionCodeSigningConfig"],"Resource":"*"}]}`

// Zip is a deployment package of files.
func Zip(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, body := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// handler prints its event's msg (a log line) and returns it.
var handler = map[string]string{"lambda_function.py": "def lambda_handler(event, context):\n    print(event.get('msg', ''))\n    return event.get('msg', '')\n"}

// Seed builds the world on ts, with XSS payloads in what users name.
func Seed(t testing.TB, ts *servertest.Server) *World {
	t.Helper()
	return seed(t, ts, func(s string) string { return s })
}

// SeedPlain builds the world without payloads (for screenshots).
func SeedPlain(t testing.TB, ts *servertest.Server) *World {
	t.Helper()
	plain := strings.NewReplacer(XSSImg, "(team payments)", XSSSvg, "platform", XSSScript, "from the console walkthrough")
	return seed(t, ts, plain.Replace)
}

func seed(t testing.TB, ts *servertest.Server, x func(string) string) *World {
	t.Helper()
	ctx := context.Background()
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return ts.Creds, nil })
	w := &World{TS: ts, Function: "hello-world-lambda", Profile: "signing_profile_for_lambda", Bucket: "artifacts", Signer: ts.Signer()}
	w.Lambda = lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds, HTTPClient: ts.HTTPClient(), Retryer: aws.NopRetryer{}})
	sm := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds, HTTPClient: ts.HTTPClient(), Retryer: aws.NopRetryer{}})
	s3c := ts.S3()
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seeding: %s: %v", what, err)
		}
	}
	_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(w.Bucket)})
	check("CreateBucket", err)
	_, err = s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(w.Bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	check("PutBucketVersioning", err)
	w.Unsigned = Zip(t, handler)
	put, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(w.Bucket), Key: aws.String("hello.zip"), Body: bytes.NewReader(w.Unsigned)})
	check("PutObject", err)
	prof, err := w.Signer.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(w.Profile), PlatformId: aws.String("AWSLambda-SHA384-ECDSA"),
		Tags: map[string]string{"owner": x(XSSSvg)}})
	check("PutSigningProfile", err)
	w.ProfileVersion = aws.ToString(prof.ProfileVersion)
	w.JobID = w.SignPackage(t, aws.ToString(put.VersionId))
	w.SignedKey = "signed-" + w.JobID + ".zip"
	job, err := w.Signer.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(w.JobID)})
	check("DescribeSigningJob", err)
	w.JobCreated = aws.ToTime(job.CreatedAt)

	versionARN := aws.ToString(prof.ProfileVersionArn)
	csc, err := w.Lambda.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{Description: aws.String(x("payments " + XSSImg)),
		AllowedPublishers:   &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}},
		CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyEnforce}})
	check("CreateCodeSigningConfig", err)
	w.ConfigID, w.ConfigARN = aws.ToString(csc.CodeSigningConfig.CodeSigningConfigId), aws.ToString(csc.CodeSigningConfig.CodeSigningConfigArn)
	fn, err := w.Lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(w.Function), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)), Description: aws.String(x("greets " + XSSImg)),
		Code:                 &ltypes.FunctionCode{S3Bucket: aws.String(w.Bucket), S3Key: aws.String(w.SignedKey)},
		CodeSigningConfigArn: csc.CodeSigningConfig.CodeSigningConfigArn, Tags: map[string]string{"team": x(XSSSvg)}})
	check("CreateFunction", err)
	w.FunctionARN = aws.ToString(fn.FunctionArn)
	waitActive(t, w.Lambda, w.Function)
	payload, _ := json.Marshal(map[string]string{"msg": x("hello " + XSSScript)})
	_, err = w.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(w.Function), Payload: payload})
	check("Invoke", err)
	// A refused deployment, for the deploy gate's history.
	if _, err := w.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(w.Function), ZipFile: w.Unsigned}); APICode(err) != "CodeVerificationFailedException" {
		t.Fatalf("seeding: an unsigned deployment under Enforce answered %v", err)
	}
	sec, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/db-password"), Description: aws.String(x("database " + XSSImg)),
		SecretString: aws.String("s3cr3t-value-42")})
	check("CreateSecret", err)
	w.SecretARN = aws.ToString(sec.ARN)

	w.Admin = user(t, ts, "admin", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "")
	w.Auditor = user(t, ts, "auditor", AuditorPolicy(t), "")
	w.Dev = user(t, ts, "dev", developerAccess, boundary(t))
	w.Role = "ci"
	if _, err := ts.IAM.CreateRole(ctx, w.Role, "/", "signs and deploys", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+
		ts.AccountID()+`:user/dev"},"Action":"sts:AssumeRole"}}`, 3600); err != nil {
		t.Fatal(err)
	}
	check("PutRolePolicy", ts.IAM.PutInlinePolicy(ctx, iam.KindRole, w.Role, "sign-and-deploy",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["signer:StartSigningJob","lambda:UpdateFunctionCode"],"Resource":"*"}]}`))
	return w
}

// PutPackage uploads a new version of hello.zip and returns its id.
func (w *World) PutPackage(t testing.TB, files map[string]string) string {
	t.Helper()
	out, err := w.TS.S3().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(w.Bucket), Key: aws.String("hello.zip"), Body: bytes.NewReader(Zip(t, files))})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.VersionId)
}

// SignPackage signs a version of hello.zip and waits for the job.
func (w *World) SignPackage(t testing.TB, version string) string {
	t.Helper()
	ctx := context.Background()
	out, err := w.Signer.StartSigningJob(ctx, &signer.StartSigningJobInput{ClientRequestToken: aws.String(version), ProfileName: aws.String(w.Profile),
		Source:      &stypes.Source{S3: &stypes.S3Source{BucketName: aws.String(w.Bucket), Key: aws.String("hello.zip"), Version: aws.String(version)}},
		Destination: &stypes.Destination{S3: &stypes.S3Destination{BucketName: aws.String(w.Bucket), Prefix: aws.String("signed-")}}})
	if err != nil {
		t.Fatalf("StartSigningJob: %v", err)
	}
	id := aws.ToString(out.JobId)
	Eventually(t, 2*time.Minute, "signing job "+id+" to succeed", func() bool {
		d, err := w.Signer.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == stypes.SigningStatusFailed {
			t.Fatalf("signing job failed: %s", aws.ToString(d.StatusReason))
		}
		return d.Status == stypes.SigningStatusSucceeded
	})
	return id
}

func waitActive(t testing.TB, lc *lambda.Client, name string) {
	t.Helper()
	Eventually(t, 2*time.Minute, "function "+name+" to be Active", func() bool {
		f, err := lc.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return f.State == ltypes.StateActive
	})
}

// APICode is an error's AWS error code ("" for none).
func APICode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func user(t testing.TB, ts *servertest.Server, name, policy, boundaryDoc string) Key {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.IAM.CreateUser(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindUser, name, name+"-access", policy); err != nil {
		t.Fatal(err)
	}
	if boundaryDoc != "" {
		p, err := ts.IAM.CreatePolicy(ctx, "DeveloperPermissionBoundary", "/", "seed 001", boundaryDoc)
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.IAM.SetBoundary(ctx, iam.KindUser, name, ts.IAM.PolicyARN(p)); err != nil {
			t.Fatal(err)
		}
	}
	id, secret, err := ts.IAM.CreateAccessKey(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return Key{id, secret}
}

// boundary is seed 001's DeveloperPermissionBoundary, verbatim.
func boundary(t testing.TB) string {
	return readRepo(t, "internal", "e2e", "testdata", "DeveloperPermissionBoundary.json")
}

// readRepo reads a file of the repository.
func readRepo(t testing.TB, path ...string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(append([]string{filepath.Dir(file), "..", "..", ".."}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
