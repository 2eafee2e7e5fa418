// Package verify checks a signed function package offline: the signature
// is present, the package's bytes are the ones signed (integrity), the
// certificate chain leads to a trusted root (authenticity), the signature
// has not expired, and it was made by an allowed signing profile
// (publisher). It is the library behind `signet verify` and the deploy
// gate.
//
// # Rules
//
// The checks run in that order and the first failure decides; the
// [Report] says which rule decided and why.
package verify

import (
	"context"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/signedzip"
)

// Rule names a verification rule.
type Rule string

// The rules, in the order they are applied.
const (
	RuleSignature    Rule = "signature"    // the package carries a signature
	RuleIntegrity    Rule = "integrity"    // the signature can be read and the package is what was signed
	RuleAuthenticity Rule = "authenticity" // the chain leads to a trusted root
	RuleExpiry       Rule = "expiry"       // the signature has not expired
	RulePublisher    Rule = "publisher"    // an allowed profile signed it
	RuleRevocation   Rule = "revocation"   // neither the signature nor its profile version is revoked
)

// RevocationChecker checks a signature's certificate chain against its
// issuers' revocation lists, comparing invalidity dates with the signing
// time. Check returns revoked=true with a detail naming what is revoked,
// or an error when the status cannot be determined.
type RevocationChecker interface {
	Check(ctx context.Context, chain []*x509.Certificate, signingTime time.Time) (revoked bool, detail string, err error)
}

// Options are what a package is checked against.
type Options struct {
	Roots []*x509.Certificate // trusted roots
	Now   time.Time           // zero: time.Now()
	// AllowedPublishers are signing profile ARNs (any version) or profile
	// version ARNs; empty allows any profile under the trusted roots.
	AllowedPublishers []string
	// Revocation, if set, checks revocation last; nil skips the check.
	Revocation RevocationChecker
	// Context for the revocation check; nil: context.Background().
	Context context.Context
}

// Result is one rule's outcome.
type Result struct {
	Rule   Rule
	OK     bool
	Detail string
}

// Report is the outcome of verifying a package.
type Report struct {
	Results []Result // one per rule applied, in order
	// Failed is the rule that decided a failure; "" when the package passed.
	Failed Rule
	// Signature details, when the envelope could be read.
	Envelope          []byte
	EnvelopeType      signedzip.EnvelopeType
	Artifact          notary.Descriptor
	SigningTime       time.Time
	Expiry            time.Time
	ProfileVersionARN string
	JobARN            string
	Chain             []*x509.Certificate
	Unsigned          *signedzip.Unsigned // the original package, if the signature was found
}

// OK reports whether every rule passed.
func (r *Report) OK() bool { return r.Failed == "" }

// Err returns nil for a package that passed, or an error naming the rule.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	return &Error{Rule: r.Failed, Detail: r.Results[len(r.Results)-1].Detail}
}

// Error is a failed verification.
type Error struct {
	Rule   Rule
	Detail string
}

func (e *Error) Error() string { return fmt.Sprintf("%s check failed: %s", e.Rule, e.Detail) }

func (r *Report) pass(rule Rule, detail string) {
	r.Results = append(r.Results, Result{Rule: rule, OK: true, Detail: detail})
}

func (r *Report) fail(rule Rule, detail string) *Report {
	r.Results = append(r.Results, Result{Rule: rule, Detail: detail})
	r.Failed = rule
	return r
}

