package awsapi

import (
	"errors"
	"net/http"

	"github.com/signet/signet/internal/signing"
	"github.com/signet/signet/internal/sigv4"
)

// codes maps domain sentinels to AWS error codes. It is the one place that
// knows AWS's names for Signet's errors; per-operation exceptions (the
// tagging operations' NotFoundException) are in each service's MapError.
var codes = []struct {
	kind   error
	code   string
	status int
}{
	{signing.ErrNotFound, "ResourceNotFoundException", http.StatusNotFound},
	{signing.ErrInvalid, "ValidationException", http.StatusBadRequest},
	{signing.ErrConflict, "ConflictException", http.StatusConflict},
	{signing.ErrLimitExceeded, "ServiceLimitExceededException", http.StatusPaymentRequired},
	{signing.ErrCanceled, "ValidationException", http.StatusBadRequest},
}

// MapError turns any error into an AWS error. Unknown errors become
// InternalServiceErrorException without detail (the detail is logged).
func MapError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ae *sigv4.Error
	if errors.As(err, &ae) {
		return &Error{Code: ae.Code, Status: ae.Status, Message: ae.Message}
	}
	for _, c := range codes {
		if errors.Is(err, c.kind) {
			return &Error{Code: c.code, Status: c.status, Message: safeMessage(err)}
		}
	}
	return &Error{Code: "InternalServiceErrorException", Status: http.StatusInternalServerError,
		Message: "an internal error occurred; retry, and report the request id if it persists"}
}

// safeMessage returns the caller-facing message of a domain error.
func safeMessage(err error) string {
	var se *signing.Error
	if errors.As(err, &se) {
		return se.Msg
	}
	return err.Error()
}
