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
	"secretsmanager": {
		"secretsmanager create_secret with a customer key",
		"secretsmanager get_secret_value",
		"secretsmanager put_secret_value and AWSPREVIOUS",
		"secretsmanager describe_secret",
		"secretsmanager rotate_secret without a function raises InvalidRequestException",
		"secretsmanager get_secret_value of an unknown secret raises ResourceNotFoundException",
		"secretsmanager delete_secret and restore_secret",
	},
}

// boto3Pythons returns the interpreters to run the flows with, by name:
// Debian's /usr/bin/python3 with its python3-boto3 (1.26, the one
// Signet's functions get), and the python3 on PATH when it is another
// with another boto3. It skips the test (fails it under
// SIGNET_REQUIRE_ALL=1) when none can import boto3.
func boto3Pythons(t *testing.T) map[string]string {
	t.Helper()
	found := map[string]string{}
	seen := map[string]bool{}
	var why []string
	for _, c := range []struct{ name, path string }{{"debian", "/usr/bin/python3"}, {"path", "python3"}} {
		py, err := exec.LookPath(c.path)
		if err != nil {
			why = append(why, c.path+": not found")
			continue
		}
		out, err := exec.Command(py, "-c", "import boto3, botocore; print(boto3.__version__)").CombinedOutput()
		v := strings.TrimSpace(string(out))
		if err != nil {
			why = append(why, py+" cannot import boto3: "+v)
			continue
		}
		if seen[v] {
			continue
		}
		seen[v] = true
		t.Logf("%s: boto3 %s", py, v)
		found[c.name] = py
	}
	if len(found) > 0 {
		return found
	}
	msg := "no python3 imports boto3 (apt-get install python3-boto3): " + strings.Join(why, "; ")
	if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
		t.Fatalf("%s; SIGNET_REQUIRE_ALL=1 makes every external program mandatory", msg)
	}
	t.Skipf("%s; skipping (set SIGNET_REQUIRE_ALL=1 to make this a failure)", msg)
	return nil
}

// TestBoto3KMSSSM: boto3, the Python SDK, drives KMS (keys, aliases,
// encryption with an encryption context, a wrong context's
// InvalidCiphertextException as a ClientError, data keys) and SSM
// Parameter Store (SecureStrings under an alias, decryption, paths,
// labels) and Secrets Manager (a secret under a customer key, versions and
// stages, error codes as the SDK's exceptions, deletion and restore)
// against Signet, with Debian's boto3 and with the one on PATH.
func TestBoto3KMSSSM(t *testing.T) {
	t.Parallel()
	for name, py := range boto3Pythons(t) {
		t.Run(name, func(t *testing.T) { runBoto3Flows(t, py) })
	}
}

func runBoto3Flows(t *testing.T, py string) {
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
