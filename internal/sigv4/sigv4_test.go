package sigv4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	signerURL = "http://localhost:8080"
	arnPath   = "/tags/arn%3Aaws%3Asigner%3Aus-east-1%3A123456789012%3A%2Fsigning-profiles%2Fname"
	rawARN    = "/tags/arn:aws:signer:us-east-1:123456789012:/signing-profiles/name"
	jsonBody  = `{"platformId":"AWSLambda-SHA384-ECDSA","signatureValidityPeriod":{"type":"MONTHS","value":135}}`
)

// okCases are requests signed the way the AWS CLI and aws-sdk-go-v2 sign them.
var okCases = []struct {
	name string
	req  clientReq
}{
	{"ok/get-repeated-query", clientReq{url: signerURL + "/signing-profiles?statuses=Active&statuses=Canceled&maxResults=10"}},
	{"ok/get-query-needs-encoding", clientReq{url: signerURL + "/signing-profiles?nextToken=a%2Bb%2Fc%3D%3D&platformId=AWS%20Lambda&x=a+b"}},
	{"ok/get-query-key-case-order", clientReq{url: signerURL + "/signing-jobs?b=2&a=1&A=0&a=0"}},
	{"ok/get-query-empty-value", clientReq{url: signerURL + "/signing-profiles?includeCanceled&maxResults="}},
	{"ok/put-json-sdk", clientReq{method: http.MethodPut, url: signerURL + "/signing-profiles/my_profile", body: jsonBody}},
	{"ok/put-json-cli", clientReq{method: http.MethodPut, url: signerURL + "/signing-profiles/my_profile", body: jsonBody, cli: true}},
	{"ok/post-json-sdk", clientReq{method: http.MethodPost, url: signerURL + "/signing-jobs", body: `{"profileName":"p","clientRequestToken":"t"}`}},
	{"ok/post-empty-body", clientReq{method: http.MethodPost, url: signerURL + "/signing-profiles/p/revoke"}},
	{"ok/arn-path-escaped", clientReq{method: http.MethodPost, url: signerURL + arnPath, body: `{"tags":{"team":"platform"}}`}},
	{"ok/arn-path-escaped-cli", clientReq{method: http.MethodGet, url: signerURL + arnPath, cli: true}},
	{"ok/arn-path-raw", clientReq{url: signerURL + rawARN}},
	{"ok/path-space-and-unicode", clientReq{url: signerURL + "/signing-profiles/a%20b%E2%82%AC"}},
	{"ok/cli-normalised-path", clientReq{url: signerURL + "/signing-profiles/name", sendPath: "/signing-profiles//./name"}},
	{"ok/session-token", clientReq{method: http.MethodPut, url: signerURL + "/signing-profiles/p", body: jsonBody, cred: tempCred}},
	{"ok/session-token-cli", clientReq{url: signerURL + "/signing-profiles", cred: tempCred, cli: true}},
	{"ok/other-region", clientReq{url: signerURL + "/signing-platforms", region: "eu-west-1"}},
	{"ok/default-port-host", clientReq{url: "http://localhost/signing-platforms"}},
	{"ok/skew-past-within", clientReq{url: signerURL + "/signing-platforms", at: testNow.Add(-15 * time.Minute)}},
	{"ok/skew-future-within", clientReq{url: signerURL + "/signing-platforms", at: testNow.Add(15 * time.Minute)}},
	{"ok/extra-signed-headers", clientReq{method: http.MethodPost, url: signerURL + "/signing-jobs", body: "{}",
		header: map[string]string{"X-Amz-Target": "a.b", "X-Custom": "  several   spaces  inside "}}},
	{"ok/s3-unsigned-payload", clientReq{method: http.MethodPut, url: signerURL + "/bucket/dir/key%20with%20space.txt",
		body: "object data", service: "s3", payloadHash: "UNSIGNED-PAYLOAD", contentSHA256: true}},
	{"ok/s3-content-sha256", clientReq{method: http.MethodPut, url: signerURL + "/bucket/dir/key.txt",
		body: "object data", service: "s3", contentSHA256: true}},
	{"ok/s3-path-not-double-encoded", clientReq{url: signerURL + "/bucket/a%2Bb%3Dc", service: "s3", payloadHash: "UNSIGNED-PAYLOAD", contentSHA256: true}},
	{"ok/presigned-s3", clientReq{url: signerURL + "/bucket/key.txt?versionId=3", service: "s3", payloadHash: "UNSIGNED-PAYLOAD",
		presign: true, presignExpires: "300"}},
	{"ok/presigned-s3-session-token", clientReq{url: signerURL + "/bucket/key.txt", service: "s3", payloadHash: "UNSIGNED-PAYLOAD",
		presign: true, presignExpires: "60", cred: tempCred}},
	{"ok/presigned-sts", clientReq{url: signerURL + "/?Action=GetCallerIdentity&Version=2011-06-15", service: "sts",
		presign: true, presignExpires: "60", at: testNow.Add(-30 * time.Second)}},
}

