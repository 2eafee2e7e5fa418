package cli

import (
	"strings"
	"testing"
)

// TestPrintScanFindings: signet sign prints the findings a job's status
// reason lists, one a line, and nothing for other reasons.
func TestPrintScanFindings(t *testing.T) {
	tests := []struct{ reason, want string }{
		{"Signing Succeeded", ""},
		{"The zip file is empty", ""},
		{"Signing Succeeded; signed with 1 secret-scan finding: a.py:3 aws-access-token",
			"signet: signed with secret-scan finding a.py:3 aws-access-token\n"},
		{"The package was not signed: the secret scan found 2 secret-scan findings: a.py:3 aws-access-token, lib/x.jar!k.pem:1 private-key (set signing parameter secretScan=warn to sign anyway, or allowlist them)",
			"signet: refused for secret-scan finding a.py:3 aws-access-token\nsignet: refused for secret-scan finding lib/x.jar!k.pem:1 private-key\n"},
		{"Signing Succeeded; signed with 22 secret-scan findings: a:1 r, b:2 r, and 20 more",
			"signet: signed with secret-scan finding a:1 r\nsignet: signed with secret-scan finding b:2 r\nsignet: and 20 more secret-scan findings (DescribeSigningJob's secretScanFindings lists them all)\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		printScanFindings(&b, tt.reason)
		if b.String() != tt.want {
			t.Errorf("%q:\n%s\nwant:\n%s", tt.reason, b.String(), tt.want)
		}
	}
}
