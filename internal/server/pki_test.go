package server_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	notationx509 "github.com/notaryproject/notation-core-go/x509"

	"github.com/signet/signet/internal/pki"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/signing"
)

// TestIssuedChain checks that a profile version's intermediate and a
// per-signature leaf chain to the installation root, pass crypto/x509
// code-signing verification and notation-core-go's checks, and carry
// http:// CRL distribution points under the public base URL.
func TestIssuedChain(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	c := ts.Signer()
	put, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("chain_test"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ts.Profiles.Store.ProfileVersion(ctx, "chain_test", aws.ToString(put.ProfileVersion))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	chain, err := ts.Authority.IssueLeaf(ctx, signing.LeafRequest{Version: v, PublicKey: key.Public(), NotBefore: now, NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 3 {
		t.Fatalf("chain has %d certificates, want leaf, intermediate, root", len(chain))
	}
	leaf, inter, root := chain[0], chain[1], chain[2]

	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, CurrentTime: now}); err != nil {
		t.Errorf("crypto/x509 verification: %v", err)
	}
	if err := notationx509.ValidateCodeSigningCertChain(chain, &now); err != nil {
		t.Errorf("notation-core-go ValidateCodeSigningCertChain: %v", err)
	}

	// Subjects: C, ST and O everywhere; the leaf names account and profile.
	for _, cert := range chain {
		s := cert.Subject
		if len(s.Country) == 0 || len(s.Province) == 0 || len(s.Organization) == 0 {
			t.Errorf("%s lacks C, ST or O", s)
		}
	}
	want := signing.SignerIdentity(root, ts.AccountID(), "chain_test")
	if leaf.Subject.String() != want.ToPKIX().String() || want.CommonName != "chain_test" || want.OrganizationalUnit != ts.AccountID() {
		t.Errorf("leaf subject %q, want %q", leaf.Subject, want.ToPKIX())
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning || leaf.IsCA {
		t.Errorf("leaf key usage %v, EKU %v, CA %v", leaf.KeyUsage, leaf.ExtKeyUsage, leaf.IsCA)
	}
	if !inter.IsCA || !inter.MaxPathLenZero || inter.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("intermediate is not a path-length-0 CA")
	}

	// CRL distribution points under the public base URL, plain http.
	cfg := ts.Config()
	base := cfg.BaseURL()
	cases := map[string]struct {
		cert *x509.Certificate
		want string
	}{
		"ok/leaf":         {leaf, base + "/crl/signing-profiles/chain_test/" + v.Version + ".crl"},
		"ok/intermediate": {inter, base + "/crl/root.crl"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if len(c.cert.CRLDistributionPoints) != 1 || c.cert.CRLDistributionPoints[0] != c.want || !strings.HasPrefix(c.want, "http://") {
				t.Errorf("CRL distribution points %v, want [%s]", c.cert.CRLDistributionPoints, c.want)
			}
		})
	}

	// The root is what GET /pki/root.pem serves.
	status, _, _ := do(t, ts, rawRequest{method: "GET", path: "/pki/root.pem"})
	if status != 200 {
		t.Errorf("GET /pki/root.pem = %d", status)
	}
}
