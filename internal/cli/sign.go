package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	signertypes "github.com/aws/aws-sdk-go-v2/service/signer/types"
	"github.com/google/uuid"
)

// DefaultUploadBucket is where `signet sign FILE` uploads local packages.
const DefaultUploadBucket = "signet-uploads"

func (c *clientFlags) s3(ctx context.Context) (*s3.Client, error) {
	cfg, err := c.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(c.endpoint)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}

func signCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	cf.register(fs)
	profile := fs.String("profile", "", "signing profile (platform AWSLambda-SHA384-ECDSA)")
	out := fs.String("o", "", "where to write the signed package (default: NAME-signed.zip beside FILE)")
	bucket := fs.String("bucket", DefaultUploadBucket, "bucket for uploads and signed objects (created, versioned, if missing)")
	prefix := fs.String("prefix", "signed-", "key prefix of the signed object")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait for the signing job")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *profile == "" {
		return usageError("sign needs --profile NAME and one FILE or s3://BUCKET/KEY")
	}
	if err := cf.check(); err != nil {
		return err
	}
	s3c, err := cf.s3(ctx)
	if err != nil {
		return err
	}
	sc, err := cf.signer(ctx)
	if err != nil {
		return err
	}
	p := newProgress(stderr)
	var src signertypes.S3Source
	destBucket := *bucket
	local := !strings.HasPrefix(pos[0], "s3://")
	if local {
		if err := ensureBucket(ctx, s3c, *bucket); err != nil {
			return err
		}
		src, err = upload(ctx, s3c, *bucket, pos[0], p)
		if err != nil {
			return err
		}
	} else {
		b, key, _ := strings.Cut(strings.TrimPrefix(pos[0], "s3://"), "/")
		if b == "" || key == "" {
			return usageError("%q is not s3://BUCKET/KEY", pos[0])
		}
		head, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
		if err != nil {
			return apiError(err)
		}
		if aws.ToString(head.VersionId) == "" || aws.ToString(head.VersionId) == "null" {
			return fmt.Errorf("s3://%s/%s has no version id: enable versioning on bucket %s and upload it again", b, key, b)
		}
		src = signertypes.S3Source{BucketName: aws.String(b), Key: aws.String(key), Version: head.VersionId}
		destBucket = b
	}
	job, err := sc.StartSigningJob(ctx, &signer.StartSigningJobInput{
		ClientRequestToken: aws.String(uuid.NewString()),
		ProfileName:        profile,
		Source:             &signertypes.Source{S3: &src},
		Destination:        &signertypes.Destination{S3: &signertypes.S3Destination{BucketName: aws.String(destBucket), Prefix: prefix}},
	})
	if err != nil {
		return apiError(err)
	}
	desc, err := waitJob(ctx, sc, aws.ToString(job.JobId), *timeout, p)
	if desc != nil {
		printScanFindings(stderr, aws.ToString(desc.StatusReason))
	}
	if err != nil {
		return err
	}
	signed := desc.SignedObject.S3
	if !local {
		fmt.Fprintf(stdout, "signed s3://%s/%s\njob %s, profile version %s/%s\n", aws.ToString(signed.BucketName), aws.ToString(signed.Key),
			aws.ToString(desc.JobId), aws.ToString(desc.ProfileName), aws.ToString(desc.ProfileVersion))
		return nil
	}
	dst := *out
	if dst == "" {
		dst = strings.TrimSuffix(pos[0], filepath.Ext(pos[0])) + "-signed.zip"
	}
	if err := download(ctx, s3c, aws.ToString(signed.BucketName), aws.ToString(signed.Key), dst, p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed %s -> %s\njob %s, profile %s version %s, expires %s\n", pos[0], dst, aws.ToString(desc.JobId),
		aws.ToString(desc.ProfileName), aws.ToString(desc.ProfileVersion), aws.ToTime(desc.SignatureExpiresAt).UTC().Format("2006-01-02"))
	return nil
}

func ensureBucket(ctx context.Context, c *s3.Client, bucket string) error {
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil && apiCodeOf(err) != "BucketAlreadyOwnedByYou" {
			return apiError(err)
		}
	}
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil {
		return apiError(err)
	}
	if v.Status != s3types.BucketVersioningStatusEnabled {
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
		return apiError(err)
	}
	return nil
}

