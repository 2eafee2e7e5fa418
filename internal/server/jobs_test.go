package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/tspclient-go"

	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/verify"
)

func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, body := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(f, body)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var helloZip = map[string]string{"lambda_function.py": "def lambda_handler(event, context):\n    return event['key1']\n"}

// jobEnv is a server with a versioned bucket and a Lambda signing profile.
type jobEnv struct {
	ts      *servertest.Server
	s3      *s3.Client
	signer  *signer.Client
	version string // profile version
}

func newJobEnv(t testing.TB) *jobEnv {
	t.Helper()
	ts := servertest.Start(t)
	e := &jobEnv{ts: ts, s3: ts.S3(), signer: ts.Signer()}
	e.setup(t)
	return e
}

// setup creates the buckets and the Lambda signing profile.
func (e *jobEnv) setup(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	for _, b := range []string{"artifacts", "unversioned"} {
		if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("artifacts"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	put, err := e.signer.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("signing_profile_for_lambda"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")})
	if err != nil {
		t.Fatal(err)
	}
	e.version = aws.ToString(put.ProfileVersion)
}

func (e *jobEnv) put(t testing.TB, bucket, key string, body []byte) string {
	t.Helper()
	out, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.VersionId)
}

func (e *jobEnv) start(t testing.TB, key, version, profile, token string) (string, error) {
	t.Helper()
	out, err := e.signer.StartSigningJob(context.Background(), &signer.StartSigningJobInput{
		ClientRequestToken: aws.String(token),
		ProfileName:        aws.String(profile),
		Source:             &types.Source{S3: &types.S3Source{BucketName: aws.String("artifacts"), Key: aws.String(key), Version: aws.String(version)}},
		Destination:        &types.Destination{S3: &types.S3Destination{BucketName: aws.String("artifacts"), Prefix: aws.String("signed-")}},
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.JobId), nil
}

// wait polls DescribeSigningJob until the job leaves InProgress.
func (e *jobEnv) wait(t testing.TB, id string) *signer.DescribeSigningJobOutput {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := e.signer.DescribeSigningJob(context.Background(), &signer.DescribeSigningJobInput{JobId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != types.SigningStatusInProgress {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still InProgress", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *jobEnv) get(t testing.TB, bucket, key string) ([]byte, error) {
	t.Helper()
	out, err := e.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func TestSigningJob(t *testing.T) {
	e := newJobEnv(t)
	ctx := context.Background()
	src := zipOf(t, helloZip)
	ver := e.put(t, "artifacts", "hello.zip", src)
	id, err := e.start(t, "hello.zip", ver, "signing_profile_for_lambda", "token-1")
	if err != nil {
		t.Fatal(err)
	}
	d := e.wait(t, id)
	if d.Status != types.SigningStatusSucceeded || aws.ToString(d.StatusReason) != "Signing Succeeded" {
		t.Fatalf("job %s: %s %q", id, d.Status, aws.ToString(d.StatusReason))
	}
	key := "signed-" + id + ".zip"
	acct := e.ts.AccountID()
	if aws.ToString(d.SignedObject.S3.Key) != key || aws.ToString(d.SignedObject.S3.BucketName) != "artifacts" ||
		aws.ToString(d.Source.S3.Version) != ver || aws.ToString(d.ProfileVersion) != e.version || aws.ToString(d.JobOwner) != acct ||
		aws.ToString(d.PlatformId) != "AWSLambda-SHA384-ECDSA" || d.CreatedAt == nil || d.CompletedAt == nil {
		t.Errorf("DescribeSigningJob = %+v", d)
	}
	if exp := aws.ToTime(d.SignatureExpiresAt); exp.Before(time.Now().AddDate(0, 134, 0)) || exp.After(time.Now().AddDate(0, 136, 0)) {
		t.Errorf("signatureExpiresAt %s is not 135 months away", exp)
	}
	signed, err := e.get(t, "artifacts", key)
	if err != nil {
		t.Fatal(err)
	}
	// The job computes the signed object's ETag while hashing the source;
	// it must be the MD5 of the bytes stored.
	head, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%q", fmt.Sprintf("%x", md5.Sum(signed))); aws.ToString(head.ETag) != want {
		t.Errorf("signed object ETag = %s, want %s", aws.ToString(head.ETag), want)
	}
	versionARN := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/signing_profile_for_lambda/%s", acct, e.version)
	rep, err := verify.Package(bytes.NewReader(signed), int64(len(signed)), verify.Options{Roots: []*x509.Certificate{e.ts.Authority.Root.Cert}, AllowedPublishers: []string{versionARN}})
	if err != nil || !rep.OK() {
		t.Fatalf("the signed object does not verify: %v %+v", err, rep)
	}
	if rep.JobARN != fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-jobs/%s", acct, id) {
		t.Errorf("job ARN in the signature = %s", rep.JobARN)
	}
	checkTimestamp(t, e.ts, rep.Envelope, notary.MediaTypeJWS)

	// The same token returns the same job; a different request with it is refused.
	again, err := e.start(t, "hello.zip", ver, "signing_profile_for_lambda", "token-1")
	if err != nil || again != id {
		t.Errorf("repeated token = %s, %v; want %s", again, err, id)
	}
	if _, err := e.start(t, "other.zip", ver, "signing_profile_for_lambda", "token-1"); apiCode(err) != "ConflictException" {
		t.Errorf("token reused for another request = %v, want ConflictException", err)
	}

	// ListSigningJobs.
	list, err := e.signer.ListSigningJobs(ctx, &signer.ListSigningJobsInput{Status: types.SigningStatusSucceeded})
	if err != nil || len(list.Jobs) != 1 || aws.ToString(list.Jobs[0].JobId) != id || list.Jobs[0].IsRevoked {
		t.Errorf("ListSigningJobs(Succeeded) = %+v, %v", list, err)
	}
	if l, _ := e.signer.ListSigningJobs(ctx, &signer.ListSigningJobsInput{Status: types.SigningStatusFailed}); len(l.Jobs) != 0 {
		t.Errorf("ListSigningJobs(Failed) = %d jobs", len(l.Jobs))
	}
	if l, _ := e.signer.ListSigningJobs(ctx, &signer.ListSigningJobsInput{SignatureExpiresBefore: aws.Time(time.Now().AddDate(1, 0, 0))}); len(l.Jobs) != 0 {
		t.Errorf("ListSigningJobs(expires within a year) = %d jobs", len(l.Jobs))
	}
	if l, _ := e.signer.ListSigningJobs(ctx, &signer.ListSigningJobsInput{SignatureExpiresAfter: aws.Time(time.Now().AddDate(1, 0, 0))}); len(l.Jobs) != 1 {
		t.Errorf("ListSigningJobs(expires after a year) = %d jobs", len(l.Jobs))
	}
}

func TestSigningJobFailures(t *testing.T) {
	e := newJobEnv(t)
	ctx := context.Background()
	good := e.put(t, "artifacts", "hello.zip", zipOf(t, helloZip))
	notZip := e.put(t, "artifacts", "notes.txt", []byte("not a zip"))
	empty := e.put(t, "artifacts", "empty.zip", zipOf(t, nil))
	// An already signed package: sign once, upload the output as a source.
	id, err := e.start(t, "hello.zip", good, "signing_profile_for_lambda", "first")
	if err != nil {
		t.Fatal(err)
	}
	e.wait(t, id)
	signed, err := e.get(t, "artifacts", "signed-"+id+".zip")
	if err != nil {
		t.Fatal(err)
	}
	already := e.put(t, "artifacts", "signed-again.zip", signed)
	if _, err := e.signer.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("retired"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.signer.CancelSigningProfile(ctx, &signer.CancelSigningProfileInput{ProfileName: aws.String("retired")}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		key, version, profile string
		reason                string
	}{
		"fail/missing-version": {"hello.zip", "0000000000000000000000000000000A", "signing_profile_for_lambda", "is not available"},
		"fail/missing-key":     {"nope.zip", good, "signing_profile_for_lambda", "is not available"},
		"fail/not-a-zip":       {"notes.txt", notZip, "signing_profile_for_lambda", "not a valid zip file"},
		"fail/empty-zip":       {"empty.zip", empty, "signing_profile_for_lambda", "The zip file is empty"},
		"fail/already-signed":  {"signed-again.zip", already, "signing_profile_for_lambda", "already has a signature"},
		"fail/canceled":        {"hello.zip", good, "retired", "is Canceled"},
	}
	ids := map[string]string{}
	for name, c := range cases {
		id, err := e.start(t, c.key, c.version, c.profile, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ids[name] = id
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := e.wait(t, ids[name])
			if d.Status != types.SigningStatusFailed || !strings.Contains(aws.ToString(d.StatusReason), c.reason) {
				t.Errorf("job ended %s %q, want Failed with %q", d.Status, aws.ToString(d.StatusReason), c.reason)
			}
			if d.SignedObject != nil {
				t.Errorf("a failed job names a signed object: %+v", d.SignedObject)
			}
			if _, err := e.get(t, "artifacts", "signed-"+ids[name]+".zip"); err == nil {
				t.Error("a failed job left a signed object")
			}
		})
	}
	// Refused at once.
	refused := map[string]struct {
		in   *signer.StartSigningJobInput
		code string
	}{
		"fail/unversioned-bucket": {&signer.StartSigningJobInput{ClientRequestToken: aws.String("u"), ProfileName: aws.String("signing_profile_for_lambda"),
			Source:      &types.Source{S3: &types.S3Source{BucketName: aws.String("unversioned"), Key: aws.String("k"), Version: aws.String("v")}},
			Destination: &types.Destination{S3: &types.S3Destination{BucketName: aws.String("artifacts")}}}, "ValidationException"},
		"fail/unknown-profile": {&signer.StartSigningJobInput{ClientRequestToken: aws.String("p"), ProfileName: aws.String("nobody"),
			Source:      &types.Source{S3: &types.S3Source{BucketName: aws.String("artifacts"), Key: aws.String("hello.zip"), Version: aws.String(good)}},
			Destination: &types.Destination{S3: &types.S3Destination{BucketName: aws.String("artifacts")}}}, "ResourceNotFoundException"},
		"fail/no-destination": {&signer.StartSigningJobInput{ClientRequestToken: aws.String("d"), ProfileName: aws.String("signing_profile_for_lambda"),
			Source:      &types.Source{S3: &types.S3Source{BucketName: aws.String("artifacts"), Key: aws.String("hello.zip"), Version: aws.String(good)}},
			Destination: &types.Destination{S3: &types.S3Destination{}}}, "ValidationException"},
	}
	for name, c := range refused {
		t.Run(name, func(t *testing.T) {
			if _, err := e.signer.StartSigningJob(ctx, c.in); apiCode(err) != c.code {
				t.Errorf("StartSigningJob = %v, want %s", err, c.code)
			}
		})
	}
	if _, err := e.signer.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String("00000000-0000-0000-0000-000000000000")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("DescribeSigningJob(unknown) = %v", err)
	}
}

func TestSignPayload(t *testing.T) {
	ts := servertest.Start(t)
	c := ts.Signer()
	ctx := context.Background()
	for name, plat := range map[string]string{"images": "Notation-OCI-SHA384-ECDSA", "functions": "AWSLambda-SHA384-ECDSA"} {
		if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(name), PlatformId: aws.String(plat)}); err != nil {
			t.Fatal(err)
		}
	}
	payload := []byte(`{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270","size":528}}`)
	out, err := c.SignPayload(ctx, &signer.SignPayloadInput{ProfileName: aws.String("images"), Payload: payload, PayloadFormat: aws.String(notary.PayloadType)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := notary.Verify(out.Signature, notary.MediaTypeJWS, []*x509.Certificate{ts.Authority.Root.Cert}, time.Now())
	if err != nil {
		t.Fatalf("the SignPayload envelope does not verify: %v", err)
	}
	if v.Artifact.Digest != "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270" || v.Artifact.Size != 528 ||
		!strings.HasSuffix(v.JobARN, aws.ToString(out.JobId)) || out.Metadata[notary.AttrJob] != v.JobARN || out.Metadata[notary.AttrProfileVersion] != v.ProfileVersionARN {
		t.Errorf("envelope %+v, metadata %v", v, out.Metadata)
	}
	d, err := c.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: out.JobId})
	if err != nil || d.Status != types.SigningStatusSucceeded || d.Source != nil {
		t.Errorf("DescribeSigningJob of a payload job = %+v, %v", d, err)
	}
	cases := map[string]struct {
		in   *signer.SignPayloadInput
		code string
	}{
		"fail/lambda-profile": {&signer.SignPayloadInput{ProfileName: aws.String("functions"), Payload: payload, PayloadFormat: aws.String(notary.PayloadType)}, "ValidationException"},
		"fail/format":         {&signer.SignPayloadInput{ProfileName: aws.String("images"), Payload: payload, PayloadFormat: aws.String("application/json")}, "ValidationException"},
		"fail/too-large":      {&signer.SignPayloadInput{ProfileName: aws.String("images"), Payload: bytes.Repeat([]byte("a"), 4097), PayloadFormat: aws.String(notary.PayloadType)}, "ValidationException"},
		"fail/not-a-payload":  {&signer.SignPayloadInput{ProfileName: aws.String("images"), Payload: []byte(`{"a":1}`), PayloadFormat: aws.String(notary.PayloadType)}, "ValidationException"},
		"fail/unknown":        {&signer.SignPayloadInput{ProfileName: aws.String("nobody"), Payload: payload, PayloadFormat: aws.String(notary.PayloadType)}, "ResourceNotFoundException"},
	}
	for name, c2 := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := c.SignPayload(ctx, c2.in); apiCode(err) != c2.code {
				t.Errorf("SignPayload = %v, want %s", err, c2.code)
			}
		})
	}
}

