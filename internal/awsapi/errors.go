package awsapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/sigv4"
)

// Error is an AWS error: its code (the X-Amzn-ErrorType / __type), HTTP
// status and a message that says what to fix.
type Error struct {
	Code    string
	Status  int
	Message string
	Reason  string // Lambda's TooManyRequestsException reason
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrorCode is one entry of a service's error registry: the AWS code and
// HTTP status of a domain error. Domain packages return plain sentinel
// errors, wrapped for the caller in an *errs.Error (a message) or an
// *errs.FieldError (a field and the constraint it breaks, which MapError
// writes in AWS's words); each service package lists, in one table, what
// AWS calls them.
type ErrorCode struct {
	// Err is the domain sentinel the entry stands for (errors.Is).
	Err error
	// Match, instead of Err, recognises errors that have no sentinel
	// (a network timeout).
	Match func(error) bool
	// From, instead of Err, renames an *Error the core produced with
	// this code (Lambda's InvalidRequestContentException for a body
	// that is not JSON).
	From   string
	Code   string
	Status int // 0 keeps the renamed error's
	// Message, when set, replaces the error's own (S3's fixed texts).
	Message string
	// Reason, when set, gives the error's Reason (Lambda's throttling
	// reasons).
	Reason func(error) string
	// Ops limits the entry to these operations (Signer's tagging
	// operations answer NotFoundException, the others
	// ResourceNotFoundException).
	Ops []string
}

func (c ErrorCode) matches(op string, err error) bool {
	if len(c.Ops) > 0 && !slices.Contains(c.Ops, op) {
		return false
	}
	switch {
	case c.Err != nil:
		return errors.Is(err, c.Err)
	case c.Match != nil:
		return c.Match(err)
	}
	return false
}

// Throttled is the error of a request over its rate limit; each service
// answers it with its own code (Service.Throttle).
type Throttled struct{ Message string }

func (e *Throttled) Error() string { return e.Message }

// MapError turns err, returned by operation op, into the AWS error the
// service answers with: the first entry of its registry that matches, an
// *Error as it is (renamed by an entry From its code), or else the
// service's Internal error, whose detail is only logged.
func (s *Service) MapError(op string, err error) *Error {
	var th *Throttled
	if errors.As(err, &th) {
		e := s.Throttle
		e.Message = th.Message
		return &e
	}
	var e *Error
	isAWS := errors.As(err, &e)
	for _, c := range s.Errors {
		if isAWS {
			if c.From == e.Code {
				r := &Error{Code: c.Code, Status: c.Status, Message: e.Message, Reason: e.Reason}
				if r.Status == 0 {
					r.Status = e.Status
				}
				return r
			}
			continue
		}
		if c.matches(op, err) {
			r := &Error{Code: c.Code, Status: c.Status, Message: c.Message}
			if c.Reason != nil {
				r.Reason = c.Reason(err)
			}
			if r.Message == "" {
				r.Message = message(err, c.Err)
			}
			return r
		}
	}
	if isAWS {
		return e
	}
	var ae *sigv4.Error
	if errors.As(err, &ae) {
		return &Error{Code: ae.Code, Status: ae.Status, Message: ae.Message}
	}
	internal := s.Internal
	if internal.Code == "" {
		internal = Error{Code: "InternalServiceErrorException", Status: http.StatusInternalServerError}
	}
	if internal.Message == "" {
		internal.Message = "an internal error occurred; retry, and report the request id if it persists"
	}
	return &internal
}

// mapAuth maps an error of authentication, found before dispatch.
func (s *Service) mapAuth(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ae *sigv4.Error
	if errors.As(err, &ae) {
		return &Error{Code: ae.Code, Status: ae.Status, Message: ae.Message}
	}
	return &Error{Code: "InternalServiceErrorException", Status: http.StatusInternalServerError,
		Message: "an internal error occurred; retry, and report the request id if it persists"}
}

// message is the caller-facing message of a domain error: that of the
// error in err's chain that wraps the sentinel directly (the domain's
// error value, whose message is written for the caller), else err's. A
// FieldError is written in AWS's words (see ValidationMessage).
func message(err, sentinel error) string {
	if sentinel != nil {
		if w := wrapperOf(err, sentinel); w != nil {
			return text(w)
		}
	}
	return text(err)
}

func text(err error) string {
	if fe, ok := err.(*errs.FieldError); ok {
		return ValidationMessage(fe)
	}
	return err.Error()
}

func wrapperOf(err, sentinel error) error {
	for err != nil {
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if u.Unwrap() == sentinel {
				return err
			}
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if w := wrapperOf(e, sentinel); w != nil {
					return w
				}
			}
			return nil
		default:
			return nil
		}
	}
	return nil
}

// ValidationMessage is AWS's text for a field that breaks a constraint:
// "1 validation error detected: Value 'x' at 'field' failed to satisfy
// constraint: Member must …", with "Value null at" for a missing field
// and "Value at" for one whose value is not repeated.
func ValidationMessage(fe *errs.FieldError) string {
	const prefix = "1 validation error detected: "
	switch {
	case fe.Null:
		return prefix + "Value null at '" + fe.Field + "' failed to satisfy constraint: Member " + fe.Must()
	case fe.OmitValue:
		return prefix + "Value at '" + fe.Field + "' failed to satisfy constraint: Member " + fe.Must()
	}
	return prefix + "Value '" + fe.Value + "' at '" + fe.Field + "' failed to satisfy constraint: Member " + fe.Must()
}

// Validation returns the *Error, of code and status, of a field that
// breaks a constraint, for errors an API layer finds itself (a query
// parameter that is not a number).
func Validation(code string, status int, fe *errs.FieldError) *Error {
	return &Error{Code: code, Status: status, Message: ValidationMessage(fe)}
}

// Errorf returns an *Error with a formatted message.
func Errorf(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}
