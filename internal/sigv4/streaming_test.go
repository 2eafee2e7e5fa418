package sigv4

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// AWS's published examples of signed aws-chunked uploads ("Signature
// Calculations for the Authorization Header: Transferring Payload in
// Multiple Chunks"): 66560 bytes of 'a' in a 64 KiB chunk, a 1 KiB chunk
// and the final empty chunk, without and with a signed trailer.
const (
	awsExampleAccessKey = "AKIAIOSFODNN7EXAMPLE"
	awsExampleSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	awsExampleDate      = "20130524T000000Z"
	awsExampleScope     = "20130524/us-east-1/s3/aws4_request"
	awsExampleSeed      = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	awsTrailerSeed      = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
	awsTrailerSignature = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
)

var (
	awsExampleChunkSigs = []string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	awsTrailerChunkSigs = []string{
		"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
		"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
		"2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
	}
	awsExampleTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
)

// awsExampleBody is the example's chunked body; trailer is appended after
// the final chunk, followed by the blank line.
func awsExampleBody(sigs []string, trailer string) []byte {
	var b bytes.Buffer
	for i, size := range []int{65536, 1024, 0} {
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", size, sigs[i])
		if size > 0 {
			b.Write(bytes.Repeat([]byte("a"), size))
			b.WriteString("\r\n")
		}
	}
	b.WriteString(trailer)
	b.WriteString("\r\n")
	return b.Bytes()
}

