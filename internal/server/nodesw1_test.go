package server_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	stypes "github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/objects/s3test"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/store/pgtest"
)

// TestNodesW1: workflow W1 (sign, gate, deploy, invoke) on three nodes
// sharing one PostgreSQL database and one S3-compatible store
// (versitygw), each step on a different node; then a revocation made on
// one node stops the next deployment of that code on another.
func TestNodesW1(t *testing.T) {
	dsn := pgtest.DSN(t)
	objects := s3test.VersityGW(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if _, _, err := keys.LoadOrCreateMasterKey(keyFile); err != nil {
		t.Fatal(err)
	}
	var nodes []*servertest.Server
	for range 3 {
		nodes = append(nodes, servertest.StartWith(t, func(c *config.Config) {
			c.DatabaseURL, c.MasterKeyFile, c.ObjectStoreURL = dsn, keyFile, objects.URL()
		}))
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx := context.Background()

	// Node A: the bucket, the package, the profile and the code signing
	// config; node B: the signing job, which any node's runner may work;
	// node C: its outcome. Node B: the function, through the deploy gate,
	// from the signed object node C's runner may have made.
	jobID, signedKey, cscARN := signedOnNodes(t, a, b, c, "w1")
	job := &signer.StartSigningJobOutput{JobId: aws.String(jobID)}
	if _, err := lambdaClient(b).CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("w1"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(b.LambdaRole(t)),
		Code:                 &ltypes.FunctionCode{S3Bucket: aws.String("artifacts"), S3Key: aws.String(signedKey)},
		CodeSigningConfigArn: aws.String(cscARN)}); err != nil {
		t.Fatalf("CreateFunction through node B's deploy gate: %v", err)
	}
	// Node C: the invocation, with code node B stored.
	requireSandbox(t, c.Server)
	out, err := lambdaClient(c).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("w1"), Payload: []byte(`{"key1":"from node C"}`)})
	if err != nil || out.FunctionError != nil || string(out.Payload) != `"from node C"` {
		t.Fatalf("Invoke on node C: %v %s", err, out.Payload)
	}

	// Node A revokes the signature; node B's gate refuses to deploy it.
	if _, err := a.Signer().RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: job.JobId, Reason: aws.String("built from a compromised commit")}); err != nil {
		t.Fatal(err)
	}
	// In force on B's very next deployment (B compares the revocation
	// count; it need not wait for A's notification).
	_, refusal := lambdaClient(b).UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("w1"),
		S3Bucket: aws.String("artifacts"), S3Key: aws.String(signedKey)})
	if code := apiCode(refusal); code != "CodeVerificationFailedException" || !strings.Contains(refusal.Error(), "revoked") {
		t.Errorf("deploying revoked code on node B: %v", refusal)
	}
}

