package signing

import (
	"errors"

	"github.com/signet/signet/internal/errs"
)

// Sentinel errors. Every error the Service returns for a caller mistake is
// an *errs.Error or, for a field that breaks a constraint, an
// *errs.FieldError wrapping one of these.
var (
	// ErrNotFound: the named profile, version or resource does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request is malformed or breaks a constraint.
	ErrInvalid = errors.New("invalid request")
	// ErrConflict: a revision id did not match, or an id is already in use.
	ErrConflict = errors.New("conflict")
	// ErrLimitExceeded: a per-resource limit would be exceeded.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrCanceled: the operation is not allowed on a canceled profile.
	ErrCanceled = errors.New("profile canceled")
)

// newError returns the caller-facing error of kind: msg says what to fix.
func newError(kind error, msg string) error { return &errs.Error{Kind: kind, Msg: msg} }
