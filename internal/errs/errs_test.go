package errs_test

import (
	"errors"
	"testing"

	"github.com/signet/signet/internal/errs"
)

var errInvalid = errors.New("invalid request")

func TestError(t *testing.T) {
	err := errs.Errorf(errInvalid, "profile %s is canceled", "p1")
	if got, want := err.Error(), "profile p1 is canceled"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, errInvalid) {
		t.Errorf("errors.Is(%v, errInvalid) = false", err)
	}
}

func TestFieldError(t *testing.T) {
	cases := []struct {
		name string
		err  *errs.FieldError
		want string
	}{
		{"ok/value", errs.Value(errInvalid, "timeout", "0", "must be between %d and %d", 1, 900), `timeout "0" must be between 1 and 900`},
		{"ok/value-quoted", errs.Value(errInvalid, "functionName", "a b'c", "must satisfy regular expression pattern: [a-zA-Z0-9-_]+"), `functionName "a b'c" must satisfy regular expression pattern: [a-zA-Z0-9-_]+`},
		{"ok/empty-value", errs.Value(errInvalid, "status", "", "must be Active"), `status "" must be Active`},
		{"ok/null", errs.Null(errInvalid, "role"), "role must not be null"},
		{"ok/null-hint", &errs.FieldError{Kind: errInvalid, Field: "revisionId", Null: true, Constraint: "must not be null (pass the revisionId)"}, "revisionId must not be null (pass the revisionId)"},
		{"ok/omitted", errs.Field(errInvalid, "tags", "must have at most %d entries, got %d", 50, 51), "tags must have at most 50 entries, got 51"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.err.Error(); got != c.want {
				t.Errorf("Error() = %q, want %q", got, c.want)
			}
			if !errors.Is(c.err, errInvalid) {
				t.Errorf("errors.Is(%v, errInvalid) = false", c.err)
			}
		})
	}
}
