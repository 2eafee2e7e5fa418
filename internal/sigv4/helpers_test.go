package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// testNow is the server's clock in the table tests.
var testNow = time.Date(2026, 11, 23, 3, 48, 22, 0, time.UTC)

var (
	longTermCred = Credential{
		AccessKeyID:     "AKIASIGNETTEST000001",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSIGNETKEY1",
		PrincipalARN:    "arn:aws:iam::123456789012:user/ci-deployer",
	}
	tempCred = Credential{
		AccessKeyID:     "ASIASIGNETTEST000002",
		SecretAccessKey: "tEmpSecret/K7MDENG+bPxRfiCYSIGNETKEY2",
		SessionToken:    "FwoGZXIvYXdzEBYaDH+session/token==",
		Expires:         testNow.Add(time.Hour),
		PrincipalARN:    "arn:aws:sts::123456789012:assumed-role/deployer/build-42",
	}
	expiredCred = Credential{
		AccessKeyID:     "ASIASIGNETTEST000003",
		SecretAccessKey: "eXpiredSecret/K7MDENG+bPxRfiCYSIGNETKEY3",
		SessionToken:    "FwoGZXIvYXdzEBYaDH+expired/token==",
		Expires:         testNow.Add(-time.Minute),
		PrincipalARN:    "arn:aws:sts::123456789012:assumed-role/deployer/build-41",
	}
	unknownCred = Credential{
		AccessKeyID:     "AKIASIGNETUNKNOWN009",
		SecretAccessKey: "whatever",
	}
)

// memStore is an in-memory CredentialStore.
type memStore map[string]Credential

func (m memStore) LookupAccessKey(_ context.Context, id string) (Credential, error) {
	c, ok := m[id]
	if !ok {
		return Credential{}, fmt.Errorf("memstore: access key %q: %w", id, ErrUnknownAccessKey)
	}
	return c, nil
}

func testStore() memStore {
	return memStore{
		longTermCred.AccessKeyID: longTermCred,
		tempCred.AccessKeyID:     tempCred,
		expiredCred.AccessKeyID:  expiredCred,
	}
}

const sdkUserAgent = "aws-sdk-go-v2/1.47.7 ua/2.1 os/linux lang/go#1.26.0 md/GOOS#linux md/GOARCH#amd64 api/signer#1.33.2 m/E"

// clientReq describes a request as a client builds and signs it. send signs it
// with aws-sdk-go-v2's own v4 signer, writes it out in HTTP/1.1 wire format
// and reads it back with net/http's server-side parser, so the verifier sees
// exactly what a Signet server would.
type clientReq struct {
	method  string
	url     string
	header  map[string]string
	body    string
	service string // default "signer"
	region  string // default "us-east-1"
	cred    Credential
	token   string    // session token to sign with (default: cred.SessionToken)
	at      time.Time // signing time (default: testNow)

	// payloadHash is the hash to sign with (default: hex sha256 of body).
	payloadHash string
	// contentSHA256 also sends the payload hash as X-Amz-Content-Sha256, as the S3 client does.
	contentSHA256 bool
	// cli signs like botocore (AWS CLI): content-length is not signed.
	cli bool
	// sendPath, when set, replaces the escaped path after signing (to model a
	// client that normalises the path before signing but sends it as given).
	sendPath string
	// presign makes a presigned URL (query-string auth) with this X-Amz-Expires.
	presign        bool
	presignExpires string
}

func (c clientReq) withDefaults() clientReq {
	if c.method == "" {
		c.method = http.MethodGet
	}
	if c.service == "" {
		c.service = "signer"
	}
	if c.region == "" {
		c.region = "us-east-1"
	}
	if c.cred.AccessKeyID == "" {
		c.cred = longTermCred
	}
	if c.token == "" {
		c.token = c.cred.SessionToken
	}
	if c.at.IsZero() {
		c.at = testNow
	}
	if c.payloadHash == "" {
		c.payloadHash = hexSHA256(c.body)
	}
	return c
}

