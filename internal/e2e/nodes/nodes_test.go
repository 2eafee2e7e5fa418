package nodes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"archive/zip"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	stypes "github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/e2e/e2etest"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/objects/s3test"
	sstore "github.com/signet/signet/internal/store"
	"github.com/signet/signet/internal/store/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	e2etest.Cleanup()
	os.Exit(code)
}

func signetBinary(t *testing.T) string { return e2etest.SignetBinary(t) }

// node is a `signet serve` process.
type node struct {
	cmd    *exec.Cmd
	url    string
	dir    string
	stderr *bytes.Buffer
	mu     sync.Mutex
	done   chan struct{}
}

func (n *node) log() string { n.mu.Lock(); defer n.mu.Unlock(); return n.stderr.String() }

type lockedWriter struct{ n *node }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.n.mu.Lock()
	defer w.n.mu.Unlock()
	return w.n.stderr.Write(p)
}

// startNode runs signet serve with a configuration of its own on the
// shared database and store, and waits until it answers.
func startNode(t *testing.T, bin, name, dsn, keyFile, objectsURL string) *node {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("version: 1\nlisten: %s\ndatabase_url: %q\nmaster_key_file: %s\nobject_store_url: %q\nfunctions: {init_timeout: 2m}\n", addr, dsn, keyFile, objectsURL)
	cfgFile := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &node{url: "http://" + addr, dir: dir, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(bin, "serve", "--config", cfgFile, "--data-dir", dir)
	n.cmd.Stderr = lockedWriter{n}
	n.cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey)
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			n.cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("stderr of node %s (%s):\n%s", name, n.url, n.log())
		}
	})
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-n.done:
			t.Fatalf("node %s exited before serving:\n%s", name, n.log())
		default:
		}
		if resp, err := http.Get(n.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not serve:\n%s", name, n.log())
		}
	}
}

// eventually polls cond until it holds, failing the test with what when
// limit passes first: a deadline far beyond any real wait, so that a
// loaded machine only makes the test slower. Polling is the only way a
// test learns of another process's progress.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", limit, what)
		}
	}
}

// cluster is three signet serve processes on one PostgreSQL database and
// one versitygw store.
type cluster struct {
	dsn, keyFile, bin string
	store             s3test.Store
	a, b, c           *node
}

func startCluster(t *testing.T) cluster {
	t.Helper()
	cl := cluster{dsn: pgtest.DSN(t), store: s3test.VersityGW(t), bin: signetBinary(t), keyFile: filepath.Join(t.TempDir(), "master.key")}
	if _, _, err := keys.LoadOrCreateMasterKey(cl.keyFile); err != nil {
		t.Fatal(err)
	}
	cl.a = startNode(t, cl.bin, "a", cl.dsn, cl.keyFile, cl.store.URL())
	cl.b = startNode(t, cl.bin, "b", cl.dsn, cl.keyFile, cl.store.URL())
	cl.c = startNode(t, cl.bin, "c", cl.dsn, cl.keyFile, cl.store.URL())
	return cl
}

// awsPath is Debian's AWS CLI v2, which scripts/test installs.
const awsPath = "/usr/bin/aws"

func requireAWSCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(awsPath); err != nil {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatalf("needs the AWS CLI (%s; apt-get install awscli): %v", awsPath, err)
		}
		t.Skipf("needs the AWS CLI (%s; apt-get install awscli): %v", awsPath, err)
	}
}

// awsCLIAs runs the AWS CLI against node n with the credentials of
// credsFile (a shared credentials file), failing the test on an error.
func awsCLIAs(t *testing.T, n *node, credsFile string, args ...string) string {
	t.Helper()
	out, err := runAWSCLI(t, n, credsFile, args...)
	if err != nil {
		t.Fatalf("aws %v on %s: %v\n%s", args, n.url, err, out)
	}
	return out
}

