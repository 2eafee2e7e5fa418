package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/objects"
	"github.com/signet/signet/internal/objects/blobstore"
	"github.com/signet/signet/internal/sigv4"
	"github.com/signet/signet/internal/store"
)

func TestS3Route(t *testing.T) {
	s := &S3{}
	cases := []struct {
		method, target string
		header         map[string]string
		wantOp         string // "" when refused
		wantAction     string
		wantResource   string
		wantCode       string
	}{
		{"GET", "/", nil, "ListBuckets", "s3:ListAllMyBuckets", "*", ""},
		{"PUT", "/b1", nil, "CreateBucket", "s3:CreateBucket", "arn:aws:s3:::b1", ""},
		{"PUT", "/b1/", nil, "CreateBucket", "s3:CreateBucket", "arn:aws:s3:::b1", ""},
		{"PUT", "/b1?versioning", nil, "PutBucketVersioning", "s3:PutBucketVersioning", "arn:aws:s3:::b1", ""},
		{"GET", "/b1?versioning", nil, "GetBucketVersioning", "s3:GetBucketVersioning", "arn:aws:s3:::b1", ""},
		{"GET", "/b1?location", nil, "GetBucketLocation", "s3:GetBucketLocation", "arn:aws:s3:::b1", ""},
		{"GET", "/b1?versions&prefix=a", nil, "ListObjectVersions", "s3:ListBucketVersions", "arn:aws:s3:::b1", ""},
		{"GET", "/b1?list-type=2&encoding-type=url", nil, "ListObjectsV2", "s3:ListBucket", "arn:aws:s3:::b1", ""},
		{"GET", "/b1", nil, "ListObjects", "s3:ListBucket", "arn:aws:s3:::b1", ""},
		{"HEAD", "/b1", nil, "HeadBucket", "s3:ListBucket", "arn:aws:s3:::b1", ""},
		{"DELETE", "/b1", nil, "DeleteBucket", "s3:DeleteBucket", "arn:aws:s3:::b1", ""},
		{"POST", "/b1?delete", nil, "DeleteObjects", "s3:DeleteObject", "arn:aws:s3:::b1", ""},
		{"PUT", "/b1/dir/k.zip", nil, "PutObject", "s3:PutObject", "arn:aws:s3:::b1/dir/k.zip", ""},
		{"PUT", "/b1/k?partNumber=2&uploadId=U", nil, "UploadPart", "s3:PutObject", "arn:aws:s3:::b1/k", ""},
		{"POST", "/b1/k?uploads", nil, "CreateMultipartUpload", "s3:PutObject", "arn:aws:s3:::b1/k", ""},
		{"POST", "/b1/k?uploadId=U", nil, "CompleteMultipartUpload", "s3:PutObject", "arn:aws:s3:::b1/k", ""},
		{"DELETE", "/b1/k?uploadId=U", nil, "AbortMultipartUpload", "s3:AbortMultipartUpload", "arn:aws:s3:::b1/k", ""},
		{"GET", "/b1/k", nil, "GetObject", "s3:GetObject", "arn:aws:s3:::b1/k", ""},
		{"GET", "/b1/k?versionId=V", nil, "GetObject", "s3:GetObjectVersion", "arn:aws:s3:::b1/k", ""},
		{"HEAD", "/b1/k?versionId=V", nil, "HeadObject", "s3:GetObjectVersion", "arn:aws:s3:::b1/k", ""},
		{"DELETE", "/b1/k", nil, "DeleteObject", "s3:DeleteObject", "arn:aws:s3:::b1/k", ""},
		{"DELETE", "/b1/k?versionId=V", nil, "DeleteObject", "s3:DeleteObjectVersion", "arn:aws:s3:::b1/k", ""},
		{"GET", "/b1/k?acl", nil, "", "", "", "NotImplemented"},
		{"PUT", "/b1?tagging", nil, "", "", "", "NotImplemented"},
		{"PUT", "/b1/k", map[string]string{"X-Amz-Copy-Source": "/b1/j"}, "", "", "", "NotImplemented"},
		{"GET", "/b1/k?partNumber=1", nil, "", "", "", "NotImplemented"},
		{"GET", "/b1?uploads", nil, "", "", "", "NotImplemented"},
		{"POST", "/b1/k", nil, "", "", "", "MethodNotAllowed"},
		{"DELETE", "/", nil, "", "", "", "MethodNotAllowed"},
	}
	for _, c := range cases {
		name := "ok/"
		if c.wantOp == "" {
			name = "fail/"
		}
		t.Run(name+c.method+" "+c.target, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.target, nil)
			for k, v := range c.header {
				r.Header.Set(k, v)
			}
			target, err := route(r)
			if c.wantOp == "" {
				if e := MapS3Error(err); e.Code != c.wantCode {
					t.Fatalf("route = %+v, %v; want %s", target, err, c.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var op awsapi.Operation
			for _, o := range s.Service().Operations {
				if o.Target == target {
					op = o
				}
			}
			res := "*"
			if op.Resource != nil {
				res = op.Resource(r)
			}
			if op.Name != c.wantOp || op.Action != c.wantAction || res != c.wantResource {
				t.Errorf("route = %s %s %s, want %s %s %s", op.Name, op.Action, res, c.wantOp, c.wantAction, c.wantResource)
			}
		})
	}
}

func TestMapS3Error(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantCode   string
		wantStatus int
	}{
		{"ok/no such bucket", &errs.Error{Kind: objects.ErrNoSuchBucket, Msg: "x"}, "NoSuchBucket", 404},
		{"ok/no such key", &errs.Error{Kind: objects.ErrNoSuchKey, Msg: "x"}, "NoSuchKey", 404},
		{"ok/no such version", &errs.Error{Kind: objects.ErrNoSuchVersion, Msg: "x"}, "NoSuchVersion", 404},
		{"ok/delete marker by version", &objects.DeleteMarkerError{Err: &errs.Error{Kind: objects.ErrNoSuchVersion, Msg: "x"}}, "MethodNotAllowed", 405},
		{"ok/no such upload", &errs.Error{Kind: objects.ErrNoSuchUpload, Msg: "x"}, "NoSuchUpload", 404},
		{"ok/bucket exists", &errs.Error{Kind: objects.ErrBucketExists, Msg: "x"}, "BucketAlreadyOwnedByYou", 409},
		{"ok/bucket not empty", &errs.Error{Kind: objects.ErrBucketNotEmpty, Msg: "x"}, "BucketNotEmpty", 409},
		{"ok/invalid bucket name", &errs.Error{Kind: objects.ErrInvalidBucketName, Msg: "x"}, "InvalidBucketName", 400},
		{"ok/key too long", &errs.Error{Kind: objects.ErrKeyTooLong, Msg: "x"}, "KeyTooLongError", 400},
		{"ok/invalid part", &errs.Error{Kind: objects.ErrInvalidPart, Msg: "x"}, "InvalidPart", 400},
		{"ok/invalid part order", &errs.Error{Kind: objects.ErrInvalidPartOrder, Msg: "x"}, "InvalidPartOrder", 400},
		{"ok/entity too small", &errs.Error{Kind: objects.ErrEntityTooSmall, Msg: "x"}, "EntityTooSmall", 400},
		{"ok/entity too large", &errs.Error{Kind: objects.ErrEntityTooLarge, Msg: "x"}, "EntityTooLarge", 400},
		{"ok/bad digest", fmt.Errorf("wrapped: %w", &errs.Error{Kind: objects.ErrBadDigest, Msg: "x"}), "BadDigest", 400},
		{"ok/invalid argument", &errs.Error{Kind: objects.ErrInvalidArgument, Msg: "x"}, "InvalidArgument", 400},
		{"ok/signature mismatch", &sigv4.Error{Code: "InvalidSignatureException", Status: 403, Message: "m"}, "SignatureDoesNotMatch", 403},
		{"ok/clock skew", &sigv4.Error{Code: "InvalidSignatureException", Status: 403, Message: "m", Skewed: true}, "RequestTimeTooSkewed", 403},
		{"ok/unknown access key", &sigv4.Error{Code: "UnrecognizedClientException", Status: 403, Message: "m"}, "InvalidAccessKeyId", 403},
		{"ok/missing authentication", &sigv4.Error{Code: "MissingAuthenticationTokenException", Status: 403, Message: "m"}, "AccessDenied", 403},
		{"ok/malformed authorization", &sigv4.Error{Code: "IncompleteSignatureException", Status: 400, Message: "m"}, "AuthorizationHeaderMalformed", 400},
		{"ok/expired token", &sigv4.Error{Code: "ExpiredTokenException", Status: 403, Message: "m"}, "ExpiredToken", 400},
		{"ok/payload hash mismatch while storing", fmt.Errorf("failed to store: %w", &sigv4.Error{Code: "XAmzContentSHA256Mismatch", Status: 400, Message: "m"}), "XAmzContentSHA256Mismatch", 400},
		{"ok/authorizer refusal", &awsapi.Error{Code: "AccessDeniedException", Status: 403, Message: "m"}, "AccessDenied", 403},
		{"ok/short body", fmt.Errorf("copy: %w", io.ErrUnexpectedEOF), "IncompleteBody", 400},
		{"ok/unknown", errors.New("disk on fire"), "InternalError", 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := MapS3Error(c.err)
			if e.Code != c.wantCode || e.Status != c.wantStatus || e.Message == "" {
				t.Errorf("MapS3Error = %+v, want %s %d", e, c.wantCode, c.wantStatus)
			}
			if c.wantStatus == 500 && strings.Contains(e.Message, "fire") {
				t.Errorf("internal detail leaked: %q", e.Message)
			}
		})
	}
}

