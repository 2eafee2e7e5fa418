package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/pki"
)

// RootValidity is how long the installation root CA is valid.
const RootValidity = 25 * 365 * 24 * time.Hour

// clockSkew backdates certificates so that verifiers with slow clocks
// accept them at once.
const clockSkew = 5 * time.Minute

// Authority is the installation's PKI: the root CA, one intermediate CA
// per profile version, and per-signature leaf certificates.
//
// Every certificate carries the installation's C, ST, L and O. A leaf's
// subject adds OU = the account id and CN = the profile name, so a
// Notation trusted identity names one profile of one installation (see
// SignerIdentity).
type Authority struct {
	Keys    keys.KeyStore
	Root    pki.CA
	Account arn.Account
	BaseURL string // public base URL of the CRL and OCSP endpoints, http://
}

var _ Issuer = (*Authority)(nil)

// NewRoot creates the installation root CA: a new key in ks and a
// self-signed certificate with subject base + CN "Signet Root CA".
func NewRoot(ctx context.Context, ks keys.KeyStore, base pki.Name, now time.Time) (keyID string, cert *x509.Certificate, err error) {
	keyID, _, err = ks.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		return "", nil, fmt.Errorf("failed to create root key: %w", err)
	}
	cert, err = NewRootWithKey(ctx, ks, keyID, base, now)
	return keyID, cert, err
}

// NewRootWithKey creates the installation root CA's self-signed
// certificate for an existing key of ks, such as one an operator made on
// a PKCS#11 token.
func NewRootWithKey(ctx context.Context, ks keys.KeyStore, keyID string, base pki.Name, now time.Time) (*x509.Certificate, error) {
	signer, err := ks.Signer(ctx, keyID)
	if err != nil {
		return nil, fmt.Errorf("failed to load root key: %w", err)
	}
	subject := base
	subject.OrganizationalUnit, subject.CommonName = "", "Signet Root CA"
	cert, err := pki.NewRoot(signer, subject, now.Add(-clockSkew), now.Add(RootValidity))
	if err != nil {
		return nil, fmt.Errorf("failed to create root certificate: %w", err)
	}
	return cert, nil
}

// BaseSubject is the C, ST, L and O of a certificate issued by Signet.
func BaseSubject(n pkix.Name) pki.Name {
	first := func(s []string) string {
		if len(s) == 0 {
			return ""
		}
		return s[0]
	}
	return pki.Name{Country: first(n.Country), Province: first(n.Province), Locality: first(n.Locality), Organization: first(n.Organization)}
}

// SignerIdentity is the subject of the leaf certificates of a profile:
// the root's C, ST, L, O plus OU = account id and CN = profile name.
// Its IdentityString is the Notation trusted identity for the profile.
func SignerIdentity(root *x509.Certificate, account, profile string) pki.Name {
	n := BaseSubject(root.Subject)
	n.OrganizationalUnit, n.CommonName = account, profile
	return n
}

// RootCRLURL is the CRL distribution point of certificates the root issues.
func (a *Authority) RootCRLURL() string { return strings.TrimSuffix(a.BaseURL, "/") + "/crl/root.crl" }

// ProfileCRLURL is the CRL distribution point of leaves issued by a
// profile version's intermediate CA.
func (a *Authority) ProfileCRLURL(name, version string) string {
	return strings.TrimSuffix(a.BaseURL, "/") + "/crl/signing-profiles/" + url.PathEscape(name) + "/" + url.PathEscape(version) + ".crl"
}

// IssueProfileCA implements Issuer: a new P-384 key in the key store and
// an intermediate certificate under the root, valid as long as the root.
func (a *Authority) IssueProfileCA(ctx context.Context, name, version string, at time.Time) (string, []byte, error) {
	keyID, pub, err := a.Keys.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		return "", nil, fmt.Errorf("failed to create profile key: %w", err)
	}
	subject := BaseSubject(a.Root.Cert.Subject)
	subject.OrganizationalUnit = a.Account.ID
	subject.CommonName = truncate("Signet "+version+" "+name, 64)
	cert, err := a.Root.IssueIntermediate(pki.Template{
		Subject:   subject,
		PublicKey: pub,
		NotBefore: at.Add(-clockSkew),
		NotAfter:  a.Root.Cert.NotAfter,
		CRLURL:    a.RootCRLURL(),
		OCSPURL:   a.RootOCSPURL(name, version),
	})
	if err != nil {
		return "", nil, fmt.Errorf("failed to issue profile certificate: %w", err)
	}
	return keyID, cert.Raw, nil
}

// LeafRequest asks for one signature's certificate.
type LeafRequest struct {
	Version   Version          // the profile version whose CA issues it
	PublicKey crypto.PublicKey // the signature's fresh key
	NotBefore time.Time
	NotAfter  time.Time
}

// IssueLeaf issues a signature's leaf certificate under the profile
// version's intermediate CA, returning the chain leaf, intermediate, root.
func (a *Authority) IssueLeaf(ctx context.Context, req LeafRequest) ([]*x509.Certificate, error) {
	inter, err := x509.ParseCertificate(req.Version.Certificate)
	if err != nil {
		return nil, fmt.Errorf("failed to parse profile certificate: %w", err)
	}
	signer, err := a.Keys.Signer(ctx, req.Version.KeyID)
	if err != nil {
		return nil, fmt.Errorf("failed to load profile key: %w", err)
	}
	ca := pki.CA{Cert: inter, Signer: signer}
	leaf, err := ca.IssueLeaf(pki.Template{
		Subject:   SignerIdentity(a.Root.Cert, a.Account.ID, req.Version.ProfileName),
		PublicKey: req.PublicKey,
		NotBefore: req.NotBefore.Add(-clockSkew),
		NotAfter:  req.NotAfter,
		CRLURL:    a.ProfileCRLURL(req.Version.ProfileName, req.Version.Version),
		OCSPURL:   a.ProfileOCSPURL(req.Version.ProfileName, req.Version.Version),
	})
	if err != nil {
		return nil, fmt.Errorf("failed to issue leaf certificate: %w", err)
	}
	return []*x509.Certificate{leaf, inter, a.Root.Cert}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// BaseSubjectIdentity is the Notation trusted identity naming the signer
// of a leaf certificate Signet issued: its full subject.
func BaseSubjectIdentity(leaf *x509.Certificate) string {
	n := BaseSubject(leaf.Subject)
	if len(leaf.Subject.OrganizationalUnit) > 0 {
		n.OrganizationalUnit = leaf.Subject.OrganizationalUnit[0]
	}
	n.CommonName = leaf.Subject.CommonName
	return n.IdentityString()
}

// DefaultSubjectForTest is a valid installation subject for tests and
// benchmarks outside this package.
func DefaultSubjectForTest() pki.Name {
	return pki.Name{Country: "US", Province: "Washington", Locality: "Seattle", Organization: "Signet"}
}
