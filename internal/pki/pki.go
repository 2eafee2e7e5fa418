// Package pki is Signet's certificate authority. It issues the X.509
// certificates behind Notary Project signatures so that notation and
// notation-go verify them.
//
// # Hierarchy
//
//   - one root CA per installation, self-signed ([NewRoot]);
//   - one intermediate CA per signing-profile version ([CA.IssueIntermediate]);
//   - one leaf certificate per signature, for a fresh key that is discarded
//     after signing ([CA.IssueLeaf], [GenerateKey]);
//   - per issuing CA, a delegated OCSP responder certificate
//     ([CA.IssueOCSPResponder]).
//
// Signet's own keys are ECDSA P-384 and its certificates are signed with
// ECDSA-SHA384. Certified public keys may also be ECDSA P-256 or RSA with
// 2048, 3072 or 4096 bits.
//
// # Profiles
//
// The certificates meet the Notary Project signature specification's
// certificate requirements (as checked by notation-core-go's
// ValidateCodeSigningCertChain) and verify with crypto/x509 for
// ExtKeyUsageCodeSigning:
//
//	                    root                  intermediate             leaf
//	basicConstraints    critical, CA,         critical, CA,            critical, not CA
//	                    pathLen 1             pathLen 0
//	keyUsage            critical, keyCertSign|cRLSign                  critical, digitalSignature
//	extKeyUsage         -                     -                        codeSigning
//	subjectKeyId        yes                   yes                      yes
//	authorityKeyId      -                     yes                      yes
//	CRL distribution    -                     http:// URL              http:// URL
//	AIA OCSP            -                     http:// URL              http:// URL
//	serial              random, positive, up to 127 bits
//
// Every subject carries C, ST and O. Issued certificates nest within their
// issuer's validity: a NotBefore earlier than the issuer's is raised to it,
// and a NotAfter later than the issuer's is an error.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// Sentinel errors. Functions return them wrapped with details; test with
// errors.Is.
var (
	// ErrInvalidName: a subject name is incomplete or malformed.
	ErrInvalidName = errors.New("invalid subject name")
	// ErrInvalidValidity: NotBefore is not before NotAfter.
	ErrInvalidValidity = errors.New("invalid validity period")
	// ErrBeyondIssuer: the certificate would outlive its issuer.
	ErrBeyondIssuer = errors.New("validity extends beyond the issuer's")
	// ErrInvalidCRLURL: the CRL distribution point is not an http:// URL.
	ErrInvalidCRLURL = errors.New("invalid CRL distribution point URL")
	// ErrUnsupportedKey: the key is not ECDSA P-256/P-384 or RSA 2048/3072/4096.
	ErrUnsupportedKey = errors.New("unsupported key")
	// ErrInvalidIssuer: the CA cannot issue the requested certificate.
	ErrInvalidIssuer = errors.New("invalid issuer")
)

// GenerateKey returns a fresh ECDSA P-384 key, the key type of every Signet
// CA and signing certificate.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate P-384 key: %w", err)
	}
	return k, nil
}

// CA is an issuing certificate authority: its certificate and the signer
// for the certificate's key.
type CA struct {
	Cert   *x509.Certificate
	Signer crypto.Signer
}

// Template describes a certificate to issue.
type Template struct {
	Subject   Name
	PublicKey crypto.PublicKey // *ecdsa.PublicKey (P-256, P-384) or *rsa.PublicKey (2048, 3072, 4096 bits)
	NotBefore time.Time
	NotAfter  time.Time
	// CRLURL is the CRL distribution point, an http:// URL (verifiers
	// fetch only http:// CRLs).
	CRLURL string
	// OCSPURL, if set, is the OCSP responder named in the Authority
	// Information Access extension, an http:// URL (verifiers query only
	// http:// responders).
	OCSPURL string
}

