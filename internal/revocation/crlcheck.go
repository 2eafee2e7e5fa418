// Package revocation checks certificate chains against their issuers'
// OCSP responders and CRLs exactly as Notary Project verifiers do, for
// signet verify and the deploy gate, and serves Signet's OCSP responders
// over http ([OCSPHandler]).
package revocation

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"time"

	corerevocation "github.com/notaryproject/notation-core-go/revocation"
	corecrl "github.com/notaryproject/notation-core-go/revocation/crl"
	"github.com/notaryproject/notation-core-go/revocation/purpose"
	"github.com/notaryproject/notation-core-go/revocation/result"
	"github.com/notaryproject/notation-go/verifier/crl"

	"github.com/signet/signet/internal/verify"
)

// CRLChecker checks revocation exactly as Notary Project verifiers do: it
// is notation-core-go's validator (OCSP first, CRLs when OCSP is absent or
// gives no answer, invalidity dates compared with the authentic signing
// time), with notation-go's file cache of CRLs when a cache directory is
// given, so that a warm cache needs no network.
type CRLChecker struct {
	v corerevocation.Validator
}

var _ verify.RevocationChecker = CRLChecker{}

// NewCRLChecker returns a checker that fetches CRLs over http, caching
// them in cacheDir (notation-go's file cache) when it is not empty.
func NewCRLChecker(cacheDir string) (CRLChecker, error) {
	fetcher, err := corecrl.NewHTTPFetcher(&http.Client{Timeout: 5 * time.Second})
	if err != nil {
		return CRLChecker{}, err
	}
	if cacheDir != "" {
		cache, err := crl.NewFileCache(cacheDir)
		if err != nil {
			return CRLChecker{}, fmt.Errorf("--crl-cache: %w", err)
		}
		fetcher.Cache = cache
	}
	v, err := corerevocation.NewWithOptions(corerevocation.Options{CRLFetcher: fetcher, OCSPHTTPClient: &http.Client{Timeout: ocspTimeout}, CertChainPurpose: purpose.CodeSigning})
	if err != nil {
		return CRLChecker{}, err
	}
	return CRLChecker{v}, nil
}

// NewCRLCheckerWithFetcher returns a checker that gets CRLs from f and
// sends OCSP requests through ocsp (for example a server's own CRLs and
// responders, without the network: signing.Service.CRLs and LocalOCSP).
func NewCRLCheckerWithFetcher(f corecrl.Fetcher, ocsp http.RoundTripper) (CRLChecker, error) {
	v, err := corerevocation.NewWithOptions(corerevocation.Options{CRLFetcher: f, OCSPHTTPClient: &http.Client{Transport: ocsp, Timeout: ocspTimeout}, CertChainPurpose: purpose.CodeSigning})
	if err != nil {
		return CRLChecker{}, err
	}
	return CRLChecker{v}, nil
}

// Check implements verify.RevocationChecker.
func (c CRLChecker) Check(ctx context.Context, chain []*x509.Certificate, signingTime time.Time) (bool, string, error) {
	results, err := c.v.ValidateContext(ctx, corerevocation.ValidateContextOptions{CertChain: chain, AuthenticSigningTime: signingTime})
	if err != nil {
		return false, "", err
	}
	var unknown []string
	for i, r := range results {
		switch r.Result {
		case result.ResultRevoked:
			what := "the signature's certificate"
			if i > 0 {
				what = "the signing profile version's certificate"
			}
			return true, fmt.Sprintf("%s (%s) is revoked for signatures made at %s", what, chain[i].Subject, signingTime.UTC().Format(time.RFC3339)), nil
		case result.ResultUnknown:
			msg := "unknown"
			for _, sr := range r.ServerResults {
				if sr.Error != nil {
					msg = sr.Error.Error()
				}
			}
			unknown = append(unknown, fmt.Sprintf("%s: %s", chain[i].Subject.CommonName, msg))
		}
	}
	if len(unknown) > 0 {
		return false, "", fmt.Errorf("%s", strings.Join(unknown, "; "))
	}
	return false, "not revoked (OCSP or CRLs checked for every certificate of the chain)", nil
}
