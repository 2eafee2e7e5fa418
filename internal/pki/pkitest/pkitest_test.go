package pkitest

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestAuthority(t *testing.T) {
	a := New(t)
	leaf, key := a.IssueLeaf(t, Subject("pkitest leaf"))
	if !key.PublicKey.Equal(leaf.PublicKey) {
		t.Fatal("leaf certificate is not for the returned key")
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.Roots(),
		Intermediates: a.Intermediates(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		CurrentTime:   time.Now(),
	})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got := len(chains[0]); got != 3 || len(a.Chain(leaf)) != 3 {
		t.Fatalf("chain length = %d, want 3", got)
	}
}