func TestParseRange(t *testing.T) {
	cases := []struct {
		name        string
		header      string
		size        int64
		want        byteRange
		wantPartial bool
		wantErr     bool
	}{
		{"ok/no header", "", 10, byteRange{}, false, false},
		{"ok/closed range", "bytes=2-5", 10, byteRange{2, 4}, true, false},
		{"ok/open range", "bytes=7-", 10, byteRange{7, 3}, true, false},
		{"ok/suffix", "bytes=-3", 10, byteRange{7, 3}, true, false},
		{"ok/suffix longer than object", "bytes=-30", 10, byteRange{0, 10}, true, false},
		{"ok/end past the end", "bytes=8-100", 10, byteRange{8, 2}, true, false},
		{"ok/multiple ranges ignored", "bytes=0-1,4-5", 10, byteRange{}, false, false},
		{"ok/other unit ignored", "items=0-1", 10, byteRange{}, false, false},
		{"ok/garbage ignored", "bytes=x-y", 10, byteRange{}, false, false},
		{"ok/reversed ignored", "bytes=5-2", 10, byteRange{}, false, false},
		{"fail/start past the end", "bytes=10-", 10, byteRange{}, false, true},
		{"fail/empty object", "bytes=0-", 0, byteRange{}, false, true},
		{"fail/zero suffix", "bytes=-0", 10, byteRange{}, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, partial, err := parseRange(c.header, c.size)
			if (err != nil) != c.wantErr || partial != c.wantPartial || got != c.want {
				t.Errorf("parseRange(%q, %d) = %+v, %v, %v", c.header, c.size, got, partial, err)
			}
			if err != nil && MapS3Error(err).Code != "InvalidRange" {
				t.Errorf("error %v is not InvalidRange", err)
			}
		})
	}
}

