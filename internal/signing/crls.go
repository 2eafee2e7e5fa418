package signing

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"

	corecrl "github.com/notaryproject/notation-core-go/revocation/crl"
)

// CRLs returns a fetcher of this installation's own CRLs, in process and
// without the network, for the deploy gate's revocation checks: the
// URLs are those the Authority writes into certificates (RootCRLURL,
// ProfileCRLURL).
func (s *Service) CRLs() corecrl.Fetcher { return localCRLs{s} }

type localCRLs struct{ s *Service }

// Fetch returns the CRL at crlURL, issued now.
func (l localCRLs) Fetch(ctx context.Context, crlURL string) (*corecrl.Bundle, error) {
	u, err := url.Parse(crlURL)
	if err != nil {
		return nil, err
	}
	var der []byte
	switch p := u.Path; {
	case p == "/crl/root.crl":
		der, err = l.s.RootCRL(ctx)
	case strings.HasPrefix(p, "/crl/signing-profiles/"):
		parts := strings.Split(strings.TrimPrefix(p, "/crl/signing-profiles/"), "/")
		if len(parts) != 2 {
			return nil, fmt.Errorf("unknown CRL %s", crlURL)
		}
		der, err = l.s.ProfileCRL(ctx, parts[0], strings.TrimSuffix(parts[1], ".crl"))
	default:
		return nil, errors.New("not a CRL of this installation: " + crlURL)
	}
	if err != nil {
		return nil, err
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	return &corecrl.Bundle{BaseCRL: crl}, nil
}
