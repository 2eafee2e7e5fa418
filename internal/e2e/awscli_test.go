package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/signing"
)

// awsCLI is the Debian AWS CLI v2 (2.9.19). A plain "aws" on PATH may be
// another version, so the tests name it explicitly.
const awsCLI = "/usr/bin/aws"

const (
	lambdaPlatform   = "AWSLambda-SHA384-ECDSA"
	notationPlatform = "Notation-OCI-SHA384-ECDSA"
	// cliServiceError is the AWS CLI's exit status for an error response.
	cliServiceError = 254
)

var (
	versionRE = regexp.MustCompile(`^[a-zA-Z0-9]{10}$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
)

// cliServer is an in-process signet server and the environment to run the
// AWS CLI against it.
type cliServer struct {
	aws      string
	addr     string // host:port
	home     string // HOME of the CLI
	srv      *server.Server
	account  string
	credFile string
	scheme   string // http, or https with tls: self
	caBundle string // with https: the CA bundle passed as --ca-bundle
}

// endpoint is the server's URL.
func (s *cliServer) endpoint() string { return s.scheme + "://" + s.addr }

// startCLIServer starts a server on 127.0.0.1:0 with a fresh data
// directory; it stops when the test ends.
func startCLIServer(t *testing.T) *cliServer {
	t.Helper()
	return startCLIServerWith(t, nil)
}

// startCLIServerWith starts a server whose configuration edit changes.
func startCLIServerWith(t *testing.T, edit func(*config.Config)) *cliServer {
	t.Helper()
	if testing.Short() {
		// Each AWS CLI call starts Python; these tests take minutes.
		t.Skip("-short leaves out the AWS CLI tests")
	}
	awsPath := requireTool(t, awsCLI)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Listen = l.Addr().String()
	// Lambda's 10 s for a runtime's init is no bound on a machine running
	// two test suites at once: the outcome must not depend on its speed.
	cfg.Functions.InitTimeout = "2m"
	if edit != nil {
		edit(&cfg)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, cfg, log)
	if err != nil {
		cancel()
		l.Close()
		t.Fatalf("server.Open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	if !accountRE.MatchString(srv.AccountID()) {
		t.Fatalf("AccountID() = %q, want 12 digits", srv.AccountID())
	}
	cs := &cliServer{aws: awsPath, addr: l.Addr().String(), home: home, srv: srv, account: srv.AccountID(), credFile: srv.CredentialsPath(), scheme: "http"}
	if cfg.TLS.Enabled() {
		cs.scheme, cs.caBundle = "https", srv.TLSCAPath()
	}
	return cs
}

// lambdaRole returns the ARN of the execution role lambda-role, creating
// it with the AWS CLI on first use, as a user must before create-function
// (Signet, like Lambda, refuses a role that does not exist or does not
// trust lambda.amazonaws.com).
func (s *cliServer) lambdaRole(t *testing.T) string {
	t.Helper()
	r := s.runService(t, "", "iam", "get-role", "--role-name", "lambda-role")
	if r.code != 0 {
		r = s.runService(t, "", "iam", "create-role", "--role-name", "lambda-role", "--assume-role-policy-document",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	}
	if r.code != 0 {
		t.Fatalf("aws iam create-role: exit %d\n%s", r.code, r.stderr)
	}
	var out struct{ Role struct{ Arn string } }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Role.Arn == "" {
		t.Fatalf("aws iam create-role printed %q: %v", r.stdout, err)
	}
	return out.Role.Arn
}

func (s *cliServer) profileARN(name string) string {
	return "arn:aws:signer:us-east-1:" + s.account + ":/signing-profiles/" + name
}

// putProfile creates a profile directly through the service, for test
// setup that is not itself under test.
func (s *cliServer) putProfile(t *testing.T, name, platform string, tags map[string]string) signing.PutProfileResult {
	t.Helper()
	res, err := s.srv.Profiles.PutProfile(context.Background(), signing.PutProfileInput{Name: name, PlatformID: platform, Tags: tags})
	if err != nil {
		t.Fatalf("PutProfile %s: %v", name, err)
	}
	return res
}

func (s *cliServer) cancelProfile(t *testing.T, name string) {
	t.Helper()
	if err := s.srv.Profiles.CancelProfile(context.Background(), name); err != nil {
		t.Fatalf("CancelProfile %s: %v", name, err)
	}
}

type cliResult struct {
	code           int
	stdout, stderr string
}

// run runs `aws --endpoint-url http://ADDR signer ARGS...` with only the
// credentials file for configuration (it also carries the region).
func (s *cliServer) run(t *testing.T, credFile string, args ...string) cliResult {
	t.Helper()
	return s.runService(t, credFile, "signer", args...)
}

// runService runs `aws --endpoint-url http://ADDR SERVICE ARGS...`.
func (s *cliServer) runService(t *testing.T, credFile, service string, args ...string) cliResult {
	t.Helper()
	if credFile == "" {
		credFile = s.credFile
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	global := []string{"--endpoint-url", s.endpoint()}
	if s.caBundle != "" && !slices.Contains(args, "--ca-bundle") {
		global = append(global, "--ca-bundle", s.caBundle)
	}
	cmd := exec.CommandContext(ctx, s.aws, append(append(global, service), args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"AWS_SHARED_CREDENTIALS_FILE="+credFile,
		"AWS_CONFIG_FILE=/dev/null",
		"HOME="+s.home,
		"AWS_PAGER=",
		"AWS_DEFAULT_OUTPUT=json",
	)
	cmd.Dir = s.home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("aws %s %s: %v\nstderr: %s", service, strings.Join(args, " "), err, stderr.String())
	}
	return res
}

// cliCase is one AWS CLI call. Arguments may name variables ($NAME) that
// earlier cases set in vars.
type cliCase struct {
	name     string
	creds    string // credentials file; "" for the server's
	args     []string
	wantCode int
	// For failures: the error code, printed as "(Code)", and substrings
	// of the message.
	wantErr string
	wantMsg []string
	// check inspects the JSON output of a success; nil means the output
	// must be empty (operations that return {}).
	check func(t *testing.T, out map[string]any)
}

type vars map[string]string

func (v vars) expand(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = os.Expand(a, func(k string) string {
			val, ok := v[k]
			if !ok {
				return "$" + k
			}
			return val
		})
	}
	return out
}

// runCLICases runs cases in order; later cases may depend on earlier ones.
func runCLICases(t *testing.T, s *cliServer, vs vars, cases []cliCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := vs.expand(c.args)
			res := s.run(t, c.creds, args...)
			if res.code != c.wantCode {
				t.Fatalf("aws signer %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.code, c.wantCode, res.stdout, res.stderr)
			}
			if c.wantCode != 0 {
				if want := "(" + c.wantErr + ")"; !strings.Contains(res.stderr, want) {
					t.Errorf("stderr does not name %s:\n%s", want, res.stderr)
				}
				for _, m := range c.wantMsg {
					if !strings.Contains(res.stderr, m) {
						t.Errorf("stderr does not contain %q:\n%s", m, res.stderr)
					}
				}
				return
			}
			if c.check == nil {
				if strings.TrimSpace(res.stdout) != "" {
					t.Errorf("stdout = %q, want no output", res.stdout)
				}
				return
			}
			var out map[string]any
			if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
				t.Fatalf("stdout is not a JSON object: %v\n%s", err, res.stdout)
			}
			c.check(t, out)
		})
	}
}

func wantEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestAWSCLIPlatforms(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	checkPlatform := func(t *testing.T, p map[string]any, id string) {
		t.Helper()
		wantEqual(t, "platformId", str(t, p, "platformId"), id)
		str(t, p, "displayName")
		str(t, p, "partner")
		wantEqual(t, "target", str(t, p, "target"), "SHA384-ECDSA")
		wantEqual(t, "category", str(t, p, "category"), "AWS")
		sc := obj(t, p, "signingConfiguration")
		enc := obj(t, sc, "encryptionAlgorithmOptions")
		wantEqual(t, "encryption default", str(t, enc, "defaultValue"), "ECDSA")
		if got := arr(t, enc, "allowedValues"); !slices.Contains(got, any("ECDSA")) {
			t.Errorf("encryption allowedValues = %v, want ECDSA among them", got)
		}
		hash := obj(t, sc, "hashAlgorithmOptions")
		wantEqual(t, "hash default", str(t, hash, "defaultValue"), "SHA384")
		arr(t, hash, "allowedValues")
		f := obj(t, p, "signingImageFormat")
		str(t, f, "defaultFormat")
		arr(t, f, "supportedFormats")
		if n := num(t, p, "maxSizeInMB"); n < 1 || n != float64(int(n)) {
			t.Errorf("maxSizeInMB = %v, want a positive integer", n)
		}
		wantEqual(t, "revocationSupported", boolean(t, p, "revocationSupported"), true)
	}
	runCLICases(t, s, vars{}, []cliCase{
		{name: "ok/list-signing-platforms", args: []string{"list-signing-platforms"}, check: func(t *testing.T, out map[string]any) {
			ps := objects(t, out, "platforms")
			byID := map[string]map[string]any{}
			for _, p := range ps {
				byID[str(t, p, "platformId")] = p
			}
			for _, id := range []string{lambdaPlatform, notationPlatform} {
				p, ok := byID[id]
				if !ok {
					t.Errorf("platform %s not listed; got %v", id, slices.Collect(maps.Keys(byID)))
					continue
				}
				checkPlatform(t, p, id)
			}
		}},
		{name: "ok/get-signing-platform lambda", args: []string{"get-signing-platform", "--platform-id", lambdaPlatform}, check: func(t *testing.T, out map[string]any) {
			checkPlatform(t, out, lambdaPlatform)
			wantEqual(t, "displayName", str(t, out, "displayName"), "AWS Lambda")
			wantEqual(t, "partner", str(t, out, "partner"), "AWSLambda")
			wantEqual(t, "maxSizeInMB", num(t, out, "maxSizeInMB"), 250)
			wantEqual(t, "defaultFormat", str(t, obj(t, out, "signingImageFormat"), "defaultFormat"), "JSONDetached")
		}},
		{name: "ok/get-signing-platform notation", args: []string{"get-signing-platform", "--platform-id", notationPlatform}, check: func(t *testing.T, out map[string]any) {
			checkPlatform(t, out, notationPlatform)
		}},
		{name: "fail/unknown platform id", args: []string{"get-signing-platform", "--platform-id", "NoSuch-Platform"},
			wantCode: cliServiceError, wantErr: "ResourceNotFoundException", wantMsg: []string{"GetSigningPlatform", "NoSuch-Platform"}},
	})
}

