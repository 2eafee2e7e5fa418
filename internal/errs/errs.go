// Package errs holds the two error types Signet's domain packages return
// for a caller's mistake: an [Error], a sentinel kind with a message
// written for the caller, and a [FieldError], a request field that breaks
// a constraint. Callers branch on the kind with errors.Is; the API layer
// maps the kind to a wire code and writes a FieldError in the words of
// the API it serves.
//
// The package imports nothing of Signet, so every domain package may
// use it.
package errs

import (
	"fmt"
	"strconv"
)

// Error is a caller-facing error: Msg says what is wrong and is safe to
// send to the client; Unwrap gives the sentinel Kind.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the sentinel kind.
func (e *Error) Unwrap() error { return e.Kind }

// Errorf returns an *Error of kind whose message is formatted as by
// fmt.Sprintf.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// FieldError is a request field that breaks a constraint. Exactly one of
// three forms applies: the field has a Value that is repeated in the
// message (the zero form); the field is Null (missing); or the field
// breaks the constraint as a whole and its value is not repeated
// (OmitValue: a list, a payload).
type FieldError struct {
	Kind  error  // the sentinel, e.g. the domain's ErrInvalid
	Field string // the field as the API names it, e.g. "timeout"
	Value string // the offending value, as the caller gave it
	Null  bool   // the field is missing
	// OmitValue: the value is not repeated.
	OmitValue bool
	// Constraint is what the field must satisfy, starting with "must",
	// e.g. "must be between 1 and 900"; "" with Null means "must not be
	// null".
	Constraint string
}

// Error reads "timeout "0" must be between 1 and 900", "role must not be
// null" or "tags must have at most 50 entries".
func (e *FieldError) Error() string {
	if e.Null || e.OmitValue {
		return e.Field + " " + e.Must()
	}
	return e.Field + " " + strconv.Quote(e.Value) + " " + e.Must()
}

// Unwrap returns the sentinel kind.
func (e *FieldError) Unwrap() error { return e.Kind }

// Must is the constraint, with the default of a Null field.
func (e *FieldError) Must() string {
	if e.Constraint == "" && e.Null {
		return "must not be null"
	}
	return e.Constraint
}

// Value returns the FieldError of field, whose value breaks the
// constraint formatted as by fmt.Sprintf.
func Value(kind error, field, value, constraint string, args ...any) *FieldError {
	return &FieldError{Kind: kind, Field: field, Value: value, Constraint: fmt.Sprintf(constraint, args...)}
}

// Null returns the FieldError of field, which is missing.
func Null(kind error, field string) *FieldError {
	return &FieldError{Kind: kind, Field: field, Null: true}
}

// Field returns the FieldError of field, which as a whole breaks the
// constraint formatted as by fmt.Sprintf; its value is not repeated.
func Field(kind error, field, constraint string, args ...any) *FieldError {
	return &FieldError{Kind: kind, Field: field, OmitValue: true, Constraint: fmt.Sprintf(constraint, args...)}
}
