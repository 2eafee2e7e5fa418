package notationplugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"
)

// TestAPIError: every Signer API failure becomes the plugin protocol's
// error code, with a message that says what to fix.
func TestAPIError(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("operation error: %w", &smithy.GenericAPIError{Code: code, Message: "the detail"})
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	cases := []struct {
		name string
		err  error
		code plugin.ErrorCode
		msg  string
	}{
		{"access-denied", api("AccessDeniedException"), plugin.ErrorCodeAccessDenied, "must allow signer:SignPayload"},
		{"unknown-key", api("UnrecognizedClientException"), plugin.ErrorCodeAccessDenied, "check the AWS credentials"},
		{"bad-signature", api("InvalidSignatureException"), plugin.ErrorCodeAccessDenied, "check the AWS credentials"},
		{"not-found", api("ResourceNotFoundException"), plugin.ErrorCodeValidation, "check --id"},
		{"validation", api("ValidationException"), plugin.ErrorCodeValidation, "the detail"},
		{"throttled", api("TooManyRequestsException"), plugin.ErrorCodeThrottled, "retry later"},
		{"throttled-old", api("ThrottlingException"), plugin.ErrorCodeThrottled, "retry later"},
		{"internal", api("InternalServiceError"), plugin.ErrorCodeGeneric, "the detail"},
		{"deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), plugin.ErrorCodeTimeout, "did not answer SignPayload in time"},
		{"refused", fmt.Errorf("send: %w", refused), plugin.ErrorCodeGeneric, "cannot reach Signet at http://signet.example:9090"},
		{"other", errors.New("something"), plugin.ErrorCodeGeneric, "SignPayload at http://signet.example:9090 failed"},
	}
	c := &client{endpoint: "http://signet.example:9090"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var pe *plugin.Error
			if err := c.apiError("SignPayload", tc.err); !errors.As(err, &pe) || pe.ErrCode != tc.code || !strings.Contains(pe.Message, tc.msg) {
				t.Errorf("apiError = %v, want code %s with %q", err, tc.code, tc.msg)
			}
		})
	}
}

func TestParseKeyID(t *testing.T) {
	cases := []struct {
		id   string
		want profileRef
		ok   bool
	}{
		{"images", profileRef{Name: "images"}, true},
		{"arn:aws:signer:eu-west-1:123456789012:/signing-profiles/images", profileRef{Name: "images", Owner: "123456789012", Region: "eu-west-1"}, true},
		{"arn:aws:signer:eu-west-1:123456789012:/signing-profiles/images/ABCDEFGHIJ", profileRef{}, false},
		{"arn:aws:signer:eu-west-1:123456789012:/signing-jobs/x", profileRef{}, false},
		{"arn:aws:signer:eu-west-1:123456789012:/signing-profiles/my-images", profileRef{}, false},
		{"x", profileRef{}, false},
		{"", profileRef{}, false},
	}
	for _, c := range cases {
		got, err := parseKeyID(c.id)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseKeyID(%q) = %+v, %v; want %+v, ok %v", c.id, got, err, c.want, c.ok)
		}
	}
}