func TestSigningJobLimitsAndFormats(t *testing.T) {
	e := newJobEnv(t)
	ctx := context.Background()
	src := zipOf(t, helloZip)
	ver := e.put(t, "artifacts", "hello.zip", src)
	// COSE envelopes, chosen by the profile's signing parameters.
	if _, err := e.signer.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("cose_profile"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA"),
		SigningParameters: map[string]string{"signatureFormat": "cose"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.signer.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("bad_format"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA"),
		SigningParameters: map[string]string{"signatureFormat": "pgp"}}); apiCode(err) != "ValidationException" {
		t.Errorf("signatureFormat pgp = %v, want ValidationException", err)
	}
	id, err := e.start(t, "hello.zip", ver, "cose_profile", "cose")
	if err != nil {
		t.Fatal(err)
	}
	if d := e.wait(t, id); d.Status != types.SigningStatusSucceeded {
		t.Fatalf("COSE job: %s %s", d.Status, aws.ToString(d.StatusReason))
	}
	signed, err := e.get(t, "artifacts", "signed-"+id+".zip")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Package(bytes.NewReader(signed), int64(len(signed)), verify.Options{Roots: []*x509.Certificate{e.ts.Authority.Root.Cert}})
	if err != nil || !rep.OK() || rep.EnvelopeType.MediaType() != "application/cose" {
		t.Fatalf("COSE package: %v %+v", err, rep)
	}
	checkTimestamp(t, e.ts, rep.Envelope, notary.MediaTypeCOSE)
	// Packages over the platform's size limit fail with a reason.
	e.ts.SetMaxJobSize(int64(len(src)) - 1)
	id, err = e.start(t, "hello.zip", ver, "signing_profile_for_lambda", "too-large")
	if err != nil {
		t.Fatal(err)
	}
	if d := e.wait(t, id); d.Status != types.SigningStatusFailed || !strings.Contains(aws.ToString(d.StatusReason), "over the platform's limit") {
		t.Errorf("oversized job: %s %q", d.Status, aws.ToString(d.StatusReason))
	}
}

// checkTimestamp checks that an envelope carries an RFC 3161 timestamp of
// its signature from Signet's TSA, valid under the TSA root.
func checkTimestamp(t *testing.T, ts *servertest.Server, envelope []byte, mediaType string) {
	t.Helper()
	env, err := signature.ParseEnvelope(mediaType, envelope)
	if err != nil {
		t.Fatal(err)
	}
	content, err := env.Verify()
	if err != nil {
		t.Fatal(err)
	}
	tok := content.SignerInfo.UnsignedAttributes.TimestampSignature
	if len(tok) == 0 {
		t.Fatal("the envelope carries no timestamp")
	}
	token, err := tspclient.ParseSignedToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ts.TSA.Chain[len(ts.TSA.Chain)-1])
	if _, err := token.Verify(context.Background(), x509.VerifyOptions{Roots: roots}); err != nil {
		t.Fatalf("the timestamp does not verify under the TSA root: %v", err)
	}
	info, err := token.Info()
	if err != nil {
		t.Fatal(err)
	}
	stamp, err := info.Validate(content.SignerInfo.Signature)
	if err != nil {
		t.Fatalf("the timestamp is not over the signature: %v", err)
	}
	// Stamped after signing (both to the second) and before now, however
	// long the job took.
	if stamp.Value.Before(content.SignerInfo.SignedAttributes.SigningTime.Truncate(time.Second)) || stamp.Value.After(time.Now()) {
		t.Errorf("timestamp %s, signing time %s", stamp.Value, content.SignerInfo.SignedAttributes.SigningTime)
	}
}
