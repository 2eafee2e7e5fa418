package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet/signet/internal/server/servertest"
)

// boto3Steps are the steps of testdata/boto3_flows.py that must print
// "ok", by service.
var boto3Steps = map[string][]string{
	"kms": {
		"kms create_key",
		"kms create_alias",
		"kms encrypt decrypt with encryption context",
		"kms decrypt with a wrong context raises InvalidCiphertextException",
		"kms generate_data_key",
	},
	"ssm": {
		"ssm put_parameter SecureString with an alias key",
		"ssm get_parameter WithDecryption",
		"ssm get_parameters_by_path",
		"ssm label_parameter_version",
	},
	// "secretsmanager": the Secrets Manager steps, when the script has
	// them.
}

// requireBoto3 returns python3's path, skipping the test (failing it
// under SIGNET_REQUIRE_ALL=1) when python3 or its boto3 is missing.
func requireBoto3(t *testing.T) string {
	t.Helper()
	py := requireTool(t, "python3")
	out, err := exec.Command(py, "-c", "import boto3, botocore; print(boto3.__version__)").CombinedOutput()
	if err == nil {
		t.Logf("boto3 %s", strings.TrimSpace(string(out)))
		return py
	}
	msg := "python3 cannot import boto3 (pip install boto3): " + strings.TrimSpace(string(out))
	if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
		t.Fatalf("%s; SIGNET_REQUIRE_ALL=1 makes every external program mandatory", msg)
	}
	t.Skipf("%s; skipping (set SIGNET_REQUIRE_ALL=1 to make this a failure)", msg)
	return ""
}

// TestBoto3KMSSSM: boto3, the Python SDK, drives KMS (keys, aliases,
// encryption with an encryption context, a wrong context's
// InvalidCiphertextException as a ClientError, data keys) and SSM
// Parameter Store (SecureStrings under an alias, decryption, paths,
// labels) against Signet.
func TestBoto3KMSSSM(t *testing.T) {
	t.Parallel()
	py := requireBoto3(t)
	ts := servertest.Start(t)
	script, err := filepath.Abs(filepath.Join("testdata", "boto3_flows.py"))
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := exec.Command(py, script)
	cmd.Dir = home
	// Only what the script needs: no user configuration, no instance
	// metadata look-ups.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"SIGNET_URL=" + ts.URL,
		"AWS_ACCESS_KEY_ID=" + ts.Creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + ts.Creds.SecretAccessKey,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_EC2_METADATA_DISABLED=true",
		"PYTHONDONTWRITEBYTECODE=1",
	}
	out, err := cmd.CombinedOutput()
	ok := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if name, found := strings.CutPrefix(line, "ok "); found {
			ok[name] = true
		}
		if strings.HasPrefix(line, "FAIL ") {
			t.Error(line)
		}
	}
	if err != nil {
		t.Errorf("the boto3 script: %v\n%s", err, out)
	}
	for service, steps := range boto3Steps {
		for _, s := range steps {
			if !ok[s] {
				t.Errorf("%s: step %q did not succeed", service, s)
			}
		}
	}
}
