package pki_test

import (
	"crypto/x509"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/signet/signet/internal/pki"
)

const ocspURL = "http://ocsp.signet.test/ocsp/signing-profiles/p1/1"

func TestOCSPURL(t *testing.T) {
	h := newHierarchy(t)
	tests := map[string]struct {
		url     string
		wantErr bool
	}{
		"ok":            {url: ocspURL},
		"ok/none":       {url: ""},
		"fail/https":    {url: "https://ocsp.signet.test/ocsp", wantErr: true},
		"fail/relative": {url: "/ocsp", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl := h.leafTemplate(&mustKey(t).PublicKey)
			tmpl.OCSPURL = tc.url
			leaf, err := h.inter.IssueLeaf(tmpl)
			if tc.wantErr {
				if !errors.Is(err, pki.ErrInvalidCRLURL) {
					t.Fatalf("IssueLeaf = %v, want ErrInvalidCRLURL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []string(nil)
			if tc.url != "" {
				want = []string{tc.url}
			}
			if !slices.Equal(leaf.OCSPServer, want) {
				t.Errorf("OCSPServer = %v, want %v", leaf.OCSPServer, want)
			}
		})
	}
}

func TestIssueOCSPResponder(t *testing.T) {
	h := newHierarchy(t)
	key := mustKey(t)
	tmpl := h.leafTemplate(&key.PublicKey)
	tmpl.OCSPURL = ocspURL // ignored: a responder needs no responder
	cert, err := h.inter.IssueOCSPResponder(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if cert.IsCA || cert.KeyUsage != x509.KeyUsageDigitalSignature || !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) || len(cert.OCSPServer) != 0 {
		t.Errorf("responder: CA %v, key usage %v, EKU %v, OCSP %v", cert.IsCA, cert.KeyUsage, cert.ExtKeyUsage, cert.OCSPServer)
	}
	nocheck := false
	for _, e := range cert.Extensions {
		if e.Id.Equal(pki.OIDOCSPNoCheck) {
			nocheck = !e.Critical && string(e.Value) == "\x05\x00"
		}
	}
	if !nocheck {
		t.Error("no non-critical id-pkix-ocsp-nocheck extension with a NULL value")
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(h.root.Cert)
	inters.AddCert(h.inter.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: h.now.Add(time.Minute), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}); err != nil {
		t.Errorf("responder chain does not verify for OCSPSigning: %v", err)
	}
	if err := cert.CheckSignatureFrom(h.inter.Cert); err != nil {
		t.Errorf("not signed by its issuer: %v", err)
	}
}
