package cli_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server/servertest"
)

// TestNewcomerErrors runs the commands a newcomer gets wrong, and checks
// that each says what to do: per-command help, global flags on either
// side of the command, an endpoint without its scheme, the API's JSON,
// profile names where ARNs were asked for, and hints with absolute paths.
func TestNewcomerErrors(t *testing.T) {
	srv := servertest.Start(t)
	work := t.TempDir()
	t.Chdir(work)
	pkg := filepath.Join(work, "function.zip")
	writeZip(t, pkg)
	for _, args := range [][]string{
		{"profile", "create", "signing_profile_for_lambda", "--platform", "AWSLambda-SHA384-ECDSA"},
		{"sign", pkg, "--profile", "signing_profile_for_lambda"},
		// The execution role function create defaults to.
		{"iam", "create-role", "lambda", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`},
	} {
		if code, _, stderr := run(t, srv, args...); code != 0 {
			t.Fatal(stderr)
		}
	}
	signed := filepath.Join(work, "function-signed.zip")
	missingDir := filepath.Join(work, "elsewhere", "signet-data")
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		code    int
		stdout  []string // substrings
		stderr  []string
		without []string // substrings neither may contain
	}{
		{"ok/help-leaf", []string{"profile", "create", "--help"}, nil, 0, []string{"signet profile create NAME --platform ID", "-platform", "-validity-type"}, nil, []string{"signet iam"}},
		{"ok/help-group", []string{"profile", "--help"}, nil, 0, []string{"signet profile cancel NAME [--yes]", "signet profile list"}, nil, []string{"signet iam"}},
		{"ok/help-word", []string{"help", "verify"}, nil, 0, []string{"signet verify FILE", "Flags:", "-crl-cache string"}, nil, []string{"signet sign"}},
		{"ok/help-short", []string{"verify", "-h"}, nil, 0, []string{"signet verify FILE", "Flags:", "-no-revocation"}, nil, []string{"SUBCOMMAND"}},
		{"ok/help-words-leaf", []string{"help", "profile", "create"}, nil, 0, []string{"signet profile create NAME", "Flags:", "-platform string"}, nil, []string{"signet profile get"}},
		{"ok/help-serve", []string{"serve", "--help"}, nil, 0, []string{"signet serve [--data-dir DIR]", "-listen string"}, nil, nil},
		{"ok/help-audit", []string{"audit", "query", "--help"}, nil, 0, []string{"signet audit query [--data-dir DIR]", "-data-dir"}, nil, nil},
		{"ok/help-lists-audit-data-dir", []string{"help"}, nil, 0, []string{"signet audit query [--data-dir DIR]"}, nil, nil},
		{"ok/output-before", []string{"--output", "json", "profile", "get", "signing_profile_for_lambda"}, nil, 0, []string{`"profileName": "signing_profile_for_lambda"`}, nil, nil},
		{"ok/output-equals-before", []string{"--output=json", "platforms"}, nil, 0, []string{`"platformId": "AWSLambda-SHA384-ECDSA"`}, nil, []string{`"PlatformId"`}},
		{"ok/endpoint-before", []string{"--endpoint", srv.URL, "platforms"}, map[string]string{"SIGNET_ENDPOINT": "http://127.0.0.1:1"}, 0, []string{"AWSLambda-SHA384-ECDSA"}, nil, nil},
		{"ok/endpoint-after", []string{"platforms", "--endpoint", srv.URL}, map[string]string{"SIGNET_ENDPOINT": "http://127.0.0.1:1"}, 0, []string{"AWSLambda-SHA384-ECDSA"}, nil, nil},
		{"ok/json-list", []string{"profile", "list", "--output", "json"}, nil, 0, []string{`"profiles": [`, `"profileName": "signing_profile_for_lambda"`}, nil, []string{`"ProfileName"`, "ResultMetadata"}},
		{"ok/json-function", []string{"function", "list", "--output", "json"}, nil, 0, []string{`"Functions": []`}, nil, nil},
		{"ok/json-iam-no-nulls", []string{"iam", "create-user", "bob"}, nil, 0, []string{`"UserName": "bob"`}, nil, []string{"null"}},
		{"ok/function-default-role", []string{"function", "create", "f1", "--zip", pkg, "--output", "json"}, nil, 0, []string{`"Role": "arn:aws:iam::` + srv.AccountID() + `:role/signet-lambda-basic-execution"`}, nil, nil},
		{"fail/endpoint-no-scheme", []string{"platforms", "--endpoint", strings.TrimPrefix(srv.URL, "http://")}, nil, 2, nil, []string{"is not an http:// or https:// URL", "hint: give the scheme: --endpoint " + srv.URL}, nil},
		{"fail/endpoint-no-scheme-env", []string{"profile", "cancel", "x1", "--yes"}, map[string]string{"SIGNET_ENDPOINT": "localhost:9090"}, 2, nil, []string{"hint: give the scheme: --endpoint http://localhost:9090"}, nil},
		{"ok/verify-profile-name", []string{"verify", signed, "--profile", "signing_profile_for_lambda", "--no-revocation"}, nil, 0, []string{"publisher", "verified"}, nil, nil},
		{"fail/verify-profile-unknown-name", []string{"verify", signed, "--profile", "nobody"}, nil, 1, nil, []string{"--profile nobody: ResourceNotFoundException"}, nil},
		{"fail/verify-profile-placeholder-arn", []string{"verify", signed, "--profile", "arn:aws:signer:…:/signing-profiles/signing_profile_for_lambda"}, nil, 2, nil, []string{"is not a signing profile ARN"}, nil},
		{"fail/verify-profile-other-service", []string{"verify", signed, "--profile", "arn:aws:lambda:us-east-1:123456789012:function:f"}, nil, 2, nil, []string{"is not a signing profile ARN"}, nil},
		{"fail/verify-profile-hyphen", []string{"verify", signed, "--profile", "my-profile"}, nil, 2, nil, []string{"neither a signing profile name"}, nil},
		{"ok/csc-publisher-name", []string{"csc", "create", "--publisher", "signing_profile_for_lambda"}, nil, 0, []string{":/signing-profiles/signing_profile_for_lambda/"}, nil, nil},
		{"fail/csc-publisher-malformed", []string{"csc", "create", "--publisher", "arn:aws:signer:us-east-1:1:/signing-profiles/x"}, nil, 2, nil, []string{"is not a signing profile ARN"}, nil},
		{"fail/audit-outside", []string{"audit", "tail"}, nil, 1, nil, []string{"no audit log in " + filepath.Join(work, "signet-data"), "hint: give the data directory", "--data-dir"}, nil},
		{"fail/audit-missing-dir", []string{"audit", "verify", "--data-dir", missingDir}, nil, 1, nil, []string{"no audit log in " + missingDir, "--data-dir"}, nil},
		{"fail/audit-query-outside", []string{"audit", "query", "--action", "signer:*"}, nil, 1, nil, []string{"no audit log in " + filepath.Join(work, "signet-data")}, nil},
		{"ok/trust-export-relative", []string{"trust", "export", "--profile", "signing_profile_for_lambda", "notation"}, nil, 0, []string{"use with: XDG_CONFIG_HOME=" + work + " notation verify"}, nil, nil},
		{"ok/export-sig-relative", []string{"verify", signed, "--no-revocation", "--trust-store", "notation", "--export-sig", "export"}, nil, 0,
			[]string{"wrote export/function.zip (the original package, without the signature)", "--signature " + filepath.Join(work, "export", "function.zip.jws.sig"), "copy " + filepath.Join(work, "export") + " there"}, nil, nil},
		{"fail/cancel-no-terminal", []string{"profile", "cancel", "signing_profile_for_lambda"}, nil, 2, nil, []string{"pass --yes"}, nil},
		{"fail/no-credentials", []string{"platforms"}, map[string]string{"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(work, "none"), "HOME": work}, 1, nil,
			[]string{"signet: no AWS credentials found", "export AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(work, "signet-data", "credentials")}, []string{"IMDS", "169.254.169.254", "./signet-data"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				defer t.Setenv(k, v) // after run's own settings
			}
			code, stdout, stderr := runEnv(t, srv, c.env, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			for _, s := range c.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			for _, s := range c.without {
				if strings.Contains(stdout+stderr, s) {
					t.Errorf("output contains %q:\n%s%s", s, stdout, stderr)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(work, "signet-data")); err == nil {
		t.Error("signet audit created ./signet-data")
	}
	if _, err := os.Stat(missingDir); err == nil {
		t.Errorf("signet audit created %s", missingDir)
	}
}

// runEnv is run with env set after the server's settings.
func runEnv(t *testing.T, srv *servertest.Server, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	if len(env) == 0 {
		return run(t, srv, args...)
	}
	var out, errb strings.Builder
	run(t, srv, "version") // sets the server's environment
	for k, v := range env {
		t.Setenv(k, v)
	}
	code := cli.Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestProfileCancelConfirms: on a terminal, cancel asks and only "y"
// cancels; --yes does not ask.
func TestProfileCancelConfirms(t *testing.T) {
	srv := servertest.Start(t)
	for _, name := range []string{"p_no", "p_yes", "p_flag"} {
		if code, _, stderr := run(t, srv, "profile", "create", name, "--platform", "AWSLambda-SHA384-ECDSA"); code != 0 {
			t.Fatal(stderr)
		}
	}
	oldIn, oldTTY := cli.Stdin, cli.StdinIsTerminal
	t.Cleanup(func() { cli.Stdin, cli.StdinIsTerminal = oldIn, oldTTY })
	cli.StdinIsTerminal = func() bool { return true }
	cases := []struct {
		name, profile, answer string
		flags                 []string
		code                  int
		status                string
	}{
		{"fail/answer-no", "p_no", "n\n", nil, 1, "Active"},
		{"fail/answer-empty", "p_no", "\n", nil, 1, "Active"},
		{"ok/answer-yes", "p_yes", "y\n", nil, 0, "Canceled"},
		{"ok/flag", "p_flag", "", []string{"--yes"}, 0, "Canceled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cli.Stdin = strings.NewReader(c.answer)
			code, _, stderr := run(t, srv, append([]string{"profile", "cancel", c.profile}, c.flags...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, stderr)
			}
			if asked := strings.Contains(stderr, "[y/N]"); asked != (c.flags == nil) {
				t.Errorf("asked = %v: %s", asked, stderr)
			}
			if _, stdout, _ := run(t, srv, "profile", "get", c.profile); !strings.Contains(stdout, c.status) {
				t.Errorf("status is not %s:\n%s", c.status, stdout)
			}
		})
	}
}

// TestVerifyCRLUnreachable: when the CRL cannot be fetched, verify exits
// 8 and says what the URL is and how to verify without it, not to change
// --endpoint (which cannot change a URL inside a certificate).
func TestVerifyCRLUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	srv := servertest.StartWith(t, func(c *config.Config) { c.PublicBaseURL = dead })
	work := signedPackage(t, srv)
	code, stdout, stderr := run(t, srv, "verify", filepath.Join(work, "function-signed.zip"))
	if code != 8 {
		t.Fatalf("exit %d, want 8\n%s%s", code, stdout, stderr)
	}
	for _, s := range []string{"revocation status unknown", "hint: the CRL URLs are written in the certificates", "--crl-cache DIR", "--no-revocation"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}
	if strings.Contains(stderr, "SIGNET_ENDPOINT") || strings.Contains(stderr, "set --endpoint") {
		t.Errorf("the hint suggests --endpoint:\n%s", stderr)
	}
	if code, _, stderr := run(t, srv, "verify", filepath.Join(work, "function-signed.zip"), "--no-revocation"); code != 0 {
		t.Errorf("--no-revocation: exit %d %s", code, stderr)
	}
}

// TestVerifyPinnedRootDiffers: verify trusts the root it fetched from an
// endpoint on first use; when a server reinstalled at that address signs
// with another root, verify refuses (exit 5) and names the file to
// remove, rather than a bare "not a trusted root".
func TestVerifyPinnedRootDiffers(t *testing.T) {
	srv := servertest.Start(t)
	work := signedPackage(t, srv)
	// The root an earlier server at this address had.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "an earlier root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	pinned := filepath.Join(srv.CacheDir(), "signet", "roots", strings.ReplaceAll(u.Host, ":", "_")+".pem")
	if err := os.MkdirAll(filepath.Dir(pinned), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pinned, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(work, "function-signed.zip")
	code, stdout, stderr := run(t, srv, "verify", signed, "--no-revocation")
	if code != 5 {
		t.Fatalf("exit %d, want 5\n%s%s", code, stdout, stderr)
	}
	for _, s := range []string{"not a trusted root", "on first use and kept in " + pinned, "remove that file", "--trust-store DIR"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}
	if err := os.Remove(pinned); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, srv, "verify", signed, "--no-revocation"); code != 0 {
		t.Errorf("after removing the pinned root: exit %d %s", code, stderr)
	}
}

// signedPackage signs function.zip with a new profile on srv, in a new
// directory it returns, beside function-signed.zip.
func signedPackage(t *testing.T, srv *servertest.Server) (dir string) {
	t.Helper()
	work := t.TempDir()
	pkg := filepath.Join(work, "function.zip")
	writeZip(t, pkg)
	for _, args := range [][]string{
		{"profile", "create", "signing_profile_for_lambda", "--platform", "AWSLambda-SHA384-ECDSA"},
		{"sign", pkg, "--profile", "signing_profile_for_lambda"},
	} {
		if code, _, stderr := run(t, srv, args...); code != 0 {
			t.Fatal(stderr)
		}
	}
	return work
}

// TestServeTakenPort: serve on a taken port fails before it creates the
// data directory, and suggests --listen.
func TestServeTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := filepath.Join(t.TempDir(), "signet-data")
	var out, errb strings.Builder
	code := cli.Main(context.Background(), []string{"serve", "--data-dir", dir, "--listen", l.Addr().String()}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "failed to listen on "+l.Addr().String()) || !strings.Contains(errb.String(), "hint: ") ||
		!strings.Contains(errb.String(), "--listen") {
		t.Errorf("exit %d\n%s", code, errb.String())
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("serve created %s before failing to listen", dir)
	}
}
