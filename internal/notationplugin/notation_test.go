package notationplugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/server/servertest"
)

// buildPlugin builds cmd/notation-signet into a temporary directory.
func buildPlugin(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatal("go not found on PATH; SIGNET_REQUIRE_ALL=1 makes it mandatory")
		}
		t.Skip("go not found on PATH: cannot build notation-signet; skipping (SIGNET_REQUIRE_ALL=1 makes this a failure)")
	}
	bin := filepath.Join(t.TempDir(), "notation-signet")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/signet/signet/cmd/notation-signet")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build notation-signet: %v\n%s", err, out)
	}
	return bin
}

// env is the environment of one notation run.
type env struct {
	xdg   string            // XDG_CONFIG_HOME; xdg/notation holds the configuration
	extra map[string]string // more variables (AWS_*, SIGNET_ENDPOINT)
}

func notation(t *testing.T, bin string, e env, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	home := t.TempDir()
	cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + e.xdg, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"PATH=" + os.Getenv("PATH"), "DOCKER_CONFIG=" + filepath.Join(home, "docker"), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-aws-config")}
	for k, v := range e.extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// signet runs the signet CLI against srv.
func signet(t *testing.T, srv *servertest.Server, args ...string) {
	t.Helper()
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", srv.CredentialsPath())
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("SIGNET_ENDPOINT", srv.URL)
	var out, errb bytes.Buffer
	if code := cli.Main(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("signet %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
}

// install installs the plugin into a fresh configuration that holds
// what signet trust export writes for profile.
func install(t *testing.T, notationBin, pluginBin string, srv *servertest.Server, profile string) string {
	t.Helper()
	xdg := t.TempDir()
	signet(t, srv, "trust", "export", "--profile", profile, filepath.Join(xdg, "notation"))
	if out, err := notation(t, notationBin, env{xdg: xdg}, "plugin", "install", "--file", pluginBin); err != nil {
		t.Fatalf("notation plugin install: %v\n%s", err, out)
	}
	return xdg
}

// setTrustedIdentities rewrites the OCI trust policy in xdg/notation to
// trust the given identities (AWS-style: signing profile ARNs).
func setTrustedIdentities(t *testing.T, xdg string, ids ...string) {
	t.Helper()
	path := filepath.Join(xdg, "notation", "trustpolicy.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range doc["trustPolicies"].([]any) {
		p.(map[string]any)["trustedIdentities"] = ids
	}
	if b, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"trustpolicy.json", "trustpolicy.oci.json"} {
		if err := os.WriteFile(filepath.Join(xdg, "notation", name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func createProfile(t *testing.T, srv *servertest.Server, name, platform string) string {
	t.Helper()
	out, err := srv.Signer().PutSigningProfile(context.Background(), &signer.PutSigningProfileInput{ProfileName: aws.String(name), PlatformId: aws.String(platform)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Arn)
}

func unusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestNotationSignWithPlugin: notation v1.3.2 with notation-signet
// installed signs an image through Signet (JWS and COSE), by profile ARN
// or name, with the endpoint from the plugin configuration or
// SIGNET_ENDPOINT; notation verify and signet image verify accept the
// signature with the files signet trust export wrote and refuse a
// changed manifest.
func TestNotationSignWithPlugin(t *testing.T) {
	notationBin := registrytest.Notation(t)
	pluginBin := buildPlugin(t)
	srv := servertest.Start(t)
	reg := registrytest.Start(t, registrytest.Options{})
	profileARN := createProfile(t, srv, "images", "Notation-OCI-SHA384-ECDSA")
	xdg := install(t, notationBin, pluginBin, srv, "images")
	creds := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": srv.CredentialsPath()}
	cases := []struct {
		name, format, id string
		endpointFromEnv  bool
	}{
		{"jws", "jws", profileARN, false},
		{"cose", "cose", profileARN, false},
		{"name-and-env", "jws", "images", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := "demo/plugin-" + c.name
			desc := reg.PushArtifact(t, repo, "v1", []byte("image "+c.name))
			tagRef := reg.Host + "/" + repo + ":v1"
			digestRef := reg.Host + "/" + repo + "@" + desc.Digest.String()
			e := env{xdg: xdg, extra: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": srv.CredentialsPath()}}
			args := []string{"sign", "--insecure-registry", "--plugin", "signet", "--id", c.id, "--signature-format", c.format}
			if c.endpointFromEnv {
				e.extra["SIGNET_ENDPOINT"] = srv.URL
			} else {
				args = append(args, "--plugin-config", "endpoint="+srv.URL)
			}
			out, err := notation(t, notationBin, e, append(args, digestRef)...)
			if err != nil || !strings.Contains(out, "Successfully signed "+digestRef) {
				t.Fatalf("notation sign: %v\n%s", err, out)
			}
			out, err = notation(t, notationBin, env{xdg: xdg, extra: creds}, "verify", "--insecure-registry", digestRef)
			if err != nil || !strings.Contains(out, "Successfully verified signature for "+digestRef) {
				t.Fatalf("notation verify: %v\n%s", err, out)
			}
			out, err = notation(t, notationBin, env{xdg: xdg, extra: creds}, "inspect", "--insecure-registry", "--output", "json", digestRef)
			want := map[string]string{"jws": "application/jose+json", "cose": "application/cose"}[c.format]
			if err != nil || !strings.Contains(out, want) {
				t.Errorf("notation inspect: no %s signature: %v\n%s", want, err, out)
			}
			// signet image verify accepts it too, with the same files.
			if code, stdout, stderr := signetImageVerify(xdg, digestRef); code != 0 || !strings.Contains(stdout, "\nverified\n") {
				t.Errorf("signet image verify: exit %d\n%s%s", code, stdout, stderr)
			}
			reg.PushArtifact(t, repo, "v1", []byte("changed "+c.name))
			if out, err := notation(t, notationBin, env{xdg: xdg, extra: creds}, "verify", "--insecure-registry", tagRef); err == nil || strings.Contains(out, "Successfully verified") {
				t.Errorf("notation verify of the changed image passed:\n%s", out)
			}
			if code, stdout, stderr := signetImageVerify(xdg, tagRef); code != 3 {
				t.Errorf("signet image verify of the changed image: exit %d, want 3 (no signature)\n%s%s", code, stdout, stderr)
			}
		})
	}
}

// signetImageVerify runs signet image verify on ref with the trust
// store and policy in xdg/notation.
func signetImageVerify(xdg, ref string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"image", "verify", "--insecure-registry", ref, "--trust-store", filepath.Join(xdg, "notation")}, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestNotationSignPluginErrors: what goes wrong reaches the user as the
// plugin's error, saying what to fix.
func TestNotationSignPluginErrors(t *testing.T) {
	notationBin := registrytest.Notation(t)
	pluginBin := buildPlugin(t)
	srv := servertest.Start(t)
	reg := registrytest.Start(t, registrytest.Options{})
	profileARN := createProfile(t, srv, "images", "Notation-OCI-SHA384-ECDSA")
	lambdaARN := createProfile(t, srv, "functions", "AWSLambda-SHA384-ECDSA")
	xdg := install(t, notationBin, pluginBin, srv, "images")
	desc := reg.PushArtifact(t, "demo/errors", "v1", []byte("image"))
	ref := reg.Host + "/demo/errors@" + desc.Digest.String()
	noCreds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(noCreds, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	creds := srv.CredentialsPath()
	cases := []struct {
		name     string
		id       string
		config   []string // --plugin-config values
		credFile string
		flags    []string
		want     []string // in notation's output
	}{
		{"wrong-profile", strings.Replace(profileARN, "/images", "/no_such_profile", 1), []string{"endpoint=" + srv.URL}, creds, nil,
			[]string{"ResourceNotFoundException", "check --id"}},
		{"lambda-profile", lambdaARN, []string{"endpoint=" + srv.URL}, creds, nil,
			[]string{"Notation-OCI-SHA384-ECDSA"}},
		{"version-arn", profileARN + "/ABCDEFGHIJ", []string{"endpoint=" + srv.URL}, creds, nil,
			[]string{"profile version ARN", "give the profile ARN"}},
		{"no-credentials", profileARN, []string{"endpoint=" + srv.URL}, noCreds, nil,
			[]string{"no AWS credentials for Signet", "AWS_ACCESS_KEY_ID"}},
		{"unreachable", profileARN, []string{"endpoint=http://" + unusedAddr(t)}, creds, nil,
			[]string{"cannot reach Signet at http://127.0.0.1:", "endpoint"}},
		{"no-endpoint", profileARN, nil, creds, nil,
			[]string{"no Signet endpoint", "--plugin-config endpoint=", "SIGNET_ENDPOINT"}},
		{"expiry", profileARN, []string{"endpoint=" + srv.URL}, creds, []string{"--expiry", "24h"},
			[]string{"signature validity period", "without --expiry"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"sign", "--insecure-registry", "--plugin", "signet", "--id", c.id}
			for _, kv := range c.config {
				args = append(args, "--plugin-config", kv)
			}
			args = append(append(args, c.flags...), ref)
			out, err := notation(t, notationBin, env{xdg: xdg, extra: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": c.credFile}}, args...)
			if err == nil {
				t.Fatalf("notation sign passed:\n%s", out)
			}
			t.Logf("notation sign: %s", out)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestNotationVerifyWithPlugin: a signature made with
// verificationPlugin=true names notation-signet as its verifier; notation
// v1.3.2 then has the plugin check the trusted identity (AWS-style trust
// policy: signing profile ARNs) and revocation (GetRevocationStatus), and
// refuses the signature once RevokeSignature revoked it. Without the
// plugin installed notation refuses the signature.
func TestNotationVerifyWithPlugin(t *testing.T) {
	notationBin := registrytest.Notation(t)
	pluginBin := buildPlugin(t)
	srv := servertest.Start(t)
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	profileARN := createProfile(t, srv, "plugin_verified", "Notation-OCI-SHA384-ECDSA")
	otherARN := createProfile(t, srv, "other_images", "Notation-OCI-SHA384-ECDSA")
	p, err := srv.Signer().GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("plugin_verified")})
	if err != nil {
		t.Fatal(err)
	}
	versionARN := aws.ToString(p.ProfileVersionArn)
	signXDG := install(t, notationBin, pluginBin, srv, "plugin_verified")
	desc := reg.PushArtifact(t, "demo/verified", "v1", []byte("image verified by the plugin"))
	ref := reg.Host + "/demo/verified@" + desc.Digest.String()
	creds := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": srv.CredentialsPath()}
	out, err := notation(t, notationBin, env{xdg: signXDG, extra: creds}, "sign", "--insecure-registry", "--plugin", "signet", "--id", profileARN,
		"--plugin-config", "endpoint="+srv.URL, "--plugin-config", "verificationPlugin=true", ref)
	if err != nil {
		t.Fatalf("notation sign: %v\n%s", err, out)
	}
	withEnv := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": srv.CredentialsPath(), "SIGNET_ENDPOINT": srv.URL}
	verifier := func(t *testing.T, plugin bool, ids ...string) string {
		xdg := t.TempDir()
		signet(t, srv, "trust", "export", "--profile", "plugin_verified", filepath.Join(xdg, "notation"))
		if plugin {
			if out, err := notation(t, notationBin, env{xdg: xdg}, "plugin", "install", "--file", pluginBin); err != nil {
				t.Fatalf("notation plugin install: %v\n%s", err, out)
			}
		}
		if len(ids) > 0 {
			setTrustedIdentities(t, xdg, ids...)
		}
		return xdg
	}
	// --debug makes notation log the plugin's answers, so that the tests
	// see which check decided.
	used := `Executing verification plugin "signet" with capabilities [SIGNATURE_VERIFIER.TRUSTED_IDENTITY SIGNATURE_VERIFIER.REVOCATION_CHECK]`
	cases := []struct {
		name   string
		plugin bool
		ids    []string
		args   []string
		extra  map[string]string
		ok     bool
		want   []string // in notation's output
	}{
		{"profile-arn", true, []string{profileARN}, nil, withEnv, true, []string{used, "not revoked in Signet"}},
		{"version-arn", true, []string{versionARN}, nil, withEnv, true, []string{used, "trusted as " + versionARN}},
		{"x509-subject-from-trust-export", true, nil, nil, withEnv, true, []string{used, "trusted as x509.subject: "}},
		{"endpoint-from-plugin-config", true, []string{otherARN, profileARN}, []string{"--plugin-config", "endpoint=" + srv.URL}, creds, true, []string{used}},
		{"other-profile", true, []string{otherARN}, nil, withEnv, false, []string{"which the trust policy's trustedIdentities"}},
		{"plugin-not-installed", false, []string{profileARN}, nil, withEnv, false, []string{`verification plugin "signet", make sure the plugin is installed`}},
		{"unreachable-endpoint", true, []string{profileARN}, []string{"--plugin-config", "endpoint=http://" + unusedAddr(t)}, creds, false, []string{"cannot reach Signet at"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			xdg := verifier(t, c.plugin, c.ids...)
			args := append(append([]string{"verify", "--debug", "--insecure-registry"}, c.args...), ref)
			out, err := notation(t, notationBin, env{xdg: xdg, extra: c.extra}, args...)
			if ok := err == nil && strings.Contains(out, "Successfully verified signature for "+ref); ok != c.ok {
				t.Fatalf("notation verify: ok = %v, want %v: %v\n%s", ok, c.ok, err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	// Revoke the signature: the plugin's revocation check refuses it.
	jobs, err := srv.Signer().ListSigningJobs(ctx, &signer.ListSigningJobsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var jobID string
	for _, j := range jobs.Jobs {
		if aws.ToString(j.ProfileName) == "plugin_verified" {
			jobID = aws.ToString(j.JobId)
		}
	}
	if jobID == "" {
		t.Fatal("no signing job of profile plugin_verified")
	}
	if _, err := srv.Signer().RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(jobID), Reason: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	xdg := verifier(t, true, profileARN)
	out, err = notation(t, notationBin, env{xdg: xdg, extra: withEnv}, "verify", "--debug", "--insecure-registry", ref)
	if err == nil || strings.Contains(out, "Successfully verified") || !strings.Contains(out, "revoked in Signet: "+jobARNPrefix(profileARN)) {
		t.Fatalf("notation verify of a revoked signature: want the plugin to refuse it as revoked:\n%s", out)
	}
}

// jobARNPrefix is the start of the ARNs of the signing jobs of the
// account of a profile ARN.
func jobARNPrefix(profileARN string) string {
	i := strings.Index(profileARN, ":/signing-profiles/")
	return profileARN[:i] + ":/signing-jobs/"
}
