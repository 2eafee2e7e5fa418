package awsapi_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/awsapi/lambdaapi"
	"github.com/signet/signet/internal/awsapi/signerapi"
	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/signing"
)

// TestFieldError checks that a domain package's FieldError reaches the
// wire in AWS's words, with the code the service's table gives its kind.
func TestFieldError(t *testing.T) {
	signer := (&signerapi.Signer{}).Service()
	lambda := (&lambdaapi.Lambda{}).Service()
	manyTags := map[string]string{}
	for i := range signing.MaxTags + 1 {
		manyTags["k"+strconv.Itoa(i)] = "v"
	}
	cases := []struct {
		name   string
		svc    *awsapi.Service
		op     string
		err    error
		code   string
		status int
		msg    string
	}{
		{"ok/value", signer, "PutSigningProfile", signing.ValidateProfileName("a-b"), "ValidationException", 400,
			"1 validation error detected: Value 'a-b' at 'profileName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]{2,64}$ (2 to 64 letters, digits or underscores; hyphens are not allowed)"},
		{"ok/value-tag-op", signer, "TagResource", signing.ValidateTagKey("tags", "aws:x"), "BadRequestException", 400,
			"1 validation error detected: Value 'aws:x' at 'tags' failed to satisfy constraint: Member must not start with 'aws:', which is reserved"},
		{"ok/omitted", signer, "TagResource", signing.ValidateTags(manyTags), "BadRequestException", 400,
			"1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have at most 50 entries, got 51"},
		{"ok/null", lambda, "CreateFunction", errs.Null(functions.ErrInvalid, "role"), "InvalidParameterValueException", 400,
			"1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"},
		{"ok/null-hint", signer, "RemoveProfilePermission", &errs.FieldError{Kind: signing.ErrInvalid, Field: "revisionId", Null: true, Constraint: "must not be null (pass the revisionId from ListProfilePermissions)"}, "ValidationException", 400,
			"1 validation error detected: Value null at 'revisionId' failed to satisfy constraint: Member must not be null (pass the revisionId from ListProfilePermissions)"},
		{"ok/wrapped", lambda, "UpdateFunctionConfiguration", fmt.Errorf("update hello: %w", errs.Value(functions.ErrInvalid, "timeout", "0", "must be between 1 and 900")), "InvalidParameterValueException", 400,
			"1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: Member must be between 1 and 900"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil {
				t.Fatal("the domain returned no error")
			}
			e := c.svc.MapError(c.op, c.err)
			if e.Code != c.code || e.Status != c.status || e.Message != c.msg {
				t.Errorf("MapError = %d %s %q\nwant %d %s %q", e.Status, e.Code, e.Message, c.status, c.code, c.msg)
			}
		})
	}
}

func TestValidationMessage(t *testing.T) {
	cases := []struct {
		name string
		err  *errs.FieldError
		want string
	}{
		{"ok/value", errs.Value(nil, "maxResults", "0", "must be between 1 and %d", 100),
			"1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must be between 1 and 100"},
		{"ok/null", errs.Null(nil, "userName"),
			"1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{"ok/omitted", errs.Field(nil, "payload", "must have length between 1 and %d bytes, got %d", 10, 0),
			"1 validation error detected: Value at 'payload' failed to satisfy constraint: Member must have length between 1 and 10 bytes, got 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := awsapi.ValidationMessage(c.err); got != c.want {
				t.Errorf("ValidationMessage = %q\nwant %q", got, c.want)
			}
			e := awsapi.Validation("ValidationError", 400, c.err)
			if e.Code != "ValidationError" || e.Status != 400 || e.Message != c.want {
				t.Errorf("Validation = %+v", e)
			}
		})
	}
}

// TestRefusal checks that the deploy gate's refusals, domain sentinels,
// get Lambda's codes on the wire and in the audit log (ErrorCode).
func TestRefusal(t *testing.T) {
	lambda := (&lambdaapi.Lambda{}).Service()
	cases := []struct {
		name    string
		refusal error
		code    string
	}{
		{"ok/integrity", deploygate.ErrSignatureInvalid, "InvalidCodeSignatureException"},
		{"ok/enforce", deploygate.ErrVerificationFailed, "CodeVerificationFailedException"},
		{"ok/allowed", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := lambdaapi.ErrorCode(c.refusal); got != c.code {
				t.Errorf("ErrorCode = %q, want %q", got, c.code)
			}
			if c.refusal == nil {
				return
			}
			e := lambda.MapError("UpdateFunctionCode", &errs.Error{Kind: c.refusal, Msg: "Lambda cannot deploy the function."})
			if e.Code != c.code || e.Status != 400 || e.Message != "Lambda cannot deploy the function." {
				t.Errorf("MapError = %d %s %q", e.Status, e.Code, e.Message)
			}
		})
	}
}

// TestStartErrorType checks Lambda's names for a function that cannot
// start, which the invoke package leaves to the API layer.
func TestStartErrorType(t *testing.T) {
	cases := []struct {
		name string
		kind error
		want string
	}{
		{"ok/runtime", invoke.ErrUnsupportedRuntime, "InvalidRuntimeException"},
		{"ok/package", invoke.ErrBadPackage, "InvalidZipFileException"},
		{"ok/wrapped", fmt.Errorf("unpack: %w", invoke.ErrBadPackage), "InvalidZipFileException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := lambdaapi.StartErrorType(c.kind); got != c.want {
				t.Errorf("StartErrorType = %q, want %q", got, c.want)
			}
		})
	}
}

// TestThrottleReason checks that the limit an invocation is over reaches
// the wire as Lambda's Reason.
func TestThrottleReason(t *testing.T) {
	lambda := (&lambdaapi.Lambda{}).Service()
	cases := []struct {
		name   string
		limit  invoke.Limit
		reason string
	}{
		{"ok/reserved", invoke.LimitReserved, "ReservedFunctionConcurrentInvocationLimitExceeded"},
		{"ok/unreserved", invoke.LimitUnreserved, "ConcurrentInvocationLimitExceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := lambda.MapError("Invoke", fmt.Errorf("invoke: %w", &invoke.ThrottleError{Limit: c.limit}))
			if e.Code != "TooManyRequestsException" || e.Status != 429 || e.Message != "Rate Exceeded." || e.Reason != c.reason {
				t.Errorf("MapError = %d %s %q reason %q, want reason %q", e.Status, e.Code, e.Message, e.Reason, c.reason)
			}
		})
	}
}
