package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/pki"
)

// OCSP (RFC 6960). Every certificate Signet issues for signing names a
// responder in its Authority Information Access extension:
//
//   - a profile version's intermediate CA: BASE/ocsp/root/NAME/VERSION,
//     answered for the root CA;
//   - a signature's leaf: BASE/ocsp/signing-profiles/NAME/VERSION,
//     answered for the version's CA.
//
// Each issuer signs its responses with a delegated responder certificate
// of its own (extended key usage OCSPSigning, id-pkix-ocsp-nocheck,
// ResponderValidity), whose key is in the key store. A response says
// exactly what the issuer's CRL says: the same revocation time, reason
// and invalidity date, and it is valid for as long (Service.CRLValidity).

// MaxOCSPRequest bounds an OCSP request, DER. A request for one
// certificate with a nonce is about 120 bytes.
const MaxOCSPRequest = 4096

// ResponderValidity is how long a delegated OCSP responder certificate is
// valid. A new one is issued when half of it has passed.
const ResponderValidity = 7 * 24 * time.Hour

// RootOCSPURL is the OCSP responder of a profile version's intermediate
// CA certificate (issued by the root).
func (a *Authority) RootOCSPURL(name, version string) string {
	return strings.TrimSuffix(a.BaseURL, "/") + "/ocsp/root/" + url.PathEscape(name) + "/" + url.PathEscape(version)
}

// ProfileOCSPURL is the OCSP responder of the leaf certificates a profile
// version's intermediate CA issues.
func (a *Authority) ProfileOCSPURL(name, version string) string {
	return strings.TrimSuffix(a.BaseURL, "/") + "/ocsp/signing-profiles/" + url.PathEscape(name) + "/" + url.PathEscape(version)
}

// ResponderStore is the optional capability of a Store to keep each
// issuer's OCSP responder, so that it is reused across restarts and
// nodes. Without it, responders live in memory.
type ResponderStore interface {
	// OCSPResponder returns the key id and certificate (DER) of the
	// issuer's responder, or ErrNotFound.
	OCSPResponder(ctx context.Context, issuer string) (keyID string, cert []byte, err error)
	// PutOCSPResponder stores the issuer's responder, replacing any.
	PutOCSPResponder(ctx context.Context, issuer, keyID string, cert []byte) error
}

// OCSPError is an OCSP request that gets an error status instead of a
// signed answer; Response is that answer, DER.
type OCSPError struct {
	Status ocsp.ResponseStatus
	Err    error
}

func (e *OCSPError) Error() string { return fmt.Sprintf("OCSP %s: %v", e.Status, e.Err) }
func (e *OCSPError) Unwrap() error { return e.Err }

// Response is the DER OCSPResponse with the error's status and no body.
func (e *OCSPError) Response() []byte {
	b, _ := asn1.Marshal(ocspResponse{Status: asn1.Enumerated(e.Status)})
	return b
}

// OCSP answers the DER OCSP request der sent to the responder at path, the
// part of its URL after "/ocsp/" ("root/NAME/VERSION" or
// "signing-profiles/NAME/VERSION"). It returns a signed response, DER; or
// an *OCSPError (malformedRequest for a request that does not parse,
// unauthorized for an issuer this responder does not answer for,
// internalError) whose Response the caller sends instead.
//
// The status of the first certificate asked about is answered: good,
// revoked, or unknown for a serial the issuer did not issue. Responses
// to requests without a nonce are cached until half their validity has
// passed or a revocation is committed; a nonce is echoed in a response
// signed for it.
func (s *Service) OCSP(ctx context.Context, path string, der []byte) ([]byte, error) {
	req, err := parseOCSPRequest(der)
	if err != nil {
		return nil, &OCSPError{ocsp.Malformed, err}
	}
	s.Freshen(ctx)
	now := s.now()
	key := "ocsp:" + path + ":" + hex.EncodeToString(req.nameHash) + ":" + hex.EncodeToString(req.keyHash) + ":" + req.serial.Text(16)
	cached, gen, ok := s.crls.get(key, now, s.refreshAfter())
	if ok && req.nonce == nil {
		return cached, nil
	}
	iss, err := s.ocspIssuer(ctx, path)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, &OCSPError{ocsp.Unauthorized, err}
		}
		return nil, &OCSPError{ocsp.InternalError, err}
	}
	if !req.matches(iss.cert) {
		return nil, &OCSPError{ocsp.Unauthorized, fmt.Errorf("the request names another issuer than %s", iss.cert.Subject)}
	}
	st, err := iss.status(ctx, req.serial)
	if err != nil {
		return nil, &OCSPError{ocsp.InternalError, err}
	}
	r, err := s.responder(ctx, iss, now)
	if err != nil {
		return nil, &OCSPError{ocsp.InternalError, err}
	}
	resp, err := r.sign(req, st, now, s.crlValidity())
	if err != nil {
		return nil, &OCSPError{ocsp.InternalError, err}
	}
	if req.nonce == nil && st.status != ocsp.Unknown {
		// An unknown serial may yet be issued (a leaf is recorded when its
		// signing job finishes), so only good and revoked are kept.
		s.crls.put(key, resp, now, gen)
	}
	return resp, nil
}

