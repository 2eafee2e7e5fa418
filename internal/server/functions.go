package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	corecrl "github.com/notaryproject/notation-core-go/revocation/crl"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/revocation"
)

// openFunctions wires the function registry and its deploy gate. The gate
// checks revocation against this server's own CRLs, in process.
func (s *Server) openFunctions(inst installation) *awsapi.Lambda {
	csc := &deploygate.Service{Store: s.db, Account: inst.Account}
	checker, err := revocation.NewCRLCheckerWithFetcher(localCRLs{s})
	gate := &deploygate.Gate{Roots: []*x509.Certificate{inst.RootCert}}
	if err == nil {
		gate.Revocation = checker
	}
	s.Functions = &functions.Service{
		Store: s.db, Code: s.s3.data, CSCs: csc, Gate: gate, Account: inst.Account, Log: s.log,
		RequireEnforce: s.cfg.RequireEnforcedCodeSigning,
		OnWarning:      func(ctx context.Context, fn string, d deploygate.Decision) { s.SignatureValidationErrors.Add(1) },
	}
	return &awsapi.Lambda{CSCs: csc, Functions: s.Functions, ReadObject: s.readObject, Authorizer: awsapi.AllowAll{}, Log: s.log}
}

// readObject reads a whole object version (at most max bytes).
func (s *Server) readObject(ctx context.Context, bucket, key, version string, max int64) ([]byte, error) {
	obj, err := s.Objects.OpenVersion(ctx, bucket, key, version)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	if obj.Size() > max {
		return nil, fmt.Errorf("EntityTooLarge: the object is %d bytes, over %d", obj.Size(), max)
	}
	return io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
}

// localCRLs fetches this server's own CRLs without the network.
type localCRLs struct{ s *Server }

func (l localCRLs) Fetch(ctx context.Context, crlURL string) (*corecrl.Bundle, error) {
	u, err := url.Parse(crlURL)
	if err != nil {
		return nil, err
	}
	var der []byte
	switch p := u.Path; {
	case p == "/crl/root.crl":
		der, err = l.s.Profiles.RootCRL(ctx)
	case strings.HasPrefix(p, "/crl/signing-profiles/"):
		parts := strings.Split(strings.TrimPrefix(p, "/crl/signing-profiles/"), "/")
		if len(parts) != 2 {
			return nil, fmt.Errorf("unknown CRL %s", crlURL)
		}
		der, err = l.s.Profiles.ProfileCRL(ctx, parts[0], strings.TrimSuffix(parts[1], ".crl"))
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
