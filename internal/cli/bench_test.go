package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	corecrl "github.com/notaryproject/notation-core-go/revocation/crl"
	"github.com/notaryproject/notation-go/verifier/crl"

	"github.com/signet/signet/internal/revocation"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/verify"
)

// signedPackage signs a small zip through the CLI and returns its bytes.
func signedPackage(b *testing.B, srv *servertest.Server) []byte {
	b.Helper()
	dir := b.TempDir()
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", srv.CredentialsPath())
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	b.Setenv("SIGNET_ENDPOINT", srv.URL)
	zipPath := filepath.Join(dir, "f.zip")
	os.WriteFile(zipPath, []byte("PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00!\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00aPK\x01\x02\x14\x03\x14\x00\x00\x00\x00\x00\x00\x00!\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xa4\x81\x00\x00\x00\x00aPK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00/\x00\x00\x00\x1f\x00\x00\x00\x00\x00"), 0o644)
	for _, args := range [][]string{
		{"profile", "create", "bench", "--platform", "AWSLambda-SHA384-ECDSA"},
		{"sign", zipPath, "--profile", "bench"},
	} {
		if code := Main(context.Background(), args, io.Discard, io.Discard); code != 0 {
			b.Fatalf("signet %v: exit %d", args, code)
		}
	}
	out, err := os.ReadFile(filepath.Join(dir, "f-signed.zip"))
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// noOCSP fails every OCSP request, as when the responder is unreachable.
type noOCSP struct{}

func (noOCSP) RoundTrip(*http.Request) (*http.Response, error) { return nil, errors.New("offline") }

// BenchmarkVerify measures offline verification of a signed package with
// revocation off and with CRLs from a warm cache (no network: the OCSP
// responders, which signet verify asks first, are cut off).
func BenchmarkVerify(b *testing.B) {
	srv := servertest.Start(b)
	pkg := signedPackage(b, srv)
	roots := []*x509.Certificate{srv.Authority.Root.Cert}
	fetcher, err := corecrl.NewHTTPFetcher(http.DefaultClient)
	if err != nil {
		b.Fatal(err)
	}
	if fetcher.Cache, err = crl.NewFileCache(b.TempDir()); err != nil {
		b.Fatal(err)
	}
	warm, err := revocation.NewCRLCheckerWithFetcher(fetcher, noOCSP{})
	if err != nil {
		b.Fatal(err)
	}
	// Fill the cache once.
	if rep, err := verify.Package(bytes.NewReader(pkg), int64(len(pkg)), verify.Options{Roots: roots, Revocation: warm}); err != nil || !rep.OK() {
		b.Fatalf("warm-up: %v %+v", err, rep)
	}
	for name, checker := range map[string]verify.RevocationChecker{"revocation-off": nil, "warm-crl-cache": warm} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				rep, err := verify.Package(bytes.NewReader(pkg), int64(len(pkg)), verify.Options{Roots: roots, Revocation: checker})
				if err != nil || !rep.OK() {
					b.Fatalf("%v %+v", err, rep)
				}
			}
		})
	}
}
