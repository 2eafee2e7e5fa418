package audit_test

import (
	"testing"

	"github.com/signet/signet/internal/audit"
)

func TestCategory(t *testing.T) {
	tests := map[string]struct {
		e    audit.Event
		want string
	}{
		"ok/gate-refusal": {audit.Event{Action: "lambda:CreateFunction", Decision: "Deny", Outcome: "CodeVerificationFailedException",
			Detail: "code signing check unsigned failed: "}, audit.CategoryDeployGate},
		"ok/gate-integrity": {audit.Event{Action: "lambda:UpdateFunctionCode", Decision: "Deny", Outcome: "InvalidCodeSignatureException"}, audit.CategoryDeployGate},
		"ok/gate-warning": {audit.Event{Action: "lambda:CreateFunction", Decision: "AllowWithWarning",
			Detail: "code signing check expiry failed: the signature has expired"}, audit.CategoryDeployGate},
		"ok/admission-deny":   {audit.Event{Action: "admission:Validate", Decision: "Deny"}, audit.CategoryAdmission},
		"ok/admission-allow":  {audit.Event{Action: "admission:Validate", Decision: "Allow", BreakGlass: true}, audit.CategoryAdmission},
		"ok/violation":        {audit.Event{Action: "workloads:Violation", Decision: "Violation"}, audit.CategoryViolation},
		"ok/revoke-signature": {audit.Event{Action: "signer:RevokeSignature", Decision: "Allow", Outcome: "200"}, audit.CategoryRevocation},
		"ok/revoke-profile":   {audit.Event{Action: "signer:RevokeSigningProfile", Decision: "Allow", Outcome: "200"}, audit.CategoryRevocation},
		"ok/console":          {audit.Event{Action: "signet:ConsoleSignIn", Decision: "Allow"}, audit.CategoryConsole},
		// The API request's own record of a refused deployment: its
		// decision is the authorization's, and the gate's record counts.
		"fail/gate-request-record": {audit.Event{Action: "lambda:CreateFunction", Decision: "Allow", Outcome: "400 CodeVerificationFailedException"}, ""},
		"fail/secret-scan-warning": {audit.Event{Action: "signer:StartSigningJob", Decision: "AllowWithWarning", Outcome: "SecretScanWarning",
			Detail: "secret scan: 1 finding"}, ""},
		"fail/revoke-refused":     {audit.Event{Action: "signer:RevokeSignature", Decision: "Deny", Outcome: "403 AccessDeniedException"}, ""},
		"fail/revoke-failed":      {audit.Event{Action: "signer:RevokeSignature", Decision: "Allow", Outcome: "404 ResourceNotFoundException"}, ""},
		"fail/access-denied":      {audit.Event{Action: "lambda:CreateFunction", Decision: "Deny", Outcome: "403 AccessDeniedException"}, ""},
		"fail/plain":              {audit.Event{Action: "signer:GetSigningProfile", Decision: "Allow", Outcome: "200"}, ""},
		"fail/break-glass-no-cat": {audit.Event{Action: "iam:CreateUser", Decision: "Allow", Outcome: "200", BreakGlass: true}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := audit.Category(tc.e); got != tc.want {
				t.Errorf("Category(%+v) = %q, want %q", tc.e, got, tc.want)
			}
		})
	}
}
