package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
)

// payloadRecorder records how each request's payload was declared, and
// can corrupt aws-chunked checksum trailers.
type payloadRecorder struct {
	base           http.RoundTripper
	corruptTrailer bool

	mu   sync.Mutex
	seen map[string]string // "METHOD /path" -> X-Amz-Content-Sha256 [+ Content-Encoding]
}

var trailerValueRE = regexp.MustCompile(`(x-amz-checksum-[a-z0-9]+:)[A-Za-z0-9+/=]+`)

func (p *payloadRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	p.seen[r.Method+" "+r.URL.Path] = strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256") + " " + r.Header.Get("Content-Encoding"))
	corrupt := p.corruptTrailer
	p.mu.Unlock()
	if corrupt && r.Header.Get("X-Amz-Trailer") != "" && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		// Same length: every checksum value becomes zeros of its length.
		body = trailerValueRE.ReplaceAllFunc(body, func(m []byte) []byte {
			i := bytes.IndexByte(m, ':') + 1
			return append(m[:i:i], bytes.Repeat([]byte("A"), len(m)-i)...)
		})
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return p.base.RoundTrip(r)
}

func (p *payloadRecorder) declared(method, path string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[method+" "+path]
}

// s3Client returns an aws-sdk-go-v2 S3 client (path-style, no retries)
// for a server at url, sending through rec.
func s3Client(url string, creds aws.Credentials, rec *payloadRecorder) *s3.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		HTTPClient:  &http.Client{Transport: rec},
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(url)
		o.UsePathStyle = true
		o.Retryer = aws.NopRetryer{}
	})
}

// startTLSServer serves a fresh data directory over HTTPS, where the SDK
// sends aws-chunked bodies with checksum trailers.
func startTLSServer(t *testing.T) (*httptest.Server, aws.Credentials) {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	srv, err := server.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs, servertest.ReadCredentials(t, srv.CredentialsPath())
}

func apiErrorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// TestSDKS3PutObject puts objects with aws-sdk-go-v2 the ways it sends
// bodies: a hex SHA-256 (with and without a checksum header) over HTTP,
// and over HTTPS unsigned payloads and aws-chunked bodies with checksum
// trailers. Every object must read back byte-identical, and a corrupted
// trailer must be refused with nothing stored.
func TestSDKS3PutObject(t *testing.T) {
	plain := servertest.Start(t)
	tlsServer, tlsCreds := startTLSServer(t)
	httpRec := &payloadRecorder{base: http.DefaultTransport, seen: map[string]string{}}
	tlsRec := &payloadRecorder{base: tlsServer.Client().Transport, seen: map[string]string{}}
	clients := map[string]*s3.Client{
		"http":  s3Client(plain.URL, plain.Creds, httpRec),
		"https": s3Client(tlsServer.URL, tlsCreds, tlsRec),
	}
	recs := map[string]*payloadRecorder{"http": httpRec, "https": tlsRec}
	ctx := context.Background()
	for _, c := range clients {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk-bucket")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("sdk-bucket"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
	}
	body := []byte(strings.Repeat("signet object body ", 5000))
	cases := []struct {
		name, server, key string
		algorithm         types.ChecksumAlgorithm
		wantDeclared      string
	}{
		{"ok/http signed payload", "http", "http-plain", "", hexSHA256Of(body)},
		{"ok/http crc32c header", "http", "http-crc32c", types.ChecksumAlgorithmCrc32c, hexSHA256Of(body)},
		{"ok/http sha256 header", "http", "http-sha256", types.ChecksumAlgorithmSha256, hexSHA256Of(body)},
		{"ok/https unsigned payload", "https", "https-plain", "", "UNSIGNED-PAYLOAD"},
		{"ok/https crc32 trailer", "https", "https-crc32", types.ChecksumAlgorithmCrc32, "STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked"},
		{"ok/https crc32c trailer", "https", "https-crc32c", types.ChecksumAlgorithmCrc32c, "STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked"},
		{"ok/https sha1 trailer", "https", "https-sha1", types.ChecksumAlgorithmSha1, "STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked"},
		{"ok/https crc64nvme trailer", "https", "https-crc64", types.ChecksumAlgorithmCrc64nvme, "STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := clients[c.server]
			put, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String(c.key), Body: bytes.NewReader(body), ChecksumAlgorithm: c.algorithm})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if got := recs[c.server].declared("PUT", "/sdk-bucket/"+c.key); got != c.wantDeclared {
				t.Errorf("the SDK declared %q, want %q", got, c.wantDeclared)
			}
			if !s3VersionRE.MatchString(aws.ToString(put.VersionId)) || aws.ToString(put.ETag) != `"`+md5Hex(body)+`"` {
				t.Errorf("PutObject = version %q, ETag %q", aws.ToString(put.VersionId), aws.ToString(put.ETag))
			}
			get, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String(c.key), VersionId: put.VersionId})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			got, err := io.ReadAll(get.Body)
			get.Body.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("read back %d bytes, %v; want the %d bytes put", len(got), err, len(body))
			}
			if aws.ToString(get.VersionId) != aws.ToString(put.VersionId) || aws.ToInt64(get.ContentLength) != int64(len(body)) {
				t.Errorf("GetObject = version %q, length %d", aws.ToString(get.VersionId), aws.ToInt64(get.ContentLength))
			}
		})
	}
	t.Run("fail/https corrupted trailer", func(t *testing.T) {
		tlsRec.mu.Lock()
		tlsRec.corruptTrailer = true
		tlsRec.mu.Unlock()
		defer func() { tlsRec.mu.Lock(); tlsRec.corruptTrailer = false; tlsRec.mu.Unlock() }()
		cl := clients["https"]
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("corrupt"), Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
		if code := apiErrorCode(err); code != "BadDigest" {
			t.Fatalf("PutObject with a corrupted trailer = %v, want BadDigest", err)
		}
		if _, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("corrupt")}); err == nil {
			t.Error("the refused object is visible")
		}
	})
	t.Run("ok/list and delete", func(t *testing.T) {
		cl := clients["http"]
		lv, err := cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("sdk-bucket")})
		if err != nil || len(lv.Versions) != 3 {
			t.Fatalf("ListObjectVersions = %d versions, %v", len(lv.Versions), err)
		}
		del, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("http-plain")})
		if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
			t.Fatalf("DeleteObject = %+v, %v", del, err)
		}
		_, err = cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk-bucket"), Key: aws.String("http-plain")})
		var nsk *types.NoSuchKey
		if !errors.As(err, &nsk) {
			t.Errorf("GetObject behind a delete marker = %v, want NoSuchKey", err)
		}
		l, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("sdk-bucket")})
		if err != nil || aws.ToInt32(l.KeyCount) != 2 {
			t.Errorf("ListObjectsV2 = %d keys, %v", aws.ToInt32(l.KeyCount), err)
		}
	})
}

func hexSHA256Of(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