// checkProfileARNs checks arn, profileVersion and profileVersionArn of a
// PutSigningProfile or GetSigningProfile answer and returns the version.
func checkProfileARNs(t *testing.T, s *cliServer, out map[string]any, name string) string {
	t.Helper()
	arnRE := regexp.MustCompile(`^arn:aws:signer:us-east-1:[0-9]{12}:/signing-profiles/` + regexp.QuoteMeta(name) + `$`)
	arn := str(t, out, "arn")
	if !arnRE.MatchString(arn) {
		t.Errorf("arn = %q, want %s", arn, arnRE)
	}
	wantEqual(t, "arn", arn, s.profileARN(name))
	ver := str(t, out, "profileVersion")
	if !versionRE.MatchString(ver) {
		t.Errorf("profileVersion = %q, want 10 alphanumerics", ver)
	}
	wantEqual(t, "profileVersionArn", str(t, out, "profileVersionArn"), arn+"/"+ver)
	return ver
}

func TestAWSCLIProfiles(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	vs := vars{}
	runCLICases(t, s, vs, []cliCase{
		{name: "ok/put-signing-profile with validity and tags", args: []string{"put-signing-profile", "--profile-name", "cli_lambda",
			"--platform-id", lambdaPlatform, "--signature-validity-period", "value=135,type=MONTHS", "--tags", "team=build,env=test"},
			check: func(t *testing.T, out map[string]any) {
				vs["VER"] = checkProfileARNs(t, s, out, "cli_lambda")
				if len(out) != 3 {
					t.Errorf("output has fields %v, want arn, profileVersion, profileVersionArn", slices.Sorted(maps.Keys(out)))
				}
			}},
		{name: "ok/get-signing-profile returns every field", args: []string{"get-signing-profile", "--profile-name", "cli_lambda"},
			check: func(t *testing.T, out map[string]any) {
				wantEqual(t, "profileName", str(t, out, "profileName"), "cli_lambda")
				wantEqual(t, "profileVersion", checkProfileARNs(t, s, out, "cli_lambda"), vs["VER"])
				wantEqual(t, "platformId", str(t, out, "platformId"), lambdaPlatform)
				wantEqual(t, "platformDisplayName", str(t, out, "platformDisplayName"), "AWS Lambda")
				v := obj(t, out, "signatureValidityPeriod")
				wantEqual(t, "signatureValidityPeriod.value", num(t, v, "value"), 135)
				wantEqual(t, "signatureValidityPeriod.type", str(t, v, "type"), "MONTHS")
				wantEqual(t, "status", str(t, out, "status"), "Active")
				if tags := stringMap(t, out, "tags"); !maps.Equal(tags, map[string]string{"team": "build", "env": "test"}) {
					t.Errorf("tags = %v, want team=build, env=test", tags)
				}
			}},
		{name: "ok/put-signing-profile with default validity", args: []string{"put-signing-profile", "--profile-name", "cli_notation", "--platform-id", notationPlatform},
			check: func(t *testing.T, out map[string]any) { checkProfileARNs(t, s, out, "cli_notation") }},
		{name: "ok/default validity is 135 months", args: []string{"get-signing-profile", "--profile-name", "cli_notation"},
			check: func(t *testing.T, out map[string]any) {
				wantEqual(t, "platformDisplayName", str(t, out, "platformDisplayName"), "Notation for container registries")
				v := obj(t, out, "signatureValidityPeriod")
				wantEqual(t, "signatureValidityPeriod.value", num(t, v, "value"), 135)
				wantEqual(t, "signatureValidityPeriod.type", str(t, v, "type"), "MONTHS")
			}},
		{name: "fail/get unknown profile", args: []string{"get-signing-profile", "--profile-name", "no_such_profile"},
			wantCode: cliServiceError, wantErr: "ResourceNotFoundException", wantMsg: []string{"no_such_profile"}},
		{name: "ok/cancel-signing-profile", args: []string{"cancel-signing-profile", "--profile-name", "cli_notation"}},
		{name: "ok/get shows status Canceled", args: []string{"get-signing-profile", "--profile-name", "cli_notation"},
			check: func(t *testing.T, out map[string]any) {
				wantEqual(t, "status", str(t, out, "status"), "Canceled")
				str(t, out, "statusReason")
				checkProfileARNs(t, s, out, "cli_notation")
			}},
		{name: "fail/put reuses the canceled name", args: []string{"put-signing-profile", "--profile-name", "cli_notation", "--platform-id", notationPlatform},
			wantCode: cliServiceError, wantErr: "ValidationException", wantMsg: []string{"cli_notation", "canceled"}},
		{name: "fail/cancel unknown profile", args: []string{"cancel-signing-profile", "--profile-name", "no_such_profile"},
			wantCode: cliServiceError, wantErr: "ResourceNotFoundException", wantMsg: []string{"no_such_profile"}},
	})
}

