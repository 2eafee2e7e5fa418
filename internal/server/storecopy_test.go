package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	stypes "github.com/aws/aws-sdk-go-v2/service/signer/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/store/pgtest"
)

// TestStoreCopyToPostgres moves a populated embedded installation to
// PostgreSQL with `signet store copy`: a server on the copy (given the
// installation's master key and objects) answers every API as the
// original did — profiles, a signed job and its signed object, IAM, a
// KMS ciphertext made before, SSM and Secrets Manager values, a function
// — and the audit chain, with the records of both, verifies.
func TestStoreCopyToPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	objects := t.TempDir()
	old := servertest.StartEmbedded(t, func(c *config.Config) { c.ObjectStoreURL = "file://" + objects })
	admin := credentials.NewStaticCredentialsProvider(old.Creds.AccessKeyID, old.Creds.SecretAccessKey, "")

	// Populate.
	sc := old.Signer()
	if _, err := sc.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("copy_me"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
		t.Fatal(err)
	}
	s3c := old.S3()
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("src")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("src"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	put, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("fn.zip"), Body: bytes.NewReader(zipOf(t, helloZip))})
	if err != nil {
		t.Fatal(err)
	}
	job, err := sc.StartSigningJob(ctx, &signer.StartSigningJobInput{ProfileName: aws.String("copy_me"), ClientRequestToken: aws.String("tok-1"),
		Source:      &stypes.Source{S3: &stypes.S3Source{BucketName: aws.String("src"), Key: aws.String("fn.zip"), Version: put.VersionId}},
		Destination: &stypes.Destination{S3: &stypes.S3Destination{BucketName: aws.String("src"), Prefix: aws.String("signed/")}}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "the signing job", func() bool {
		d, err := sc.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: job.JobId})
		return err == nil && d.Status == stypes.SigningStatusSucceeded
	})
	iamc := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(old.URL), Credentials: admin})
	if _, err := iamc.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"signer:*","Resource":"*"}}`)}); err != nil {
		t.Fatal(err)
	}
	key, err := kmsClient(old, admin).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("copied")})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := kmsClient(old, admin).Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("made before the copy")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ssmClient(old, admin).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/db/password"), Value: aws.String("s3cr3t-param"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	if _, err := smClient(old, admin).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String(`{"password":"s3cr3t"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := lambdaClient(old).CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("fn"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(old.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)},
		Environment: &ltypes.Environment{Variables: map[string]string{"MODE": "copied"}}}); err != nil {
		t.Fatal(err)
	}

	rec := func(a map[string]string, k string, err error, f func() string) {
		if err != nil {
			a[k] = err.Error()
		} else {
			a[k] = f()
		}
	}
	var devKey *awsiam.CreateAccessKeyOutput
	answers := func(ts *servertest.Server) map[string]string {
		a := map[string]string{}
		admin := credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, "")
		p, err := ts.Signer().GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("copy_me")})
		rec(a, "profile", err, func() string {
			return fmt.Sprint(aws.ToString(p.ProfileVersionArn), p.Status, aws.ToString(p.PlatformId))
		})
		j, err := ts.Signer().DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: job.JobId})
		rec(a, "job", err, func() string {
			return fmt.Sprint(j.Status, aws.ToString(j.SignedObject.S3.Key), aws.ToString(j.JobInvoker), j.CompletedAt)
		})
		jobs, err := ts.Signer().ListSigningJobs(ctx, &signer.ListSigningJobsInput{})
		rec(a, "jobs", err, func() string { return fmt.Sprint(len(jobs.Jobs)) })
		if err == nil && j.SignedObject != nil && j.SignedObject.S3 != nil {
			obj, err := ts.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("src"), Key: j.SignedObject.S3.Key})
			if err == nil {
				b, _ := io.ReadAll(obj.Body)
				obj.Body.Close()
				a["signed object"] = fmt.Sprintf("%x", sha256.Sum256(b))
			} else {
				a["signed object"] = err.Error()
			}
		}
		iamc := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: admin})
		u, err := iamc.GetUser(ctx, &awsiam.GetUserInput{UserName: aws.String("dev")})
		rec(a, "user", err, func() string { return fmt.Sprint(aws.ToString(u.User.Arn), aws.ToString(u.User.UserId)) })
		// The user's policy, by what it allows: the user's own key signs in.
		if ts == old {
			k, err := iamc.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("dev")})
			if err != nil {
				t.Fatal(err)
			}
			devKey = k
		}
		devSigner := signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Retryer: aws.NopRetryer{},
			Credentials: credentials.NewStaticCredentialsProvider(*devKey.AccessKey.AccessKeyId, *devKey.AccessKey.SecretAccessKey, "")})
		dp, err := devSigner.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("copy_me")})
		rec(a, "user policy and key", err, func() string { return aws.ToString(dp.ProfileVersionArn) })
		_, err = iamc.DeleteUser(ctx, &awsiam.DeleteUserInput{UserName: aws.String("nobody")})
		a["missing user"] = apiCode(err)
		d, err := kmsClient(ts, admin).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
		rec(a, "decrypt", err, func() string { return fmt.Sprint(string(d.Plaintext), aws.ToString(d.KeyId)) })
		pv, err := ssmClient(ts, admin).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/db/password"), WithDecryption: aws.Bool(true)})
		rec(a, "parameter", err, func() string {
			return fmt.Sprint(aws.ToString(pv.Parameter.Value), pv.Parameter.Version, aws.ToString(pv.Parameter.ARN))
		})
		sv, err := smClient(ts, admin).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
		rec(a, "secret", err, func() string {
			return fmt.Sprint(aws.ToString(sv.SecretString), aws.ToString(sv.VersionId), aws.ToString(sv.ARN))
		})
		f, err := lambdaClient(ts).GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("fn")})
		rec(a, "function", err, func() string {
			return fmt.Sprint(aws.ToString(f.CodeSha256), aws.ToString(f.RevisionId), f.Environment.Variables["MODE"], aws.ToString(f.Role))
		})
		return a
	}
	before := answers(old)
	for k, v := range before {
		if strings.Contains(v, "operation error") {
			t.Fatalf("before the copy, %s: %s", k, v)
		}
	}
	old.Stop()

	var out, errb bytes.Buffer
	if code := cli.Main(ctx, []string{"store", "copy", "--from", "sqlite://" + old.Config().DataDir, "--to", dsn}, &out, &errb); code != 0 {
		t.Fatalf("signet store copy: exit %d: %s", code, errb.String())
	}
	t.Logf("signet store copy:\n%s", out.String())
	// Into a database that holds an installation already: refused.
	if code := cli.Main(ctx, []string{"store", "copy", "--from", "sqlite://" + old.Config().DataDir, "--to", dsn}, io.Discard, &errb); code == 0 ||
		!strings.Contains(errb.String(), "already holds an installation") {
		t.Errorf("a second copy into the same database: exit %d: %s", code, errb.String())
	}

	masterKey := filepath.Join(old.Config().DataDir, "master.key")
	moved := servertest.StartWith(t, func(c *config.Config) {
		c.DatabaseURL, c.MasterKeyFile, c.ObjectStoreURL = dsn, masterKey, "file://"+objects
	})
	if moved.Creds != old.Creds {
		t.Errorf("the moved installation's bootstrap credentials differ")
	}
	after := answers(moved)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: before the copy %q, after %q", k, v, after[k])
		}
	}
	out.Reset()
	errb.Reset()
	if code := cli.Main(ctx, []string{"audit", "verify", "--database-url", dsn, "--master-key-file", masterKey}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "intact") {
		t.Errorf("signet audit verify on the copy: exit %d: %s%s", code, out.String(), errb.String())
	}
}