// NewRoot returns a self-signed root CA certificate for key: basic
// constraints CA with path length 1, key usage keyCertSign|cRLSign.
func NewRoot(key crypto.Signer, subject Name, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	return newRoot(key, subject, notBefore, notAfter, func(*x509.Certificate) {})
}

// NewServerRoot returns a self-signed CA certificate for TLS server (and
// client) certificates only: path length 0 (it issues no CA) and an
// extended key usage of serverAuth and clientAuth, which verifiers apply
// to everything under it, so that nothing it signs can pass as code
// signing or time stamping.
func NewServerRoot(key crypto.Signer, subject Name, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	return newRoot(key, subject, notBefore, notAfter, func(c *x509.Certificate) {
		c.MaxPathLen, c.MaxPathLenZero = 0, true
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	})
}

func newRoot(key crypto.Signer, subject Name, notBefore, notAfter time.Time, adjust func(*x509.Certificate)) (*x509.Certificate, error) {
	if key == nil {
		return nil, fmt.Errorf("root key must not be nil: %w", ErrUnsupportedKey)
	}
	pub := key.Public()
	if err := checkPublicKey(pub); err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	if err := subject.Validate(); err != nil {
		return nil, fmt.Errorf("root subject: %w", err)
	}
	notBefore, notAfter = notBefore.Truncate(time.Second), notAfter.Truncate(time.Second)
	if err := checkValidity(notBefore, notAfter); err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	skid, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject.ToPKIX(),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
		SubjectKeyId:          skid,
		SignatureAlgorithm:    signatureAlgorithm(pub),
	}
	adjust(tmpl)
	return create(tmpl, tmpl, pub, key)
}

// IssueIntermediate issues an intermediate CA certificate for t.PublicKey:
// basic constraints CA with path length 0, key usage keyCertSign|cRLSign,
// and t.CRLURL as CRL distribution point. The issuer must allow a path
// length of at least 1.
func (ca CA) IssueIntermediate(t Template) (*x509.Certificate, error) {
	if err := ca.check(); err != nil {
		return nil, err
	}
	if ca.Cert.MaxPathLen == 0 && ca.Cert.MaxPathLenZero {
		return nil, fmt.Errorf("issuer %q has path length 0 and cannot issue CA certificates: %w", ca.Cert.Subject, ErrInvalidIssuer)
	}
	tmpl, err := ca.template(t)
	if err != nil {
		return nil, fmt.Errorf("intermediate: %w", err)
	}
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	tmpl.IsCA = true
	tmpl.MaxPathLen = 0
	tmpl.MaxPathLenZero = true
	return create(tmpl, ca.Cert, t.PublicKey, ca.Signer)
}

// IssueLeaf issues a code-signing certificate for t.PublicKey: basic
// constraints not CA, key usage digitalSignature only, extended key usage
// codeSigning only, and t.CRLURL as CRL distribution point.
func (ca CA) IssueLeaf(t Template) (*x509.Certificate, error) {
	if err := ca.check(); err != nil {
		return nil, err
	}
	tmpl, err := ca.template(t)
	if err != nil {
		return nil, fmt.Errorf("leaf: %w", err)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	tmpl.IsCA = false
	return create(tmpl, ca.Cert, t.PublicKey, ca.Signer)
}

// IssueServer issues a TLS server certificate for t.PublicKey naming
// dnsNames and ips: not a CA, key usage digitalSignature, extended key
// usage serverAuth only.
func (ca CA) IssueServer(t Template, dnsNames []string, ips []net.IP) (*x509.Certificate, error) {
	if err := ca.check(); err != nil {
		return nil, err
	}
	if len(dnsNames) == 0 && len(ips) == 0 {
		return nil, errors.New("server: a TLS server certificate needs at least one DNS name or IP address")
	}
	tmpl, err := ca.template(t)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.DNSNames, tmpl.IPAddresses = dnsNames, ips
	tmpl.IsCA = false
	return create(tmpl, ca.Cert, t.PublicKey, ca.Signer)
}

// oidExtKeyUsage is the extended key usage extension.
var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// oidKPTimeStamping is id-kp-timeStamping.
var oidKPTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

// IssueTimestamping issues a time-stamping authority certificate for
// t.PublicKey: not a CA, key usage digitalSignature, and an extended key
// usage of timeStamping only, marked critical as RFC 3161 requires.
func (ca CA) IssueTimestamping(t Template) (*x509.Certificate, error) {
	if err := ca.check(); err != nil {
		return nil, err
	}
	tmpl, err := ca.template(t)
	if err != nil {
		return nil, fmt.Errorf("timestamping: %w", err)
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidKPTimeStamping})
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidExtKeyUsage, Critical: true, Value: eku})
	tmpl.IsCA = false
	return create(tmpl, ca.Cert, t.PublicKey, ca.Signer)
}

// OIDOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 section 4.2.2.2.1):
// a verifier need not check the revocation of the responder certificate
// that carries it.
var OIDOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// IssueOCSPResponder issues a delegated OCSP responder certificate for
// t.PublicKey (RFC 6960 section 4.2.2.2): not a CA, key usage
// digitalSignature, extended key usage OCSPSigning only, and the
// id-pkix-ocsp-nocheck extension. Its responses speak for ca's
// certificates only. t.OCSPURL is ignored; t.CRLURL is kept.
func (ca CA) IssueOCSPResponder(t Template) (*x509.Certificate, error) {
	if err := ca.check(); err != nil {
		return nil, err
	}
	t.OCSPURL = ""
	tmpl, err := ca.template(t)
	if err != nil {
		return nil, fmt.Errorf("OCSP responder: %w", err)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDOCSPNoCheck, Value: asn1.NullBytes})
	tmpl.IsCA = false
	return create(tmpl, ca.Cert, t.PublicKey, ca.Signer)
}

// check reports whether ca can sign certificates.
func (ca CA) check() error {
	if ca.Cert == nil || ca.Signer == nil {
		return fmt.Errorf("issuer certificate and signer are required: %w", ErrInvalidIssuer)
	}
	if !ca.Cert.BasicConstraintsValid || !ca.Cert.IsCA {
		return fmt.Errorf("issuer %q is not a CA certificate: %w", ca.Cert.Subject, ErrInvalidIssuer)
	}
	if ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("issuer %q lacks the keyCertSign key usage: %w", ca.Cert.Subject, ErrInvalidIssuer)
	}
	pub, ok := ca.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(ca.Cert.PublicKey) {
		return fmt.Errorf("issuer signer's public key does not match the certificate of %q: %w", ca.Cert.Subject, ErrInvalidIssuer)
	}
	if err := checkPublicKey(ca.Cert.PublicKey); err != nil {
		return fmt.Errorf("issuer %q key: %w", ca.Cert.Subject, err)
	}
	return nil
}

// template validates t against the issuer and returns the common part of
// an issued certificate.
func (ca CA) template(t Template) (*x509.Certificate, error) {
	if err := t.Subject.Validate(); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	if err := checkPublicKey(t.PublicKey); err != nil {
		return nil, err
	}
	if err := checkCRLURL(t.CRLURL); err != nil {
		return nil, err
	}
	if t.OCSPURL != "" {
		if err := checkCRLURL(t.OCSPURL); err != nil {
			return nil, fmt.Errorf("OCSP URL: %w", err)
		}
	}
	notBefore, notAfter := t.NotBefore.Truncate(time.Second), t.NotAfter.Truncate(time.Second)
	if notAfter.After(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("NotAfter %s is after issuer %q NotAfter %s: %w",
			notAfter.UTC().Format(time.RFC3339), ca.Cert.Subject, ca.Cert.NotAfter.UTC().Format(time.RFC3339), ErrBeyondIssuer)
	}
	if notBefore.Before(ca.Cert.NotBefore) {
		notBefore = ca.Cert.NotBefore
	}
	if err := checkValidity(notBefore, notAfter); err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(t.PublicKey)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               t.Subject.ToPKIX(),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		SubjectKeyId:          skid,
		CRLDistributionPoints: []string{t.CRLURL},
		SignatureAlgorithm:    signatureAlgorithm(ca.Cert.PublicKey),
	}
	if t.OCSPURL != "" {
		tmpl.OCSPServer = []string{t.OCSPURL}
	}
	if len(ca.Cert.SubjectKeyId) == 0 {
		// crypto/x509 copies the issuer's SubjectKeyId into AuthorityKeyId;
		// compute it for an issuer certificate that has none.
		if tmpl.AuthorityKeyId, err = subjectKeyID(ca.Cert.PublicKey); err != nil {
			return nil, err
		}
	}
	return tmpl, nil
}

