package revocation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"

	corerevocation "github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/ocsp"
	"github.com/notaryproject/notation-core-go/revocation/result"

	"github.com/signet/signet/internal/signing"
)

// Local is a revocation check (notation-core-go's Validator) for a
// verifier inside Signet: a chain that ends at Signet's root is judged
// from Signet's own records, as its OCSP responders would judge it but
// without signing and verifying OCSP responses; any other chain goes to
// Fallback. Each certificate's signature by its issuer is still checked
// (a pair once verified is remembered).
type Local struct {
	Service  *signing.Service
	Root     *x509.Certificate
	Fallback corerevocation.Validator

	mu       sync.Mutex
	verified map[[2][32]byte]bool
}

// maxVerifiedPairs bounds the remembered certificate pairs.
const maxVerifiedPairs = 65536

var _ corerevocation.Validator = (*Local)(nil)

// ValidateContext answers like notation-core-go's OCSP check: per
// certificate OK, or Revoked (unless the signing time is before the
// revocation's invalidity date), the root non-revokable.
func (l *Local) ValidateContext(ctx context.Context, opts corerevocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	chain := opts.CertChain
	if len(chain) < 2 || !chain[len(chain)-1].Equal(l.Root) {
		return l.Fallback.ValidateContext(ctx, opts)
	}
	out := make([]*result.CertRevocationResult, len(chain))
	for i, c := range chain[:len(chain)-1] {
		if err := l.issued(c, chain[i+1]); err != nil {
			return nil, result.InvalidChainError{Err: err}
		}
		st, ok, err := l.Service.CertificateStatus(ctx, c, chain[i+1])
		if err != nil {
			return nil, err
		}
		if !ok {
			return l.Fallback.ValidateContext(ctx, opts)
		}
		r, rerr := result.ResultOK, error(nil)
		if st.Revoked && !(!st.InvalidFrom.IsZero() && !opts.AuthenticSigningTime.IsZero() && opts.AuthenticSigningTime.Before(st.InvalidFrom)) {
			r, rerr = result.ResultRevoked, ocsp.RevokedError{}
		}
		out[i] = &result.CertRevocationResult{
			Result:           r,
			ServerResults:    []*result.ServerResult{{Result: r, Server: st.Responder, Error: rerr, RevocationMethod: result.RevocationMethodOCSP}},
			RevocationMethod: result.RevocationMethodOCSP,
		}
	}
	out[len(chain)-1] = &result.CertRevocationResult{
		Result:           result.ResultNonRevokable,
		ServerResults:    []*result.ServerResult{{Result: result.ResultNonRevokable, RevocationMethod: result.RevocationMethodUnknown}},
		RevocationMethod: result.RevocationMethodUnknown,
	}
	return out, nil
}

// issued checks that parent signed child, remembering pairs checked.
func (l *Local) issued(child, parent *x509.Certificate) error {
	k := [2][32]byte{sha256.Sum256(child.Raw), sha256.Sum256(parent.Raw)}
	l.mu.Lock()
	ok := l.verified[k]
	l.mu.Unlock()
	if ok {
		return nil
	}
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return fmt.Errorf("certificate %q names issuer %q, not %q", child.Subject, child.Issuer, parent.Subject)
	}
	if err := child.CheckSignatureFrom(parent); err != nil {
		return fmt.Errorf("certificate %q is not issued by %q: %w", child.Subject, parent.Subject, err)
	}
	l.mu.Lock()
	if l.verified == nil || len(l.verified) >= maxVerifiedPairs {
		l.verified = map[[2][32]byte]bool{}
	}
	l.verified[k] = true
	l.mu.Unlock()
	return nil
}
