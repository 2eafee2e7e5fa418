package audit

import "strings"

// The categories of events the console counts and searches by (see
// [Category]).
const (
	CategoryDeployGate = "deploy-gate" // a deployment the deploy gate refused or warned about
	CategoryAdmission  = "admission"   // an admission webhook decision
	CategoryViolation  = "violation"   // a running workload found out of policy
	CategoryRevocation = "revocation"  // a signature or a signing profile revoked
	CategoryConsole    = "console"     // a web console sign-in or sign-out
)

// Categories lists every category [Category] returns, "" aside.
var Categories = []string{CategoryDeployGate, CategoryAdmission, CategoryViolation, CategoryRevocation, CategoryConsole}

// Category sorts an event for the console, from what the event says
// only (the same event always falls in the same category), or returns
// "" for an event in none:
//
//   - deploy-gate: the deploy gate's own record of a package it refused
//     (Decision Deny, Outcome CodeVerificationFailedException or
//     InvalidCodeSignatureException) or let through with a warning
//     (Decision AllowWithWarning, Detail "code signing check … failed");
//     not the record of the API request, whose decision is the
//     authorization's;
//   - admission: an admission:Validate decision;
//   - violation: a workloads:Violation;
//   - revocation: an allowed signer:RevokeSignature or
//     signer:RevokeSigningProfile that succeeded (a 2xx outcome);
//   - console: an action of the web console (signet:Console…).
//
// Break-glass use is not a category: it is Event.BreakGlass, whatever
// the category.
func Category(e Event) string {
	switch {
	case e.Action == "admission:Validate":
		return CategoryAdmission
	case e.Action == "workloads:Violation":
		return CategoryViolation
	case strings.HasPrefix(e.Action, "signet:Console"):
		return CategoryConsole
	case e.Decision == "Deny" && (strings.Contains(e.Outcome, "CodeVerificationFailedException") || strings.Contains(e.Outcome, "InvalidCodeSignatureException")):
		return CategoryDeployGate
	case e.Decision == "AllowWithWarning" && strings.HasPrefix(e.Detail, "code signing check "):
		return CategoryDeployGate
	case (e.Action == "signer:RevokeSignature" || e.Action == "signer:RevokeSigningProfile") && e.Decision == "Allow" && strings.HasPrefix(e.Outcome, "2"):
		return CategoryRevocation
	}
	return ""
}
