package signing

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/signet/signet/internal/pki"
)

// testCA is a root and a leaf for OCSP requests.
func testCA(t testing.TB) (issuer, leaf *x509.Certificate) {
	t.Helper()
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	subject := DefaultSubjectForTest()
	subject.CommonName = "Signet Root CA"
	root, err := pki.NewRoot(key, subject, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	lk, _ := pki.GenerateKey()
	subject.CommonName = "p"
	leaf, err = pki.CA{Cert: root, Signer: key}.IssueLeaf(pki.Template{Subject: subject, PublicKey: &lk.PublicKey,
		NotBefore: now, NotAfter: now.Add(time.Minute), CRLURL: "http://signet.test/crl/root.crl"})
	if err != nil {
		t.Fatal(err)
	}
	return root, leaf
}

// withExtensions re-encodes an OCSP request with request extensions.
func withExtensions(t testing.TB, der []byte, exts ...pkix.Extension) []byte {
	t.Helper()
	var req struct {
		TBS struct{ RequestList []asn1.RawValue }
	}
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		t.Fatal(err)
	}
	var out struct {
		TBS struct {
			RequestList []asn1.RawValue
			Extensions  []pkix.Extension `asn1:"explicit,tag:2"`
		}
	}
	out.TBS.RequestList, out.TBS.Extensions = req.TBS.RequestList, exts
	b, err := asn1.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func nonceExt(n []byte) pkix.Extension {
	v, _ := asn1.Marshal(n)
	return pkix.Extension{Id: oidOCSPNonce, Value: v}
}

func TestParseOCSPRequest(t *testing.T) {
	issuer, leaf := testCA(t)
	plain, err := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	sha256Req, _ := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
	zero := *leaf
	zero.SerialNumber = big.NewInt(0)
	zeroReq, _ := ocsp.CreateRequest(&zero, issuer, nil)
	cases := map[string]struct {
		der       []byte
		wantNonce []byte
		err       string
	}{
		"ok":                      {der: plain},
		"ok/sha256":               {der: sha256Req},
		"ok/nonce":                {der: withExtensions(t, plain, nonceExt([]byte("n"))), wantNonce: []byte("n")},
		"ok/other-extension":      {der: withExtensions(t, plain, pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}})},
		"fail/empty":              {der: nil, err: "asn1"},
		"fail/garbage":            {der: []byte("GET / HTTP/1.1"), err: "asn1"},
		"fail/trailing":           {der: append(append([]byte{}, plain...), 0), err: "trailing"},
		"fail/too-large":          {der: bytes.Repeat([]byte{0}, MaxOCSPRequest+1), err: "limit"},
		"fail/zero-serial":        {der: zeroReq, err: "positive"},
		"fail/nonce-empty":        {der: withExtensions(t, plain, nonceExt([]byte{})), err: "nonce"},
		"fail/nonce-33":           {der: withExtensions(t, plain, nonceExt(make([]byte, 33))), err: "nonce"},
		"fail/nonce-twice":        {der: withExtensions(t, plain, nonceExt([]byte("a")), nonceExt([]byte("b"))), err: "nonce"},
		"fail/nonce-not-octets":   {der: withExtensions(t, plain, pkix.Extension{Id: oidOCSPNonce, Value: []byte{5, 0}}), err: "nonce"},
		"fail/critical-extension": {der: withExtensions(t, plain, pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}), err: "critical"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := parseOCSPRequest(c.der)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.serial.Cmp(leaf.SerialNumber) != 0 || !r.matches(issuer) || r.matches(leaf) {
				t.Errorf("serial %v, matches issuer %v, matches leaf %v", r.serial, r.matches(issuer), r.matches(leaf))
			}
			var got []byte
			if r.nonce != nil {
				asn1.Unmarshal(r.nonce.Value, &got)
			}
			if !bytes.Equal(got, c.wantNonce) {
				t.Errorf("nonce %q, want %q", got, c.wantNonce)
			}
		})
	}
}

// FuzzParseOCSPRequest: any input parses or is refused with an error,
// never a panic; what parses names a positive serial and fits the limit.
// The seed corpus is in testdata/fuzz/FuzzParseOCSPRequest.
func FuzzParseOCSPRequest(f *testing.F) {
	issuer, leaf := testCA(f)
	plain, _ := ocsp.CreateRequest(leaf, issuer, nil)
	f.Add(plain)
	f.Add(withExtensions(f, plain, nonceExt([]byte("0123456789abcdef"))))
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := parseOCSPRequest(der)
		if err != nil {
			return
		}
		if len(der) > MaxOCSPRequest || r.serial == nil || r.serial.Sign() <= 0 || len(r.certID.FullBytes) == 0 {
			t.Fatalf("accepted %x: %+v", der, r)
		}
		r.matches(issuer)
	})
}
