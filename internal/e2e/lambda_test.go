package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet/signet/internal/config"
)

// TestAWSCLICodeSigningConfigs runs the code-signing-config commands of
// the walkthrough with the real AWS CLI.
func TestAWSCLICodeSigningConfigs(t *testing.T) {
	t.Parallel()
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

// TestAWSCLIDeployGate is seed 000's deploy steps with the real AWS CLI:
// an Enforce config refuses the unsigned package and accepts the one the
// signing job made, and get-function shows where the signature came from.
func TestAWSCLIDeployGate(t *testing.T) {
	t.Parallel()
	deployGateWalkthrough(t, startCLIServer(t))
}

// TestAWSCLIW1HTTPS is the same walkthrough over HTTPS, the server's
// certificate issued by Signet's TLS CA (`tls: self`) and given to the
// AWS CLI with --ca-bundle; without it, or with another CA, the CLI
// refuses the server.
func TestAWSCLIW1HTTPS(t *testing.T) {
	t.Parallel()
	s := startCLIServerWith(t, func(c *config.Config) { c.TLS.Mode = config.TLSSelf })
	if s.scheme != "https" {
		t.Fatalf("scheme %s", s.scheme)
	}
	other := filepath.Join(s.home, "other-ca.pem")
	writeOtherCA(t, other)
	for name, bundle := range map[string]string{"another CA": other, "the system's CAs": ""} {
		args := []string{"list-signing-platforms"}
		if bundle != "" {
			args = append(args, "--ca-bundle", bundle)
		} else {
			args = append(args, "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt")
		}
		r := s.runService(t, "", "signer", args...)
		if r.code == 0 || !strings.Contains(r.stderr, "SSL validation failed") {
			t.Errorf("with %s: exit %d, stderr %s", name, r.code, r.stderr)
		}
	}
	deployGateWalkthrough(t, s)
}

// deployGateWalkthrough is W1 with the AWS CLI: function, bucket,
// profile, signing job, code signing config, the unsigned package
// refused, the signed one deployed and invoked.
func deployGateWalkthrough(t *testing.T, s *cliServer) {
	t.Helper()
	zipPath := filepath.Join(s.home, "hello-world-lambda.zip")
	if err := os.WriteFile(zipPath, helloZip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(service string, args ...string) map[string]any {
		t.Helper()
		r := s.runService(t, "", service, args...)
		if r.code != 0 {
			t.Fatalf("aws %s %s: exit %d\n%s", service, args[0], r.code, r.stderr)
		}
		out := map[string]any{}
		if strings.TrimSpace(r.stdout) != "" {
			json.Unmarshal([]byte(r.stdout), &out)
		}
		return out
	}
	profileVersionARN := str(t, run("signer", "put-signing-profile", "--profile-name", "signing_profile_for_lambda", "--platform-id", "AWSLambda-SHA384-ECDSA",
		"--signature-validity-period", "value=135,type=MONTHS"), "profileVersionArn")
	run("lambda", "create-function", "--function-name", "hello-world-lambda", "--runtime", "python3.12", "--handler", "lambda_function.lambda_handler",
		"--role", s.lambdaRole(t), "--zip-file", "fileb://"+zipPath)
	s.invokeHello(t, run, "before signing")
	run("s3api", "create-bucket", "--bucket", "lambda-artifacts")
	run("s3api", "put-bucket-versioning", "--bucket", "lambda-artifacts", "--versioning-configuration", "Status=Enabled")
	put := run("s3api", "put-object", "--bucket", "lambda-artifacts", "--key", "hello-world-lambda.zip", "--body", zipPath)
	job := run("signer", "start-signing-job", "--source", "s3={bucketName=lambda-artifacts,key=hello-world-lambda.zip,version="+str(t, put, "VersionId")+"}",
		"--destination", "s3={bucketName=lambda-artifacts,prefix=signed-}", "--profile-name", "signing_profile_for_lambda")
	jobID := str(t, job, "jobId")
	run("signer", "wait", "successful-signing-job", "--job-id", jobID)
	csc := obj(t, run("lambda", "create-code-signing-config", "--allowed-publishers", "SigningProfileVersionArns="+profileVersionARN,
		"--code-signing-policies", "UntrustedArtifactOnDeployment=Enforce"), "CodeSigningConfig")
	run("lambda", "put-function-code-signing-config", "--function-name", "hello-world-lambda", "--code-signing-config-arn", str(t, csc, "CodeSigningConfigArn"))

	r := s.runService(t, "", "lambda", "update-function-code", "--function-name", "hello-world-lambda", "--zip-file", "fileb://"+zipPath)
	if r.code != 254 || !strings.Contains(r.stderr, "(CodeVerificationFailedException)") || !strings.Contains(r.stderr, "Lambda cannot deploy the function") {
		t.Fatalf("unsigned update: exit %d %s", r.code, r.stderr)
	}
	signedPath := filepath.Join(s.home, "signed.zip")
	run("s3", "cp", "s3://lambda-artifacts/signed-"+jobID+".zip", signedPath)
	up := run("lambda", "update-function-code", "--function-name", "hello-world-lambda", "--zip-file", "fileb://"+signedPath)
	wantEqual(t, "SigningProfileVersionArn", str(t, up, "SigningProfileVersionArn"), profileVersionARN)
	got := obj(t, run("lambda", "get-function", "--function-name", "hello-world-lambda"), "Configuration")
	wantEqual(t, "SigningProfileVersionArn", str(t, got, "SigningProfileVersionArn"), profileVersionARN)
	wantEqual(t, "SigningJobArn", str(t, got, "SigningJobArn"), "arn:aws:signer:us-east-1:"+s.account+":/signing-jobs/"+jobID)
	fcsc := run("lambda", "get-function-code-signing-config", "--function-name", "hello-world-lambda")
	wantEqual(t, "CodeSigningConfigArn", str(t, fcsc, "CodeSigningConfigArn"), str(t, csc, "CodeSigningConfigArn"))
	// The signed package runs, and the logs show both invocations.
	s.invokeHello(t, run, "after deploying the signed package")
	if s.sandboxesAvailable(t) {
		// Logs are stored in batches after the invocation returns: poll.
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			tail := s.runService(t, "", "logs", "tail", "/aws/lambda/hello-world-lambda", "--since", "1h")
			done := tail.code == 0 && strings.Count(tail.stdout, "REPORT RequestId: ") == 2
			if done || time.Now().After(deadline) {
				if !done || strings.Count(tail.stdout, "value1 = hello, world!") != 2 || strings.Count(tail.stdout, "Loading function") != 2 {
					t.Errorf("aws logs tail: exit %d\n%s%s", tail.code, tail.stdout, tail.stderr)
				}
				break
			}
		}
	}
}

// invokeHello is seed 000's test of the function: `aws lambda invoke`
// with the seed's payload writes "hello, world!" to response.json.
func (s *cliServer) invokeHello(t *testing.T, run func(string, ...string) map[string]any, when string) {
	t.Helper()
	if !s.sandboxesAvailable(t) {
		return
	}
	resp := filepath.Join(s.home, "response.json")
	os.Remove(resp)
	out := run("lambda", "invoke", "--function-name", "hello-world-lambda", "--cli-binary-format", "raw-in-base64-out",
		"--payload", `{"key1":"hello, world!"}`, "--log-type", "Tail", resp)
	if num(t, out, "StatusCode") != 200 || str(t, out, "ExecutedVersion") != "$LATEST" || out["FunctionError"] != nil {
		t.Fatalf("invoke %s: %v", when, out)
	}
	b, err := os.ReadFile(resp)
	if err != nil || string(b) != `"hello, world!"` {
		t.Fatalf("response.json %s: %q %v", when, b, err)
	}
	logs, _ := base64.StdEncoding.DecodeString(str(t, out, "LogResult"))
	for _, want := range []string{"START RequestId: ", "value1 = hello, world!", "END RequestId: ", "REPORT RequestId: ", "Billed Duration: "} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("LogResult %s lacks %q:\n%s", when, want, logs)
		}
	}
}

// writeOtherCA writes a CA certificate that issued nothing of Signet's.
func writeOtherCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}