func TestVerifyOK(t *testing.T) {
	for _, tc := range okCases {
		t.Run(tc.name, func(t *testing.T) {
			r, body := tc.req.send(t)
			v := &Verifier{Credentials: testStore(), Now: func() time.Time { return testNow }}
			res, err := v.Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: %v\nrequest: %s %s %v", err, r.Method, r.RequestURI, r.Header)
			}
			c := tc.req.withDefaults()
			want := Result{Credential: c.cred, Service: c.service, Region: c.region, Time: c.at.Truncate(time.Second)}
			if res.Credential != want.Credential || res.Service != want.Service || res.Region != want.Region || !res.Time.Equal(want.Time) {
				t.Errorf("result = %+v, want %+v", *res, want)
			}
			if service, region, ok := Scope(r); !ok || service != c.service || region != c.region {
				t.Errorf("Scope = %q, %q, %v; want %q, %q, true", service, region, ok, c.service, c.region)
			}
		})
	}
}

// TestVerifyAgreesWithSDKRecipe checks the package's canonical request
// against aws-sdk-go-v2's signer used as a verifier (rebuild the request from
// the signed headers only, SignHTTP it, compare).
func TestVerifyAgreesWithSDKRecipe(t *testing.T) {
	for _, tc := range okCases {
		if tc.req.presign || tc.req.sendPath != "" {
			continue // the SDK recipe covers the header form without path normalisation
		}
		t.Run(tc.name, func(t *testing.T) {
			r, body := tc.req.send(t)
			c := tc.req.withDefaults()
			a, aerr := parseAuth(r)
			if aerr != nil {
				t.Fatal(aerr)
			}
			hash, _, perr := requestPayloadHash(r, a, body)
			if perr != nil {
				t.Fatal(perr)
			}
			ours := expectedSignatures(r, a, c.cred.SecretAccessKey, hash, len(body))[0]
			sdk := sdkRecipeSignature(t, r, body, c.cred.SecretAccessKey)
			if ours != sdk || ours != a.signature {
				t.Errorf("signatures differ: ours %s, sdk recipe %s, client %s", ours, sdk, a.signature)
			}
		})
	}
}