// runAWSCLI runs the AWS CLI against node n and returns its output, with
// the error of a non-zero exit.
func runAWSCLI(t *testing.T, n *node, credsFile string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(awsPath, append(args, "--endpoint-url", n.url, "--region", "us-east-1", "--output", "json")...)
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+credsFile, "AWS_CONFIG_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// creds reads the bootstrap administrator's key from the node's data
// directory.
func (n *node) creds(t *testing.T) aws.CredentialsProvider {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dir, "credentials"))
	if err != nil {
		t.Fatal(err)
	}
	var id, secret string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "aws_access_key_id = "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "aws_secret_access_key = "); ok {
			secret = v
		}
	}
	return credentials.NewStaticCredentialsProvider(id, secret, "")
}

func helloZip(t *testing.T) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, _ := w.Create("lambda_function.py")
	f.Write([]byte("def lambda_handler(event, context):\n    return event\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestKillNodeMidWork: three nodes on one PostgreSQL and one versitygw,
// driven by the AWS CLI and the SDK spread over them;
// 200 signing jobs and 100 Event invocations are submitted spread over
// them while one node is killed with SIGKILL. Every job acknowledged by
// any node (and every submission retried, with its client token, on
// another node after the kill) completes exactly once: one job per
// token, Succeeded, one version of its signed object. Every acknowledged
// Event invocation runs (at least once, as on Lambda: one the dead node
// was running runs again). The audit chain, with records from all three
// nodes, verifies.
func TestKillNodeMidWork(t *testing.T) {
	requireAWSCLI(t)
	cl := startCluster(t)
	dsn, store, bin, keyFile, a, b, c := cl.dsn, cl.store, cl.bin, cl.keyFile, cl.a, cl.b, cl.c
	creds := a.creds(t)
	ctx := context.Background()
	signerOf := func(n *node) *signer.Client {
		return signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.url), Credentials: creds, Retryer: aws.NopRetryer{},
			HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	}
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(a.url), Credentials: creds, UsePathStyle: true})
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
	// The AWS CLI beside the SDK: the profile on node B, read on node C.
	awsCLI := func(n *node, args ...string) string {
		t.Helper()
		return awsCLIAs(t, n, filepath.Join(a.dir, "credentials"), args...)
	}
	awsCLI(b, "signer", "put-signing-profile", "--profile-name", "kill", "--platform-id", "AWSLambda-SHA384-ECDSA")
	if out := awsCLI(c, "signer", "get-signing-profile", "--profile-name", "kill"); !strings.Contains(out, `"status": "Active"`) {
		t.Fatalf("aws signer get-signing-profile on node C:\n%s", out)
	}

	// A function that logs which event it ran.
	iamc := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(a.url), Credentials: creds})
	role, err := iamc.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("fn"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	// It records each run durably (a function's log lines are written
	// in batches, and the ones a killed node held are lost with it).
	if _, err := iamc.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("fn"), PolicyName: aws.String("ran"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::artifacts/ran/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	var fz bytes.Buffer
	zw := zip.NewWriter(&fz)
	f, _ := zw.Create("app.py")
	f.Write([]byte("import boto3, botocore.config\n" +
		"s3 = boto3.client('s3', config=botocore.config.Config(s3={'addressing_style': 'path'}))\n" +
		"def handler(event, context):\n    s3.put_object(Bucket='artifacts', Key='ran/%d' % event['id'], Body=b'ran')\n"))
	zw.Close()
	lambdaOf := func(n *node) *lambda.Client {
		return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.url), Credentials: creds, Retryer: aws.NopRetryer{},
			HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	}
	if _, err := lambdaOf(a).CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("marker"), Runtime: ltypes.RuntimePython312,
		// A timeout no loaded machine reaches: a timed-out attempt would
		// be retried a minute later, then two.
		Handler: aws.String("app.handler"), Role: role.Role.Arn, Timeout: aws.Int32(300), Code: &ltypes.FunctionCode{ZipFile: fz.Bytes()}}); err != nil {
		t.Fatal(err)
	}

	// A rotation in flight: its function (the shape of AWS's rotation
	// template) holds setSecret the first time it runs, and the node
	// running it is the one killed; another node's worker takes the step
	// over when the lease lapses.
	if _, err := iamc.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("rotator"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("rotator"), PolicyName: aws.String("rotate"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"},` +
			`{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::artifacts/rot/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	var rz bytes.Buffer
	zw = zip.NewWriter(&rz)
	f, _ = zw.Create("rotator.py")
	f.Write([]byte(`import boto3, botocore.config, time
sm = boto3.client('secretsmanager')
s3 = boto3.client('s3', config=botocore.config.Config(s3={'addressing_style': 'path'}))

def seen(key):
    try:
        s3.head_object(Bucket='artifacts', Key=key)
        return True
    except Exception:
        return False

def handler(event, context):
    arn, token, step = event['SecretId'], event['ClientRequestToken'], event['Step']
    s3.put_object(Bucket='artifacts', Key='rot/steps/%s/%d' % (step, time.time_ns()), Body=b'1')
    if step == 'createSecret':
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage='AWSPENDING')
        except sm.exceptions.ResourceNotFoundException:
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString='rotated', VersionStages=['AWSPENDING'])
    elif step == 'setSecret':
        if not seen('rot/held'):
            s3.put_object(Bucket='artifacts', Key='rot/held', Body=b'1')
            time.sleep(280)  # the node running this is killed meanwhile
    elif step == 'finishSecret':
        for v, stages in sm.describe_secret(SecretId=arn)['VersionIdsToStages'].items():
            if 'AWSCURRENT' in stages and v != token:
                sm.update_secret_version_stage(SecretId=arn, VersionStage='AWSCURRENT', MoveToVersionId=token, RemoveFromVersionId=v)
