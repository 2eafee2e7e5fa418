package sigv4

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const fuzzURL = "http://localhost:8080/signing-profiles?statuses=Active&statuses=Canceled"

// fuzzValidAuthorization signs the fuzz target's request (Host and
// X-Amz-Date only) with the SDK and returns its Authorization header.
func fuzzValidAuthorization(tb testing.TB) string {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, fuzzURL, nil)
	if err != nil {
		tb.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: longTermCred.AccessKeyID, SecretAccessKey: longTermCred.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hexSHA256(""), "signer", "us-east-1", testNow); err != nil {
		tb.Fatal(err)
	}
	return req.Header.Get("Authorization")
}

// FuzzVerify feeds arbitrary Authorization and X-Amz-Date values to Verify
// and Scope. The first value is also tried as the query string of a
// presigned URL. Verify must never panic, must report every failure as an
// *Error (the store here cannot fail), and must accept the signed seed.
func FuzzVerify(f *testing.F) {
	valid := fuzzValidAuthorization(f)
	date := testNow.Format(timeFormat)
	f.Add(valid, date)
	f.Add("", "")
	f.Add("AWS4-HMAC-SHA256", date)
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;, Signature=", "20261123T034822Z")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIASIGNETTEST000001%2F20261123%2Fus-east-1%2Fs3%2Faws4_request"+
		"&X-Amz-Date=20261123T034822Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "")

	store := testStore()
	f.Fuzz(func(t *testing.T, auth, amzDate string) {
		v := &Verifier{Credentials: store, Now: func() time.Time { return testNow }}

		r := httptest.NewRequest(http.MethodGet, fuzzURL, nil)
		r.Header["Authorization"] = []string{auth}
		r.Header["X-Amz-Date"] = []string{amzDate}
		res, err := v.Verify(r, nil)
		checkFuzzResult(t, res, err)
		if auth == valid && amzDate == date && err != nil {
			t.Fatalf("valid request rejected: %v", err)
		}
		if service, region, ok := Scope(r); ok && (service == "" || region == "") {
			t.Fatalf("Scope ok with empty service %q or region %q", service, region)
		}

		p := httptest.NewRequest(http.MethodGet, "http://localhost:8080/bucket/key", nil)
		p.URL.RawQuery = auth
		p.Header["X-Amz-Date"] = []string{amzDate}
		res, err = v.Verify(p, nil)
		checkFuzzResult(t, res, err)
		Scope(p)
	})
}

func checkFuzzResult(t *testing.T, res *Result, err error) {
	t.Helper()
	if err == nil {
		if res == nil {
			t.Fatal("nil result without error")
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *Error", err, err)
	}
	if e.Code == "" || e.Message == "" || e.Status < 400 || e.Status > 599 {
		t.Fatalf("malformed error %#v", e)
	}
}

// BenchmarkVerify verifies a typical aws-sdk-go-v2 signer GET
// (ListSigningProfiles with a repeated query parameter).
func BenchmarkVerify(b *testing.B) {
	r, body := clientReq{url: signerURL + "/signing-profiles?maxResults=10&statuses=Active&statuses=Canceled"}.send(b)
	v := &Verifier{Credentials: testStore(), Now: func() time.Time { return testNow }}
	if _, err := v.Verify(r, body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}