// TestVerifyHandWritten covers what the SDK signer cannot produce: signed
// headers it ignores (user-agent), the Date header instead of X-Amz-Date,
// and repeated header lines. The canonical requests are written out by hand.
func TestVerifyHandWritten(t *testing.T) {
	const amzDate = "20261123T034822Z"
	secret := longTermCred.SecretAccessKey
	cases := []struct {
		name, raw, canonical, signedHeaders string
	}{
		{
			name: "ok/signed-user-agent",
			raw: "GET /signing-profiles?statuses=Active HTTP/1.1\nHost: localhost:8080\nUser-Agent: aws-cli/2.9.19 Python/3.9.11\n" +
				"X-Amz-Date: " + amzDate + "\n",
			canonical: "GET\n/signing-profiles\nstatuses=Active\nhost:localhost:8080\nuser-agent:aws-cli/2.9.19 Python/3.9.11\n" +
				"x-amz-date:" + amzDate + "\n\nhost;user-agent;x-amz-date\n" + hexSHA256(""),
			signedHeaders: "host;user-agent;x-amz-date",
		},
		{
			name: "ok/date-header",
			raw:  "GET /signing-platforms HTTP/1.1\nHost: localhost:8080\nDate: Mon, 23 Nov 2026 03:48:22 GMT\n",
			canonical: "GET\n/signing-platforms\n\ndate:Mon, 23 Nov 2026 03:48:22 GMT\nhost:localhost:8080\n\n" +
				"date;host\n" + hexSHA256(""),
			signedHeaders: "date;host",
		},
		{
			name: "ok/repeated-header-lines",
			raw: "POST /signing-jobs HTTP/1.1\nHost: localhost:8080\nX-Amz-Date: " + amzDate + "\nX-Multi:  a  b \nX-Multi: c\n" +
				"Content-Length: 2\n\n{}",
			canonical: "POST\n/signing-jobs\n\ncontent-length:2\nhost:localhost:8080\nx-amz-date:" + amzDate + "\nx-multi:a b,c\n\n" +
				"content-length;host;x-amz-date;x-multi\n" + hexSHA256("{}"),
			signedHeaders: "content-length;host;x-amz-date;x-multi",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sig := handSignature(secret, amzDate, "us-east-1", "signer", tc.canonical)
			raw := strings.Replace(tc.raw, "Host:", "Authorization: AWS4-HMAC-SHA256 Credential="+longTermCred.AccessKeyID+
				"/20261123/us-east-1/signer/aws4_request, SignedHeaders="+tc.signedHeaders+", Signature="+sig+"\nHost:", 1)
			if !strings.Contains(raw, "\n\n") {
				raw += "\n"
			}
			r, body := rawRequest(t, raw)
			v := &Verifier{Credentials: testStore(), Now: func() time.Time { return testNow }}
			res, err := v.Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !res.Time.Equal(testNow) || res.Credential.PrincipalARN != longTermCred.PrincipalARN {
				t.Errorf("result = %+v", *res)
			}
		})
	}
}

