package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/notaryproject/tspclient-go"

	"github.com/signet/signet/internal/pki"
)

func newAuthority(t testing.TB) (*Authority, *x509.Certificate) {
	t.Helper()
	now := time.Now()
	rootKey, _ := pki.GenerateKey()
	name := pki.Name{Country: "US", Province: "WA", Organization: "Signet Test", CommonName: "Signet Test Timestamp Root"}
	root, err := pki.NewRoot(rootKey, name, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.GenerateKey()
	name.CommonName = "Signet Test Timestamping"
	cert, err := pki.CA{Cert: root, Signer: rootKey}.IssueTimestamping(pki.Template{Subject: name, PublicKey: key.Public(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour), CRLURL: "http://127.0.0.1/crl/tsa.crl"})
	if err != nil {
		t.Fatal(err)
	}
	return &Authority{Cert: cert, Chain: []*x509.Certificate{cert, root}, Signer: key}, root
}

// TestTimestamp checks tokens with tspclient-go, the verifier notation uses.
func TestTimestamp(t *testing.T) {
	a, root := newAuthority(t)
	// The authority's clock is the test's: the token must carry its time,
	// however long the test takes.
	at := time.Now().Add(-time.Minute).Truncate(time.Second).Add(300 * time.Millisecond)
	a.Now = func() time.Time { return at }
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	httpTS, err := tspclient.NewHTTPTimestamper(srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	for name, ts := range map[string]tspclient.Timestamper{"ok/in-process": a, "ok/http": httpTS} {
		t.Run(name, func(t *testing.T) {
			data := []byte("a signature to timestamp")
			req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: data, HashAlgorithm: crypto.SHA384})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ts.Timestamp(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if err := resp.Validate(req); err != nil {
				t.Fatalf("tspclient rejects the response: %v", err)
			}
			token, err := resp.SignedToken()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := token.Verify(context.Background(), x509.VerifyOptions{Roots: roots}); err != nil {
				t.Fatalf("tspclient rejects the token: %v", err)
			}
			info, err := token.Info()
			if err != nil {
				t.Fatal(err)
			}
			got, err := info.Validate(data)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Value.Equal(at.Truncate(time.Second)) || got.Accuracy != time.Second {
				t.Errorf("timestamp %v ± %v, want %v ± 1s", got.Value, got.Accuracy, at.Truncate(time.Second))
			}
			if _, err := info.Validate([]byte("other data")); err == nil {
				t.Error("the token validates other data")
			}
			otherRoots := x509.NewCertPool()
			_, otherRoot := newAuthority(t)
			otherRoots.AddCert(otherRoot)
			if _, err := token.Verify(context.Background(), x509.VerifyOptions{Roots: otherRoots}); err == nil {
				t.Error("the token verifies under another root")
			}
		})
	}
}

func TestHandlerRejects(t *testing.T) {
	a, _ := newAuthority(t)
	cases := map[string]struct {
		method, body string
		status       int
	}{
		"fail/get":       {"GET", "", http.StatusMethodNotAllowed},
		"fail/not-der":   {"POST", "hello", http.StatusOK}, // a rejection TimeStampResp
		"fail/too-large": {"POST", string(bytes.Repeat([]byte{0x30}, MaxRequestSize+1)), http.StatusRequestEntityTooLarge},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			a.Handler().ServeHTTP(rec, httptest.NewRequest(c.method, "/timestamp", bytes.NewReader([]byte(c.body))))
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d", rec.Code, c.status)
			}
			if c.status == http.StatusOK {
				var resp tspclient.Response
				if err := resp.UnmarshalBinary(rec.Body.Bytes()); err != nil {
					t.Fatal(err)
				}
				if resp.Status.Err() == nil {
					t.Error("a malformed request was granted")
				}
			}
		})
	}
}

func FuzzHandler(f *testing.F) {
	a, _ := newAuthority(f)
	req, _ := tspclient.NewRequest(tspclient.RequestOptions{Content: []byte("x"), HashAlgorithm: crypto.SHA384})
	good, _ := req.MarshalBinary()
	f.Add(good)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/timestamp", bytes.NewReader(body)))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	})
}