func upload(ctx context.Context, c *s3.Client, bucket, path string, p *progress) (signertypes.S3Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return signertypes.S3Source{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return signertypes.S3Source{}, err
	}
	key := "uploads/" + uuid.NewString() + "/" + filepath.Base(path)
	p.start("uploading", st.Size())
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: &countingReadSeeker{f: f, p: p}, ContentLength: aws.Int64(st.Size()), ContentType: aws.String("application/zip")})
	p.done()
	if err != nil {
		return signertypes.S3Source{}, apiError(err)
	}
	return signertypes.S3Source{BucketName: aws.String(bucket), Key: aws.String(key), Version: out.VersionId}, nil
}

func waitJob(ctx context.Context, c *signer.Client, id string, timeout time.Duration, p *progress) (*signer.DescribeSigningJobOutput, error) {
	deadline := time.Now().Add(timeout)
	p.start("signing", 0)
	defer p.done()
	delay := 100 * time.Millisecond
	for {
		d, err := c.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(id)})
		if err != nil {
			return nil, apiError(err)
		}
		switch d.Status {
		case signertypes.SigningStatusSucceeded:
			return d, nil
		case signertypes.SigningStatusFailed:
			return d, fmt.Errorf("signing job %s failed: %s", id, aws.ToString(d.StatusReason))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("signing job %s is still %s after %s", id, d.Status, timeout)
		}
		p.tick()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

// printScanFindings prints, one a line, the secret-scan findings a
// job's status reason lists ("N secret-scan findings: path:line rule,
// …"), those that failed the job or that it was signed with.
func printScanFindings(w io.Writer, reason string) {
	_, list, ok := strings.Cut(reason, " secret-scan finding")
	if !ok {
		return
	}
	_, list, _ = strings.Cut(list, ": ")
	list, _, _ = strings.Cut(list, " (set signing parameter")
	verb := "signed with"
	if strings.HasPrefix(reason, "The package was not signed") {
		verb = "refused for"
	}
	for _, f := range strings.Split(list, ", ") {
		if more, ok := strings.CutPrefix(f, "and "); ok {
			fmt.Fprintf(w, "signet: and %s more secret-scan findings (DescribeSigningJob's secretScanFindings lists them all)\n", strings.TrimSuffix(more, " more"))
			continue
		}
		fmt.Fprintf(w, "signet: %s secret-scan finding %s\n", verb, f)
	}
}

func download(ctx context.Context, c *s3.Client, bucket, key, dst string, p *progress) error {
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return apiError(err)
	}
	defer obj.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".signet-sign-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	p.start("downloading", aws.ToInt64(obj.ContentLength))
	_, err = io.Copy(tmp, p.reader(obj.Body))
	p.done()
	if err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err != nil {
		return fmt.Errorf("failed to download the signed package: %w", err)
	}
	return os.Rename(tmp.Name(), dst)
}

func apiCodeOf(err error) string {
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// progress draws one status line on a terminal and nothing elsewhere.
type progress struct {
	w     io.Writer
	tty   bool
	label string
	total int64
	n     int64
	spin  int
	last  time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) start(label string, total int64) {
	p.label, p.total, p.n = label, total, 0
	p.draw(true)
}

func (p *progress) reader(r io.Reader) io.Reader { return &countingReader{r: r, p: p} }

func (p *progress) tick() { p.spin++; p.draw(true) }

func (p *progress) done() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) draw(force bool) {
	if !p.tty || (!force && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	p.last = time.Now()
	if p.total > 0 {
		const width = 30
		filled := int(float64(width) * float64(p.n) / float64(p.total))
		fmt.Fprintf(p.w, "\r\033[K%-11s [%s%s] %5.1f%% of %.1f MB", p.label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
			100*float64(p.n)/float64(p.total), float64(p.total)/1e6)
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%-11s %c", p.label, `|/-\`[p.spin%4])
}

// countingReadSeeker reports progress on a file the SDK may rewind (it
// reads the body once to hash it, then again to send it).
type countingReadSeeker struct {
	f *os.File
	p *progress
}

func (c *countingReadSeeker) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	c.p.n += int64(n)
	c.p.draw(false)
	return n, err
}

func (c *countingReadSeeker) Seek(off int64, whence int) (int64, error) {
	pos, err := c.f.Seek(off, whence)
	c.p.n = pos
	return pos, err
}

type countingReader struct {
	r io.Reader
	p *progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.n += int64(n)
	c.p.draw(false)
	return n, err
}
