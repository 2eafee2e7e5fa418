package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// rotationFunction rotates a secret with boto3 as its execution role.
// Its first setSecret tags the secret and then hangs, so that Signet can
// be killed while the step runs; run again, it goes on.
const rotationFunction = `import time
import boto3

def handler(event, context):
    sm = boto3.client("secretsmanager")
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step == "createSecret":
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except sm.exceptions.ResourceNotFoundException:
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString="rotated", VersionStages=["AWSPENDING"])
    elif step == "setSecret":
        tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=arn).get("Tags", [])}
        if "interrupted" not in tags:
            sm.tag_resource(SecretId=arn, Tags=[{"Key": "interrupted", "Value": "yes"}])
            time.sleep(600)
    elif step == "finishSecret":
        stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        current = [v for v, s in stages.items() if "AWSCURRENT" in s][0]
        if current != token:
            sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current)
`

// TestRotationSurvivesKill9: signet serve is killed with SIGKILL while a
// rotation function runs its setSecret step; started again, it resumes
// the rotation at that step with the same version, which becomes
// AWSCURRENT.
func TestRotationSurvivesKill9(t *testing.T) {
	if exec.Command("/usr/bin/python3", "-c", "import boto3").Run() != nil {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatal("Debian's python3-boto3 is not installed (apt-get install python3-boto3)")
		}
		t.Skip("needs Debian's python3-boto3 (apt-get install python3-boto3)")
	}
	bin := signetBinary(t)
	dir := t.TempDir()
	p := startServer(t, bin, dir)
	if strings.Contains(p.stderr.String(), "functions cannot be invoked on this host") {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatalf("functions cannot run here:\n%s", p.stderr)
		}
		t.Skip("functions cannot run here (needs root and cgroups)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	creds := readCredentials(t, filepath.Join(dir, "credentials"))
	provider := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}, nil
	})
	endpoint := func(p *serverProc) *string { return aws.String("http://" + p.addr) }
	hc := &http.Client{Timeout: 30 * time.Second}
	sm := func(p *serverProc) *secretsmanager.Client {
		return secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: endpoint(p), Credentials: provider, HTTPClient: hc})
	}
	ic := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: endpoint(p), Credentials: provider, HTTPClient: hc})
	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("rotator-role"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("rotator-role"), PolicyName: aws.String("rotate"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	lc := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: endpoint(p), Credentials: provider, HTTPClient: hc})
	fn, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("rotator"), Runtime: ltypes.RuntimePython311,
		Handler: aws.String("app.handler"), Role: role.Role.Arn, Timeout: aws.Int32(900),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(t, map[string]string{"app.py": rotationFunction})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm(p).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String("original")}); err != nil {
		t.Fatal(err)
	}
	rot, err := sm(p).RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("db"), RotationLambdaARN: fn.FunctionArn})
	if err != nil {
		t.Fatal(err)
	}
	// The tag says setSecret is running: kill Signet then.
	waitFor(t, 3*time.Minute, "setSecret to start", func() bool {
		d, err := sm(p).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
		return err == nil && len(d.Tags) == 1
	})
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 30*time.Second)
	p2 := startServer(t, bin, dir)
	waitFor(t, 3*time.Minute, "the rotation to finish", func() bool {
		d, err := sm(p2).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
		return err == nil && d.LastRotatedDate != nil
	})
	cur, err := sm(p2).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
	if err != nil || aws.ToString(cur.SecretString) != "rotated" || aws.ToString(cur.VersionId) != aws.ToString(rot.VersionId) {
		t.Fatalf("AWSCURRENT after the restart: %v %+v", err, cur)
	}
	d, err := sm(p2).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db")})
	if err != nil || !slices.Equal(d.VersionIdsToStages[aws.ToString(rot.VersionId)], []string{"AWSCURRENT"}) {
		t.Errorf("stages after the restart: %v %v", err, d.VersionIdsToStages)
	}
}

// waitFor polls cond until it holds or the limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
