package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signet/signet/internal/server/servertest"
)

// wireReq is one hand-built S3 request.
type wireReq struct {
	method, path string
	body         []byte    // sent as is
	bodyReader   io.Reader // instead of body, with contentLength
	length       int64     // Content-Length for bodyReader
	payloadHash  string    // X-Amz-Content-Sha256; "" for the hex SHA-256 of body, "-" for none
	header       map[string]string
	creds        *aws.Credentials // default: the server's
	at           time.Time        // signing time; default now
	region       string
}

// signingKey derives the SigV4 key, for chunk signatures.
func signingKey(secret, date, region string) []byte {
	mac := func(k []byte, s string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(s)); return h.Sum(nil) }
	return mac(mac(mac(mac([]byte("AWS4"+secret), date), region), "s3"), "aws4_request")
}

// send signs r as an S3 client does and returns the response and body.
func (r wireReq) send(t *testing.T, ts *servertest.Server) (*http.Response, string, *http.Request) {
	t.Helper()
	var body io.Reader = bytes.NewReader(r.body)
	if r.bodyReader != nil {
		body = r.bodyReader
	}
	req, err := http.NewRequest(r.method, ts.URL+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.bodyReader != nil {
		req.ContentLength = r.length
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	hash := r.payloadHash
	switch hash {
	case "":
		hash = hexSHA256Of(r.body)
		req.Header.Set("X-Amz-Content-Sha256", hash)
	case "-":
		hash = hexSHA256Of(r.body)
	default:
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	creds := ts.Creds
	if r.creds != nil {
		creds = *r.creds
	}
	at := r.at
	if at.IsZero() {
		at = time.Now()
	}
	region := r.region
	if region == "" {
		region = "us-east-1"
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, req, hash, "s3", region, at); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), req
}

// chunkedBody signs data as STREAMING-AWS4-HMAC-SHA256-PAYLOAD chunks of
// size n, chained from the request's seed signature.
func chunkedBody(data []byte, n int, key []byte, amzDate, scope, seed string) []byte {
	var b bytes.Buffer
	prev := seed
	empty := hexSHA256Of(nil)
	sign := func(chunk []byte) string {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte("AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + empty + "\n" + hexSHA256Of(chunk)))
		prev = hex.EncodeToString(mac.Sum(nil))
		return prev
	}
	for len(data) > 0 {
		c := data[:min(n, len(data))]
		data = data[len(c):]
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n%s\r\n", len(c), sign(c), c)
	}
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n\r\n", sign(nil))
	return b.Bytes()
}

// putChunked uploads data as a signed aws-chunked body; tamper may alter
// the encoded body before it is sent.
func putChunked(t *testing.T, ts *servertest.Server, path string, data []byte, tamper func([]byte)) (*http.Response, string) {
	t.Helper()
	at := time.Now().UTC()
	amzDate := at.Format("20060102T150405Z")
	scope := at.Format("20060102") + "/us-east-1/s3/aws4_request"
	key := signingKey(ts.Creds.SecretAccessKey, at.Format("20060102"), "us-east-1")
	// The seed signature depends on Content-Length, which depends on the
	// signatures' length only: encode once with a placeholder seed.
	length := len(chunkedBody(data, 8192, key, amzDate, scope, strings.Repeat("0", 64)))
	req, err := http.NewRequest("PUT", ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(length)
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), ts.Creds, req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	auth := req.Header.Get("Authorization")
	seed := auth[strings.LastIndex(auth, "Signature=")+len("Signature="):]
	body := chunkedBody(data, 8192, key, amzDate, scope, seed)
	if tamper != nil {
		tamper(body)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// s3ErrorCode returns the Code of an S3 error document.
func s3ErrorCode(t *testing.T, body string) string {
	t.Helper()
	var doc struct {
		Code      string `xml:"Code"`
		Message   string `xml:"Message"`
		RequestID string `xml:"RequestId"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("not an S3 error document: %v\n%s", err, body)
	}
	if doc.Message == "" || doc.RequestID == "" {
		t.Errorf("error document lacks Message or RequestId: %s", body)
	}
	return doc.Code
}

func TestS3WireUploads(t *testing.T) {
	ts := servertest.Start(t)
	if resp, body, _ := (wireReq{method: "PUT", path: "/wire"}).send(t, ts); resp.StatusCode != 200 {
		t.Fatalf("create bucket: %d %s", resp.StatusCode, body)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes: ten chunks
	md5sum := md5.Sum(data)
	crc := crc32.ChecksumIEEE(data)
	crcB64 := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	unsignedTrailer := func(value string) []byte {
		return []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", len(data), data, value))
	}
	trailerHeader := map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32", "X-Amz-Decoded-Content-Length": strconv.Itoa(len(data))}
	cases := []struct {
		name       string
		key        string
		send       func(t *testing.T, key string) (*http.Response, string)
		wantStatus int
		wantCode   string
	}{
		{"ok/signed chunks", "signed", func(t *testing.T, key string) (*http.Response, string) {
			return putChunked(t, ts, "/wire/"+key, data, nil)
		}, 200, ""},
		{"fail/tampered chunk", "tampered", func(t *testing.T, key string) (*http.Response, string) {
			return putChunked(t, ts, "/wire/"+key, data, func(b []byte) { b[len(b)-200] ^= 1 })
		}, 403, "SignatureDoesNotMatch"},
		{"fail/chunk signature swapped", "swapped", func(t *testing.T, key string) (*http.Response, string) {
			return putChunked(t, ts, "/wire/"+key, data, func(b []byte) {
				i := bytes.Index(b, []byte("chunk-signature=")) + len("chunk-signature=")
				b[i] ^= 1
			})
		}, 403, "SignatureDoesNotMatch"},
		{"ok/unsigned trailer", "trailer", func(t *testing.T, key string) (*http.Response, string) {
			resp, body, _ := wireReq{method: "PUT", path: "/wire/" + key, body: unsignedTrailer(crcB64), payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", header: trailerHeader}.send(t, ts)
			return resp, body
		}, 200, ""},
		{"fail/unsigned trailer with a wrong checksum", "bad-trailer", func(t *testing.T, key string) (*http.Response, string) {
			resp, body, _ := wireReq{method: "PUT", path: "/wire/" + key, body: unsignedTrailer("AAAAAA=="), payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER", header: trailerHeader}.send(t, ts)
			return resp, body
		}, 400, "BadDigest"},
		{"ok/hex sha256 and content-md5", "plain", func(t *testing.T, key string) (*http.Response, string) {
			resp, body, _ := wireReq{method: "PUT", path: "/wire/" + key, body: data, header: map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(md5sum[:])}}.send(t, ts)
			return resp, body
		}, 200, ""},
		{"fail/body does not match x-amz-content-sha256", "sha-mismatch", func(t *testing.T, key string) (*http.Response, string) {
			resp, body, _ := wireReq{method: "PUT", path: "/wire/" + key, body: data, payloadHash: hexSHA256Of([]byte("other"))}.send(t, ts)
			return resp, body
		}, 400, "XAmzContentSHA256Mismatch"},
		{"fail/body does not match content-md5", "md5-mismatch", func(t *testing.T, key string) (*http.Response, string) {
			other := md5.Sum([]byte("other"))
			resp, body, _ := wireReq{method: "PUT", path: "/wire/" + key, body: data, header: map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(other[:])}}.send(t, ts)
			return resp, body
		}, 400, "BadDigest"},
		{"fail/body does not match its crc32 header", "crc-mismatch", func(t *testing.T, key string) (*http.Response, string) {
			resp, body, _ := wireReq{method: "PUT", path: "/wire/" + key, body: data, header: map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}}.send(t, ts)
			return resp, body
		}, 400, "BadDigest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := c.send(t, c.key)
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, c.wantStatus, body)
			}
			get, got, _ := wireReq{method: "GET", path: "/wire/" + c.key}.send(t, ts)
			if c.wantCode != "" {
				if code := s3ErrorCode(t, body); code != c.wantCode {
					t.Errorf("code %s, want %s", code, c.wantCode)
				}
				if get.StatusCode != 404 {
					t.Errorf("a refused upload is visible: GET = %d", get.StatusCode)
				}
				return
			}
			if want := `"` + hex.EncodeToString(md5sum[:]) + `"`; resp.Header.Get("ETag") != want {
				t.Errorf("ETag %s, want %s", resp.Header.Get("ETag"), want)
			}
			if get.StatusCode != 200 || got != string(data) {
				t.Errorf("GET = %d, %d bytes; want the %d decoded bytes", get.StatusCode, len(got), len(data))
			}
		})
	}
	// Nothing but the successful uploads' data is on disk.
	if n := countFiles(t, ts.Config().DataDir+"/objects/data"); n != 3 {
		t.Errorf("%d data files, want 3", n)
	}
}

func TestS3WireAuthErrors(t *testing.T) {
	ts := servertest.Start(t)
	wrongSecret := ts.Creds
	wrongSecret.SecretAccessKey += "x"
	unknown := aws.Credentials{AccessKeyID: "AKIAZ3MSJV4WQK7RPX2Q", SecretAccessKey: "secret"}
	cases := []struct {
		name       string
		req        wireReq
		edit       func(r *http.Request)
		wantStatus int
		wantCode   string
	}{
		{name: "fail/wrong secret", req: wireReq{method: "GET", path: "/"}, wantStatus: 403, wantCode: "SignatureDoesNotMatch"},
		{name: "fail/unknown access key", req: wireReq{method: "GET", path: "/", creds: &unknown}, wantStatus: 403, wantCode: "InvalidAccessKeyId"},
		{name: "fail/clock skew", req: wireReq{method: "GET", path: "/", at: time.Now().Add(-time.Hour)}, wantStatus: 403, wantCode: "RequestTimeTooSkewed"},
		{name: "fail/wrong region", req: wireReq{method: "GET", path: "/", region: "eu-west-1"}, wantStatus: 400, wantCode: "AuthorizationHeaderMalformed"},
		{name: "fail/no x-amz-content-sha256", req: wireReq{method: "GET", path: "/", payloadHash: "-"}, wantStatus: 400, wantCode: "InvalidRequest"},
		{name: "fail/head has no body", req: wireReq{method: "HEAD", path: "/nope/k", creds: &wrongSecret}, wantStatus: 403},
	}
	cases[0].req.creds = &wrongSecret
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body, _ := c.req.send(t, ts)
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, c.wantStatus, body)
			}
			if c.wantCode == "" {
				if body != "" {
					t.Errorf("HEAD body = %q", body)
				}
				return
			}
			if got := s3ErrorCode(t, body); got != c.wantCode {
				t.Errorf("code %s, want %s", got, c.wantCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// patternReader yields n bytes of a repeating pattern without holding them.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := min(int64(len(b)), p.n-p.off)
	for i := range b[:k] {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += k
	return int(k), nil
}

// TestS3WireStreamsBodies uploads and downloads 96 MiB while sampling the
// heap: the server must stream, never hold a body whole.
func TestS3WireStreamsBodies(t *testing.T) {
	ts := servertest.Start(t)
	if resp, body, _ := (wireReq{method: "PUT", path: "/stream"}).send(t, ts); resp.StatusCode != 200 {
		t.Fatalf("create bucket: %d %s", resp.StatusCode, body)
	}
	const size = 96 << 20
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	resp, body, _ := wireReq{method: "PUT", path: "/stream/big", bodyReader: &patternReader{n: size}, length: size, payloadHash: "UNSIGNED-PAYLOAD"}.send(t, ts)
	if resp.StatusCode != 200 {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	// Download, comparing as it streams.
	req, _ := http.NewRequest("GET", ts.URL+"/stream/big", nil)
	req.Header.Set("X-Amz-Content-Sha256", hexSHA256Of(nil))
	v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(), ts.Creds, req, hexSHA256Of(nil), "s3", "us-east-1", time.Now())
	get, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	want := &patternReader{n: size}
	gotBuf, wantBuf := make([]byte, 1<<16), make([]byte, 1<<16)
	var total int64
	for {
		n, err := io.ReadFull(get.Body, gotBuf)
		if n > 0 {
			io.ReadFull(want, wantBuf[:n])
			if !bytes.Equal(gotBuf[:n], wantBuf[:n]) {
				t.Fatalf("download differs near byte %d", total)
			}
			total += int64(n)
		}
		if err != nil {
			break
		}
	}
	get.Body.Close()
	close(stop)
	<-done
	if total != size {
		t.Fatalf("downloaded %d bytes, want %d", total, size)
	}
	if grew := int64(peak.Load()) - int64(base.HeapInuse); grew > 32<<20 {
		t.Errorf("the heap grew by %d MiB moving a %d MiB object: bodies are being buffered", grew>>20, size>>20)
	}
}

// countFiles counts the regular files under dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
