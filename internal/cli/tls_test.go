package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server/servertest"
)

// Client commands reach an HTTPS server with --ca-bundle (or
// AWS_CA_BUNDLE), as the AWS CLI does, and refuse it without.
func TestCABundle(t *testing.T) {
	srv := servertest.StartWith(t, func(c *config.Config) { c.TLS.Mode = config.TLSSelf })
	t.Setenv("AWS_CA_BUNDLE", "")
	code, _, stderr := run(t, srv, "profile", "list")
	if code == 0 || !strings.Contains(stderr, "certificate") {
		t.Fatalf("without the CA bundle: exit %d %s", code, stderr)
	}
	code, stdout, stderr := run(t, srv, "--ca-bundle", srv.TLSCAPath(), "profile", "create", "tls_profile", "--platform", "AWSLambda-SHA384-ECDSA")
	if code != 0 {
		t.Fatalf("--ca-bundle: exit %d %s", code, stderr)
	}
	t.Setenv("AWS_CA_BUNDLE", srv.TLSCAPath())
	code, stdout, stderr = run(t, srv, "profile", "list")
	if code != 0 || !strings.Contains(stdout, "tls_profile") {
		t.Fatalf("AWS_CA_BUNDLE: exit %d %s %s", code, stdout, stderr)
	}
	// Fetching the root (trust, verify) goes over HTTPS with the bundle.
	code, _, stderr = run(t, srv, "trust", "export", "--profile", "tls_profile", t.TempDir())
	if code != 0 {
		t.Fatalf("trust policy over HTTPS: exit %d %s", code, stderr)
	}
	code, _, stderr = run(t, srv, "--ca-bundle", filepath.Join(t.TempDir(), "missing.pem"), "profile", "list")
	if code != 2 || !strings.Contains(stderr, "--ca-bundle") {
		t.Fatalf("a missing bundle: exit %d %s", code, stderr)
	}
}

// signet serve --check-config validates a configuration and the files
// it names, and exits.
func TestServeCheckConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := map[string]struct {
		yaml     string
		wantCode int
		want     string
	}{
		"ok":                 {"listen: 127.0.0.1:0\ntls: self\n", 0, "is valid"},
		"fail/unknown key":   {"listn: 127.0.0.1:0\n", 1, "field listn not found"},
		"fail/tls mode":      {"tls: on\n", 1, `"on" is not a TLS mode`},
		"fail/self and file": {"tls: self\ntls_cert_file: a\ntls_key_file: b\n", 1, "remove tls_cert_file"},
		"fail/missing file":  {"tls_cert_file: " + filepath.Join(dir, "nope.crt") + "\ntls_key_file: " + filepath.Join(dir, "nope.key") + "\n", 1, "tls_cert_file/tls_key_file"},
		"fail/bad client ca": {"admission:\n  listen: 127.0.0.1:0\n  client_ca_file: " + write("ca.pem", "not pem") + "\n", 1, "holds no PEM certificate"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := write(strings.ReplaceAll(name, "/", "_")+".yaml", tc.yaml)
			var out, errb bytes.Buffer
			code := cli.Main(context.Background(), []string{"serve", "--check-config", "--config", path, "--data-dir", filepath.Join(dir, "data")}, &out, &errb)
			if code != tc.wantCode || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d, stderr %s; want exit %d and %q", code, errb.String(), tc.wantCode, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
				t.Fatal("--check-config created the data directory")
			}
		})
	}
}