// awsExampleRequest is the example's PUT as the server receives it.
func awsExampleRequest(t testing.TB, trailer bool, body []byte) *http.Request {
	t.Helper()
	signed, sha, seed := "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class", streamingSigned, awsExampleSeed
	extra := ""
	if trailer {
		signed, sha, seed = "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer", streamingSignedTrailer, awsTrailerSeed
		extra = "x-amz-trailer: x-amz-checksum-crc32c\n"
	}
	contentLength := 66824
	if trailer {
		contentLength = len(body)
	}
	raw := "PUT /examplebucket/chunkObject.txt HTTP/1.1\n" +
		"Host: s3.amazonaws.com\n" +
		"x-amz-date: " + awsExampleDate + "\n" +
		"x-amz-storage-class: REDUCED_REDUNDANCY\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=" + awsExampleAccessKey + "/" + awsExampleScope + ",SignedHeaders=" + signed + ",Signature=" + seed + "\n" +
		"x-amz-content-sha256: " + sha + "\n" +
		"Content-Encoding: aws-chunked\n" +
		"x-amz-decoded-content-length: 66560\n" +
		extra +
		"Content-Length: " + strconv.Itoa(contentLength) + "\n\n"
	wire := append([]byte(strings.ReplaceAll(raw, "\n", "\r\n")), body...)
	if len(body) < contentLength {
		wire = append(wire, make([]byte, contentLength-len(body))...) // keep the parser happy; the reader below is the truncated body
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
	if err != nil {
		t.Fatal(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r
}

func awsExampleVerifier() *Verifier {
	return &Verifier{
		Credentials: memStore{awsExampleAccessKey: {AccessKeyID: awsExampleAccessKey, SecretAccessKey: awsExampleSecret}},
		Now:         func() time.Time { return awsExampleTime },
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err = %v, want an *Error with code %s", err, code)
	}
}

// TestChunkedAWSExample verifies AWS's published signed chunked upload,
// with and without its signed trailer, end to end: the seed signature by
// VerifyStreaming, then every chunk signature, the trailer signature and
// the CRC32C trailer while decoding.
func TestChunkedAWSExample(t *testing.T) {
	want := bytes.Repeat([]byte("a"), 66560)
	plain := awsExampleBody(awsExampleChunkSigs, "")
	corrupt := bytes.Clone(plain)
	corrupt[len(corrupt)-200] = 'b'
	withTrailer := awsExampleBody(awsTrailerChunkSigs, "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:"+awsTrailerSignature+"\r\n")
	badTrailerSig := awsExampleBody(awsTrailerChunkSigs, "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:"+strings.Repeat("0", 64)+"\r\n")
	cases := []struct {
		name     string
		trailer  bool
		body     []byte
		wantCode string // "" for success
	}{
		{"ok/signed chunks", false, plain, ""},
		{"ok/signed chunks and trailer", true, withTrailer, ""},
		{"fail/corrupted chunk data", false, corrupt, codeInvalidSignature},
		{"fail/truncated body", false, plain[:66000], codeIncompleteBody},
		{"fail/forged trailer signature", true, badTrailerSig, codeInvalidSignature},
		{"fail/chunks signed for another seed", true, plain, codeInvalidSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := awsExampleRequest(t, c.trailer, c.body)
			res, check, err := awsExampleVerifier().VerifyStreaming(r)
			if err != nil {
				t.Fatalf("VerifyStreaming: %v", err)
			}
			if res.Service != "s3" || check.Kind != PayloadChunkedSigned || !check.Chunked() || check.DecodedLength != 66560 || check.SignedTrailer != c.trailer {
				t.Fatalf("result %+v, check %+v", res, check)
			}
			got, err := io.ReadAll(check.Reader(r.Body))
			if c.wantCode != "" {
				wantCode(t, err, c.wantCode)
				return
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("decoded %d bytes, %v; want 66560 'a'", len(got), err)
			}
		})
	}
}

func TestChunkSignatureVector(t *testing.T) {
	key := hmacSHA256(hmacSHA256(hmacSHA256(hmacSHA256([]byte("AWS4"+awsExampleSecret), "20130524"), "us-east-1"), "s3"), scopeTerm)
	r := NewChunkedReader(bytes.NewReader(awsExampleBody(awsExampleChunkSigs, "")), ChunkedOptions{
		Signing:       &ChunkSigning{Key: key, AmzDate: awsExampleDate, Scope: awsExampleScope, Seed: awsExampleSeed},
		DecodedLength: 66560,
	})
	// Tiny reads exercise every state boundary.
	got, err := io.ReadAll(iotest.OneByteReader(r))
	if err != nil || len(got) != 66560 {
		t.Fatalf("decoded %d bytes, %v", len(got), err)
	}
}

func TestChunkedUnsigned(t *testing.T) {
	// The body aws-sdk-go-v2's S3 client sends with
	// STREAMING-UNSIGNED-PAYLOAD-TRAILER.
	const sdkBody = "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
	crc := []string{"x-amz-checksum-crc32"}
	cases := []struct {
		name     string
		body     string
		opts     ChunkedOptions
		want     string
		wantCode string
	}{
		{"ok/sdk body", sdkBody, ChunkedOptions{Trailers: crc, DecodedLength: 11}, "hello world", ""},
		{"ok/unknown decoded length", sdkBody, ChunkedOptions{Trailers: crc, DecodedLength: -1}, "hello world", ""},
		{"ok/no trailer", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", ChunkedOptions{DecodedLength: -1}, "hello world", ""},
		{"ok/chunk extensions and LF endings", "5;foo=bar\nhello\n0\n\n", ChunkedOptions{DecodedLength: 5}, "hello", ""},
		{"ok/crc32c trailer", "3\r\nabc\r\n0\r\nx-amz-checksum-crc32c:Nks/tw==\r\n\r\n", ChunkedOptions{Trailers: []string{"x-amz-checksum-crc32c"}, DecodedLength: 3}, "abc", ""},
		{"ok/sha256 trailer", "3\r\nabc\r\n0\r\nx-amz-checksum-sha256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=\r\n\r\n", ChunkedOptions{Trailers: []string{"x-amz-checksum-sha256"}, DecodedLength: 3}, "abc", ""},
		{"fail/checksum mismatch", strings.Replace(sdkBody, "DUoRhQ==", "AAAAAA==", 1), ChunkedOptions{Trailers: crc, DecodedLength: 11}, "", codeBadDigest},
		{"fail/declared trailer missing", "b\r\nhello world\r\n0\r\n\r\n", ChunkedOptions{Trailers: crc, DecodedLength: 11}, "", codeMalformedTrailer},
		{"fail/undeclared trailer", sdkBody, ChunkedOptions{DecodedLength: 11}, "", codeMalformedTrailer},
		{"fail/unsupported checksum", sdkBody, ChunkedOptions{Trailers: []string{"x-amz-checksum-md5"}, DecodedLength: 11}, "", codeInvalidRequest},
		{"fail/malformed trailer", "0\r\nno-colon\r\n\r\n", ChunkedOptions{Trailers: crc, DecodedLength: 0}, "", codeMalformedTrailer},
		{"fail/decoded length short", sdkBody, ChunkedOptions{Trailers: crc, DecodedLength: 12}, "", codeIncompleteBody},
		{"fail/decoded length long", sdkBody, ChunkedOptions{Trailers: crc, DecodedLength: 5}, "", codeIncompleteBody},
		{"fail/size not hex", "zz\r\nhello\r\n0\r\n\r\n", ChunkedOptions{DecodedLength: -1}, "", codeInvalidRequest},
		{"fail/negative size", "-5\r\nhello\r\n0\r\n\r\n", ChunkedOptions{DecodedLength: -1}, "", codeInvalidRequest},
		{"fail/data longer than size", "3\r\nhello\r\n0\r\n\r\n", ChunkedOptions{DecodedLength: -1}, "", codeInvalidRequest},
		{"fail/truncated data", "b\r\nhello", ChunkedOptions{DecodedLength: -1}, "", codeIncompleteBody},
		{"fail/no final chunk", "5\r\nhello\r\n", ChunkedOptions{DecodedLength: -1}, "", codeIncompleteBody},
		{"fail/empty body", "", ChunkedOptions{DecodedLength: -1}, "", codeIncompleteBody},
		{"fail/header line too long", strings.Repeat("0", maxChunkLine+10) + "\r\n", ChunkedOptions{DecodedLength: -1}, "", codeInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := io.ReadAll(NewChunkedReader(strings.NewReader(c.body), c.opts))
			if c.wantCode != "" {
				wantCode(t, err, c.wantCode)
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("decoded %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestCRC64NVME(t *testing.T) {
	// The CRC-64/NVME check value.
	if got := crc64.Checksum([]byte("123456789"), crc64NVME); got != 0xae8b14860a799888 {
		t.Errorf("crc64nvme(123456789) = %#x, want 0xae8b14860a799888", got)
	}
}

func TestVerifyStreaming(t *testing.T) {
	store := testStore()
	v := &Verifier{Credentials: store, Now: func() time.Time { return testNow }}
	const url = "http://127.0.0.1:9090/bucket/some%20key.txt"
	body := "object body"
	cases := []struct {
		name     string
		req      clientReq
		edit     func(r *http.Request)
		wantKind PayloadKind
		wantCode string // from VerifyStreaming
		readCode string // from reading the body
	}{
		{name: "ok/hex sha256", req: clientReq{method: "PUT", url: url, body: body, service: "s3", contentSHA256: true, cli: true}, wantKind: PayloadSHA256},
		{name: "ok/unsigned payload", req: clientReq{method: "PUT", url: url, body: body, service: "s3", contentSHA256: true, payloadHash: unsignedPayload}, wantKind: PayloadUnsigned},
		{name: "ok/presigned get", req: clientReq{url: url, service: "s3", presign: true, payloadHash: unsignedPayload}, wantKind: PayloadUnsigned},
		{name: "ok/crc32 header", req: clientReq{method: "PUT", url: url, body: body, service: "s3", contentSHA256: true,
			header: map[string]string{"X-Amz-Checksum-Crc32": "PT9Avw=="}}, wantKind: PayloadSHA256},
		{name: "fail/body does not match its sha256", req: clientReq{method: "PUT", url: url, body: body, service: "s3", contentSHA256: true, payloadHash: hexSHA256("other")},
			wantKind: PayloadSHA256, readCode: codeContentSHA256Mismatch},
		{name: "fail/body does not match its crc32 header", req: clientReq{method: "PUT", url: url, body: body, service: "s3", contentSHA256: true,
			header: map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}}, wantKind: PayloadSHA256, readCode: codeBadDigest},
		{name: "fail/no x-amz-content-sha256", req: clientReq{method: "PUT", url: url, body: body, service: "s3"}, wantCode: codeInvalidRequest},
		{name: "fail/bad x-amz-content-sha256", req: clientReq{method: "PUT", url: url, body: body, service: "s3", contentSHA256: true, payloadHash: "nope"}, wantCode: codeInvalidArgument},
		{name: "fail/ecdsa streaming", req: clientReq{method: "PUT", url: url, body: body, service: "s3", contentSHA256: true, payloadHash: "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"}, wantCode: codeNotImplemented},
		{name: "fail/forged signature", req: clientReq{method: "PUT", url: url, body: body, service: "s3", contentSHA256: true},
			edit: func(r *http.Request) { replaceAuth(r, "Signature=", "Signature=00") }, wantCode: codeInvalidSignature},
		{name: "fail/clock skew", req: clientReq{method: "PUT", url: url, body: body, service: "s3", contentSHA256: true, at: testNow.Add(-time.Hour)}, wantCode: codeInvalidSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := c.req.send(t)
			if c.edit != nil {
				c.edit(r)
			}
			res, check, err := v.VerifyStreaming(r)
			if c.wantCode != "" {
				wantCode(t, err, c.wantCode)
				var e *Error
				errors.As(err, &e)
				if e.Skewed != strings.Contains(c.name, "skew") {
					t.Errorf("Skewed = %v", e.Skewed)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyStreaming: %v", err)
			}
			if res.Credential.AccessKeyID != longTermCred.AccessKeyID || check.Kind != c.wantKind || check.Chunked() {
				t.Fatalf("result %+v, check %+v", res, check)
			}
			got, err := io.ReadAll(check.Reader(r.Body))
			if c.readCode != "" {
				wantCode(t, err, c.readCode)
				return
			}
			if err != nil || (c.req.method == "PUT" && string(got) != body) {
				t.Fatalf("body = %q, %v", got, err)
			}
		})
	}
}
