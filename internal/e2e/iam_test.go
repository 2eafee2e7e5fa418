package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/oidc/oidctest"
)

// TestAWSCLISeparationOfDuties is seed 001's governance with the real AWS
// CLI: a developer under DeveloperPermissionBoundary (verbatim) whose own
// policy allows everything but code signing configs may update code but
// may not sign, write IAM or touch code signing configs; a CI role,
// assumed through STS, signs and deploys.
func TestAWSCLISeparationOfDuties(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	acct := s.account
	admin := func(service string, args ...string) map[string]any {
		t.Helper()
		r := s.runService(t, "", service, args...)
		if r.code != 0 {
			t.Fatalf("admin: aws %s %s: exit %d\n%s", service, strings.Join(args, " "), r.code, r.stderr)
		}
		out := map[string]any{}
		if strings.TrimSpace(r.stdout) != "" {
			json.Unmarshal([]byte(r.stdout), &out)
		}
		return out
	}
	file := func(name, content string) string {
		p := filepath.Join(s.home, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	policyARN := func(name string) string { return "arn:aws:iam::" + acct + ":policy/" + name }

	// The administrator (the installation's root key) sets up the seed.
	admin("iam", "create-policy", "--policy-name", "DeveloperPermissionBoundary", "--policy-document", "file://"+mustAbs(t, "testdata/DeveloperPermissionBoundary.json"))
	admin("iam", "create-policy", "--policy-name", "DeveloperAccess", "--policy-document", file("dev.json", `{
		"Version": "2012-10-17",
		"Statement": [
			{"Sid": "AdministratorAccess", "Effect": "Allow", "Action": "*", "Resource": "*"},
			{"Sid": "NoCodeSigningConfigChanges", "Effect": "Deny", "Action": ["lambda:CreateCodeSigningConfig", "lambda:UpdateCodeSigningConfig",
				"lambda:DeleteCodeSigningConfig", "lambda:PutFunctionCodeSigningConfig", "lambda:DeleteFunctionCodeSigningConfig"], "Resource": "*"}]}`))
	admin("iam", "create-user", "--user-name", "dev")
	admin("iam", "attach-user-policy", "--user-name", "dev", "--policy-arn", policyARN("DeveloperAccess"))
	admin("iam", "put-user-permissions-boundary", "--user-name", "dev", "--permissions-boundary", policyARN("DeveloperPermissionBoundary"))
	devCreds := s.keyFile(t, admin("iam", "create-access-key", "--user-name", "dev"), "dev")
	got := admin("iam", "get-user", "--user-name", "dev")
	if b := obj(t, obj(t, got, "User"), "PermissionsBoundary"); str(t, b, "PermissionsBoundaryArn") != policyARN("DeveloperPermissionBoundary") {
		t.Errorf("get-user boundary: %v", b)
	}

	admin("iam", "create-user", "--user-name", "ci-bot")
	admin("iam", "put-user-policy", "--user-name", "ci-bot", "--policy-name", "assume-ci", "--policy-document",
		file("bot.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::`+acct+`:role/ci"}}`))
	botCreds := s.keyFile(t, admin("iam", "create-access-key", "--user-name", "ci-bot"), "bot")
	admin("iam", "create-role", "--role-name", "ci", "--assume-role-policy-document",
		file("trust.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+acct+`:user/ci-bot"},"Action":"sts:AssumeRole"}}`))
	admin("iam", "put-role-policy", "--role-name", "ci", "--policy-name", "sign-and-deploy", "--policy-document", file("ci.json", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["signer:StartSigningJob","signer:DescribeSigningJob","signer:GetSigningProfile"],"Resource":"*"},
		{"Effect":"Allow","Action":["s3:GetObject","s3:GetObjectVersion","s3:PutObject","s3:ListBucket"],"Resource":"*"},
		{"Effect":"Allow","Action":["lambda:UpdateFunctionCode","lambda:GetFunction"],"Resource":"arn:aws:lambda:*:`+acct+`:function:*"}]}`))

	// A function, a profile, a bucket with the package.
	prof := s.putProfile(t, "signing_profile_for_lambda", "AWSLambda-SHA384-ECDSA", nil)
	zipPath := filepath.Join(s.home, "hello.zip")
	os.WriteFile(zipPath, helloZip(t), 0o644)
	admin("lambda", "create-function", "--function-name", "hello-world-lambda", "--runtime", "python3.12", "--handler", "lambda_function.lambda_handler",
		"--role", s.lambdaRole(t), "--zip-file", "fileb://"+zipPath)
	admin("s3api", "create-bucket", "--bucket", "lambda-artifacts")
	admin("s3api", "put-bucket-versioning", "--bucket", "lambda-artifacts", "--versioning-configuration", "Status=Enabled")
	put := admin("s3api", "put-object", "--bucket", "lambda-artifacts", "--key", "hello.zip", "--body", zipPath)
	csc := str(t, obj(t, admin("lambda", "create-code-signing-config", "--allowed-publishers", "SigningProfileVersionArns="+prof.VersionARN,
		"--code-signing-policies", "UntrustedArtifactOnDeployment=Warn"), "CodeSigningConfig"), "CodeSigningConfigArn")

	// The developer: code updates allowed…
	if r := s.runService(t, devCreds, "lambda", "update-function-code", "--function-name", "hello-world-lambda", "--zip-file", "fileb://"+zipPath); r.code != 0 {
		t.Fatalf("developer update-function-code: exit %d %s", r.code, r.stderr)
	}
	// …and everything in the boundary's and the identity policy's denials
	// refused.
	job := "00000000-0000-0000-0000-000000000000"
	refused := [][]string{
		{"signer", "list-signing-platforms"},
		{"signer", "get-signing-platform", "--platform-id", "AWSLambda-SHA384-ECDSA"},
		{"signer", "put-signing-profile", "--profile-name", "devprofile", "--platform-id", "AWSLambda-SHA384-ECDSA"},
		{"signer", "get-signing-profile", "--profile-name", "signing_profile_for_lambda"},
		{"signer", "list-signing-profiles"},
		{"signer", "cancel-signing-profile", "--profile-name", "signing_profile_for_lambda"},
		{"signer", "start-signing-job", "--source", "s3={bucketName=lambda-artifacts,key=hello.zip,version=" + str(t, put, "VersionId") + "}",
			"--destination", "s3={bucketName=lambda-artifacts,prefix=signed-}", "--profile-name", "signing_profile_for_lambda"},
		{"signer", "describe-signing-job", "--job-id", job},
		{"signer", "list-signing-jobs"},
		{"signer", "add-profile-permission", "--profile-name", "signing_profile_for_lambda", "--action", "signer:StartSigningJob", "--principal", acct, "--statement-id", "s1"},
		{"signer", "list-profile-permissions", "--profile-name", "signing_profile_for_lambda"},
		{"signer", "remove-profile-permission", "--profile-name", "signing_profile_for_lambda", "--statement-id", "s1", "--revision-id", "1"},
		{"signer", "tag-resource", "--resource-arn", prof.ARN, "--tags", "a=b"},
		{"signer", "untag-resource", "--resource-arn", prof.ARN, "--tag-keys", "a"},
		{"signer", "list-tags-for-resource", "--resource-arn", prof.ARN},
		{"signer", "revoke-signature", "--job-id", job, "--reason", "x"},
		{"signer", "revoke-signing-profile", "--profile-name", "signing_profile_for_lambda", "--profile-version", "0123456789", "--reason", "x", "--effective-time", "2026-01-01T00:00:00Z"},
		{"iam", "create-user", "--user-name", "x"},
		{"iam", "delete-user", "--user-name", "ci-bot"},
		{"iam", "create-access-key", "--user-name", "dev"},
		{"iam", "delete-access-key", "--user-name", "ci-bot", "--access-key-id", "AKIAXXXXXXXXXXXXXXXX"},
		{"iam", "create-role", "--role-name", "x", "--assume-role-policy-document", "{}"},
		{"iam", "delete-role", "--role-name", "ci"},
		{"iam", "create-policy", "--policy-name", "x", "--policy-document", "{}"},
		{"iam", "delete-policy", "--policy-arn", policyARN("DeveloperPermissionBoundary")},
		{"iam", "put-user-policy", "--user-name", "dev", "--policy-name", "x", "--policy-document", "{}"},
		{"iam", "put-role-policy", "--role-name", "ci", "--policy-name", "x", "--policy-document", "{}"},
		{"iam", "attach-user-policy", "--user-name", "dev", "--policy-arn", policyARN("DeveloperAccess")},
		{"iam", "attach-role-policy", "--role-name", "ci", "--policy-arn", policyARN("DeveloperAccess")},
		{"iam", "put-user-permissions-boundary", "--user-name", "dev", "--permissions-boundary", policyARN("DeveloperAccess")},
		{"iam", "put-role-permissions-boundary", "--role-name", "ci", "--permissions-boundary", policyARN("DeveloperAccess")},
		{"lambda", "create-code-signing-config", "--allowed-publishers", "SigningProfileVersionArns=" + prof.VersionARN},
		{"lambda", "update-code-signing-config", "--code-signing-config-arn", csc, "--description", "x"},
		{"lambda", "delete-code-signing-config", "--code-signing-config-arn", csc},
		{"lambda", "put-function-code-signing-config", "--function-name", "hello-world-lambda", "--code-signing-config-arn", csc},
		{"lambda", "delete-function-code-signing-config", "--function-name", "hello-world-lambda"},
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, c := range refused {
		wg.Add(1)
		go func(c []string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := s.runService(t, devCreds, c[0], c[1:]...)
			code := "(AccessDeniedException)"
			if c[0] == "iam" {
				code = "(AccessDenied)" // the Query protocol's code
			}
			if r.code != 254 || !strings.Contains(r.stderr, code) || !strings.Contains(r.stderr, "user/dev is not authorized to perform: ") {
				t.Errorf("developer %s %s: exit %d, want 254 %s\n%s", c[0], c[1], r.code, code, r.stderr)
			}
		}(c)
	}
	wg.Wait()
	if r := s.runService(t, devCreds, "iam", "get-user"); r.code != 0 || !strings.Contains(r.stdout, `"UserName": "dev"`) {
		t.Errorf("developer get-user (reads are allowed): exit %d %s", r.code, r.stderr)
	}

	// The administrator enforces signatures on the function.
	admin("lambda", "update-code-signing-config", "--code-signing-config-arn", csc, "--code-signing-policies", "UntrustedArtifactOnDeployment=Enforce")
	admin("lambda", "put-function-code-signing-config", "--function-name", "hello-world-lambda", "--code-signing-config-arn", csc)

	// CI: the bot assumes the role; the session signs and deploys.
	r := s.runService(t, botCreds, "sts", "assume-role", "--role-arn", "arn:aws:iam::"+acct+":role/ci", "--role-session-name", "build-42")
	if r.code != 0 {
		t.Fatalf("assume-role: exit %d %s", r.code, r.stderr)
	}
	var ar struct {
		Credentials     struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		AssumedRoleUser struct{ Arn string }
	}
	json.Unmarshal([]byte(r.stdout), &ar)
	ciCreds := filepath.Join(s.home, "ci-credentials")
	os.WriteFile(ciCreds, []byte(fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\nregion = us-east-1\n",
		ar.Credentials.AccessKeyId, ar.Credentials.SecretAccessKey, ar.Credentials.SessionToken)), 0o600)
	if r := s.runService(t, ciCreds, "sts", "get-caller-identity"); !strings.Contains(r.stdout, "assumed-role/ci/build-42") {
		t.Errorf("get-caller-identity of the session: %s %s", r.stdout, r.stderr)
	}
	if r := s.runService(t, devCreds, "sts", "assume-role", "--role-arn", "arn:aws:iam::"+acct+":role/ci", "--role-session-name", "sneaky"); r.code != 254 || !strings.Contains(r.stderr, "AccessDenied") {
		t.Errorf("developer assume-role ci (not in the trust policy): exit %d %s", r.code, r.stderr)
	}
	r = s.runService(t, ciCreds, "signer", "start-signing-job", "--source", "s3={bucketName=lambda-artifacts,key=hello.zip,version="+str(t, put, "VersionId")+"}",
		"--destination", "s3={bucketName=lambda-artifacts,prefix=signed-}", "--profile-name", "signing_profile_for_lambda")
	if r.code != 0 {
		t.Fatalf("CI start-signing-job: exit %d %s", r.code, r.stderr)
	}
	var started struct {
		JobID string `json:"jobId"`
	}
	json.Unmarshal([]byte(r.stdout), &started)
	if r := s.runService(t, ciCreds, "signer", "wait", "successful-signing-job", "--job-id", started.JobID); r.code != 0 {
		t.Fatalf("CI wait: exit %d %s", r.code, r.stderr)
	}
	signed := filepath.Join(s.home, "signed.zip")
	if r := s.runService(t, ciCreds, "s3", "cp", "s3://lambda-artifacts/signed-"+started.JobID+".zip", signed); r.code != 0 {
		t.Fatalf("CI s3 cp: exit %d %s", r.code, r.stderr)
	}
	if r := s.runService(t, ciCreds, "lambda", "update-function-code", "--function-name", "hello-world-lambda", "--zip-file", "fileb://"+signed); r.code != 0 || !strings.Contains(r.stdout, prof.VersionARN) {
		t.Fatalf("CI update-function-code with the signed package: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := s.runService(t, ciCreds, "iam", "create-user", "--user-name", "x"); r.code != 254 || !strings.Contains(r.stderr, "assumed-role/ci/build-42 is not authorized to perform: iam:CreateUser") {
		t.Errorf("CI create-user: exit %d %s", r.code, r.stderr)
	}
	if r := s.runService(t, ciCreds, "lambda", "delete-function", "--function-name", "hello-world-lambda"); r.code != 254 || !strings.Contains(r.stderr, "AccessDeniedException") {
		t.Errorf("CI delete-function: exit %d %s", r.code, r.stderr)
	}
}

// keyFile writes the access key of a create-access-key response as a
// credentials file.
func (s *cliServer) keyFile(t *testing.T, out map[string]any, name string) string {
	t.Helper()
	k := obj(t, out, "AccessKey")
	return writeCredentials(t, s.home, name+"-credentials", sharedCredentials{AccessKeyID: str(t, k, "AccessKeyId"), SecretAccessKey: str(t, k, "SecretAccessKey"), Region: "us-east-1"})
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAWSCLIWebIdentity is CI without stored keys: an OpenID Connect
// issuer (as GitHub Actions is) vouches for the workflow, the AWS CLI's
// assume-role-with-web-identity (unsigned) gets role credentials that the
// trust policy's conditions on sub and aud admit, and they sign.
func TestAWSCLIWebIdentity(t *testing.T) {
	t.Parallel()
	is := oidctest.NewIssuer(t)
	s := startCLIServerWith(t, func(c *config.Config) {
		c.WebIdentity = []config.WebIdentityProvider{{Issuer: is.URL, Audiences: []string{"sts.amazonaws.com"}}}
	})
	host := strings.TrimPrefix(is.URL, "http://")
	admin := func(service string, args ...string) {
		t.Helper()
		if r := s.runService(t, "", service, args...); r.code != 0 {
			t.Fatalf("admin: aws %s %s: exit %d\n%s", service, args[0], r.code, r.stderr)
		}
	}
	trust := filepath.Join(s.home, "trust.json")
	os.WriteFile(trust, []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow",
		"Principal":{"Federated":"arn:aws:iam::`+s.account+`:oidc-provider/`+host+`"},
		"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringEquals":{"`+host+`:aud":"sts.amazonaws.com"},"StringLike":{"`+host+`:sub":"repo:acme/payments:ref:refs/heads/*"}}}}`), 0o644)
	admin("iam", "create-role", "--role-name", "gha", "--assume-role-policy-document", "file://"+trust)
	pol := filepath.Join(s.home, "pol.json")
	os.WriteFile(pol, []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"signer:GetSigningProfile","Resource":"*"}}`), 0o644)
	admin("iam", "put-role-policy", "--role-name", "gha", "--policy-name", "read", "--policy-document", "file://"+pol)
	s.putProfile(t, "signing_profile_for_lambda", "AWSLambda-SHA384-ECDSA", nil)

	token := func(sub, aud string, exp time.Duration) string {
		return is.Token("RS256", "r1", map[string]any{"iss": is.URL, "sub": sub, "aud": aud, "exp": time.Now().Add(exp).Unix()})
	}
	assume := func(tok string) cliResult {
		return s.runService(t, "", "sts", "assume-role-with-web-identity", "--role-arn", "arn:aws:iam::"+s.account+":role/gha",
			"--role-session-name", "run-1", "--web-identity-token", tok)
	}
	r := assume(token("repo:acme/payments:ref:refs/heads/main", "sts.amazonaws.com", 5*time.Minute))
	if r.code != 0 || !strings.Contains(r.stdout, "assumed-role/gha/run-1") || !strings.Contains(r.stdout, `"SubjectFromWebIdentityToken": "repo:acme/payments:ref:refs/heads/main"`) {
		t.Fatalf("assume-role-with-web-identity: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	var ar struct {
		Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	}
	json.Unmarshal([]byte(r.stdout), &ar)
	creds := filepath.Join(s.home, "gha-credentials")
	os.WriteFile(creds, []byte(fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\nregion = us-east-1\n",
		ar.Credentials.AccessKeyId, ar.Credentials.SecretAccessKey, ar.Credentials.SessionToken)), 0o600)
	if r := s.runService(t, creds, "signer", "get-signing-profile", "--profile-name", "signing_profile_for_lambda"); r.code != 0 {
		t.Errorf("the session's allowed call: exit %d %s", r.code, r.stderr)
	}
	if r := s.runService(t, creds, "signer", "list-signing-profiles"); r.code != 254 || !strings.Contains(r.stderr, "AccessDeniedException") {
		t.Errorf("the session's other call: exit %d %s", r.code, r.stderr)
	}
	for _, tc := range []struct {
		name, token, want string
	}{
		{"other repository", token("repo:evil/fork:ref:refs/heads/main", "sts.amazonaws.com", 5*time.Minute), "(AccessDenied)"},
		{"other audience", token("repo:acme/payments:ref:refs/heads/main", "other", 5*time.Minute), "(InvalidIdentityToken)"},
		{"expired", token("repo:acme/payments:ref:refs/heads/main", "sts.amazonaws.com", -time.Hour), "(ExpiredTokenException)"},
		{"forged", token("repo:acme/payments:ref:refs/heads/main", "sts.amazonaws.com", 5*time.Minute)[:40] + "x", "(InvalidIdentityToken)"},
	} {
		if r := assume(tc.token); r.code != 254 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d %s, want %s", tc.name, r.code, r.stderr, tc.want)
		}
	}
}