// ocspRequest is the part of an OCSP request Signet answers.
type ocspRequest struct {
	certID   asn1.RawValue // the first request's CertID, echoed
	hash     crypto.Hash
	nameHash []byte
	keyHash  []byte
	serial   *big.Int
	nonce    *pkix.Extension // id-pkix-ocsp-nonce, echoed
}

var oidOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// parseOCSPRequest parses an unsigned OCSP request with golang.org/x/crypto/ocsp,
// then reads what that package leaves out: the CertID as sent and the
// nonce. Only the first certificate of the request is answered.
func parseOCSPRequest(der []byte) (ocspRequest, error) {
	if len(der) > MaxOCSPRequest {
		return ocspRequest{}, fmt.Errorf("request of %d bytes; the limit is %d", len(der), MaxOCSPRequest)
	}
	r, err := ocsp.ParseRequest(der)
	if err != nil {
		return ocspRequest{}, err
	}
	if r.SerialNumber == nil || r.SerialNumber.Sign() <= 0 {
		return ocspRequest{}, errors.New("the serial number must be positive")
	}
	var raw struct {
		TBSRequest struct {
			Version       int           `asn1:"explicit,tag:0,default:0,optional"`
			RequestorName asn1.RawValue `asn1:"explicit,tag:1,optional"`
			RequestList   []struct {
				CertID     asn1.RawValue
				Extensions []pkix.Extension `asn1:"explicit,tag:0,optional"`
			}
			RequestExtensions []pkix.Extension `asn1:"explicit,tag:2,optional"`
		}
		Signature asn1.RawValue `asn1:"explicit,tag:0,optional"`
	}
	if rest, err := asn1.Unmarshal(der, &raw); err != nil || len(rest) > 0 || len(raw.TBSRequest.RequestList) == 0 {
		return ocspRequest{}, fmt.Errorf("malformed request: %v", err)
	}
	out := ocspRequest{certID: raw.TBSRequest.RequestList[0].CertID, hash: r.HashAlgorithm, nameHash: r.IssuerNameHash, keyHash: r.IssuerKeyHash, serial: r.SerialNumber}
	for _, e := range raw.TBSRequest.RequestExtensions {
		if !e.Id.Equal(oidOCSPNonce) {
			if e.Critical {
				return ocspRequest{}, fmt.Errorf("unsupported critical request extension %s", e.Id)
			}
			continue
		}
		if out.nonce != nil {
			return ocspRequest{}, errors.New("more than one nonce")
		}
		// RFC 8954: the nonce is an OCTET STRING of 1 to 32 octets.
		var n []byte
		if rest, err := asn1.Unmarshal(e.Value, &n); err != nil || len(rest) > 0 || len(n) < 1 || len(n) > 32 {
			return ocspRequest{}, errors.New("the nonce must be an OCTET STRING of 1 to 32 octets")
		}
		out.nonce = &pkix.Extension{Id: oidOCSPNonce, Value: e.Value}
	}
	return out, nil
}

