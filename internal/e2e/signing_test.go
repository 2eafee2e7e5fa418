package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"
	"github.com/aws/smithy-go"

	"github.com/signet/signet/internal/verify"
)

// seedHandler is seed 000's hello-world-lambda.py.
const seedHandler = `import json

print('Loading function')

def lambda_handler(event, context):
    #print("Received event: " + json.dumps(event, indent=2))
    print("value1 = " + event['key1'])
    return event['key1']  # Echo back the first key value
    #raise Exception('Something went wrong')
`

func helloZip(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, _ := w.Create("lambda_function.py")
	f.Write([]byte(seedHandler))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestAWSCLISeedSigning runs the signing steps of the walkthrough with the
// real AWS CLI: bucket, versioning, upload, profile, signing job, download.
func TestAWSCLISeedSigning(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	zipPath := filepath.Join(s.home, "hello-world-lambda.zip")
	if err := os.WriteFile(zipPath, helloZip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun := func(service string, args ...string) map[string]any {
		t.Helper()
		r := s.runService(t, "", service, args...)
		if r.code != 0 {
			t.Fatalf("aws %s %s: exit %d\n%s", service, strings.Join(args, " "), r.code, r.stderr)
		}
		out := map[string]any{}
		if strings.TrimSpace(r.stdout) != "" {
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("aws %s %s printed non-JSON: %s", service, args[0], r.stdout)
			}
		}
		return out
	}
	mustRun("s3api", "create-bucket", "--bucket", "lambda-artifacts")
	mustRun("s3api", "put-bucket-versioning", "--bucket", "lambda-artifacts", "--versioning-configuration", "Status=Enabled")
	put := mustRun("s3api", "put-object", "--bucket", "lambda-artifacts", "--key", "hello-world-lambda.zip", "--body", zipPath)
	version := str(t, put, "VersionId")
	mustRun("signer", "put-signing-profile", "--profile-name", "signing_profile_for_lambda", "--platform-id", "AWSLambda-SHA384-ECDSA",
		"--signature-validity-period", "value=135,type=MONTHS")
	job := mustRun("signer", "start-signing-job",
		"--source", fmt.Sprintf("s3={bucketName=lambda-artifacts,key=hello-world-lambda.zip,version=%s}", version),
		"--destination", "s3={bucketName=lambda-artifacts,prefix=signed-}",
		"--profile-name", "signing_profile_for_lambda")
	jobID := str(t, job, "jobId")
	wantEqual(t, "jobOwner", str(t, job, "jobOwner"), s.account)
	var desc map[string]any
	for deadline := time.Now().Add(2 * time.Minute); ; {
		desc = mustRun("signer", "describe-signing-job", "--job-id", jobID)
		if str(t, desc, "status") != "InProgress" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job is still InProgress after 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantEqual(t, "status", str(t, desc, "status"), "Succeeded")
	wantEqual(t, "statusReason", str(t, desc, "statusReason"), "Signing Succeeded")
	signedKey := str(t, obj(t, obj(t, desc, "signedObject"), "s3"), "key")
	wantEqual(t, "signed key", signedKey, "signed-"+jobID+".zip")
	// The CLI prints the epoch-seconds timestamps as ISO 8601.
	for _, k := range []string{"createdAt", "completedAt", "signatureExpiresAt"} {
		if _, err := time.Parse(time.RFC3339Nano, str(t, desc, k)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	wantEqual(t, "source version", str(t, obj(t, obj(t, desc, "source"), "s3"), "version"), version)
	// The waiter SAM uses.
	if r := s.runService(t, "", "signer", "wait", "successful-signing-job", "--job-id", jobID); r.code != 0 {
		t.Errorf("aws signer wait successful-signing-job: exit %d %s", r.code, r.stderr)
	}
	list := mustRun("signer", "list-signing-jobs", "--status", "Succeeded")
	if jobs := objects(t, list, "jobs"); len(jobs) != 1 || str(t, jobs[0], "jobId") != jobID || boolean(t, jobs[0], "isRevoked") {
		t.Errorf("list-signing-jobs = %v", list)
	}
	out := filepath.Join(s.home, "signed.zip")
	if r := s.runService(t, "", "s3", "cp", "s3://lambda-artifacts/"+signedKey, out); r.code != 0 {
		t.Fatalf("aws s3 cp: exit %d %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Package(bytes.NewReader(b), int64(len(b)), verify.Options{Roots: []*x509.Certificate{s.srv.Authority.Root.Cert}})
	if err != nil || !rep.OK() {
		t.Fatalf("the downloaded package does not verify: %v %+v", err, rep)
	}
	// A source version that does not exist makes a failed job with a reason.
	bad := mustRun("signer", "start-signing-job",
		"--source", "s3={bucketName=lambda-artifacts,key=hello-world-lambda.zip,version=NoSuchVersion0000000000000000000}",
		"--destination", "s3={bucketName=lambda-artifacts,prefix=signed-}", "--profile-name", "signing_profile_for_lambda")
	for deadline := time.Now().Add(2 * time.Minute); ; {
		desc = mustRun("signer", "describe-signing-job", "--job-id", str(t, bad, "jobId"))
		if str(t, desc, "status") != "InProgress" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantEqual(t, "status of a job with a missing source", str(t, desc, "status"), "Failed")
	if !strings.Contains(str(t, desc, "statusReason"), "not available") {
		t.Errorf("statusReason %q does not say the source is missing", str(t, desc, "statusReason"))
	}
}

// s3Client returns an SDK S3 client for a server process.
func (p *serverProc) s3Client(t *testing.T) *s3.Client {
	t.Helper()
	creds := readCredentials(t, filepath.Join(p.dir, "credentials"))
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + p.addr), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}, nil
		}),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		HTTPClient:                 &http.Client{Timeout: 30 * time.Second},
	})
}

// TestKillWithJobsInFlight starts 200 signing jobs, kills the server with
// SIGKILL while they run, restarts it, and checks that every job ends,
// failed jobs leave no signed object, and repeating a clientRequestToken
// never makes a second job.
func TestKillWithJobsInFlight(t *testing.T) {
	bin := signetBinary(t)
	dir := t.TempDir()
	p := startServer(t, bin, dir)
	ctx := ctxT(t)
	s3c, sc := p.s3Client(t), p.client(t, true)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("artifacts"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	put, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("hello.zip"), Body: bytes.NewReader(helloZip(t))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("ci"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	start := func(c *signer.Client, i int) (string, error) {
		out, err := c.StartSigningJob(context.Background(), &signer.StartSigningJobInput{
			ClientRequestToken: aws.String(fmt.Sprintf("token-%03d", i)), ProfileName: aws.String("ci"),
			Source:      &types.Source{S3: &types.S3Source{BucketName: aws.String("artifacts"), Key: aws.String("hello.zip"), Version: put.VersionId}},
			Destination: &types.Destination{S3: &types.S3Destination{BucketName: aws.String("artifacts"), Prefix: aws.String("signed/")}},
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.JobId), nil
	}
	var mu sync.Mutex
	acked := map[int]string{}
	var wg sync.WaitGroup
	killed := make(chan struct{})
	var once sync.Once
	kill := func() {
		once.Do(func() {
			// Kill while jobs are being submitted and worked.
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Error(err)
			}
			close(killed)
		})
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				id, err := start(sc, i)
				if err != nil {
					continue
				}
				mu.Lock()
				acked[i] = id
				if len(acked) == 120 {
					kill()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	kill()
	<-killed
	p.wait(t, time.Minute)
	done := strings.Count(p.stderr.String(), `"msg":"signing job succeeded"`)
	t.Logf("%d of %d StartSigningJob calls acknowledged before SIGKILL, %d jobs finished", len(acked), n, done)
	if done >= len(acked) {
		t.Logf("no job was in flight at the kill; the restart checks still hold but prove less")
	}

	p2 := startServer(t, bin, dir)
	sc2, s3c2 := p2.client(t, false), p2.s3Client(t)
	// Every token again: the acknowledged ones must return their job.
	for i := range n {
		id, err := start(sc2, i)
		if err != nil {
			t.Fatalf("token %d after restart: %v", i, err)
		}
		if prev, ok := acked[i]; ok && prev != id {
			t.Fatalf("token %d made a second job: %s, then %s", i, prev, id)
		}
	}
	bound := time.Now().Add(5 * time.Minute)
	var jobs []types.SigningJob
	for {
		jobs = nil
		pg := signer.NewListSigningJobsPaginator(sc2, &signer.ListSigningJobsInput{})
		for pg.HasMorePages() {
			out, err := pg.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, out.Jobs...)
		}
		inProgress := 0
		for _, j := range jobs {
			if j.Status == types.SigningStatusInProgress {
				inProgress++
			}
		}
		if inProgress == 0 {
			break
		}
		if time.Now().After(bound) {
			t.Fatalf("%d jobs still InProgress 5 minutes after restart", inProgress)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(jobs) != n {
		t.Fatalf("%d jobs exist for %d distinct tokens", len(jobs), n)
	}
	counts := map[types.SigningStatus]int{}
	root := rootOf(t, p2)
	for i, j := range jobs {
		counts[j.Status]++
		key := "signed/" + aws.ToString(j.JobId) + ".zip"
		obj, err := s3c2.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key)})
		switch j.Status {
		case types.SigningStatusFailed:
			var api smithy.APIError
			if err == nil || !errors.As(err, &api) || api.ErrorCode() != "NoSuchKey" {
				t.Errorf("failed job %s left a signed object (%v)", aws.ToString(j.JobId), err)
			}
		case types.SigningStatusSucceeded:
			if err != nil {
				t.Fatalf("succeeded job %s has no signed object: %v", aws.ToString(j.JobId), err)
			}
			var b bytes.Buffer
			b.ReadFrom(obj.Body)
			obj.Body.Close()
			if i%20 == 0 {
				rep, err := verify.Package(bytes.NewReader(b.Bytes()), int64(b.Len()), verify.Options{Roots: []*x509.Certificate{root}})
				if err != nil || !rep.OK() {
					t.Errorf("signed object of job %s does not verify: %v %+v", aws.ToString(j.JobId), err, rep)
				}
			}
		}
	}
	t.Logf("after restart: %v", counts)
}

func rootOf(t *testing.T, p *serverProc) *x509.Certificate {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/pki/root.pem")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	blk, _ := pem.Decode(b.Bytes())
	if blk == nil {
		t.Fatal("no root certificate")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
