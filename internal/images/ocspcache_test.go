package images_test

import (
	"bytes"
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

	"golang.org/x/crypto/ocsp"

	"github.com/signet/signet/internal/images"
)

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