// clientRequest builds and signs the client side *http.Request.
func (c clientReq) clientRequest(t testing.TB) *http.Request {
	t.Helper()
	c = c.withDefaults()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, c.url, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("User-Agent", sdkUserAgent)
	req.Header.Set("Amz-Sdk-Invocation-Id", "7d2c3b9e-2b57-4f5c-9a57-1d0c9a0f3e11")
	req.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.contentSHA256 {
		req.Header.Set("X-Amz-Content-Sha256", c.payloadHash)
	}
	creds := aws.Credentials{AccessKeyID: c.cred.AccessKeyID, SecretAccessKey: c.cred.SecretAccessKey, SessionToken: c.token}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = c.service == "s3" })

	if c.presign {
		if c.presignExpires != "" {
			q := req.URL.Query()
			q.Set("X-Amz-Expires", c.presignExpires)
			req.URL.RawQuery = q.Encode()
		}
		u, signed, err := signer.PresignHTTP(context.Background(), creds, req, c.payloadHash, c.service, c.region, c.at)
		if err != nil {
			t.Fatalf("presign: %v", err)
		}
		pre, err := http.NewRequest(c.method, u, body)
		if err != nil {
			t.Fatalf("presigned request: %v", err)
		}
		for k, vs := range signed {
			if !strings.EqualFold(k, "host") {
				pre.Header[k] = vs
			}
		}
		return pre
	}

	length := req.ContentLength
	if c.cli {
		req.ContentLength = 0 // botocore does not sign content-length
	}
	if err := signer.SignHTTP(context.Background(), creds, req, c.payloadHash, c.service, c.region, c.at); err != nil {
		t.Fatalf("sign: %v", err)
	}
	req.ContentLength = length
	if c.sendPath != "" {
		req.URL.Opaque = ""
		req.URL.Path, req.URL.RawPath = c.sendPath, ""
	}
	return req
}

// send returns the request as the server receives it, and its body.
func (c clientReq) send(t testing.TB) (*http.Request, []byte) {
	t.Helper()
	return overTheWire(t, c.clientRequest(t))
}

// overTheWire serialises a client request and parses it back as a server does.
func overTheWire(t testing.TB, req *http.Request) (*http.Request, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatalf("write request: %v", err)
	}
	sreq, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("read request: %v\n%s", err, buf.String())
	}
	body, err := io.ReadAll(sreq.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	sreq.Body = io.NopCloser(bytes.NewReader(body))
	return sreq, body
}

// rawRequest parses a literal HTTP/1.1 request (lines separated by \n).
func rawRequest(t testing.TB, raw string) (*http.Request, []byte) {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("read request: %v", err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r, body
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// handSignature signs a hand-written canonical request, independently of
// the package's code, following the published algorithm step by step.
func handSignature(secret, amzDate, region, service, canonical string) string {
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	date := amzDate[:8]
	key := mac(mac(mac(mac([]byte("AWS4"+secret), date), region), service), "aws4_request")
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + date + "/" + region + "/" + service + "/aws4_request\n" + hexSHA256(canonical)
	return hex.EncodeToString(mac(key, sts))
}

// sdkRecipeSignature recomputes the request's signature by rebuilding the
// request and handing it to aws-sdk-go-v2's v4 signer: the reference the
// package's own canonicalisation is checked against.
func sdkRecipeSignature(t testing.TB, r *http.Request, body []byte, secret string) string {
	t.Helper()
	p, perr := parseAuthorizationHeader(r.Header.Get("Authorization"))
	if perr != nil {
		t.Fatalf("parse authorization: %v", perr)
	}
	c, ok := parseCredential(p.credential)
	if !ok {
		t.Fatalf("bad credential %q", p.credential)
	}
	signed := strings.Split(p.signedHeaders, ";")
	req, err := http.NewRequest(r.Method, "http://placeholder/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Host = ""
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	req.Host = r.Host
	hasContentLength := false
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			hasContentLength = true
		default:
			if vs := r.Header.Values(h); vs != nil {
				req.Header[http.CanonicalHeaderKey(h)] = vs
			}
		}
	}
	if hasContentLength {
		req.ContentLength = int64(len(body))
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		hash = hexSHA256(string(body))
	}
	at, err := time.Parse(timeFormat, r.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("x-amz-date: %v", err)
	}
	creds := aws.Credentials{AccessKeyID: c.accessKeyID, SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = c.service == "s3" })
	if err := signer.SignHTTP(context.Background(), creds, req, hash, c.service, c.region, at); err != nil {
		t.Fatalf("sdk sign: %v", err)
	}
	auth := req.Header.Get("Authorization")
	i := strings.LastIndex(auth, "Signature=")
	if i < 0 {
		t.Fatalf("no signature in %q", auth)
	}
	return auth[i+len("Signature="):]
}

// replaceAuth edits the Authorization header of a server-side request.
func replaceAuth(r *http.Request, old, new string) {
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
}