func TestAWSCLIListSigningProfiles(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	var all, notation []string
	for i := range 30 {
		name := "page_" + string(rune('a'+i/10)) + string(rune('0'+i%10))
		platform := lambdaPlatform
		if i%3 == 0 {
			platform = notationPlatform
			notation = append(notation, name)
		}
		s.putProfile(t, name, platform, nil)
		all = append(all, name)
	}
	s.putProfile(t, "page_canceled", lambdaPlatform, nil)
	s.cancelProfile(t, "page_canceled")
	withCanceled := append(slices.Clone(all), "page_canceled")
	sort.Strings(withCanceled)

	// names returns the listed profile names, checking every item's
	// fields and types on the way.
	names := func(t *testing.T, out map[string]any) []string {
		t.Helper()
		var got []string
		for _, p := range objects(t, out, "profiles") {
			name := str(t, p, "profileName")
			checkProfileARNs(t, s, p, name)
			str(t, p, "platformId")
			str(t, p, "platformDisplayName")
			v := obj(t, p, "signatureValidityPeriod")
			num(t, v, "value")
			str(t, v, "type")
			str(t, p, "status")
			got = append(got, name)
		}
		return got
	}
	wantNames := func(t *testing.T, got, want []string) {
		t.Helper()
		got = slices.Clone(got)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("listed %d profiles %v\nwant %d: %v", len(got), got, len(want), want)
		}
	}
	var firstPage []string
	vs := vars{}
	runCLICases(t, s, vs, []cliCase{
		{name: "ok/page-size makes the CLI follow nextToken through all 30", args: []string{"list-signing-profiles", "--page-size", "7"},
			check: func(t *testing.T, out map[string]any) {
				wantNames(t, names(t, out), all)
				if _, ok := out["NextToken"]; ok {
					t.Errorf("NextToken present after a complete listing: %v", out["NextToken"])
				}
			}},
		{name: "ok/max-items stops after 12 with a NextToken", args: []string{"list-signing-profiles", "--page-size", "5", "--max-items", "12"},
			check: func(t *testing.T, out map[string]any) {
				firstPage = names(t, out)
				if len(firstPage) != 12 {
					t.Errorf("got %d profiles, want 12", len(firstPage))
				}
				vs["TOKEN"] = str(t, out, "NextToken")
			}},
		{name: "ok/starting-token resumes with the other 18", args: []string{"list-signing-profiles", "--page-size", "5", "--starting-token", "$TOKEN"},
			check: func(t *testing.T, out map[string]any) {
				rest := names(t, out)
				if len(rest) != 18 {
					t.Errorf("got %d profiles after the token, want 18", len(rest))
				}
				if _, ok := out["NextToken"]; ok {
					t.Errorf("NextToken present after the last page: %v", out["NextToken"])
				}
				wantNames(t, append(slices.Clone(firstPage), rest...), all)
			}},
		{name: "ok/platform-id filters", args: []string{"list-signing-profiles", "--platform-id", notationPlatform},
			check: func(t *testing.T, out map[string]any) {
				wantNames(t, names(t, out), notation)
				for _, p := range objects(t, out, "profiles") {
					wantEqual(t, "platformId", str(t, p, "platformId"), notationPlatform)
				}
			}},
		{name: "ok/canceled profile hidden by default", args: []string{"list-signing-profiles"},
			check: func(t *testing.T, out map[string]any) { wantNames(t, names(t, out), all) }},
		{name: "ok/include-canceled shows the canceled profile", args: []string{"list-signing-profiles", "--include-canceled"},
			check: func(t *testing.T, out map[string]any) {
				wantNames(t, names(t, out), withCanceled)
				for _, p := range objects(t, out, "profiles") {
					want := "Active"
					if p["profileName"] == "page_canceled" {
						want = "Canceled"
					}
					wantEqual(t, "status of "+compact(p["profileName"]), str(t, p, "status"), want)
				}
			}},
		{name: "ok/statuses Canceled", args: []string{"list-signing-profiles", "--statuses", "Canceled"},
			check: func(t *testing.T, out map[string]any) { wantNames(t, names(t, out), []string{"page_canceled"}) }},
		{name: "ok/statuses Active", args: []string{"list-signing-profiles", "--statuses", "Active"},
			check: func(t *testing.T, out map[string]any) { wantNames(t, names(t, out), all) }},
		{name: "ok/statuses Active and Canceled", args: []string{"list-signing-profiles", "--statuses", "Active", "Canceled"},
			check: func(t *testing.T, out map[string]any) { wantNames(t, names(t, out), withCanceled) }},
		{name: "fail/unknown status", args: []string{"list-signing-profiles", "--statuses", "Bogus"},
			wantCode: cliServiceError, wantErr: "ValidationException", wantMsg: []string{"statuses", "Bogus"}},
	})
}

