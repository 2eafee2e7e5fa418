package signing

import "errors"

// Sentinel errors. Every error the Service returns for a caller mistake is
// an *Error wrapping one of these, with a message that says what to fix.
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

// Error is a caller-facing error: Msg is safe to send to the client and
// Unwrap gives the sentinel the API layer maps to a wire code.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the sentinel kind.
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, msg string) error { return &Error{Kind: kind, Msg: msg} }