// Package verifies the signed package in r (size bytes). It returns an
// error only when r cannot be read; a package that fails a rule gives a
// Report whose Failed names it.
func Package(r io.ReaderAt, size int64, opts Options) (*Report, error) {
	rep := &Report{}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	s, err := signedzip.Open(r, size)
	switch {
	case errors.Is(err, signedzip.ErrNotSigned) || errors.Is(err, signedzip.ErrNotZip):
		return rep.fail(RuleSignature, "the package is not signed"), nil
	case errors.Is(err, signedzip.ErrMalformed) || errors.Is(err, signedzip.ErrUnsupportedVersion) || errors.Is(err, signedzip.ErrAmbiguous):
		// The package ends with a signature trailer that cannot be read:
		// it claims a signature, so it fails integrity, not as unsigned.
		return rep.fail(RuleIntegrity, "the package carries a signature that cannot be read: "+err.Error()), nil
	case err != nil:
		return nil, fmt.Errorf("failed to read package: %w", err)
	}
	rep.Envelope, rep.EnvelopeType, rep.Unsigned = s.Envelope, s.Type, s.Unsigned
	rep.pass(RuleSignature, fmt.Sprintf("%s envelope of %d bytes", s.Type.MediaType(), len(s.Envelope)))

	v, verr := notary.Verify(s.Envelope, s.Type.MediaType(), opts.Roots, now)
	var ve *notary.VerifyError
	if verr != nil && !errors.As(verr, &ve) {
		return nil, verr
	}
	if ve != nil && (ve.Check == notary.CheckFormat || ve.Check == notary.CheckIntegrity) {
		return rep.fail(RuleIntegrity, "the signature envelope does not verify: "+ve.Err.Error()), nil
	}
	// The envelope verified against its own key, so v is its content.
	rep.Artifact, rep.SigningTime, rep.Expiry = v.Artifact, v.SigningTime, v.Expiry
	rep.ProfileVersionARN, rep.JobARN, rep.Chain = v.ProfileVersionARN, v.JobARN, v.Chain
	// The digest check comes before the trust checks, so that a changed
	// package is reported as such whatever else is wrong.
	if err := checkDigest(rep, s.Unsigned, v); err != nil {
		return nil, err
	}
	if rep.Failed != "" {
		return rep, nil
	}
	if ve != nil {
		switch ve.Check {
		case notary.CheckAuthenticity:
			return rep.fail(RuleAuthenticity, ve.Err.Error()), nil
		case notary.CheckExpiry:
			rep.pass(RuleAuthenticity, "the certificate chain leads to a trusted root")
			return rep.fail(RuleExpiry, ve.Err.Error()), nil
		}
	}
	rep.pass(RuleAuthenticity, fmt.Sprintf("signed by %q under a trusted root", rep.Chain[0].Subject))
	if rep.Expiry.IsZero() {
		rep.pass(RuleExpiry, "the signature does not expire")
	} else {
		rep.pass(RuleExpiry, "valid until "+rep.Expiry.UTC().Format(time.RFC3339))
	}
	if len(opts.AllowedPublishers) > 0 {
		if !Allowed(rep.ProfileVersionARN, opts.AllowedPublishers) {
			return rep.fail(RulePublisher, fmt.Sprintf("signed by %s, which is not among the allowed publishers %s", orUnknown(rep.ProfileVersionARN), strings.Join(opts.AllowedPublishers, ", "))), nil
		}
		rep.pass(RulePublisher, "signed by allowed profile version "+rep.ProfileVersionARN)
	}
	if opts.Revocation != nil {
		ctx := opts.Context
		if ctx == nil {
			ctx = context.Background()
		}
		revoked, detail, err := opts.Revocation.Check(ctx, rep.Chain, rep.SigningTime)
		switch {
		case err != nil:
			return rep.fail(RuleRevocation, "revocation status unknown: "+err.Error()), nil
		case revoked:
			return rep.fail(RuleRevocation, detail), nil
		}
		rep.pass(RuleRevocation, detail)
	}
	return rep, nil
}

// checkDigest compares the package with the signed digest.
func checkDigest(rep *Report, u *signedzip.Unsigned, v *notary.Verified) error {
	want := v.Artifact
	alg, hexDigest, ok := strings.Cut(want.Digest, ":")
	if !ok || alg != "sha384" {
		rep.fail(RuleIntegrity, fmt.Sprintf("the signature's digest %q is not sha384", want.Digest))
		return nil
	}
	if want.Size != u.Size() {
		rep.fail(RuleIntegrity, fmt.Sprintf("the package is %d bytes but %d bytes were signed", u.Size(), want.Size))
		return nil
	}
	h := sha512.New384()
	if _, err := u.WriteTo(h); err != nil {
		return fmt.Errorf("failed to read package: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != hexDigest {
		rep.fail(RuleIntegrity, "the package's SHA-384 "+got[:16]+"… does not match the signed digest "+hexDigest[:min(16, len(hexDigest))]+"…")
		return nil
	}
	rep.pass(RuleIntegrity, "SHA-384 matches the signed digest")
	return nil
}

// Allowed reports whether a profile version ARN matches an allowed
// publisher: a profile ARN matches any of its versions, a profile version
// ARN only itself; comparison ignores case, as AWS's Notation plugin does.
func Allowed(versionARN string, allowed []string) bool {
	if versionARN == "" {
		return false
	}
	v := strings.ToLower(versionARN)
	for _, a := range allowed {
		a = strings.ToLower(a)
		if v == a || strings.HasPrefix(v, a+"/") {
			return true
		}
	}
	return false
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown profile"
	}
	return s
}
