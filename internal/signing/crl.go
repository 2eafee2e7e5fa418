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

// CRLValidity is how long a CRL is valid (its nextUpdate).
const CRLValidity = 24 * time.Hour

// crlRefresh is how long an issued CRL is served before a new one is made
// (a revocation replaces it at once).
const crlRefresh = time.Hour

var oidInvalidityDate = asn1.ObjectIdentifier{2, 5, 29, 24}

// crlCache holds the CRLs last issued, by issuer.
type crlCache struct {
	mu  sync.Mutex
	crl map[string]cachedCRL
	gen uint64 // bumped by clear; a CRL made during a change is not kept
}

type cachedCRL struct {
	der    []byte
	issued time.Time
}

func (c *crlCache) get(issuer string, now time.Time) ([]byte, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.crl[issuer]
	if !ok || now.Sub(e.issued) > crlRefresh {
		return nil, c.gen, false
	}
	return e.der, c.gen, true
}

func (c *crlCache) put(issuer string, der []byte, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.crl == nil {
		c.crl = map[string]cachedCRL{}
	}
	c.crl[issuer] = cachedCRL{der, now}
}

func (c *crlCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.crl = nil
	c.gen++
}

// RootCRL returns the root CA's CRL, DER: every revoked profile version's
// intermediate, with the revocation's effective time as invalidity date,
// so that verifiers keep trusting signatures made before it.
func (s *Service) RootCRL(ctx context.Context) ([]byte, error) {
	now := s.now()
	der, gen, ok := s.crls.get("root", now)
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
		entries = append(entries, x509.RevocationListEntry{SerialNumber: inter.SerialNumber, RevocationTime: v.RevokedAt, ExtraExtensions: []pkix.Extension{ext}})
	}
	a := s.Issuer.(*Authority)
	return s.issueCRL(ctx, "root", a.Root, entries, now, gen)
}

// ProfileCRL returns the CRL of a profile version's CA, DER: the leaf
// certificates of its revoked signatures (no invalidity date: a revoked
// signature is never trusted).
func (s *Service) ProfileCRL(ctx context.Context, name, version string) ([]byte, error) {
	now := s.now()
	issuer := name + "/" + version
	der, gen, ok := s.crls.get(issuer, now)
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
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: l.RevokedAt})
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
		NextUpdate:                now.Add(CRLValidity),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Signer)
	if err != nil {
		return nil, fmt.Errorf("failed to issue CRL: %w", err)
	}
	s.crls.put(issuer, der, now, gen)
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
	now := s.now()
	der, gen, ok := s.crls.get(issuer, now)
	if ok {
		return der, nil
	}
	return s.issueCRL(ctx, issuer, ca, nil, now, gen)
}