func TestAWSCLITags(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	s.putProfile(t, "tagged", lambdaPlatform, map[string]string{"team": "build"})
	s.putProfile(t, "tag_canceled", lambdaPlatform, map[string]string{"team": "old"})
	s.cancelProfile(t, "tag_canceled")
	arn := s.profileARN("tagged")
	canceledARN := s.profileARN("tag_canceled")
	unknownARN := s.profileARN("no_such_profile")
	wantTags := func(want map[string]string) func(t *testing.T, out map[string]any) {
		return func(t *testing.T, out map[string]any) {
			t.Helper()
			if got := stringMap(t, out, "tags"); !maps.Equal(got, want) {
				t.Errorf("tags = %v, want %v", got, want)
			}
		}
	}
	runCLICases(t, s, vars{}, []cliCase{
		{name: "ok/list-tags-for-resource shows the tags of put", args: []string{"list-tags-for-resource", "--resource-arn", arn},
			check: wantTags(map[string]string{"team": "build"})},
		{name: "ok/tag-resource", args: []string{"tag-resource", "--resource-arn", arn, "--tags", "env=prod,owner=ci"}},
		{name: "ok/list-tags-for-resource after tag", args: []string{"list-tags-for-resource", "--resource-arn", arn},
			check: wantTags(map[string]string{"team": "build", "env": "prod", "owner": "ci"})},
		{name: "ok/untag-resource", args: []string{"untag-resource", "--resource-arn", arn, "--tag-keys", "owner", "absent"}},
		{name: "ok/list-tags-for-resource after untag", args: []string{"list-tags-for-resource", "--resource-arn", arn},
			check: wantTags(map[string]string{"team": "build", "env": "prod"})},
		{name: "ok/list-tags-for-resource of a canceled profile", args: []string{"list-tags-for-resource", "--resource-arn", canceledARN},
			check: wantTags(map[string]string{"team": "old"})},
		{name: "fail/tag a canceled profile", args: []string{"tag-resource", "--resource-arn", canceledARN, "--tags", "env=prod"},
			wantCode: cliServiceError, wantErr: "BadRequestException", wantMsg: []string{"canceled"}},
		{name: "fail/untag a canceled profile", args: []string{"untag-resource", "--resource-arn", canceledARN, "--tag-keys", "team"},
			wantCode: cliServiceError, wantErr: "BadRequestException", wantMsg: []string{"canceled"}},
		{name: "fail/reserved aws: key prefix", args: []string{"tag-resource", "--resource-arn", arn, "--tags", "aws:x=y"},
			wantCode: cliServiceError, wantErr: "BadRequestException", wantMsg: []string{"aws:"}},
		{name: "fail/tag unknown profile", args: []string{"tag-resource", "--resource-arn", unknownARN, "--tags", "env=prod"},
			wantCode: cliServiceError, wantErr: "NotFoundException", wantMsg: []string{unknownARN}},
		{name: "fail/list tags of unknown profile", args: []string{"list-tags-for-resource", "--resource-arn", unknownARN},
			wantCode: cliServiceError, wantErr: "NotFoundException", wantMsg: []string{unknownARN}},
	})

	// The same operations with the ARN's slashes raw in the path, as
	// clients other than botocore send them.
	creds := readCredentials(t, s.credFile)
	rawCases := []struct {
		name       string
		method     string
		arn        string
		query      string
		body       string
		wantStatus int
		wantType   string // X-Amzn-ErrorType of a failure
		wantTags   map[string]string
	}{
		{name: "ok/raw-path tag-resource", method: http.MethodPost, arn: arn, body: `{"tags":{"raw":"yes"}}`, wantStatus: 200},
		{name: "ok/raw-path list-tags-for-resource", method: http.MethodGet, arn: arn, wantStatus: 200,
			wantTags: map[string]string{"team": "build", "env": "prod", "raw": "yes"}},
		{name: "ok/raw-path untag-resource", method: http.MethodDelete, arn: arn, query: "tagKeys=raw", wantStatus: 200},
		{name: "ok/raw-path list after untag", method: http.MethodGet, arn: arn, wantStatus: 200,
			wantTags: map[string]string{"team": "build", "env": "prod"}},
		{name: "fail/raw-path unknown profile", method: http.MethodGet, arn: unknownARN, wantStatus: 404, wantType: "NotFoundException"},
		{name: "fail/raw-path tag a canceled profile", method: http.MethodPost, arn: canceledARN, body: `{"tags":{"raw":"yes"}}`,
			wantStatus: 400, wantType: "BadRequestException"},
	}
	for _, c := range rawCases {
		t.Run(c.name, func(t *testing.T) {
			u := "http://" + s.addr + "/tags/" + c.arn
			if c.query != "" {
				u += "?" + c.query
			}
			req, err := http.NewRequest(c.method, u, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := req.URL.EscapedPath(), "/tags/"+c.arn; got != want {
				t.Fatalf("request path %q is escaped; want it raw %q", got, want)
			}
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			sum := sha256.Sum256([]byte(c.body))
			err = v4.NewSigner().SignHTTP(context.Background(),
				aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey},
				req, hex.EncodeToString(sum[:]), "signer", "us-east-1", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("%s %s: status %d, want %d\n%s", c.method, u, resp.StatusCode, c.wantStatus, body)
			}
			if c.wantType != "" {
				wantEqual(t, "X-Amzn-ErrorType", resp.Header.Get("X-Amzn-ErrorType"), c.wantType)
				var e map[string]any
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("error body is not JSON: %v\n%s", err, body)
				}
				str(t, e, "message")
				return
			}
			var out map[string]any
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatalf("body is not a JSON object: %v\n%s", err, body)
			}
			if c.wantTags != nil {
				wantTags(c.wantTags)(t, out)
			}
		})
	}
}

