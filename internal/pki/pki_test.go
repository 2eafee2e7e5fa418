package pki_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	notationx509 "github.com/notaryproject/notation-core-go/x509"

	"github.com/signet/signet/internal/pki"
)

const crlURL = "http://crl.signet.test/profiles/p1/1.crl"

var (
	oidSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidCRLDistPoints    = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
)

func subject(cn string) pki.Name {
	return pki.Name{
		Country:            "US",
		Province:           "WA",
		Locality:           "Seattle",
		Organization:       "Signet",
		OrganizationalUnit: "123456789012",
		CommonName:         cn,
	}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hierarchy is a root and an intermediate CA for tests.
type hierarchy struct {
	root, inter pki.CA
	now         time.Time
}

func newHierarchy(t testing.TB) hierarchy {
	t.Helper()
	now := time.Now()
	rootKey := mustKey(t)
	root, err := pki.NewRoot(rootKey, subject("Signet Root CA"), now.Add(-time.Hour), now.Add(20*365*24*time.Hour))
	if err != nil {
		t.Fatalf("NewRoot: %v", err)
	}
	rootCA := pki.CA{Cert: root, Signer: rootKey}
	interKey := mustKey(t)
	inter, err := rootCA.IssueIntermediate(pki.Template{
		Subject:   subject("Signet profile p1 version 1"),
		PublicKey: &interKey.PublicKey,
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(5 * 365 * 24 * time.Hour),
		CRLURL:    crlURL,
	})
	if err != nil {
		t.Fatalf("IssueIntermediate: %v", err)
	}
	return hierarchy{root: rootCA, inter: pki.CA{Cert: inter, Signer: interKey}, now: now}
}

func (h hierarchy) leafTemplate(pub crypto.PublicKey) pki.Template {
	return pki.Template{
		Subject:   subject("signing job 0f3c"),
		PublicKey: pub,
		NotBefore: h.now.Add(-5 * time.Minute),
		NotAfter:  h.now.Add(24 * time.Hour),
		CRLURL:    crlURL,
	}
}

func TestChainVerifies(t *testing.T) {
	h := newHierarchy(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  crypto.PublicKey
	}{
		{name: "ok/P-384 leaf", pub: &mustKey(t).PublicKey},
		{name: "ok/P-256 leaf", pub: &p256.PublicKey},
		{name: "ok/RSA-2048 leaf", pub: &rsaKey.PublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := h.inter.IssueLeaf(h.leafTemplate(tt.pub))
			if err != nil {
				t.Fatalf("IssueLeaf: %v", err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(h.root.Cert)
			inters := x509.NewCertPool()
			inters.AddCert(h.inter.Cert)
			chains, err := leaf.Verify(x509.VerifyOptions{
				Roots:         roots,
				Intermediates: inters,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
				CurrentTime:   h.now,
			})
			if err != nil {
				t.Fatalf("x509 Verify: %v", err)
			}
			if len(chains) != 1 || len(chains[0]) != 3 {
				t.Fatalf("chains = %d of length %d, want one of length 3", len(chains), len(chains[0]))
			}
			chain := []*x509.Certificate{leaf, h.inter.Cert, h.root.Cert}
			signingTime := h.now
			if err := notationx509.ValidateCodeSigningCertChain(chain, &signingTime); err != nil {
				t.Fatalf("ValidateCodeSigningCertChain: %v", err)
			}
			// Sanity check that the validator is not vacuous: a signing
			// time after the leaf expired is refused.
			late := h.now.Add(48 * time.Hour)
			if err := notationx509.ValidateCodeSigningCertChain(chain, &late); err == nil {
				t.Fatal("ValidateCodeSigningCertChain accepted a signing time after the leaf expired")
			}
		})
	}
}

// ext returns the extension with the given OID, failing t if it is absent.
func ext(t *testing.T, c *x509.Certificate, oid asn1.ObjectIdentifier, name string) (critical bool) {
	t.Helper()
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Critical
		}
	}
	t.Fatalf("%s extension missing", name)
	return false
}

func hasExt(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	return slices.ContainsFunc(c.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oid) })
}

