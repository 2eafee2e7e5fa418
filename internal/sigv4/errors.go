package sigv4

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrUnknownAccessKey is returned (possibly wrapped) by a [CredentialStore]
// when the access key does not exist.
var ErrUnknownAccessKey = errors.New("sigv4: unknown access key")

// Error is an authentication failure with the AWS error code, HTTP status and
// message AWS sends for it.
type Error struct {
	// Code is the AWS error code, e.g. "InvalidSignatureException".
	Code string
	// Status is the HTTP status code AWS answers with.
	Status int
	// Message is the human-readable message, in AWS's wording.
	Message string
	// Skewed is set when the request time is outside the allowed clock
	// skew, which S3 reports as RequestTimeTooSkewed rather than as a
	// signature mismatch.
	Skewed bool
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("sigv4: %s: %s", e.Code, e.Message)
}

// AWS error codes used by this package.
const (
	codeMissingToken       = "MissingAuthenticationTokenException"
	codeIncomplete         = "IncompleteSignatureException"
	codeInvalidSignature   = "InvalidSignatureException"
	codeUnrecognizedClient = "UnrecognizedClientException"
	codeExpiredToken       = "ExpiredTokenException"
	codeNotImplemented     = "NotImplemented"
	// S3-only codes, for the S3 specific payload checks.
	codeContentSHA256Mismatch = "XAmzContentSHA256Mismatch"
	codeInvalidArgument       = "InvalidArgument"
	codeAccessDenied          = "AccessDenied"
	codeInvalidRequest        = "InvalidRequest"
	codeIncompleteBody        = "IncompleteBody"
	codeBadDigest             = "BadDigest"
	codeMalformedTrailer      = "MalformedTrailerError"
)

// AWS messages used by this package.
const (
	msgMissingToken      = "Missing Authentication Token"
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken     = "The security token included in the request is invalid."
	msgExpiredToken     = "The security token included in the request is expired"
	msgHostNotSigned    = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	msgRequestExpired   = "Request has expired"
	msgNotImplemented   = "A header you provided implies functionality that is not implemented."
	msgContentSHA256    = "The provided 'x-amz-content-sha256' header does not match what was computed."
	msgBadContentSHA256 = "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, " +
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, " +
		"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER " +
		"or a valid sha256 value."
)

func errMissingToken() *Error {
	return &Error{Code: codeMissingToken, Status: http.StatusForbidden, Message: msgMissingToken}
}

func errIncomplete(format string, args ...any) *Error {
	return &Error{Code: codeIncomplete, Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func errInvalidSignature(msg string) *Error {
	return &Error{Code: codeInvalidSignature, Status: http.StatusForbidden, Message: msg}
}

func errSignatureMismatch() *Error { return errInvalidSignature(msgSignatureMismatch) }

func errInvalidToken() *Error {
	return &Error{Code: codeUnrecognizedClient, Status: http.StatusForbidden, Message: msgInvalidToken}
}

func errExpiredToken() *Error {
	return &Error{Code: codeExpiredToken, Status: http.StatusForbidden, Message: msgExpiredToken}
}

func errNotImplemented(detail string) *Error {
	return &Error{Code: codeNotImplemented, Status: http.StatusNotImplemented, Message: msgNotImplemented + " " + detail}
}

// errSignatureExpired is AWS's message for a request time too far in the past.
func errSignatureExpired(t, now time.Time, skew time.Duration) *Error {
	return skewed(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
		t.UTC().Format(timeFormat), now.Add(-skew).UTC().Format(timeFormat), now.UTC().Format(timeFormat), skewString(skew)))
}

// errSignatureNotYetCurrent is AWS's message for a request time too far in the future.
func errSignatureNotYetCurrent(t, now time.Time, skew time.Duration) *Error {
	return skewed(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
		t.UTC().Format(timeFormat), now.Add(skew).UTC().Format(timeFormat), now.UTC().Format(timeFormat), skewString(skew)))
}

func skewed(msg string) *Error {
	e := errInvalidSignature(msg)
	e.Skewed = true
	return e
}

// errPresignExpired reports a presigned URL used after X-Amz-Date + X-Amz-Expires.
func errPresignExpired(service string) *Error {
	if service == "s3" {
		return &Error{Code: codeAccessDenied, Status: http.StatusForbidden, Message: msgRequestExpired}
	}
	return errInvalidSignature(msgRequestExpired)
}

// skewString formats the allowed skew the way AWS does ("15 min").
func skewString(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return fmt.Sprintf("%d sec", d/time.Second)
}