func TestS3URLEncode(t *testing.T) {
	for _, k := range []string{"plain", "with space/ünïcode ✓.txt", "a+b=c&d", "100%", "tab\there", "~_.-"} {
		t.Run("ok/"+k, func(t *testing.T) {
			enc := s3URLEncode(k)
			for _, dec := range []func(string) (string, error){url.QueryUnescape, url.PathUnescape} {
				got, err := dec(enc)
				if err != nil || got != k {
					t.Errorf("%q encodes to %q, which decodes to %q, %v", k, enc, got, err)
				}
			}
		})
	}
}

func TestParseVersioningConfiguration(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		want     string
		wantCode string
	}{
		{"ok/enabled with namespace", `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`, "Enabled", ""},
		{"ok/suspended without namespace", `<?xml version="1.0"?><VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>`, "Suspended", ""},
		{"ok/no status", `<VersioningConfiguration/>`, "", ""},
		{"ok/mfa delete disabled", `<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`, "Enabled", ""},
		{"fail/mfa delete enabled", `<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>`, "", "NotImplemented"},
		{"fail/bad status", `<VersioningConfiguration><Status>On</Status></VersioningConfiguration>`, "", "IllegalVersioningConfigurationException"},
		{"fail/empty", ``, "", "MalformedXML"},
		{"fail/not xml", `Status=Enabled`, "", "MalformedXML"},
		{"fail/wrong root", `<LifecycleConfiguration><Status>Enabled</Status></LifecycleConfiguration>`, "", "MalformedXML"},
		{"fail/wrong namespace", `<VersioningConfiguration xmlns="urn:other"><Status>Enabled</Status></VersioningConfiguration>`, "", "MalformedXML"},
		{"fail/unclosed", `<VersioningConfiguration><Status>Enabled</Status>`, "", "MalformedXML"},
		{"fail/trailing element", `<VersioningConfiguration/><VersioningConfiguration/>`, "", "MalformedXML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseVersioningConfiguration([]byte(c.body))
			if c.wantCode != "" {
				if e := MapS3Error(err); err == nil || e.Code != c.wantCode {
					t.Fatalf("err = %v, want %s", err, c.wantCode)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("status = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestParseCompleteMultipartUpload(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		want     []objects.CompletedPart
		wantCode string
	}{
		{"ok/cli body", `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a"</ETag><PartNumber>1</PartNumber></Part><Part><ETag>"b"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>`,
			[]objects.CompletedPart{{Number: 1, ETag: `"a"`}, {Number: 2, ETag: `"b"`}}, ""},
		{"ok/order kept for the store to check", `<CompleteMultipartUpload><Part><PartNumber>3</PartNumber><ETag>c</ETag></Part><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>`,
			[]objects.CompletedPart{{Number: 3, ETag: "c"}, {Number: 1, ETag: "a"}}, ""},
		{"ok/checksums ignored", `<CompleteMultipartUpload><Part><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ETag>a</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`,
			[]objects.CompletedPart{{Number: 1, ETag: "a"}}, ""},
		{"fail/no parts", `<CompleteMultipartUpload></CompleteMultipartUpload>`, nil, "MalformedXML"},
		{"fail/part number not a number", `<CompleteMultipartUpload><Part><ETag>a</ETag><PartNumber>one</PartNumber></Part></CompleteMultipartUpload>`, nil, "MalformedXML"},
		{"fail/part number zero", `<CompleteMultipartUpload><Part><ETag>a</ETag><PartNumber>0</PartNumber></Part></CompleteMultipartUpload>`, nil, "InvalidArgument"},
		{"fail/part number too high", `<CompleteMultipartUpload><Part><ETag>a</ETag><PartNumber>10001</PartNumber></Part></CompleteMultipartUpload>`, nil, "InvalidArgument"},
		{"fail/missing etag", `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`, nil, "MalformedXML"},
		{"fail/wrong root", `<Delete><Part><ETag>a</ETag><PartNumber>1</PartNumber></Part></Delete>`, nil, "MalformedXML"},
		{"fail/truncated", `<CompleteMultipartUpload><Part><ETag>a</ETag>`, nil, "MalformedXML"},
		{"fail/empty", ``, nil, "MalformedXML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseCompleteMultipartUpload([]byte(c.body))
			if c.wantCode != "" {
				if e := MapS3Error(err); err == nil || e.Code != c.wantCode {
					t.Fatalf("err = %v, want %s", err, c.wantCode)
				}
				return
			}
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("parts = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

// FuzzParseCompleteMultipartUpload checks that the parser never panics,
// fails only with S3 errors, and returns only valid part numbers.
func FuzzParseCompleteMultipartUpload(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><ETag>"a"</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></CompleteMultipartUpload>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><CompleteMultipartUpload>&a;</CompleteMultipartUpload>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		parts, err := parseCompleteMultipartUpload(body)
		if err != nil {
			var e *awsapi.Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 S3 error", err)
			}
			return
		}
		if len(parts) == 0 || len(parts) > objects.MaxPartNumber {
			t.Fatalf("%d parts", len(parts))
		}
		for _, p := range parts {
			if p.Number < 1 || p.Number > objects.MaxPartNumber || p.ETag == "" {
				t.Fatalf("invalid part %+v", p)
			}
		}
	})
}

// FuzzParseVersioningConfiguration checks that the parser never panics,
// fails only with S3 errors, and accepts only S3's statuses.
func FuzzParseVersioningConfiguration(f *testing.F) {
	f.Add([]byte(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`))
	f.Add([]byte(`<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`))
	f.Add([]byte(`<VersioningConfiguration/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		status, err := parseVersioningConfiguration(body)
		if err != nil {
			var e *awsapi.Error
			if !errors.As(err, &e) || (e.Status != 400 && e.Status != 501) {
				t.Fatalf("error %v is not an S3 error", err)
			}
			return
		}
		if status != "" && status != objects.VersioningEnabled && status != objects.VersioningSuspended {
			t.Fatalf("status %q", status)
		}
	})
}

// newS3 is an S3 API on a real store, called without authentication.
func newS3(t *testing.T) (http.Handler, *objects.Service) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	data, err := blobstore.OpenDir(filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	svc := &objects.Service{Meta: db.Objects, Data: data, MinPartSize: 1}
	api := &S3{Objects: svc, Authorizer: awsapi.AllowAll{}, Log: slog.New(slog.DiscardHandler), Region: "us-east-1", OwnerID: "123456789012"}
	return api.Handler(), svc
}

func do(t *testing.T, h http.Handler, method, target, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r = r.WithContext(awsapi.WithRequestID(r.Context(), "req-1"))
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestS3Documents checks response documents and headers that the AWS
// tests do not look at closely.
func TestS3Documents(t *testing.T) {
	h, svc := newS3(t)
	ctx := context.Background()
	if _, err := svc.CreateBucket(ctx, "docs"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, target, body string
		header                     map[string]string
		wantStatus                 int
		wantBody                   []string
		wantHeader                 map[string]string
	}{
		{name: "ok/versioning never enabled", method: "GET", target: "/docs?versioning", wantStatus: 200,
			wantBody: []string{`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></VersioningConfiguration>`}},
		{name: "ok/put unversioned", method: "PUT", target: "/docs/k%20one", body: "hello", wantStatus: 200,
			wantHeader: map[string]string{"ETag": `"5d41402abc4b2a76b9719d911017c592"`, "X-Amz-Version-Id": ""}},
		{name: "ok/get unversioned has no version header", method: "GET", target: "/docs/k%20one", wantStatus: 200, wantBody: []string{"hello"},
			wantHeader: map[string]string{"X-Amz-Version-Id": "", "Accept-Ranges": "bytes", "Content-Type": "binary/octet-stream", "Content-Length": "5"}},
		{name: "ok/range", method: "GET", target: "/docs/k%20one", header: map[string]string{"Range": "bytes=1-3"}, wantStatus: 206, wantBody: []string{"ell"},
			wantHeader: map[string]string{"Content-Range": "bytes 1-3/5", "Content-Length": "3"}},
		{name: "fail/range past the end", method: "GET", target: "/docs/k%20one", header: map[string]string{"Range": "bytes=9-"}, wantStatus: 416,
			wantBody: []string{"<Code>InvalidRange</Code>"}, wantHeader: map[string]string{"Content-Range": "bytes */5"}},
		{name: "ok/if-none-match", method: "GET", target: "/docs/k%20one", header: map[string]string{"If-None-Match": `"5d41402abc4b2a76b9719d911017c592"`}, wantStatus: 304},
		{name: "fail/if-match", method: "GET", target: "/docs/k%20one", header: map[string]string{"If-Match": `"nope"`}, wantStatus: 412, wantBody: []string{"PreconditionFailed"}},
		{name: "ok/response overrides", method: "GET", target: "/docs/k%20one?response-content-type=text%2Fplain", wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "text/plain"}},
		{name: "fail/no such key document", method: "GET", target: "/docs/missing", wantStatus: 404,
			wantBody: []string{`<?xml version="1.0" encoding="UTF-8"?>`, "<Error><Code>NoSuchKey</Code><Message>", "<Key>missing</Key>", "<RequestId>req-1</RequestId></Error>"}},
		{name: "fail/no such bucket document", method: "GET", target: "/nobucket?list-type=2", wantStatus: 404,
			wantBody: []string{"<Code>NoSuchBucket</Code>", "<BucketName>nobucket</BucketName>"}},
		{name: "fail/head has no body", method: "HEAD", target: "/docs/missing", wantStatus: 404, wantHeader: map[string]string{"Content-Type": ""}},
		{name: "fail/bad content-md5", method: "PUT", target: "/docs/k2", body: "x", header: map[string]string{"Content-MD5": "nope"}, wantStatus: 400, wantBody: []string{"InvalidDigest"}},
		{name: "fail/wrong content-md5", method: "PUT", target: "/docs/k2", body: "x", header: map[string]string{"Content-MD5": "XUFAKrxLKna5cZ2REBfFkg=="}, wantStatus: 400, wantBody: []string{"BadDigest"}},
		{name: "fail/key too long", method: "PUT", target: "/docs/" + strings.Repeat("k", 1025), body: "x", wantStatus: 400, wantBody: []string{"KeyTooLongError"}},
		{name: "ok/enable versioning", method: "PUT", target: "/docs?versioning", body: `<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`, wantStatus: 200},
		{name: "fail/bad versioning document", method: "PUT", target: "/docs?versioning", body: `<nope`, wantStatus: 400, wantBody: []string{"MalformedXML"}},
		{name: "ok/location", method: "GET", target: "/docs?location", wantStatus: 200,
			wantBody: []string{`<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`}},
		{name: "ok/head bucket", method: "HEAD", target: "/docs", wantStatus: 200, wantHeader: map[string]string{"X-Amz-Bucket-Region": "us-east-1"}},
		{name: "ok/list buckets", method: "GET", target: "/", wantStatus: 200,
			wantBody: []string{"<ListAllMyBucketsResult", "<Owner><ID>123456789012</ID>", "<Buckets><Bucket><Name>docs</Name><CreationDate>"}},
		{name: "ok/list v2 url-encoded", method: "GET", target: "/docs?list-type=2&encoding-type=url", wantStatus: 200,
			wantBody: []string{"<EncodingType>url</EncodingType>", "<Key>k%20one</Key>", "<KeyCount>1</KeyCount>", "<StorageClass>STANDARD</StorageClass>", `<ETag>&#34;5d41402abc4b2a76b9719d911017c592&#34;</ETag>`}},
		{name: "fail/bad encoding type", method: "GET", target: "/docs?list-type=2&encoding-type=base64", wantStatus: 400, wantBody: []string{"InvalidArgument"}},
		{name: "fail/bad max-keys", method: "GET", target: "/docs?list-type=2&max-keys=-1", wantStatus: 400, wantBody: []string{"InvalidArgument"}},
		{name: "ok/list v1", method: "GET", target: "/docs", wantStatus: 200, wantBody: []string{"<Marker></Marker>", "<Key>k one</Key>"}},
		{name: "ok/delete adds a marker", method: "DELETE", target: "/docs/k%20one", wantStatus: 204, wantHeader: map[string]string{"X-Amz-Delete-Marker": "true"}},
		{name: "fail/get behind a marker", method: "GET", target: "/docs/k%20one", wantStatus: 404,
			wantBody: []string{"NoSuchKey"}, wantHeader: map[string]string{"X-Amz-Delete-Marker": "true"}},
		{name: "ok/versions document", method: "GET", target: "/docs?versions", wantStatus: 200,
			wantBody: []string{"<ListVersionsResult", "<DeleteMarker><Key>k one</Key>", "<IsLatest>true</IsLatest>", "<Version><Key>k one</Key><VersionId>null</VersionId><IsLatest>false</IsLatest>"}},
		{name: "fail/delete bucket not empty", method: "DELETE", target: "/docs", wantStatus: 409, wantBody: []string{"BucketNotEmpty", "<BucketName>docs</BucketName>"}},
		{name: "ok/delete objects", method: "POST", target: "/docs?delete", body: `<Delete><Object><Key>k one</Key><VersionId>null</VersionId></Object><Object><Key>other</Key></Object></Delete>`, wantStatus: 200,
			wantBody: []string{"<DeleteResult", "<Deleted><Key>k one</Key><VersionId>null</VersionId></Deleted>", "<Deleted><Key>other</Key><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>"}},
		{name: "fail/create bucket elsewhere", method: "PUT", target: "/elsewhere", body: `<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`,
			wantStatus: 400, wantBody: []string{"InvalidLocationConstraint"}},
		{name: "fail/create existing bucket", method: "PUT", target: "/docs", wantStatus: 409, wantBody: []string{"BucketAlreadyOwnedByYou"}},
		{name: "fail/upload part of unknown upload", method: "PUT", target: "/docs/k?partNumber=1&uploadId=nope", body: "x", wantStatus: 404, wantBody: []string{"NoSuchUpload", "<UploadId>nope</UploadId>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := do(t, h, c.method, c.target, c.body, c.header)
			body := w.Body.String()
			if w.Code != c.wantStatus {
				t.Fatalf("status %d, want %d\n%s", w.Code, c.wantStatus, body)
			}
			for _, want := range c.wantBody {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
			if c.method == "HEAD" && body != "" {
				t.Errorf("HEAD response has a body: %q", body)
			}
			for k, want := range c.wantHeader {
				if got := w.Header().Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestS3Multipart runs a multipart upload through the handlers.
func TestS3Multipart(t *testing.T) {
	h, _ := newS3(t)
	if w := do(t, h, "PUT", "/mpu", "", nil); w.Code != 200 {
		t.Fatal(w.Body.String())
	}
	w := do(t, h, "POST", "/mpu/big.zip?uploads", "", map[string]string{"Content-Type": "application/zip"})
	var init initiateMultipartUploadResult
	if err := xml.Unmarshal(w.Body.Bytes(), &init); err != nil || init.UploadID == "" || init.Key != "big.zip" {
		t.Fatalf("initiate: %v %s", err, w.Body.String())
	}
	var etags []string
	for i, part := range []string{"first-", "second-", "third"} {
		w := do(t, h, "PUT", fmt.Sprintf("/mpu/big.zip?partNumber=%d&uploadId=%s", i+1, init.UploadID), part, nil)
		if w.Code != 200 || w.Header().Get("ETag") == "" {
			t.Fatalf("part %d: %d %s", i+1, w.Code, w.Body.String())
		}
		etags = append(etags, w.Header().Get("ETag"))
	}
	cases := []struct {
		name, body string
		wantStatus int
		wantBody   string
	}{
		{"fail/descending", fmt.Sprintf(`<CompleteMultipartUpload><Part><ETag>%s</ETag><PartNumber>2</PartNumber></Part><Part><ETag>%s</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`, etags[1], etags[0]), 400, "InvalidPartOrder"},
		{"fail/wrong etag", fmt.Sprintf(`<CompleteMultipartUpload><Part><ETag>%s</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`, etags[1]), 400, "InvalidPart"},
		{"fail/malformed", `<CompleteMultipartUpload>`, 400, "MalformedXML"},
		{"ok/complete", fmt.Sprintf(`<CompleteMultipartUpload><Part><ETag>%s</ETag><PartNumber>1</PartNumber></Part><Part><ETag>%s</ETag><PartNumber>2</PartNumber></Part><Part><ETag>%s</ETag><PartNumber>3</PartNumber></Part></CompleteMultipartUpload>`, etags[0], etags[1], etags[2]), 200, "-3&#34;</ETag>"},
		{"fail/complete again", fmt.Sprintf(`<CompleteMultipartUpload><Part><ETag>%s</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`, etags[0]), 404, "NoSuchUpload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := do(t, h, "POST", "/mpu/big.zip?uploadId="+init.UploadID, c.body, nil)
			if w.Code != c.wantStatus || !strings.Contains(w.Body.String(), c.wantBody) {
				t.Fatalf("status %d, want %d with %q\n%s", w.Code, c.wantStatus, c.wantBody, w.Body.String())
			}
		})
	}
	w = do(t, h, "GET", "/mpu/big.zip", "", map[string]string{"Range": "bytes=4-8"})
	if w.Code != 206 || w.Body.String() != "t-sec" || w.Header().Get("Content-Type") != "application/zip" {
		t.Errorf("ranged read across parts = %d %q %q", w.Code, w.Body.String(), w.Header().Get("Content-Type"))
	}
	w = do(t, h, "GET", "/mpu/big.zip", "", nil)
	if w.Body.String() != "first-second-third" || !strings.HasSuffix(w.Header().Get("ETag"), `-3"`) {
		t.Errorf("whole read = %q, ETag %s", w.Body.String(), w.Header().Get("ETag"))
	}
	// Abort.
	w = do(t, h, "POST", "/mpu/other?uploads", "", nil)
	xml.Unmarshal(w.Body.Bytes(), &init)
	if w := do(t, h, "DELETE", "/mpu/other?uploadId="+init.UploadID, "", nil); w.Code != 204 {
		t.Errorf("abort = %d %s", w.Code, w.Body.String())
	}
	if w := do(t, h, "DELETE", "/mpu/other?uploadId="+init.UploadID, "", nil); w.Code != 404 || !strings.Contains(w.Body.String(), "NoSuchUpload") {
		t.Errorf("second abort = %d %s", w.Code, w.Body.String())
	}
}

// TestS3LastModified checks the two time formats.
func TestS3LastModified(t *testing.T) {
	ts := time.Date(2026, 11, 23, 4, 5, 6, 789000000, time.UTC)
	if got := s3Time(ts); got != "2026-11-23T04:05:06.789Z" {
		t.Errorf("s3Time = %s", got)
	}
}