func TestCertificateProfiles(t *testing.T) {
	h := newHierarchy(t)
	leafKey := mustKey(t)
	tmpl := h.leafTemplate(&leafKey.PublicKey)
	leaf, err := h.inter.IssueLeaf(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		cert        *x509.Certificate
		issuer      *x509.Certificate // nil for the root
		ca          bool
		maxPathLen  int
		keyUsage    x509.KeyUsage
		extKeyUsage []x509.ExtKeyUsage
	}{
		{name: "ok/root", cert: h.root.Cert, ca: true, maxPathLen: 1, keyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign},
		{name: "ok/intermediate", cert: h.inter.Cert, issuer: h.root.Cert, ca: true, maxPathLen: 0, keyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign},
		{name: "ok/leaf", cert: leaf, issuer: h.inter.Cert, ca: false, maxPathLen: -1, keyUsage: x509.KeyUsageDigitalSignature, extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cert
			if c.Version != 3 {
				t.Errorf("version = %d, want 3", c.Version)
			}
			if c.SignatureAlgorithm != x509.ECDSAWithSHA384 {
				t.Errorf("signature algorithm = %s, want ECDSA-SHA384", c.SignatureAlgorithm)
			}
			if !ext(t, c, oidBasicConstraints, "basicConstraints") {
				t.Error("basicConstraints not critical")
			}
			if !c.BasicConstraintsValid || c.IsCA != tt.ca {
				t.Errorf("basicConstraints CA = %v (valid %v), want %v", c.IsCA, c.BasicConstraintsValid, tt.ca)
			}
			if c.MaxPathLen != tt.maxPathLen || c.MaxPathLenZero != (tt.ca && tt.maxPathLen == 0) {
				t.Errorf("pathLen = %d (zero %v), want %d", c.MaxPathLen, c.MaxPathLenZero, tt.maxPathLen)
			}
			if !ext(t, c, oidKeyUsage, "keyUsage") {
				t.Error("keyUsage not critical")
			}
			if c.KeyUsage != tt.keyUsage {
				t.Errorf("keyUsage = %b, want %b", c.KeyUsage, tt.keyUsage)
			}
			if len(tt.extKeyUsage) > 0 {
				if ext(t, c, oidExtKeyUsage, "extKeyUsage") {
					t.Error("extKeyUsage critical, want non-critical")
				}
			} else if hasExt(c, oidExtKeyUsage) {
				t.Error("CA certificate carries extKeyUsage")
			}
			if !slices.Equal(c.ExtKeyUsage, tt.extKeyUsage) || len(c.UnknownExtKeyUsage) != 0 {
				t.Errorf("extKeyUsage = %v %v, want %v", c.ExtKeyUsage, c.UnknownExtKeyUsage, tt.extKeyUsage)
			}
			ext(t, c, oidSubjectKeyID, "subjectKeyIdentifier")
			if len(c.SubjectKeyId) != 20 {
				t.Errorf("subjectKeyId is %d bytes, want 20", len(c.SubjectKeyId))
			}
			if tt.issuer == nil {
				if hasExt(c, oidAuthorityKeyID) || hasExt(c, oidCRLDistPoints) {
					t.Error("root carries authorityKeyId or CRL distribution points")
				}
				if err := c.CheckSignatureFrom(c); err != nil {
					t.Errorf("root is not self-signed: %v", err)
				}
			} else {
				ext(t, c, oidAuthorityKeyID, "authorityKeyIdentifier")
				if string(c.AuthorityKeyId) != string(tt.issuer.SubjectKeyId) {
					t.Error("authorityKeyId does not match the issuer's subjectKeyId")
				}
				ext(t, c, oidCRLDistPoints, "cRLDistributionPoints")
				if !slices.Equal(c.CRLDistributionPoints, []string{crlURL}) {
					t.Errorf("CRL distribution points = %v, want [%s]", c.CRLDistributionPoints, crlURL)
				}
				if err := c.CheckSignatureFrom(tt.issuer); err != nil {
					t.Errorf("not signed by issuer: %v", err)
				}
			}
			s := c.Subject
			if len(s.Country) != 1 || len(s.Province) != 1 || len(s.Organization) != 1 {
				t.Errorf("subject %q lacks C, ST or O", s)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 127 || c.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %x: want positive, 64 to 127 bits", c.SerialNumber)
			}
		})
	}
	if !leaf.NotBefore.Equal(tmpl.NotBefore.Truncate(time.Second)) || !leaf.NotAfter.Equal(tmpl.NotAfter.Truncate(time.Second)) {
		t.Errorf("leaf validity = %s..%s, want %s..%s", leaf.NotBefore, leaf.NotAfter, tmpl.NotBefore, tmpl.NotAfter)
	}
	if !leafKey.PublicKey.Equal(leaf.PublicKey) {
		t.Error("leaf certifies another key")
	}
}