`))
	zw.Close()
	rotatorRole, err := iamc.GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String("rotator")})
	if err != nil {
		t.Fatal(err)
	}
	rotator, err := lambdaOf(a).CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("rotator"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("rotator.handler"), Role: rotatorRole.Role.Arn, Timeout: aws.Int32(300), Code: &ltypes.FunctionCode{ZipFile: rz.Bytes()}})
	if err != nil {
		t.Fatal(err)
	}
	awsCLI(a, "secretsmanager", "create-secret", "--name", "db", "--secret-string", "initial")
	rotation := awsCLI(b, "secretsmanager", "rotate-secret", "--secret-id", "db", "--rotation-lambda-arn", aws.ToString(rotator.FunctionArn),
		"--rotation-rules", "AutomaticallyAfterDays=30")
	var rotated struct{ VersionId string }
	if err := json.Unmarshal([]byte(rotation), &rotated); err != nil || rotated.VersionId == "" {
		t.Fatalf("rotate-secret: %v\n%s", err, rotation)
	}
	// The victim: the node whose worker runs setSecret.
	var victim *node
	eventually(t, 3*time.Minute, "a node to run the rotation's setSecret", func() bool {
		if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("rot/held")}); err == nil {
			for _, n := range []*node{a, b, c} {
				for _, line := range strings.Split(n.log(), "\n") {
					if strings.Contains(line, "secret rotation step done") && strings.Contains(line, `"step":"createSecret"`) {
						victim = n
					}
				}
			}
		}
		return victim != nil
	})
	var live []*node // the others
	for _, n := range []*node{a, b, c} {
		if n != victim {
			live = append(live, n)
		}
	}
	t.Logf("the rotation runs on %s: that node is killed", victim.url)

	const jobs, events = 200, 100
	nodes := []*node{a, b, c}
	ids := make([]string, jobs)
	var wg sync.WaitGroup
	var killOnce sync.Once
	var acked atomic.Int64
	work := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if i == jobs/3 {
					killOnce.Do(func() { victim.cmd.Process.Kill() })
				}
				in := &signer.StartSigningJobInput{ProfileName: aws.String("kill"), ClientRequestToken: aws.String(fmt.Sprint("token-", i)),
					Source:      &stypes.Source{S3: &stypes.S3Source{BucketName: aws.String("artifacts"), Key: aws.String("hello.zip"), Version: put.VersionId}},
					Destination: &stypes.Destination{S3: &stypes.S3Destination{BucketName: aws.String("artifacts"), Prefix: aws.String("signed/")}}}
				if i < events {
					for k := range 6 {
						_, err := lambdaOf(nodes[(i+1+k)%3]).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("marker"),
							InvocationType: ltypes.InvocationTypeEvent, Payload: []byte(fmt.Sprintf(`{"id": %d}`, i))})
						if err == nil {
							acked.Add(1)
							break
						}
					}
				}
				// The node of the job's turn, and on failure (the killed
				// node) the others, with the same token.
				for k := range 6 {
					out, err := signerOf(nodes[(i+k)%3]).StartSigningJob(ctx, in)
					if err == nil {
						ids[i] = aws.ToString(out.JobId)
						break
					}
				}
			}
		}()
	}
	for i := range jobs {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, id := range ids {
		if id == "" {
			t.Fatalf("job %d was refused by every node", i)
		}
	}
	<-victim.done

	// Every job completes: the killed node's claims lapse (30 s) and the
	// others take them.
	pending := map[string]bool{}
	for _, id := range ids {
		pending[id] = true
	}
	if len(pending) != jobs {
		t.Fatalf("%d tokens made %d jobs", jobs, len(pending))
	}
	sc := signerOf(live[1])
	deadline := time.Now().Add(5 * time.Minute)
	for len(pending) > 0 {
		for id := range pending {
			d, err := sc.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			switch d.Status {
			case stypes.SigningStatusSucceeded:
				delete(pending, id)
			case stypes.SigningStatusFailed:
				t.Fatalf("job %s failed: %s", id, aws.ToString(d.StatusReason))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs did not complete after the kill", len(pending))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := awsCLI(live[0], "signer", "describe-signing-job", "--job-id", ids[jobs-1]); !strings.Contains(out, `"status": "Succeeded"`) {
		t.Errorf("aws signer describe-signing-job on node A:\n%s", out)
	}
	// Exactly once: one signed object version per job.
	versions := map[string]int{}
	var marker, vmarker *string
	s3c2 := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(live[1].url), Credentials: creds, UsePathStyle: true})
	for {
		out, err := s3c2.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("artifacts"), Prefix: aws.String("signed/"), KeyMarker: marker, VersionIdMarker: vmarker})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			versions[aws.ToString(v.Key)]++
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		marker, vmarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	if len(versions) != jobs {
		t.Errorf("%d signed objects for %d jobs", len(versions), jobs)
	}
	for k, n := range versions {
		if n != 1 {
			t.Errorf("%s has %d versions: a job's output was written more than once", k, n)
		}
	}
	// Every acknowledged Event invocation ran.
	if acked.Load() != events {
		t.Fatalf("%d of %d Event invocations were acknowledged", acked.Load(), events)
	}
	ran := map[string]int{}
	s3c3 := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(live[1].url), Credentials: creds, UsePathStyle: true})
	eventually(t, 5*time.Minute, fmt.Sprintf("the %d Event invocations to run after the kill", events), func() bool {
		clear(ran)
		var marker, vmarker *string
		for {
			out, err := s3c3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("artifacts"), Prefix: aws.String("ran/"), KeyMarker: marker, VersionIdMarker: vmarker})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range out.Versions {
				ran[aws.ToString(v.Key)]++
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			marker, vmarker = out.NextKeyMarker, out.NextVersionIdMarker
		}
		return len(ran) == events
	})
	twice := 0
	for _, n := range ran {
		if n > 1 {
			twice++
		}
	}
	t.Logf("%d Event invocations ran more than once (the killed node was running them)", twice)
	// The rotation finishes on another node, with the version it began:
	// one new version, AWSCURRENT on it, AWSPREVIOUS on the first.
	eventually(t, 5*time.Minute, "the rotation to finish after the kill", func() bool {
		var d struct {
			VersionIdsToStages map[string][]string
			LastRotatedDate    any
		}
		out := awsCLI(live[0], "secretsmanager", "describe-secret", "--secret-id", "db")
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		if strings.Join(d.VersionIdsToStages[rotated.VersionId], ",") != "AWSCURRENT" || d.LastRotatedDate == nil {
			return false
		}
		if len(d.VersionIdsToStages) != 2 {
			t.Errorf("versions after the rotation: %v", d.VersionIdsToStages)
		}
		return true
	})
	if out := awsCLI(live[1], "secretsmanager", "get-secret-value", "--secret-id", "db"); !strings.Contains(out, `"SecretString": "rotated"`) ||
		!strings.Contains(out, rotated.VersionId) {
		t.Errorf("get-secret-value after the rotation:\n%s", out)
	}
	// setSecret ran twice: held on the killed node, then taken over.
	if out, err := s3c3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("artifacts"), Prefix: aws.String("rot/steps/setSecret/")}); err != nil || len(out.Contents) < 2 {
		t.Errorf("setSecret was not run again after the kill: %v", err)
	}
	// The audit chain, records of all three nodes, verifies.
	out, err := exec.Command(bin, "audit", "verify", "--database-url", dsn, "--master-key-file", keyFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "intact") {
		t.Errorf("signet audit verify: %v\n%s", err, out)
	}
	// No object half-visible, none orphaned: every path the metadata
	// refers to is in the object store, and once signet store gc has
	// moved to the trash what the killed node wrote but never recorded,
	// nothing else is.
	out, err = exec.Command(bin, "store", "gc", "--database-url", dsn, "--object-store-url", store.URL(), "--grace", "0s", "--force").CombinedOutput()
	if err != nil {
		t.Fatalf("signet store gc: %v\n%s", err, out)
	}
	t.Logf("signet store gc after the kill: %s", bytes.TrimSpace(out))
	db, err := sstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	refs, _, err := db.ReferencedBlobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	pages := s3.NewListObjectsV2Paginator(store.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(store.Bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			held[aws.ToString(o.Key)] = true
		}
	}
	for p := range refs {
		if !held[p] {
			t.Errorf("the metadata refers to %s, which the object store lacks", p)
		}
	}
	for p := range held {
		if !refs[p] && p != "signet-installation" && !strings.HasPrefix(p, "trash/") {
			t.Errorf("the object store holds %s, which nothing refers to", p)
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("canceled")
	}
}

// field reads a string at path in the AWS CLI's JSON output.
func field(t *testing.T, out string, path ...string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no %v in:\n%s", path, out)
		}
		v = m[p]
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("no string at %v in:\n%s", path, out)
	}
	return s
}

// TestNodesW1AWSCLI: workflow W1 with the AWS CLI on three signet serve
// processes sharing PostgreSQL and versitygw, each step on another node:
// the package put on A, the profile made on B, the job started on C, its
// outcome read on A, the code signing config made on B, the function
// created through the deploy gate on C, invoked on B. Then changes made
// on one node hold on the next call to another: a Deny added to a user's
// policy on C refuses that user on A; a signature revoked on B stops the
// deployment of that code on C.
func TestNodesW1AWSCLI(t *testing.T) {
	requireAWSCLI(t)
	cl := startCluster(t)
	dsn, bin, keyFile, a, b, c := cl.dsn, cl.bin, cl.keyFile, cl.a, cl.b, cl.c
	admin := filepath.Join(a.dir, "credentials")
	cli := func(n *node, args ...string) string { t.Helper(); return awsCLIAs(t, n, admin, args...) }
	work := t.TempDir()
	pkg := filepath.Join(work, "hello.zip")
	if err := os.WriteFile(pkg, helloZip(t), 0o600); err != nil {
		t.Fatal(err)
	}

	cli(a, "s3api", "create-bucket", "--bucket", "artifacts")
	cli(a, "s3api", "put-bucket-versioning", "--bucket", "artifacts", "--versioning-configuration", "Status=Enabled")
	version := field(t, cli(a, "s3api", "put-object", "--bucket", "artifacts", "--key", "hello.zip", "--body", pkg), "VersionId")
	profileVersion := field(t, cli(b, "signer", "put-signing-profile", "--profile-name", "w1", "--platform-id", "AWSLambda-SHA384-ECDSA"), "profileVersionArn")
	job := field(t, cli(c, "signer", "start-signing-job", "--profile-name", "w1",
		"--source", `{"s3":{"bucketName":"artifacts","key":"hello.zip","version":"`+version+`"}}`,
		"--destination", `{"s3":{"bucketName":"artifacts","prefix":"signed-"}}`), "jobId")
	var signedKey string
	eventually(t, 2*time.Minute, "the signing job to finish", func() bool {
		out := cli(a, "signer", "describe-signing-job", "--job-id", job)
		switch field(t, out, "status") {
		case "Succeeded":
			signedKey = field(t, out, "signedObject", "s3", "key")
		case "Failed":
			t.Fatalf("the signing job failed:\n%s", out)
		}
		return signedKey != ""
	})
	csc := field(t, cli(b, "lambda", "create-code-signing-config", "--allowed-publishers", "SigningProfileVersionArns="+profileVersion,
		"--code-signing-policies", "UntrustedArtifactOnDeployment=Enforce"), "CodeSigningConfig", "CodeSigningConfigArn")
	role := field(t, cli(c, "iam", "create-role", "--role-name", "w1",
		"--assume-role-policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
		"Role", "Arn")
	cli(c, "lambda", "create-function", "--function-name", "w1", "--runtime", "python3.12", "--handler", "lambda_function.lambda_handler",
		"--role", role, "--code", "S3Bucket=artifacts,S3Key="+signedKey, "--code-signing-config-arn", csc)
	result := filepath.Join(work, "out.json")
	cli(b, "lambda", "invoke", "--function-name", "w1", "--cli-binary-format", "raw-in-base64-out", "--payload", `{"key1":"from node B"}`, result)
	if got, _ := os.ReadFile(result); string(got) != `{"key1": "from node B"}` && string(got) != `{"key1":"from node B"}` {
		t.Errorf("the function on node B returned %s", got)
	}

	// An IAM change on C holds on A.
	cli(a, "iam", "create-user", "--user-name", "dev")
	cli(a, "iam", "put-user-policy", "--user-name", "dev", "--policy-name", "read",
		"--policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:GetFunction","Resource":"*"}]}`)
	key := cli(a, "iam", "create-access-key", "--user-name", "dev")
	dev := filepath.Join(work, "dev-credentials")
	if err := os.WriteFile(dev, []byte("[default]\naws_access_key_id = "+field(t, key, "AccessKey", "AccessKeyId")+
		"\naws_secret_access_key = "+field(t, key, "AccessKey", "SecretAccessKey")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	awsCLIAs(t, b, dev, "lambda", "get-function", "--function-name", "w1")
	cli(c, "iam", "put-user-policy", "--user-name", "dev", "--policy-name", "deny",
		"--policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"lambda:GetFunction","Resource":"*"}]}`)
	// Nodes drop cached policies when PostgreSQL's notification arrives,
	// and re-read them after 5 s whatever happens (docs/scale-out.md): no
	// call that starts later is allowed.
	bound := time.Now().Add(5 * time.Second)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		started := time.Now()
		out, err := runAWSCLI(t, a, dev, "lambda", "get-function", "--function-name", "w1")
		if err != nil {
			if !strings.Contains(out, "AccessDeniedException") {
				t.Fatalf("dev on node A after the Deny: %v\n%s", err, out)
			}
			break
		}
		if started.After(bound) {
			t.Fatal("node A allowed a call that started past the 5 s bound after node C's Deny")
		}
		if time.Now().After(deadline) {
			t.Fatal("node A still allows what node C denied")
		}
	}

	// A revocation answered on B stops the very next deployment on C.
	cli(b, "signer", "revoke-signature", "--job-id", job, "--reason", "built from a compromised commit")
	out, err := runAWSCLI(t, c, admin, "lambda", "update-function-code", "--function-name", "w1", "--s3-bucket", "artifacts", "--s3-key", signedKey)
	if err == nil || !strings.Contains(out, "CodeVerificationFailedException") || !strings.Contains(out, "revoked") {
		t.Fatalf("node C's next deployment of the code node B revoked: %v\n%s", err, out)
	}
	vout, err := exec.Command(bin, "audit", "verify", "--database-url", dsn, "--master-key-file", keyFile).CombinedOutput()
	if err != nil || !strings.Contains(string(vout), "intact") {
		t.Errorf("signet audit verify: %v\n%s", err, vout)
	}
}
