package server_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	stypes "github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/objects/s3test"
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

	// Node A: the artifact bucket, the unsigned package, the profile.
	if _, err := a.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.S3().PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("artifacts"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	put, err := a.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("hello.zip"), Body: bytes.NewReader(zipOf(t, helloZip))})
	if err != nil {
		t.Fatal(err)
	}
	profile, err := a.Signer().PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("w1"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")})
	if err != nil {
		t.Fatal(err)
	}
	// Node B: the signing job, which any node's runner may work.
	job, err := b.Signer().StartSigningJob(ctx, &signer.StartSigningJobInput{ProfileName: aws.String("w1"), ClientRequestToken: aws.String("w1-1"),
		Source:      &stypes.Source{S3: &stypes.S3Source{BucketName: aws.String("artifacts"), Key: aws.String("hello.zip"), Version: put.VersionId}},
		Destination: &stypes.Destination{S3: &stypes.S3Destination{BucketName: aws.String("artifacts"), Prefix: aws.String("signed-")}}})
	if err != nil {
		t.Fatal(err)
	}
	// Node C: its outcome.
	var signedKey string
	waitUntil(t, 2*time.Minute, "the signing job to succeed", func() bool {
		d, err := c.Signer().DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: job.JobId})
		if err == nil && d.Status == stypes.SigningStatusFailed {
			t.Fatalf("signing job failed: %s", aws.ToString(d.StatusReason))
		}
		if err == nil && d.Status == stypes.SigningStatusSucceeded {
			signedKey = aws.ToString(d.SignedObject.S3.Key)
			return true
		}
		return false
	})
	// Node A: the code signing config; node B: the function, through the
	// deploy gate, from the signed object node C's runner may have made.
	csc, err := lambdaClient(a).CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{
		AllowedPublishers:   &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{aws.ToString(profile.ProfileVersionArn)}},
		CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyEnforce}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lambdaClient(b).CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("w1"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(b.LambdaRole(t)),
		Code:                 &ltypes.FunctionCode{S3Bucket: aws.String("artifacts"), S3Key: aws.String(signedKey)},
		CodeSigningConfigArn: csc.CodeSigningConfig.CodeSigningConfigArn}); err != nil {
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
	var refusal error
	waitUntil(t, time.Minute, "node B to refuse the code node A revoked", func() bool {
		_, refusal = lambdaClient(b).UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("w1"),
			S3Bucket: aws.String("artifacts"), S3Key: aws.String(signedKey)})
		return refusal != nil
	})
	if code := apiCode(refusal); code != "CodeVerificationFailedException" || !strings.Contains(refusal.Error(), "revoked") {
		t.Errorf("deploying revoked code on node B: %v", refusal)
	}
}
