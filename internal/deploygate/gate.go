// Package deploygate decides, at every deployment, whether a function or
// layer package may run under a code signing config, exactly as Lambda
// does: the integrity check always blocks; under Enforce, an unsigned,
// expired, foreign-signed (mismatch) or revoked package is refused; under
// Warn it deploys with a recorded warning.
//
// # Checks
//
// In Lambda's order: integrity (the bytes are the ones signed; a signature
// that cannot be read counts as an integrity failure), expiry, mismatch
// (signed by an allowed profile version — a profile ARN without a version
// allows any of its versions — under a trusted root) and revocation.
package deploygate

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/signet/signet/internal/verify"
)

// Policy is a code signing config's UntrustedArtifactOnDeployment.
type Policy string

// Policies, case-sensitive as in Lambda.
const (
	Warn    Policy = "Warn"
	Enforce Policy = "Enforce"
)

// Check names what the gate found wrong.
type Check string

// The checks.
const (
	CheckUnsigned   Check = "unsigned"
	CheckIntegrity  Check = "integrity"
	CheckExpiry     Check = "expiry"
	CheckMismatch   Check = "mismatch"
	CheckRevocation Check = "revocation"
)

// Why the gate refuses a package (Decision.Refusal).
var (
	// ErrSignatureInvalid: the signature fails the integrity check (or
	// cannot be read); refused under every policy.
	ErrSignatureInvalid = errors.New("code signature failed the integrity check")
	// ErrVerificationFailed: the package is unsigned, or its signature
	// is expired, not from an allowed publisher or revoked, under
	// Enforce.
	ErrVerificationFailed = errors.New("code signature verification failed")
)

// Config is what the gate needs of a code signing config.
type Config struct {
	ARN               string
	AllowedPublishers []string // profile version ARNs, or profile ARNs (any version)
	Policy            Policy
}

// Decision is the gate's verdict on one package.
type Decision struct {
	Allowed bool
	// Failed is the check that failed, "" if none (or no config applied).
	Failed Check
	// Warned is true when Warn let a failed check through: the caller
	// counts SignatureValidationErrors and records an audit event.
	Warned bool
	// Refusal is why the package is not Allowed (ErrSignatureInvalid or
	// ErrVerificationFailed), nil when it is; Message tells the caller.
	Refusal error
	Message string
	Detail  string // what the failed check found
	// From a verified signature: what GetFunction reports.
	ProfileVersionARN string
	JobARN            string
}

// Gate checks packages.
type Gate struct {
	Roots []*x509.Certificate
	// Revocation is required: the gate never decides without checking
	// revocation (Check fails with ErrNoRevocation when it is nil).
	Revocation verify.RevocationChecker
	Now        func() time.Time // nil: time.Now
}

// ErrNoRevocation is returned by Check when the gate has no revocation
// checker.
var ErrNoRevocation = errors.New("deploy gate: no revocation checker; the gate does not decide without one")

// Check decides whether the package in r (size bytes) may deploy under
// cfg; cfg nil means no code signing config: the package deploys
// unchecked, as in Lambda. It returns an error only when the package
// cannot be read.
func (g *Gate) Check(ctx context.Context, r io.ReaderAt, size int64, cfg *Config) (Decision, error) {
	if cfg == nil {
		return Decision{Allowed: true}, nil
	}
	if g.Revocation == nil {
		return Decision{}, ErrNoRevocation
	}
	opts := verify.Options{Roots: g.Roots, Revocation: g.Revocation, Context: ctx}
	if g.Now != nil {
		opts.Now = g.Now()
	}
	opts.AllowedPublishers = cfg.AllowedPublishers
	rep, err := verify.Package(r, size, opts)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Allowed: true}
	if rep.OK() {
		d.ProfileVersionARN, d.JobARN = rep.ProfileVersionARN, rep.JobARN
	}
	if rep.OK() {
		return d, nil
	}
	detail := rep.Results[len(rep.Results)-1].Detail
	switch rep.Failed {
	case verify.RuleSignature:
		if rep.Envelope == nil {
			d.Failed = CheckUnsigned
		} else {
			d.Failed = CheckIntegrity
		}
	case verify.RuleIntegrity:
		d.Failed = CheckIntegrity
	case verify.RuleExpiry:
		d.Failed = CheckExpiry
	case verify.RuleAuthenticity, verify.RulePublisher:
		d.Failed = CheckMismatch
	case verify.RuleRevocation:
		d.Failed = CheckRevocation
	}
	d.Detail = detail
	if d.Failed == CheckIntegrity {
		d.Allowed, d.Refusal = false, ErrSignatureInvalid
		d.Message = fmt.Sprintf("The code signature failed the integrity check (%s). Lambda always blocks deployment if the integrity check fails, even if code signing policy is set to WARN.", detail)
		return d, nil
	}
	if cfg.Policy != Enforce {
		d.Warned = true
		return d, nil
	}
	d.Allowed, d.Refusal = false, ErrVerificationFailed
	what := map[Check]string{
		CheckUnsigned:   "the package is not signed",
		CheckExpiry:     "the signature has expired",
		CheckMismatch:   "the signature is not from an allowed publisher",
		CheckRevocation: "the signature is revoked",
	}[d.Failed]
	if detail != "" && detail != what {
		what += " (" + detail + ")"
	}
	d.Message = fmt.Sprintf("Lambda cannot deploy the function. The function or layer might be signed using a signature that the client is not configured to accept. Check the provided signature for %s: %s.", cfg.ARN, what)
	return d, nil
}