// create signs tmpl and parses the result.
func create(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("create certificate %q: %w", tmpl.Subject, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse created certificate %q: %w", tmpl.Subject, err)
	}
	return cert, nil
}

// checkPublicKey accepts ECDSA P-256/P-384 and RSA 2048/3072/4096.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k != nil && (k.Curve == elliptic.P384() || k.Curve == elliptic.P256()) {
			return nil
		}
		if k != nil && k.Curve != nil {
			return fmt.Errorf("ECDSA curve %s (want P-256 or P-384): %w", k.Curve.Params().Name, ErrUnsupportedKey)
		}
	case *rsa.PublicKey:
		if k != nil && k.N != nil {
			switch bits := k.N.BitLen(); bits {
			case 2048, 3072, 4096:
				return nil
			default:
				return fmt.Errorf("RSA key of %d bits (want 2048, 3072 or 4096): %w", bits, ErrUnsupportedKey)
			}
		}
	}
	return fmt.Errorf("key type %T (want ECDSA P-256/P-384 or RSA 2048/3072/4096): %w", pub, ErrUnsupportedKey)
}

// signatureAlgorithm returns the algorithm a CA with key pub signs with:
// ECDSA with the hash matching the curve, or SHA-256 with RSA (PKCS #1 v1.5).
func signatureAlgorithm(pub crypto.PublicKey) x509.SignatureAlgorithm {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return x509.ECDSAWithSHA256
		}
		return x509.ECDSAWithSHA384
	case *rsa.PublicKey:
		return x509.SHA256WithRSA
	}
	return x509.UnknownSignatureAlgorithm
}

// checkValidity requires notBefore < notAfter.
func checkValidity(notBefore, notAfter time.Time) error {
	if !notBefore.Before(notAfter) {
		return fmt.Errorf("NotBefore %s is not before NotAfter %s: %w",
			notBefore.UTC().Format(time.RFC3339), notAfter.UTC().Format(time.RFC3339), ErrInvalidValidity)
	}
	return nil
}

// checkCRLURL requires an absolute http:// URL with a host.
func checkCRLURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("CRL URL is required: %w", ErrInvalidCRLURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("CRL URL %q: %v: %w", raw, err, ErrInvalidCRLURL)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("CRL URL %q must use http:// (verifiers fetch only http CRLs), not %q: %w", raw, u.Scheme, ErrInvalidCRLURL)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("CRL URL %q must be http://host/path without user info or fragment: %w", raw, ErrInvalidCRLURL)
	}
	return nil
}

// newSerial returns a random positive serial number of up to 127 bits.
func newSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("generate serial number: %w", err)
		}
		b[0] &= 0x7f
		if s := new(big.Int).SetBytes(b); s.Sign() > 0 {
			return s, nil
		}
	}
}

// subjectKeyID computes a key identifier per RFC 7093 section 2 method 1:
// the leftmost 160 bits of the SHA-256 hash of the subjectPublicKey bits.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	sum := sha256.Sum256(info.PublicKey.Bytes)
	return sum[:20], nil
}