func TestSerialsDiffer(t *testing.T) {
	h := newHierarchy(t)
	pub := &mustKey(t).PublicKey
	seen := map[string]bool{}
	for range 50 {
		c, err := h.inter.IssueLeaf(h.leafTemplate(pub))
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.SerialNumber.String()] {
			t.Fatalf("serial %x issued twice", c.SerialNumber)
		}
		seen[c.SerialNumber.String()] = true
	}
}

func TestNotBeforeRaisedToIssuer(t *testing.T) {
	h := newHierarchy(t)
	tmpl := h.leafTemplate(&mustKey(t).PublicKey)
	tmpl.NotBefore = h.inter.Cert.NotBefore.Add(-24 * time.Hour)
	leaf, err := h.inter.IssueLeaf(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.NotBefore.Equal(h.inter.Cert.NotBefore) {
		t.Errorf("NotBefore = %s, want the issuer's %s", leaf.NotBefore, h.inter.Cert.NotBefore)
	}
}

func TestIssueFailures(t *testing.T) {
	h := newHierarchy(t)
	pub := &mustKey(t).PublicKey
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafCert, err := h.inter.IssueLeaf(h.leafTemplate(pub))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		issue   func(pki.CA, pki.Template) (*x509.Certificate, error)
		ca      pki.CA
		mod     func(*pki.Template)
		wantIs  error
		wantErr string
	}{
		{name: "ok/leaf", issue: pki.CA.IssueLeaf, ca: h.inter},
		{name: "ok/intermediate", issue: pki.CA.IssueIntermediate, ca: h.root},
		{name: "ok/NotAfter equal to issuer's", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.NotAfter = h.inter.Cert.NotAfter }},
		{name: "fail/subject without ST", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.Subject.Province = "" }, wantIs: pki.ErrInvalidName, wantErr: "province (ST) is required"},
		{name: "fail/subject without O", issue: pki.CA.IssueIntermediate, ca: h.root,
			mod: func(t *pki.Template) { t.Subject.Organization = "" }, wantIs: pki.ErrInvalidName, wantErr: "organization (O) is required"},
		{name: "fail/subject with three-letter country", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.Subject.Country = "USA" }, wantIs: pki.ErrInvalidName, wantErr: "country (C)"},
		{name: "fail/https CRL URL", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.CRLURL = "https://crl.signet.test/1.crl" }, wantIs: pki.ErrInvalidCRLURL, wantErr: "must use http://"},
		{name: "fail/https CRL URL on intermediate", issue: pki.CA.IssueIntermediate, ca: h.root,
			mod: func(t *pki.Template) { t.CRLURL = "https://crl.signet.test/1.crl" }, wantIs: pki.ErrInvalidCRLURL, wantErr: "must use http://"},
		{name: "fail/empty CRL URL", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.CRLURL = "" }, wantIs: pki.ErrInvalidCRLURL, wantErr: "CRL URL is required"},
		{name: "fail/ldap CRL URL", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.CRLURL = "ldap://crl.signet.test/cn=crl" }, wantIs: pki.ErrInvalidCRLURL},
		{name: "fail/CRL URL without host", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.CRLURL = "http:///1.crl" }, wantIs: pki.ErrInvalidCRLURL, wantErr: "http://host/path"},
		{name: "fail/relative CRL URL", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.CRLURL = "/crl/1.crl" }, wantIs: pki.ErrInvalidCRLURL},
		{name: "fail/NotAfter beyond issuer", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.NotAfter = h.inter.Cert.NotAfter.Add(time.Second) }, wantIs: pki.ErrBeyondIssuer, wantErr: "is after issuer"},
		{name: "fail/intermediate NotAfter beyond root", issue: pki.CA.IssueIntermediate, ca: h.root,
			mod: func(t *pki.Template) { t.NotAfter = h.root.Cert.NotAfter.Add(time.Hour) }, wantIs: pki.ErrBeyondIssuer},
		{name: "fail/NotBefore equals NotAfter", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.NotBefore = t.NotAfter }, wantIs: pki.ErrInvalidValidity, wantErr: "is not before NotAfter"},
		{name: "fail/NotAfter before issuer NotBefore", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) {
				t.NotBefore = h.inter.Cert.NotBefore.Add(-2 * time.Hour)
				t.NotAfter = h.inter.Cert.NotBefore.Add(-time.Hour)
			}, wantIs: pki.ErrInvalidValidity},
		{name: "fail/P-521 key", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.PublicKey = &p521.PublicKey }, wantIs: pki.ErrUnsupportedKey, wantErr: "curve P-521"},
		{name: "fail/RSA-1024 key", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.PublicKey = &rsa1024.PublicKey }, wantIs: pki.ErrUnsupportedKey, wantErr: "RSA key of 1024 bits"},
		{name: "fail/Ed25519 key", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.PublicKey = edPub }, wantIs: pki.ErrUnsupportedKey, wantErr: "ed25519.PublicKey"},
		{name: "fail/private key instead of public", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.PublicKey = p521 }, wantIs: pki.ErrUnsupportedKey},
		{name: "fail/nil key", issue: pki.CA.IssueLeaf, ca: h.inter,
			mod: func(t *pki.Template) { t.PublicKey = nil }, wantIs: pki.ErrUnsupportedKey},
		{name: "fail/intermediate from path length 0 issuer", issue: pki.CA.IssueIntermediate, ca: h.inter,
			wantIs: pki.ErrInvalidIssuer, wantErr: "path length 0"},
		{name: "fail/leaf as issuer", issue: pki.CA.IssueLeaf, ca: pki.CA{Cert: leafCert, Signer: h.inter.Signer},
			wantIs: pki.ErrInvalidIssuer, wantErr: "not a CA certificate"},
		{name: "fail/signer does not match issuer", issue: pki.CA.IssueLeaf, ca: pki.CA{Cert: h.inter.Cert, Signer: h.root.Signer},
			wantIs: pki.ErrInvalidIssuer, wantErr: "does not match"},
		{name: "fail/empty CA", issue: pki.CA.IssueLeaf, ca: pki.CA{}, wantIs: pki.ErrInvalidIssuer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := h.leafTemplate(pub)
			if tt.mod != nil {
				tt.mod(&tmpl)
			}
			cert, err := tt.issue(tt.ca, tmpl)
			if tt.wantIs == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if cert == nil {
					t.Fatal("nil certificate")
				}
				return
			}
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("error = %v, want %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
			if cert != nil {
				t.Fatal("certificate returned with an error")
			}
		})
	}
}