// TestVerifyAWSTestSuite checks vectors from AWS's published SigV4 test suite.
func TestVerifyAWSTestSuite(t *testing.T) {
	store := memStore{"AKIDEXAMPLE": {AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}}
	now := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	cases := []struct{ name, requestLine, signature string }{
		{"ok/get-vanilla", "GET / HTTP/1.1", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"ok/get-vanilla-query-order-key-case", "GET /?Param2=value2&Param1=value1 HTTP/1.1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"ok/post-vanilla", "POST / HTTP/1.1", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, body := rawRequest(t, tc.requestLine+"\nHost: example.amazonaws.com\nX-Amz-Date: 20150830T123600Z\n"+
				"Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "+
				"SignedHeaders=host;x-amz-date, Signature="+tc.signature+"\n\n")
			v := &Verifier{Credentials: store, Now: func() time.Time { return now }}
			if _, err := v.Verify(r, body); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyFail(t *testing.T) {
	type mutate func(r *http.Request, body []byte) []byte
	get := clientReq{url: signerURL + "/signing-profiles?statuses=Active&statuses=Canceled"}
	put := clientReq{method: http.MethodPut, url: signerURL + "/signing-profiles/my_profile", body: jsonBody}
	s3put := clientReq{method: http.MethodPut, url: signerURL + "/bucket/key.txt", body: "object data", service: "s3", contentSHA256: true}
	streaming := clientReq{method: http.MethodPut, url: signerURL + "/bucket/key.txt", body: "0;chunk-signature=00\r\n\r\n",
		service: "s3", contentSHA256: true, payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
		header: map[string]string{"X-Amz-Decoded-Content-Length": "0", "Content-Encoding": "aws-chunked"}}
	presigned := clientReq{url: signerURL + "/bucket/key.txt", service: "s3", payloadHash: "UNSIGNED-PAYLOAD", presign: true, presignExpires: "300"}

	const incomplete, invalidSig, unrecognized = "IncompleteSignatureException", "InvalidSignatureException", "UnrecognizedClientException"
	cases := []struct {
		name   string
		req    clientReq
		mutate mutate
		skew   time.Duration
		now    time.Time
		code   string
		status int
		msg    string // exact message, when set
		prefix string // message prefix, when set
	}{
		{name: "fail/no-authorization", req: get, mutate: func(r *http.Request, b []byte) []byte { r.Header.Del("Authorization"); return b },
			code: "MissingAuthenticationTokenException", status: 403, msg: "Missing Authentication Token"},
		{name: "fail/not-sigv4", req: get, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("Authorization", "Bearer eyJhbGciOi")
			r.Header.Del("X-Amz-Date")
			return b
		}, code: incomplete, status: 400,
			msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either " +
				"a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer eyJhbGciOi"},
		{name: "fail/missing-signature", req: get, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIASIGNETTEST000001/20261123/us-east-1/signer/aws4_request, SignedHeaders=host;x-amz-date")
			return b
		}, code: incomplete, status: 400,
			msg: "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKIASIGNETTEST000001/20261123/us-east-1/signer/aws4_request, SignedHeaders=host;x-amz-date"},
		{name: "fail/missing-signed-headers", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, "SignedHeaders=", "Signedheaders=")
			return b
		}, code: incomplete, status: 400, prefix: "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 "},
		{name: "fail/missing-credential", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, "Credential=", "Cred=")
			return b
		}, code: incomplete, status: 400, prefix: "Authorization header requires 'Credential' parameter. Authorization="},
		{name: "fail/unsupported-algorithm", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512")
			return b
		}, code: incomplete, status: 400, msg: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'."},
		{name: "fail/missing-equal-sign", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, "Credential=", "Credential= ")
			return b
		}, code: incomplete, status: 400, prefix: "'AKIASIGNETTEST000001/20261123/us-east-1/signer/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential= AKIA"},
		{name: "fail/scope-four-parts", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, "/us-east-1/", "/")
			return b
		}, code: incomplete, status: 400,
			msg: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIASIGNETTEST000001/20261123/signer/aws4_request'"},
		{name: "fail/scope-terminator", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, "/aws4_request", "/aws4_reqest")
			return b
		}, code: incomplete, status: 400, msg: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reqest'."},
		{name: "fail/scope-empty-region", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, "/us-east-1/", "//")
			return b
		}, code: incomplete, status: 400, msg: "Credential should be scoped to a valid region, not ''."},
		{name: "fail/missing-date", req: get, mutate: func(r *http.Request, b []byte) []byte { r.Header.Del("X-Amz-Date"); return b },
			code: incomplete, status: 400,
			prefix: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 "},
		{name: "fail/bad-date", req: get, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Date", "2026-11-23T03:48:22Z")
			return b
		}, code: incomplete, status: 400,
			msg: "Date must be in ISO-8601 'basic format'. Got '2026-11-23T03:48:22Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{name: "fail/bad-date-header", req: get, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Date", "yesterday")
			return b
		}, code: incomplete, status: 400, msg: "Date header must be in RFC 1123 format. Got 'yesterday'."},
		{name: "fail/host-not-signed", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, ";host;", ";")
			return b
		}, code: incomplete, status: 400, msg: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "fail/duplicate-signed-header", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, ";host;", ";host;HOST;")
			return b
		}, code: incomplete, status: 400, prefix: "SignedHeaders must be a list of unique, non-empty header names separated by ';', got '"},
		{name: "fail/empty-signed-header", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, ";host;", ";host;;")
			return b
		}, code: incomplete, status: 400, prefix: "SignedHeaders must be a list of unique, non-empty header names separated by ';', got '"},
		{name: "fail/scope-date-mismatch", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, "/20261123/", "/20261122/")
			return b
		}, code: invalidSig, status: 403,
			msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261122' != '20261123', from '20261123T034822Z'."},
		{name: "fail/unknown-access-key", req: clientReq{url: get.url, cred: unknownCred},
			code: unrecognized, status: 403, msg: "The security token included in the request is invalid."},
		{name: "fail/empty-access-key", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, longTermCred.AccessKeyID, "")
			return b
		}, code: unrecognized, status: 403, msg: "The security token included in the request is invalid."},
		{name: "fail/wrong-secret", req: clientReq{url: get.url, cred: Credential{AccessKeyID: longTermCred.AccessKeyID, SecretAccessKey: "not-the-secret"}},
			code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/tampered-body", req: put, mutate: func(r *http.Request, b []byte) []byte {
			return bytes.Replace(b, []byte("135"), []byte("136"), 1)
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/tampered-method", req: put, mutate: func(r *http.Request, b []byte) []byte { r.Method = http.MethodPost; return b },
			code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/tampered-path", req: put, mutate: func(r *http.Request, b []byte) []byte {
			r.URL.Path, r.RequestURI = "/signing-profiles/other", "/signing-profiles/other"
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/tampered-arn-path-encoding", req: clientReq{url: signerURL + arnPath}, mutate: func(r *http.Request, b []byte) []byte {
			r.URL.RawPath, r.RequestURI = "", r.URL.Path // same decoded path, different wire form
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/tampered-query", req: get, mutate: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery = "statuses=Active&statuses=Revoked"
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/added-query", req: get, mutate: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery += "&maxResults=1"
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/tampered-signed-header", req: put, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/tampered-host", req: get, mutate: func(r *http.Request, b []byte) []byte { r.Host = "evil.example:8080"; return b },
			code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/tampered-date", req: get, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Date", "20261123T034823Z")
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/tampered-signature", req: get, mutate: func(r *http.Request, b []byte) []byte {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:len(h)-1]+string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", h[len(h)-1])+1)%16]))
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/tampered-signed-header-list", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, "amz-sdk-invocation-id;", "")
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/wrong-service-in-scope", req: get, mutate: func(r *http.Request, b []byte) []byte {
			replaceAuth(r, "/signer/", "/s3/")
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/skew-past", req: clientReq{url: get.url, at: testNow.Add(-30 * time.Minute)},
			code: invalidSig, status: 403,
			msg: "Signature expired: 20261123T031822Z is now earlier than 20261123T033322Z (20261123T034822Z - 15 min.)"},
		{name: "fail/skew-future", req: clientReq{url: get.url, at: testNow.Add(30 * time.Minute)},
			code: invalidSig, status: 403,
			msg: "Signature not yet current: 20261123T041822Z is still later than 20261123T040322Z (20261123T034822Z + 15 min.)"},
		{name: "fail/skew-past-custom", req: clientReq{url: get.url, at: testNow.Add(-6 * time.Minute)}, skew: 5 * time.Minute,
			code: invalidSig, status: 403,
			msg: "Signature expired: 20261123T034222Z is now earlier than 20261123T034322Z (20261123T034822Z - 5 min.)"},
		{name: "fail/skew-future-seconds", req: clientReq{url: get.url, at: testNow.Add(2 * time.Minute)}, skew: 90 * time.Second,
			code: invalidSig, status: 403,
			msg: "Signature not yet current: 20261123T035022Z is still later than 20261123T034952Z (20261123T034822Z + 90 sec.)"},
		{name: "fail/token-missing", req: clientReq{url: get.url, cred: tempCred, token: "-"}, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Del("X-Amz-Security-Token")
			return b
		}, code: unrecognized, status: 403, msg: "The security token included in the request is invalid."},
		{name: "fail/token-mismatch", req: clientReq{url: get.url, cred: tempCred, token: "FwoGZXIvYXdzEBYaDH+other/token=="},
			code: unrecognized, status: 403, msg: "The security token included in the request is invalid."},
		{name: "fail/token-with-long-term-key", req: clientReq{url: get.url, token: "FwoGZXIvYXdzEBYaDH+session/token=="},
			code: unrecognized, status: 403, msg: "The security token included in the request is invalid."},
		{name: "fail/token-expired", req: clientReq{url: get.url, cred: expiredCred},
			code: "ExpiredTokenException", status: 403, msg: "The security token included in the request is expired"},
		{name: "fail/content-sha256-mismatch", req: clientReq{method: http.MethodPut, url: put.url, body: jsonBody, contentSHA256: true},
			mutate: func(r *http.Request, b []byte) []byte { return append(b, ' ') },
			code:   invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/s3-content-sha256-mismatch", req: s3put, mutate: func(r *http.Request, b []byte) []byte { return []byte("other data!") },
			code: "XAmzContentSHA256Mismatch", status: 400, msg: "The provided 'x-amz-content-sha256' header does not match what was computed."},
		{name: "fail/s3-bad-content-sha256", req: clientReq{method: http.MethodPut, url: s3put.url, body: "x", service: "s3", contentSHA256: true, payloadHash: "sha256"},
			code: "InvalidArgument", status: 400, prefix: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "},
		{name: "fail/s3-unsigned-payload-swapped-in", req: s3put, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			return []byte("other data!")
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/streaming-not-implemented", req: streaming,
			code: "NotImplemented", status: 501, prefix: "A header you provided implies functionality that is not implemented."},
		{name: "fail/streaming-bad-seed-signature", req: streaming, mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Decoded-Content-Length", "1")
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/presigned-expired", req: presigned, now: testNow.Add(301 * time.Second),
			code: "AccessDenied", status: 403, msg: "Request has expired"},
		{name: "fail/presigned-expired-non-s3", req: clientReq{url: signerURL + "/?Action=GetCallerIdentity&Version=2011-06-15", service: "sts",
			presign: true, presignExpires: "60"}, now: testNow.Add(61 * time.Second),
			code: invalidSig, status: 403, msg: "Request has expired"},
		{name: "fail/presigned-not-yet-valid", req: presigned, now: testNow.Add(-16 * time.Minute),
			code: invalidSig, status: 403, prefix: "Signature not yet current: 20261123T034822Z is still later than "},
		{name: "fail/presigned-tampered-query", req: presigned, mutate: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=300", "X-Amz-Expires=600", 1)
			return b
		}, code: invalidSig, status: 403, msg: msgSignatureMismatch},
		{name: "fail/presigned-missing-credential", req: presigned, mutate: func(r *http.Request, b []byte) []byte {
			q := r.URL.Query()
			q.Del("X-Amz-Credential")
			r.URL.RawQuery = q.Encode()
			return b
		}, code: incomplete, status: 400,
			msg: "AWS query-string parameters must include 'X-Amz-Credential'. Re-examine the query-string parameters."},
		{name: "fail/presigned-expires-too-long", req: presigned, mutate: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=300", "X-Amz-Expires=604801", 1)
			return b
		}, code: incomplete, status: 400, msg: "X-Amz-Expires must be less than a week (in seconds) that is 604800"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, body := tc.req.send(t)
			if tc.mutate != nil {
				body = tc.mutate(r, body)
			}
			now := testNow
			if !tc.now.IsZero() {
				now = tc.now
			}
			v := &Verifier{Credentials: testStore(), Now: func() time.Time { return now }, MaxSkew: tc.skew}
			res, err := v.Verify(r, body)
			if err == nil {
				t.Fatalf("Verify succeeded: %+v", *res)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not *Error", err, err)
			}
			if e.Code != tc.code || e.Status != tc.status {
				t.Errorf("got %s/%d, want %s/%d (message %q)", e.Code, e.Status, tc.code, tc.status, e.Message)
			}
			if tc.msg != "" && e.Message != tc.msg {
				t.Errorf("message\n got %q\nwant %q", e.Message, tc.msg)
			}
			if tc.prefix != "" && !strings.HasPrefix(e.Message, tc.prefix) {
				t.Errorf("message\n got %q\nwant prefix %q", e.Message, tc.prefix)
			}
			if !strings.HasPrefix(err.Error(), "sigv4: "+e.Code+": ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

type failingStore struct{ err error }

func (f failingStore) LookupAccessKey(context.Context, string) (Credential, error) {
	return Credential{}, f.err
}

func TestVerifyStoreErrors(t *testing.T) {
	backend := errors.New("database is locked")
	cases := []struct {
		name      string
		store     CredentialStore
		wantAWS   bool
		wantCause error
	}{
		{"fail/store-unavailable", failingStore{backend}, false, backend},
		{"fail/store-wrapped-unknown", failingStore{errors.Join(errors.New("not found"), ErrUnknownAccessKey)}, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, body := clientReq{url: signerURL + "/signing-profiles"}.send(t)
			v := &Verifier{Credentials: tc.store, Now: func() time.Time { return testNow }}
			_, err := v.Verify(r, body)
			var e *Error
			if got := errors.As(err, &e); got != tc.wantAWS {
				t.Fatalf("errors.As(*Error) = %v for %v", got, err)
			}
			if tc.wantCause != nil && !errors.Is(err, tc.wantCause) {
				t.Errorf("error %v does not wrap %v", err, tc.wantCause)
			}
			if tc.wantAWS && e.Code != "UnrecognizedClientException" {
				t.Errorf("code = %s", e.Code)
			}
		})
	}
	t.Run("fail/no-store", func(t *testing.T) {
		r, body := clientReq{url: signerURL + "/signing-profiles"}.send(t)
		var e *Error
		if _, err := (&Verifier{}).Verify(r, body); err == nil || errors.As(err, &e) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestVerifyDefaultClock(t *testing.T) {
	r, body := clientReq{url: signerURL + "/signing-profiles", at: time.Now().Add(-time.Minute)}.send(t)
	if _, err := (&Verifier{Credentials: testStore()}).Verify(r, body); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestScope(t *testing.T) {
	cases := []struct {
		name, auth, query string
		service, region   string
		ok                bool
	}{
		{"ok/header", "AWS4-HMAC-SHA256 Credential=AKID/20261123/eu-west-1/signer/aws4_request, SignedHeaders=host, Signature=00", "", "signer", "eu-west-1", true},
		{"ok/header-tab-separated", "AWS4-HMAC-SHA256\tCredential=AKID/20261123/us-east-1/signer/aws4_request,SignedHeaders=host,Signature=00", "", "signer", "us-east-1", true},
		{"ok/header-no-commas", "AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/s3/aws4_request SignedHeaders=host Signature=00", "", "s3", "us-east-1", true},
		{"ok/presigned", "", "X-Amz-Credential=AKID%2F20261123%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00", "s3", "us-east-1", true},
		{"fail/none", "", "", "", "", false},
		{"fail/bearer", "Bearer x", "", "", "", false},
		{"fail/other-algorithm", "AWS4-ECDSA-P256-SHA256 Credential=AKID/20261123/us-east-1/s3/aws4_request", "", "", "", false},
		{"fail/four-parts", "AWS4-HMAC-SHA256 Credential=AKID/20261123/signer/aws4_request", "", "", "", false},
		{"fail/terminator", "AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/signer/aws5_request", "", "", "", false},
		{"fail/empty-service", "AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1//aws4_request", "", "", "", false},
		{"fail/no-credential", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00", "", "", "", false},
		{"fail/missing-equal-sign", "AWS4-HMAC-SHA256 Credential", "", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "http://localhost/?"+tc.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			service, region, ok := Scope(r)
			if service != tc.service || region != tc.region || ok != tc.ok {
				t.Errorf("Scope = %q, %q, %v; want %q, %q, %v", service, region, ok, tc.service, tc.region, tc.ok)
			}
		})
	}
	if _, _, ok := Scope(nil); ok {
		t.Error("Scope(nil) ok")
	}
}

// failingBody fails the test if anything reads it.
type failingBody struct{ t *testing.T }

func (b failingBody) Read([]byte) (int, error) {
	b.t.Error("the body was read before the request was authenticated")
	return 0, io.ErrUnexpectedEOF
}

func (failingBody) Close() error { return nil }

// TestAuthenticateReadsNoBody: Authenticate refuses an unknown key, an
// expired session and a stale date without touching the body, and for a
// good request leaves the signature over the body to Pending.Verify.
func TestAuthenticateReadsNoBody(t *testing.T) {
	v := &Verifier{Credentials: testStore(), Now: func() time.Time { return testNow }}
	cases := map[string]struct {
		req  clientReq
		code string
	}{
		"fail/unknown key":     {clientReq{method: "POST", body: "{}", cred: unknownCred}, codeUnrecognizedClient},
		"fail/expired session": {clientReq{method: "POST", body: "{}", cred: expiredCred}, codeExpiredToken},
		"fail/stale date":      {clientReq{method: "POST", body: "{}", at: testNow.Add(-time.Hour)}, codeInvalidSignature},
		"ok":                   {clientReq{method: "POST", body: "{}"}, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r, body := c.req.send(t)
			r.Body = failingBody{t}
			p, err := v.Authenticate(r)
			if c.code != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != c.code {
					t.Fatalf("Authenticate = %v, want %s", err, c.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Verify([]byte("{ }")); err == nil {
				t.Error("Verify accepted a body the signature does not cover")
			}
			if res, err := p.Verify(body); err != nil || res.Credential.AccessKeyID != longTermCred.AccessKeyID {
				t.Errorf("Verify = %+v, %v", res, err)
			}
		})
	}
}
