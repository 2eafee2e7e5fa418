package images_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	corerevocation "github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/result"
	"golang.org/x/crypto/ocsp"

	"github.com/signet/signet/internal/images"
)

func ocspAnswer(t *testing.T, next time.Time) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "responder"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	b, err := ocsp.CreateResponse(cert, cert, ocsp.Response{Status: ocsp.Good, SerialNumber: big.NewInt(2), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: next}, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// askingValidator asks an OCSP responder through hc, as notation-core-go
// does, and answers results of the method given.
type askingValidator struct {
	hc     *http.Client
	method result.RevocationMethod
	calls  int
}

func (v *askingValidator) ValidateContext(ctx context.Context, _ corerevocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	v.calls++
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://ocsp.example/", bytes.NewReader([]byte("request")))
	resp, err := v.hc.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return []*result.CertRevocationResult{{Result: result.ResultOK, RevocationMethod: v.method}, {Result: result.ResultNonRevokable}}, nil
}

// TestRevocationMemo: results resting on fresh OCSP answers are kept
// until the earliest nextUpdate; others are checked every time.
func TestRevocationMemo(t *testing.T) {
	cases := []struct {
		name   string
		next   time.Duration
		method result.RevocationMethod
		later  time.Duration // when the fourth check happens
		calls  int           // of the inner validator after four checks
	}{
		{"kept", time.Hour, result.RevocationMethodOCSP, time.Minute, 1},
		{"kept-until-next-update", time.Hour, result.RevocationMethodOCSP, 2 * time.Hour, 2},
		{"stale-answer", -time.Second, result.RevocationMethodOCSP, 0, 4},
		{"crl", time.Hour, result.RevocationMethodOCSPFallbackCRL, 0, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := time.Now()
			cache := &images.OCSPCache{Next: &countingOCSP{status: 200, body: ocspAnswer(t, now.Add(c.next))}, Now: func() time.Time { return now }}
			inner := &askingValidator{hc: &http.Client{Transport: cache}, method: c.method}
			memo := &images.RevocationMemo{Inner: inner, Now: func() time.Time { return now }}
			opts := corerevocation.ValidateContextOptions{AuthenticSigningTime: now}
			for i := range 4 {
				if i == 3 {
					now = now.Add(c.later)
				}
				if rs, err := memo.ValidateContext(context.Background(), opts); err != nil || len(rs) != 2 || rs[0].Result != result.ResultOK {
					t.Fatalf("check %d: %v %v", i, rs, err)
				}
			}
			if inner.calls != c.calls {
				t.Errorf("%d checks reached the validator, want %d", inner.calls, c.calls)
			}
		})
	}
}

type countingOCSP struct {
	calls  int
	status int
	body   []byte
}

func (c *countingOCSP) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls++
	return &http.Response{StatusCode: c.status, Body: io.NopCloser(bytes.NewReader(c.body)), Header: http.Header{}, Request: r}, nil
}

// TestOCSPCache: an answer is reused until its nextUpdate, and answers
// without one, stale ones and failures are asked again.
func TestOCSPCache(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "responder"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	answer := func(next time.Time) []byte {
		b, err := ocsp.CreateResponse(cert, cert, ocsp.Response{Status: ocsp.Good, SerialNumber: big.NewInt(2), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: next}, key)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		status int
		body   []byte
		calls  int // after three requests
	}{
		{"fresh", 200, answer(time.Now().Add(time.Hour)), 1},
		{"stale", 200, answer(time.Now().Add(-time.Second)), 3},
		{"no-next-update", 200, answer(time.Time{}), 3},
		{"failure", 500, nil, 3},
		{"not-ocsp", 200, []byte("hello"), 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next := &countingOCSP{status: c.status, body: c.body}
			hc := &http.Client{Transport: &images.OCSPCache{Next: next}}
			for range 3 {
				resp, err := hc.Post("http://ocsp.example/", "application/ocsp-request", bytes.NewReader([]byte("request")))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.status || !bytes.Equal(got, c.body) {
					t.Fatalf("answer %d %q", resp.StatusCode, got)
				}
			}
			if next.calls != c.calls {
				t.Errorf("%d requests reached the responder, want %d", next.calls, c.calls)
			}
		})
	}
}
