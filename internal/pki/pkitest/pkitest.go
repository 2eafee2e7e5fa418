// Package pkitest is an in-memory certificate authority for tests: a root
// and an intermediate CA with fresh ECDSA P-384 keys, issuing code-signing
// leaf certificates through package pki.
package pkitest

import (
	"crypto/ecdsa"
	"crypto/x509"
	"testing"
	"time"

	"github.com/signet/signet/internal/pki"
)

// CRLURL is the CRL distribution point of the certificates an Authority
// issues.
const CRLURL = "http://crl.signet.test/pkitest.crl"

// Validity periods, measured from the time New or IssueLeaf is called.
const (
	Backdate             = time.Hour // NotBefore is this far in the past
	RootLifetime         = 10 * 365 * 24 * time.Hour
	IntermediateLifetime = 5 * 365 * 24 * time.Hour
	LeafLifetime         = 24 * time.Hour
)

// Authority is a root CA and an intermediate CA that issues leaves.
type Authority struct {
	Root         pki.CA
	Intermediate pki.CA
}

// Subject returns a valid subject with the given common name:
// C=US, ST=WA, L=Seattle, O=Signet Test, CN=commonName.
func Subject(commonName string) pki.Name {
	return pki.Name{
		Country:      "US",
		Province:     "WA",
		Locality:     "Seattle",
		Organization: "Signet Test",
		CommonName:   commonName,
	}
}

// New returns an Authority with a fresh root and intermediate. It fails tb
// on error.
func New(tb testing.TB) *Authority {
	tb.Helper()
	now := time.Now()
	rootKey := generateKey(tb)
	root, err := pki.NewRoot(rootKey, Subject("Signet Test Root CA"), now.Add(-Backdate), now.Add(RootLifetime))
	if err != nil {
		tb.Fatalf("pkitest: root: %v", err)
	}
	rootCA := pki.CA{Cert: root, Signer: rootKey}
	interKey := generateKey(tb)
	inter, err := rootCA.IssueIntermediate(pki.Template{
		Subject:   Subject("Signet Test Intermediate CA"),
		PublicKey: &interKey.PublicKey,
		NotBefore: now.Add(-Backdate),
		NotAfter:  now.Add(IntermediateLifetime),
		CRLURL:    CRLURL,
	})
	if err != nil {
		tb.Fatalf("pkitest: intermediate: %v", err)
	}
	return &Authority{Root: rootCA, Intermediate: pki.CA{Cert: inter, Signer: interKey}}
}

// IssueLeaf issues a code-signing certificate for subject and a fresh P-384
// key from the intermediate, valid from Backdate ago for LeafLifetime, and
// returns it with its key. It fails tb on error.
func (a *Authority) IssueLeaf(tb testing.TB, subject pki.Name) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key := generateKey(tb)
	now := time.Now()
	cert, err := a.Intermediate.IssueLeaf(pki.Template{
		Subject:   subject,
		PublicKey: &key.PublicKey,
		NotBefore: now.Add(-Backdate),
		NotAfter:  now.Add(LeafLifetime),
		CRLURL:    CRLURL,
	})
	if err != nil {
		tb.Fatalf("pkitest: leaf: %v", err)
	}
	return cert, key
}

// Chain returns leaf, the intermediate and the root, the order Notary
// Project signatures carry.
func (a *Authority) Chain(leaf *x509.Certificate) []*x509.Certificate {
	return []*x509.Certificate{leaf, a.Intermediate.Cert, a.Root.Cert}
}

// Roots returns a pool holding the root certificate.
func (a *Authority) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Root.Cert)
	return p
}

// Intermediates returns a pool holding the intermediate certificate.
func (a *Authority) Intermediates() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Intermediate.Cert)
	return p
}

func generateKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := pki.GenerateKey()
	if err != nil {
		tb.Fatalf("pkitest: %v", err)
	}
	return k
}