// matches reports whether the request names issuer.
func (r ocspRequest) matches(issuer *x509.Certificate) bool {
	if !r.hash.Available() {
		return false
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	h := r.hash.New()
	h.Write(issuer.RawSubject)
	name := h.Sum(nil)
	h.Reset()
	h.Write(spki.PublicKey.RightAlign())
	return bytes.Equal(name, r.nameHash) && bytes.Equal(h.Sum(nil), r.keyHash)
}

// certStatus is one certificate's status.
type certStatus struct {
	status      int // ocsp.Good, ocsp.Revoked, ocsp.Unknown
	revokedAt   time.Time
	reason      int
	invalidFrom time.Time // zero: no invalidity date
}

// ocspIssuer is an issuer Signet answers for.
type ocspIssuer struct {
	name   string // "root" or "NAME/VERSION", as in CRL numbers
	cert   *x509.Certificate
	signer func(context.Context) (crypto.Signer, error)
	status func(context.Context, *big.Int) (certStatus, error)
}

// ocspIssuer resolves a responder path. ErrNotFound: no such responder.
func (s *Service) ocspIssuer(ctx context.Context, path string) (ocspIssuer, error) {
	a, ok := s.Issuer.(*Authority)
	if !ok {
		return ocspIssuer{}, newError(ErrNotFound, "this service has no certificate authority")
	}
	parts := strings.Split(path, "/")
	if len(parts) != 3 || (parts[0] != "root" && parts[0] != "signing-profiles") || ValidateProfileName(parts[1]) != nil || ValidateVersion(parts[2]) != nil {
		return ocspIssuer{}, newError(ErrNotFound, fmt.Sprintf("no OCSP responder at %q", path))
	}
	name, version := parts[1], parts[2]
	v, err := s.Store.ProfileVersion(ctx, name, version)
	if err != nil {
		return ocspIssuer{}, err
	}
	inter, err := x509.ParseCertificate(v.Certificate)
	if err != nil {
		return ocspIssuer{}, fmt.Errorf("profile %s version %s: %w", name, version, err)
	}
	if parts[0] == "root" {
		// The root answers for this one intermediate, as its CRL lists it.
		return ocspIssuer{
			name:   "root",
			cert:   a.Root.Cert,
			signer: func(context.Context) (crypto.Signer, error) { return a.Root.Signer, nil },
			status: func(_ context.Context, serial *big.Int) (certStatus, error) {
				switch {
				case serial.Cmp(inter.SerialNumber) != 0:
					return certStatus{status: ocsp.Unknown}, nil
				case v.RevokedAt.IsZero():
					return certStatus{status: ocsp.Good}, nil
				}
				return certStatus{status: ocsp.Revoked, revokedAt: v.RevokedAt, reason: reasonProfile, invalidFrom: v.EffectiveFrom}, nil
			},
		}, nil
	}
	return ocspIssuer{
		name: name + "/" + version,
		cert: inter,
		signer: func(ctx context.Context) (crypto.Signer, error) {
			return a.Keys.Signer(ctx, v.KeyID)
		},
		status: func(ctx context.Context, serial *big.Int) (certStatus, error) {
			j, err := s.Jobs.LeafJob(ctx, name, version, serial.Text(16))
			switch {
			case errors.Is(err, ErrNotFound):
				return certStatus{status: ocsp.Unknown}, nil
			case err != nil:
				return certStatus{}, err
			case j.RevokedAt.IsZero():
				return certStatus{status: ocsp.Good}, nil
			}
			return certStatus{status: ocsp.Revoked, revokedAt: j.RevokedAt, reason: reasonSignature}, nil
		},
	}, nil
}

// responder is an issuer's delegated OCSP responder.
type responder struct {
	cert   *x509.Certificate
	signer crypto.Signer
}

// responders holds each issuer's responder in memory.
type responders struct {
	mu sync.Mutex
	m  map[string]responder
}

// fresh reports whether r may still sign: less than half its validity
// has passed.
func (r responder) fresh(now time.Time) bool {
	return r.cert != nil && now.Before(r.cert.NotAfter.Add(-ResponderValidity/2)) && !now.Before(r.cert.NotBefore)
}

// responder returns the issuer's responder: the one in memory, else the
// stored one, else a new one (a new key in the key store and a
// certificate from the issuer), stored for reuse.
func (s *Service) responder(ctx context.Context, iss ocspIssuer, now time.Time) (responder, error) {
	s.responders.mu.Lock()
	defer s.responders.mu.Unlock()
	if r, ok := s.responders.m[iss.name]; ok && r.fresh(now) && bytes.Equal(r.cert.AuthorityKeyId, iss.cert.SubjectKeyId) {
		return r, nil // issued here, by this issuer: its signature was checked when it was made or loaded
	}
	a := s.Issuer.(*Authority)
	rs, persist := s.Store.(ResponderStore)
	if persist {
		keyID, der, err := rs.OCSPResponder(ctx, iss.name)
		switch {
		case err == nil:
			if cert, err := x509.ParseCertificate(der); err == nil && cert.CheckSignatureFrom(iss.cert) == nil {
				if r := (responder{cert: cert}); r.fresh(now) {
					if r.signer, err = a.Keys.Signer(ctx, keyID); err == nil {
						s.keepResponder(iss.name, r)
						return r, nil
					}
				}
			}
		case !errors.Is(err, ErrNotFound):
			return responder{}, err
		}
	}
	caSigner, err := iss.signer(ctx)
	if err != nil {
		return responder{}, fmt.Errorf("failed to load the issuer's key: %w", err)
	}
	keyID, pub, err := a.Keys.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		return responder{}, fmt.Errorf("failed to create OCSP responder key: %w", err)
	}
	subject := BaseSubject(a.Root.Cert.Subject)
	subject.OrganizationalUnit = a.Account.ID
	subject.CommonName = truncate("Signet OCSP "+iss.name, 64)
	notAfter := now.Add(ResponderValidity)
	if notAfter.After(iss.cert.NotAfter) {
		notAfter = iss.cert.NotAfter
	}
	crlURL := a.RootCRLURL()
	if iss.name != "root" {
		n, v, _ := strings.Cut(iss.name, "/")
		crlURL = a.ProfileCRLURL(n, v)
	}
	cert, err := pki.CA{Cert: iss.cert, Signer: caSigner}.IssueOCSPResponder(pki.Template{
		Subject: subject, PublicKey: pub, NotBefore: now.Add(-clockSkew), NotAfter: notAfter, CRLURL: crlURL,
	})
	if err != nil {
		return responder{}, fmt.Errorf("failed to issue OCSP responder certificate: %w", err)
	}
	signer, err := a.Keys.Signer(ctx, keyID)
	if err != nil {
		return responder{}, err
	}
	if persist {
		if err := rs.PutOCSPResponder(ctx, iss.name, keyID, cert.Raw); err != nil {
			return responder{}, fmt.Errorf("failed to store OCSP responder: %w", err)
		}
	}
	r := responder{cert: cert, signer: signer}
	s.keepResponder(iss.name, r)
	return r, nil
}

