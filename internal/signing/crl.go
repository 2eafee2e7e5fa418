package signing

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/signet/signet/internal/pki"
)

// DefaultCRLValidity is how long a CRL or an OCSP response is valid (its
// nextUpdate) when Service.CRLValidity is zero.
const DefaultCRLValidity = time.Hour

// MaxCRLValidity bounds Service.CRLValidity: an offline verifier keeps a
// CRL until its nextUpdate, so a revocation may take that long to reach it.
const MaxCRLValidity = 7 * 24 * time.Hour

// crlValidity is the nextUpdate of CRLs and OCSP responses, after their
// thisUpdate.
func (s *Service) crlValidity() time.Duration {
	if s.CRLValidity > 0 {
		return s.CRLValidity
	}
	return DefaultCRLValidity
}

// refreshAfter is how long an issued CRL or OCSP response is served
// before a new one is made: half its validity, so that a verifier never
// receives one close to its nextUpdate. A revocation replaces them at once.
func (s *Service) refreshAfter() time.Duration { return s.crlValidity() / 2 }

var oidInvalidityDate = asn1.ObjectIdentifier{2, 5, 29, 24}

// Reason codes (RFC 5280 section 5.3.1) of Signet's revocations, the same
// in CRLs and OCSP responses.
const (
	// reasonSignature: one signature withdrawn; its leaf, used for that
	// signature only, is out of use.
	reasonSignature = 5 // cessationOfOperation
	// reasonProfile: a profile version revoked from an effective time
	// (the invalidity date), as for a compromised key.
	reasonProfile = 1 // keyCompromise
)

// maxCached bounds the number of CRLs and OCSP responses kept.
const maxCached = 100_000

// respCache holds the CRLs and OCSP responses last issued, by key
// ("crl:ISSUER", "ocsp:ISSUER:SERIAL"). A revocation clears it.
type respCache struct {
	mu  sync.Mutex
	m   map[string]cachedResp
	gen uint64 // bumped by clear; a response made during a change is not kept
}

type cachedResp struct {
	der    []byte
	issued time.Time
}

// get returns the response under key if it was issued less than maxAge
// before now, and the generation to pass to put.
func (c *respCache) get(key string, now time.Time, maxAge time.Duration) ([]byte, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || now.Sub(e.issued) > maxAge || now.Before(e.issued) {
		return nil, c.gen, false
	}
	return e.der, c.gen, true
}

// put keeps der under key unless the cache was cleared since gen was read.
func (c *respCache) put(key string, der []byte, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= maxCached {
		c.m = map[string]cachedResp{}
	}
	c.m[key] = cachedResp{der, now}
}

// clear drops every response; call it after a revocation is committed.
func (c *respCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
	c.gen++
}

// RootCRL returns the root CA's CRL, DER: every revoked profile version's
// intermediate, with the revocation's effective time as invalidity date,
// so that verifiers keep trusting signatures made before it.
func (s *Service) RootCRL(ctx context.Context) ([]byte, error) {
	s.Freshen(ctx)
	now := s.now()
	der, gen, ok := s.crls.get("crl:root", now, s.refreshAfter())
	if ok {
		return der, nil
	}
	versions, err := s.Store.RevokedVersions(ctx)
	if err != nil {
		return nil, err
	}
	var entries []x509.RevocationListEntry
	for _, v := range versions {
		inter, err := x509.ParseCertificate(v.Certificate)
		if err != nil {
			return nil, fmt.Errorf("profile %s version %s: %w", v.ProfileName, v.Version, err)
		}
		ext, err := invalidityDate(v.EffectiveFrom)
		if err != nil {
			return nil, err
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: inter.SerialNumber, RevocationTime: v.RevokedAt, ReasonCode: reasonProfile, ExtraExtensions: []pkix.Extension{ext}})
	}
	a := s.Issuer.(*Authority)
	return s.issueCRL(ctx, "root", a.Root, entries, now, gen)
}

// ProfileCRL returns the CRL of a profile version's CA, DER: the leaf
// certificates of its revoked signatures (no invalidity date: a revoked
// signature is never trusted).
func (s *Service) ProfileCRL(ctx context.Context, name, version string) ([]byte, error) {
	s.Freshen(ctx)
	now := s.now()
	issuer := name + "/" + version
	der, gen, ok := s.crls.get("crl:"+issuer, now, s.refreshAfter())
	if ok {
		return der, nil
	}
	v, err := s.Store.ProfileVersion(ctx, name, version)
	if err != nil {
		return nil, err
	}
	leaves, err := s.Jobs.RevokedLeaves(ctx, name, version)
	if err != nil {
		return nil, err
	}
	entries := make([]x509.RevocationListEntry, 0, len(leaves))
	for _, l := range leaves {
		serial, ok := new(big.Int).SetString(l.Serial, 16)
		if !ok {
			continue // a job without a recorded leaf (made before revocation existed)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: l.RevokedAt, ReasonCode: reasonSignature})
	}
	a := s.Issuer.(*Authority)
	inter, err := x509.ParseCertificate(v.Certificate)
	if err != nil {
		return nil, err
	}
	signer, err := a.Keys.Signer(ctx, v.KeyID)
	if err != nil {
		return nil, fmt.Errorf("failed to load profile key: %w", err)
	}
	return s.issueCRL(ctx, issuer, pki.CA{Cert: inter, Signer: signer}, entries, now, gen)
}

func (s *Service) issueCRL(ctx context.Context, issuer string, ca pki.CA, entries []x509.RevocationListEntry, now time.Time, gen uint64) ([]byte, error) {
	n, err := s.Store.NextCRLNumber(ctx, issuer)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(n),
		ThisUpdate:                now.Add(-clockSkew),
		NextUpdate:                now.Add(s.crlValidity()),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Signer)
	if err != nil {
		return nil, fmt.Errorf("failed to issue CRL: %w", err)
	}
	s.crls.put("crl:"+issuer, der, now, gen)
	return der, nil
}

func invalidityDate(t time.Time) (pkix.Extension, error) {
	v, err := asn1.MarshalWithParams(t.UTC(), "generalized")
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidInvalidityDate, Value: v}, nil
}

// CAcrl returns the CRL of a CA that has revoked nothing (such as the
// time-stamping root), under the issuer name given.
func (s *Service) CAcrl(ctx context.Context, issuer string, ca pki.CA) ([]byte, error) {
	s.Freshen(ctx)
	now := s.now()
	der, gen, ok := s.crls.get("crl:"+issuer, now, s.refreshAfter())
	if ok {
		return der, nil
	}
	return s.issueCRL(ctx, issuer, ca, nil, now, gen)
}

// ForgetResponses drops the cached CRLs and OCSP responses: another
// process sharing the database revoked something.
func (s *Service) ForgetResponses() { s.crls.clear() }