func TestAWSCLIPermissions(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	ver := s.putProfile(t, "perm_lambda", lambdaPlatform, nil).Version
	vs := vars{"VER": ver}
	type perm struct{ action, principal, statementID, version string }
	wantPerms := func(t *testing.T, out map[string]any, want []perm) {
		t.Helper()
		var got []perm
		for _, p := range objects(t, out, "permissions") {
			q := perm{action: str(t, p, "action"), principal: str(t, p, "principal"), statementID: str(t, p, "statementId")}
			if _, ok := p["profileVersion"]; ok {
				q.version = str(t, p, "profileVersion")
			}
			got = append(got, q)
		}
		if !slices.Equal(got, want) {
			t.Errorf("permissions = %+v, want %+v", got, want)
		}
		if n := num(t, out, "policySizeBytes"); (n > 0) != (len(want) > 0) || n != float64(int(n)) {
			t.Errorf("policySizeBytes = %v for %d statements", n, len(want))
		}
	}
	s1 := perm{"signer:GetSigningProfile", "111122223333", "s1", ""}
	s2 := perm{"signer:StartSigningJob", "arn:aws:iam::111122223333:root", "s2", ver}
	runCLICases(t, s, vs, []cliCase{
		{name: "ok/list-profile-permissions of a new profile", args: []string{"list-profile-permissions", "--profile-name", "perm_lambda"},
			check: func(t *testing.T, out map[string]any) { wantPerms(t, out, nil) }},
		{name: "ok/add-profile-permission first statement", args: []string{"add-profile-permission", "--profile-name", "perm_lambda",
			"--action", s1.action, "--principal", s1.principal, "--statement-id", s1.statementID},
			check: func(t *testing.T, out map[string]any) {
				vs["REV1"] = str(t, out, "revisionId")
				if vs["REV1"] == "" {
					t.Error("revisionId is empty")
				}
			}},
		{name: "ok/list returns the statement and its revision", args: []string{"list-profile-permissions", "--profile-name", "perm_lambda"},
			check: func(t *testing.T, out map[string]any) {
				wantEqual(t, "revisionId", str(t, out, "revisionId"), vs["REV1"])
				wantPerms(t, out, []perm{s1})
			}},
		{name: "ok/add with the current revision and a profile version", args: []string{"add-profile-permission", "--profile-name", "perm_lambda",
			"--action", s2.action, "--principal", s2.principal, "--statement-id", s2.statementID, "--profile-version", "$VER", "--revision-id", "$REV1"},
			check: func(t *testing.T, out map[string]any) {
				vs["REV2"] = str(t, out, "revisionId")
				if vs["REV2"] == "" || vs["REV2"] == vs["REV1"] {
					t.Errorf("revisionId = %q after a change, want a new one (previous %q)", vs["REV2"], vs["REV1"])
				}
			}},
		{name: "ok/list after the second add", args: []string{"list-profile-permissions", "--profile-name", "perm_lambda"},
			check: func(t *testing.T, out map[string]any) {
				wantEqual(t, "revisionId", str(t, out, "revisionId"), vs["REV2"])
				wantPerms(t, out, []perm{s1, s2})
			}},
		{name: "fail/add with a wrong revision id", args: []string{"add-profile-permission", "--profile-name", "perm_lambda",
			"--action", s1.action, "--principal", s1.principal, "--statement-id", "s3", "--revision-id", "$REV1"},
			wantCode: cliServiceError, wantErr: "ConflictException", wantMsg: []string{"revisionId"}},
		{name: "fail/add a duplicate statement id", args: []string{"add-profile-permission", "--profile-name", "perm_lambda",
			"--action", s1.action, "--principal", s1.principal, "--statement-id", "s1"},
			wantCode: cliServiceError, wantErr: "ConflictException", wantMsg: []string{"s1"}},
		{name: "fail/add SignPayload to a Lambda profile", args: []string{"add-profile-permission", "--profile-name", "perm_lambda",
			"--action", "signer:SignPayload", "--principal", s1.principal, "--statement-id", "s4"},
			wantCode: cliServiceError, wantErr: "ValidationException", wantMsg: []string{"signer:SignPayload"}},
		{name: "fail/add to an unknown profile", args: []string{"add-profile-permission", "--profile-name", "no_such_profile",
			"--action", s1.action, "--principal", s1.principal, "--statement-id", "s1"},
			wantCode: cliServiceError, wantErr: "ResourceNotFoundException", wantMsg: []string{"no_such_profile"}},
		{name: "fail/remove with a stale revision id", args: []string{"remove-profile-permission", "--profile-name", "perm_lambda",
			"--statement-id", "s1", "--revision-id", "$REV1"},
			wantCode: cliServiceError, wantErr: "ConflictException", wantMsg: []string{"revisionId"}},
		{name: "ok/remove-profile-permission with the current revision", args: []string{"remove-profile-permission", "--profile-name", "perm_lambda",
			"--statement-id", "s1", "--revision-id", "$REV2"},
			check: func(t *testing.T, out map[string]any) {
				vs["REV3"] = str(t, out, "revisionId")
				if vs["REV3"] == "" || vs["REV3"] == vs["REV2"] {
					t.Errorf("revisionId = %q after remove, want a new one (previous %q)", vs["REV3"], vs["REV2"])
				}
			}},
		{name: "ok/list after remove", args: []string{"list-profile-permissions", "--profile-name", "perm_lambda"},
			check: func(t *testing.T, out map[string]any) {
				wantEqual(t, "revisionId", str(t, out, "revisionId"), vs["REV3"])
				wantPerms(t, out, []perm{s2})
			}},
		{name: "fail/remove an unknown statement", args: []string{"remove-profile-permission", "--profile-name", "perm_lambda",
			"--statement-id", "s9", "--revision-id", "$REV3"},
			wantCode: cliServiceError, wantErr: "ResourceNotFoundException", wantMsg: []string{"s9"}},
		{name: "fail/list permissions of an unknown profile", args: []string{"list-profile-permissions", "--profile-name", "no_such_profile"},
			wantCode: cliServiceError, wantErr: "ResourceNotFoundException", wantMsg: []string{"no_such_profile"}},
	})
}

