package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAWSCLICodeSigningConfigs runs the code-signing-config commands of
// the walkthrough with the real AWS CLI.
func TestAWSCLICodeSigningConfigs(t *testing.T) {
	s := startCLIServer(t)
	res := s.putProfile(t, "signing_profile_for_lambda", "AWSLambda-SHA384-ECDSA", nil)
	run := func(args ...string) (map[string]any, cliResult) {
		t.Helper()
		r := s.runService(t, "", "lambda", args...)
		out := map[string]any{}
		if r.code == 0 && strings.TrimSpace(r.stdout) != "" {
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("non-JSON output: %s", r.stdout)
			}
		}
		return out, r
	}
	out, r := run("create-code-signing-config", "--allowed-publishers", "SigningProfileVersionArns="+res.VersionARN,
		"--code-signing-policies", "UntrustedArtifactOnDeployment=Enforce")
	if r.code != 0 {
		t.Fatalf("create-code-signing-config: exit %d %s", r.code, r.stderr)
	}
	csc := obj(t, out, "CodeSigningConfig")
	arn := str(t, csc, "CodeSigningConfigArn")
	wantEqual(t, "policy", str(t, obj(t, csc, "CodeSigningPolicies"), "UntrustedArtifactOnDeployment"), "Enforce")
	wantEqual(t, "publisher", arr(t, obj(t, csc, "AllowedPublishers"), "SigningProfileVersionArns")[0].(string), res.VersionARN)
	if out, r = run("get-code-signing-config", "--code-signing-config-arn", arn); r.code != 0 || str(t, obj(t, out, "CodeSigningConfig"), "CodeSigningConfigArn") != arn {
		t.Errorf("get-code-signing-config: exit %d %s", r.code, r.stderr)
	}
	if out, r = run("list-code-signing-configs"); r.code != 0 || len(arr(t, out, "CodeSigningConfigs")) != 1 {
		t.Errorf("list-code-signing-configs: exit %d %s %v", r.code, r.stderr, out)
	}
	if out, r = run("update-code-signing-config", "--code-signing-config-arn", arn, "--description", "payments"); r.code != 0 || str(t, obj(t, out, "CodeSigningConfig"), "Description") != "payments" {
		t.Errorf("update-code-signing-config: exit %d %s", r.code, r.stderr)
	}
	if _, r = run("create-code-signing-config", "--allowed-publishers", "SigningProfileVersionArns="+res.VersionARN,
		"--code-signing-policies", "UntrustedArtifactOnDeployment=enforce"); r.code != 254 || !strings.Contains(r.stderr, "(ValidationException)") {
		t.Errorf("lowercase enforce: exit %d %s", r.code, r.stderr)
	}
	if _, r = run("delete-code-signing-config", "--code-signing-config-arn", arn); r.code != 0 {
		t.Errorf("delete-code-signing-config: exit %d %s", r.code, r.stderr)
	}
	if _, r = run("get-code-signing-config", "--code-signing-config-arn", arn); r.code != 254 || !strings.Contains(r.stderr, "(ResourceNotFoundException)") {
		t.Errorf("get after delete: exit %d %s", r.code, r.stderr)
	}
}