// TestNodesWithoutNotifications: what holds on a node that gets none of
// the other nodes' notifications (a lost message, a slow listener). A
// revocation answered on node A is in force on node C's very next
// deployment (C compares the database's revocation count with the one its
// cached CRLs were made under); a Deny added on A is in force on C for
// every call that starts after the documented bound (cached policies are
// read again after 5 s).
func TestNodesWithoutNotifications(t *testing.T) {
	dsn := pgtest.DSN(t)
	objects := s3test.VersityGW(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if _, _, err := keys.LoadOrCreateMasterKey(keyFile); err != nil {
		t.Fatal(err)
	}
	shared := func(c *config.Config) { c.DatabaseURL, c.MasterKeyFile, c.ObjectStoreURL = dsn, keyFile, objects.URL() }
	a := servertest.StartWith(t, shared)
	c := servertest.StartWithOptions(t, shared, server.WithoutNotifications())
	ctx := context.Background()
	jobID, signedKey, cscARN := signedOnNodes(t, a, a, a, "deaf")
	job := &signer.StartSigningJobOutput{JobId: aws.String(jobID)}
	// C deploys (its CRLs are now cached), then A revokes.
	if _, err := lambdaClient(c).CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("deaf"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(c.LambdaRole(t)),
		Code:                 &ltypes.FunctionCode{S3Bucket: aws.String("artifacts"), S3Key: aws.String(signedKey)},
		CodeSigningConfigArn: aws.String(cscARN)}); err != nil {
		t.Fatalf("CreateFunction on node C: %v", err)
	}
	if _, err := a.Signer().RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: job.JobId, Reason: aws.String("built from a compromised commit")}); err != nil {
		t.Fatal(err)
	}
	_, err := lambdaClient(c).UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("deaf"),
		S3Bucket: aws.String("artifacts"), S3Key: aws.String(signedKey)})
	if code := apiCode(err); code != "CodeVerificationFailedException" || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("node C's next deployment of the code node A revoked: %v", err)
	}

	// IAM: a Deny added on A holds on C for every call that starts 5 s
	// after it, at the latest.
	if _, err := a.IAM.CreateUser(ctx, "dev", "/"); err != nil {
		t.Fatal(err)
	}
	if err := a.IAM.PutInlinePolicy(ctx, iam.KindUser, "dev", "read", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:GetFunction","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	id, secret, err := a.IAM.CreateAccessKey(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	devOnC := clientsOf(c, id, secret, "")
	if _, err := devOnC.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("deaf")}); err != nil {
		t.Fatalf("dev on node C before the Deny: %v", err)
	}
	admin := clientsOf(a, a.Creds.AccessKeyID, a.Creds.SecretAccessKey, "")
	if _, err := admin.iam.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("deny"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"lambda:GetFunction","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	bound := time.Now().Add(5 * time.Second)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		started := time.Now()
		_, err := devOnC.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("deaf")})
		if err != nil {
			wantDenied(t, "dev on node C after the Deny", err)
			break
		}
		if started.After(bound) {
			t.Fatalf("node C allowed a call that started %s after node A's Deny, past the 5 s bound", started.Sub(bound.Add(-5*time.Second)))
		}
		if time.Now().After(deadline) {
			t.Fatal("node C never applied the Deny")
		}
	}
}

// signedOnNodes makes a signed package as W1 does, spread over nodes: the
// artifact bucket, the package, the profile name and an Enforce code
// signing config allowing it on put; the signing job on sign; its
// outcome read on watch. It returns the job, the signed object's key and
// the config's ARN.
func signedOnNodes(t *testing.T, put, sign, watch *servertest.Server, name string) (jobID, signedKey, cscARN string) {
	t.Helper()
	ctx := context.Background()
	if _, err := put.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatal(err)
	}
	if _, err := put.S3().PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("artifacts"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	obj, err := put.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("hello.zip"), Body: bytes.NewReader(zipOf(t, helloZip))})
	if err != nil {
		t.Fatal(err)
	}
	profile, err := put.Signer().PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(name), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")})
	if err != nil {
		t.Fatal(err)
	}
	job, err := sign.Signer().StartSigningJob(ctx, &signer.StartSigningJobInput{ProfileName: aws.String(name), ClientRequestToken: aws.String(name + "-1"),
		Source:      &stypes.Source{S3: &stypes.S3Source{BucketName: aws.String("artifacts"), Key: aws.String("hello.zip"), Version: obj.VersionId}},
		Destination: &stypes.Destination{S3: &stypes.S3Destination{BucketName: aws.String("artifacts"), Prefix: aws.String("signed-")}}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 2*time.Minute, "the signing job to succeed", func() bool {
		d, err := watch.Signer().DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: job.JobId})
		if err == nil && d.Status == stypes.SigningStatusFailed {
			t.Fatalf("signing job failed: %s", aws.ToString(d.StatusReason))
		}
		if err == nil && d.Status == stypes.SigningStatusSucceeded {
			signedKey = aws.ToString(d.SignedObject.S3.Key)
			return true
		}
		return false
	})
	csc, err := lambdaClient(put).CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{
		AllowedPublishers:   &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{aws.ToString(profile.ProfileVersionArn)}},
		CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyEnforce}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(job.JobId), signedKey, aws.ToString(csc.CodeSigningConfig.CodeSigningConfigArn)
}