func TestNewRoot(t *testing.T) {
	now := time.Now()
	key := mustKey(t)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		key       crypto.Signer
		subject   pki.Name
		notBefore time.Time
		notAfter  time.Time
		wantIs    error
	}{
		{name: "ok/P-384", key: key, subject: subject("root"), notBefore: now, notAfter: now.Add(time.Hour)},
		{name: "ok/P-256", key: p256, subject: subject("root"), notBefore: now, notAfter: now.Add(time.Hour)},
		{name: "ok/NotAfter after 2049 (GeneralizedTime)", key: key, subject: subject("root"), notBefore: now, notAfter: time.Date(2060, 1, 1, 0, 0, 0, 0, time.UTC)},
		{name: "fail/subject without country", key: key, subject: pki.Name{Province: "WA", Organization: "Signet"}, notBefore: now, notAfter: now.Add(time.Hour), wantIs: pki.ErrInvalidName},
		{name: "fail/NotAfter before NotBefore", key: key, subject: subject("root"), notBefore: now, notAfter: now.Add(-time.Hour), wantIs: pki.ErrInvalidValidity},
		{name: "fail/NotAfter within the same second", key: key, subject: subject("root"), notBefore: now.Truncate(time.Second), notAfter: now.Truncate(time.Second).Add(500 * time.Millisecond), wantIs: pki.ErrInvalidValidity},
		{name: "fail/P-521 key", key: p521, subject: subject("root"), notBefore: now, notAfter: now.Add(time.Hour), wantIs: pki.ErrUnsupportedKey},
		{name: "fail/nil key", key: nil, subject: subject("root"), notBefore: now, notAfter: now.Add(time.Hour), wantIs: pki.ErrUnsupportedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := pki.NewRoot(tt.key, tt.subject, tt.notBefore, tt.notAfter)
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("error = %v, want %v", err, tt.wantIs)
			}
			if err != nil {
				return
			}
			if !cert.IsCA || !tt.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
				t.Fatal("root is not a CA certificate for the key")
			}
		})
	}
}

func BenchmarkIssueLeaf(b *testing.B) {
	h := newHierarchy(b)
	b.Run("keygen+issue", func(b *testing.B) {
		for b.Loop() {
			k, err := pki.GenerateKey()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.inter.IssueLeaf(h.leafTemplate(&k.PublicKey)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("issue", func(b *testing.B) {
		pub := &mustKey(b).PublicKey
		for b.Loop() {
			if _, err := h.inter.IssueLeaf(h.leafTemplate(pub)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