func (s *Service) keepResponder(issuer string, r responder) {
	if s.responders.m == nil {
		s.responders.m = map[string]responder{}
	}
	s.responders.m[issuer] = r
}

// The OCSP response, RFC 6960 section 4.2.1. golang.org/x/crypto/ocsp
// writes no responseExtensions (where a nonce is echoed) and reads the
// clock itself, so Signet encodes its responses.
type ocspResponse struct {
	Status   asn1.Enumerated
	Response ocspResponseBytes `asn1:"explicit,tag:0,optional"`
}

type ocspResponseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type ocspBasicResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certs              []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type ocspResponseData struct {
	Version            int `asn1:"optional,default:0,explicit,tag:0"`
	ResponderID        asn1.RawValue
	ProducedAt         time.Time `asn1:"generalized"`
	Responses          []ocspSingleResponse
	ResponseExtensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type ocspSingleResponse struct {
	CertID           asn1.RawValue
	Good             asn1.Flag        `asn1:"tag:0,optional"`
	Revoked          ocspRevokedInfo  `asn1:"tag:1,optional"`
	Unknown          asn1.Flag        `asn1:"tag:2,optional"`
	ThisUpdate       time.Time        `asn1:"generalized"`
	NextUpdate       time.Time        `asn1:"generalized,explicit,tag:0,optional"`
	SingleExtensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type ocspRevokedInfo struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

var (
	oidOCSPBasic       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
)

// sign makes the signed response to req: st for the certificate asked
// about, valid for validity (at most until the responder expires), with
// the responder's certificate and the request's nonce.
func (r responder) sign(req ocspRequest, st certStatus, now time.Time, validity time.Duration) ([]byte, error) {
	now = now.UTC().Truncate(time.Second)
	next := now.Add(validity)
	if next.After(r.cert.NotAfter) {
		next = r.cert.NotAfter
	}
	single := ocspSingleResponse{CertID: req.certID, ThisUpdate: now, NextUpdate: next.UTC()}
	switch st.status {
	case ocsp.Good:
		single.Good = true
	case ocsp.Revoked:
		single.Revoked = ocspRevokedInfo{RevocationTime: st.revokedAt.UTC().Truncate(time.Second), Reason: asn1.Enumerated(st.reason)}
		if !st.invalidFrom.IsZero() {
			ext, err := invalidityDate(st.invalidFrom)
			if err != nil {
				return nil, err
			}
			single.SingleExtensions = []pkix.Extension{ext}
		}
	default:
		single.Unknown = true
	}
	data := ocspResponseData{
		ResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: r.cert.RawSubject},
		ProducedAt:  now,
		Responses:   []ocspSingleResponse{single},
	}
	if req.nonce != nil {
		data.ResponseExtensions = []pkix.Extension{*req.nonce}
	}
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, err
	}
	digest := sha512.Sum384(tbs)
	sig, err := r.signer.Sign(rand.Reader, digest[:], crypto.SHA384)
	if err != nil {
		return nil, fmt.Errorf("failed to sign OCSP response: %w", err)
	}
	basic, err := asn1.Marshal(ocspBasicResponse{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA384},
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
		Certs:              []asn1.RawValue{{FullBytes: r.cert.Raw}},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(ocspResponse{Status: asn1.Enumerated(ocsp.Success), Response: ocspResponseBytes{ResponseType: oidOCSPBasic, Response: basic}})
}

// CertificateState is what Signet's OCSP responder says of a certificate.
type CertificateState struct {
	Revoked bool
	// RevokedAt is when it was revoked; InvalidFrom, when set, is the
	// time from which signatures are invalid (a profile version's
	// effective time): a signature made before it stays valid.
	RevokedAt, InvalidFrom time.Time
	// Responder is the OCSP URL Signet answers it at.
	Responder string
}

// CertificateStatus answers, from the records and without signing an
// OCSP response, what Signet's OCSP responder would for cert issued by
// issuer. ok is false when Signet's responders do not answer for it
// (another issuer, another base URL, an unknown serial).
func (s *Service) CertificateStatus(ctx context.Context, cert, issuer *x509.Certificate) (st CertificateState, ok bool, err error) {
	a, isAuthority := s.Issuer.(*Authority)
	if !isAuthority {
		return st, false, nil
	}
	prefix := strings.TrimSuffix(a.BaseURL, "/") + "/ocsp/"
	for _, u := range cert.OCSPServer {
		path, found := strings.CutPrefix(u, prefix)
		if !found {
			continue
		}
		iss, err := s.ocspIssuer(ctx, path)
		if errors.Is(err, ErrNotFound) {
			return st, false, nil
		}
		if err != nil {
			return st, false, err
		}
		if !iss.cert.Equal(issuer) {
			return st, false, nil
		}
		cs, err := iss.status(ctx, cert.SerialNumber)
		if err != nil || cs.status == ocsp.Unknown {
			return st, false, err
		}
		return CertificateState{Revoked: cs.status == ocsp.Revoked, RevokedAt: cs.revokedAt, InvalidFrom: cs.invalidFrom, Responder: u}, true, nil
	}
	return st, false, nil
}