func TestAWSCLIErrors(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	s.putProfile(t, "err_canceled", notationPlatform, nil)
	s.cancelProfile(t, "err_canceled")
	dir := t.TempDir()
	creds := readCredentials(t, s.credFile)
	if creds.Region != "us-east-1" {
		t.Fatalf("credentials file region = %q, want us-east-1", creds.Region)
	}
	wrongSecret := creds
	wrongSecret.SecretAccessKey = strings.Repeat("w", 40)
	unknownKey := creds
	unknownKey.AccessKeyID = "AKIAQQQQQQQQQQQQQQQQ"
	put := func(name string, extra ...string) []string {
		return append([]string{"put-signing-profile", "--profile-name", name}, extra...)
	}
	runCLICases(t, s, vars{}, []cliCase{
		{name: "fail/profile name with a hyphen", args: put("bad-name", "--platform-id", lambdaPlatform),
			wantCode: cliServiceError, wantErr: "ValidationException", wantMsg: []string{"profileName", "bad-name"}},
		{name: "fail/unknown platform", args: put("err_platform", "--platform-id", "NoSuch-Platform"),
			wantCode: cliServiceError, wantErr: "ValidationException", wantMsg: []string{"platformId", "NoSuch-Platform"}},
		{name: "fail/validity 136 MONTHS", args: put("err_months", "--platform-id", lambdaPlatform, "--signature-validity-period", "value=136,type=MONTHS"),
			wantCode: cliServiceError, wantErr: "ValidationException", wantMsg: []string{"signatureValidityPeriod", "136", "135 months"}},
		{name: "fail/validity 12 YEARS", args: put("err_years", "--platform-id", lambdaPlatform, "--signature-validity-period", "value=12,type=YEARS"),
			wantCode: cliServiceError, wantErr: "ValidationException", wantMsg: []string{"signatureValidityPeriod", "12 YEARS", "135 months"}},
		{name: "ok/validity 11 YEARS is within 135 months", args: put("ok_years", "--platform-id", lambdaPlatform, "--signature-validity-period", "value=11,type=YEARS"),
			check: func(t *testing.T, out map[string]any) { checkProfileARNs(t, s, out, "ok_years") }},
		{name: "fail/reuse of a canceled name", args: put("err_canceled", "--platform-id", notationPlatform),
			wantCode: cliServiceError, wantErr: "ValidationException", wantMsg: []string{"err_canceled", "canceled"}},
		{name: "fail/wrong secret", creds: writeCredentials(t, dir, "wrong-secret", wrongSecret), args: []string{"list-signing-platforms"},
			wantCode: cliServiceError, wantErr: "InvalidSignatureException", wantMsg: []string{"signature"}},
		{name: "fail/unknown access key id", creds: writeCredentials(t, dir, "unknown-key", unknownKey), args: []string{"list-signing-platforms"},
			wantCode: cliServiceError, wantErr: "UnrecognizedClientException"},
	})
}
