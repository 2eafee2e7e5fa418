package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notaryproject/notation-go/dir"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/signing"
)

// run runs the CLI against srv with the standard AWS credential chain
// pointed at the server's credentials file.
func run(t *testing.T, srv *servertest.Server, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", srv.CredentialsPath())
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("SIGNET_ENDPOINT", srv.URL)
	// verify pins the root of an endpoint in the user cache directory:
	// a server started later on a recycled port has another root.
	t.Setenv("XDG_CACHE_HOME", srv.CacheDir())
	var out, errb bytes.Buffer
	code = cli.Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestProfileCommands(t *testing.T) {
	srv := servertest.Start(t)
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings
		stderr []string
	}{
		{"ok/platforms", []string{"platforms"}, 0, []string{"PLATFORM", "AWSLambda-SHA384-ECDSA", "Notation-OCI-SHA384-ECDSA"}, nil},
		{"ok/create", []string{"profile", "create", "signing_profile_for_lambda", "--platform", "AWSLambda-SHA384-ECDSA", "--tag", "env=dev"}, 0, []string{"signing_profile_for_lambda", ":/signing-profiles/signing_profile_for_lambda/"}, nil},
		{"ok/create-flags-first", []string{"profile", "create", "--platform", "Notation-OCI-SHA384-ECDSA", "--validity", "2", "--validity-type", "years", "images"}, 0, []string{"images"}, nil},
		{"ok/get", []string{"profile", "get", "signing_profile_for_lambda"}, 0, []string{"Active", "135 MONTHS", "Tag env", "dev"}, nil},
		{"ok/get-json", []string{"profile", "get", "images", "--output", "json"}, 0, []string{`"profileName": "images"`, `"value": 2`, `"platformDisplayName": "Notation for container registries"`}, nil},
		{"ok/list", []string{"profile", "list"}, 0, []string{"NAME", "images", "signing_profile_for_lambda"}, nil},
		{"ok/cancel", []string{"profile", "cancel", "images", "--yes"}, 0, []string{"canceled signing profile images"}, nil},
		{"ok/list-canceled", []string{"profile", "list", "--status", "Canceled"}, 0, []string{"images"}, nil},
		{"fail/reuse-canceled", []string{"profile", "create", "images", "--platform", "Notation-OCI-SHA384-ECDSA"}, 1, nil, []string{"signet: ValidationException:", "cannot be reused"}},
		{"fail/hyphen", []string{"profile", "create", "my-profile", "--platform", "AWSLambda-SHA384-ECDSA"}, 1, nil, []string{"ValidationException", "hyphens are not allowed"}},
		{"fail/no-platform", []string{"profile", "create", "x1"}, 2, nil, []string{"needs --platform"}},
		{"ok/create-aws-style", []string{"profile", "create", "aws_style", "--platform", "Notation-OCI-SHA384-ECDSA", "--signing-parameter", "verificationPlugin=com.amazonaws.signer.notation.plugin"}, 0, []string{"aws_style"}, nil},
		{"ok/get-signing-parameters", []string{"profile", "get", "aws_style", "--output", "json"}, 0, []string{`"verificationPlugin": "com.amazonaws.signer.notation.plugin"`}, nil},
		{"fail/plugin-on-lambda", []string{"profile", "create", "x2", "--platform", "AWSLambda-SHA384-ECDSA", "--signing-parameter", "verificationPlugin=com.amazonaws.signer.notation.plugin"}, 1, nil, []string{"ValidationException", "applies to Notation-OCI-SHA384-ECDSA profiles"}},
		{"fail/bad-signing-parameter", []string{"profile", "create", "x3", "--platform", "AWSLambda-SHA384-ECDSA", "--signing-parameter", "cose"}, 2, nil, []string{`signing parameter "cose" must be KEY=VALUE`}},
		{"fail/missing", []string{"profile", "get", "nobody"}, 1, nil, []string{"ResourceNotFoundException"}},
		{"fail/unknown-command", []string{"frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`, "signet help"}},
		{"fail/bad-output", []string{"platforms", "--output", "yaml"}, 2, nil, []string{"--output must be table or json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, srv, c.args...)
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
		})
	}
}

func TestNoCredentialsHint(t *testing.T) {
	srv := servertest.Start(t)
	t.Setenv("HOME", t.TempDir())
	code, _, stderr := run(t, srv, "platforms")
	if code != 0 {
		t.Fatalf("with credentials: exit %d: %s", code, stderr)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	var out, errb bytes.Buffer
	if code := cli.Main(context.Background(), []string{"platforms"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "signet: no AWS credentials found") || !strings.Contains(errb.String(), "hint: after 'signet serve' run: export AWS_SHARED_CREDENTIALS_FILE=/") {
		t.Errorf("without credentials: exit %d, stderr %s", code, errb.String())
	}
}

func TestTrustExport(t *testing.T) {
	srv := servertest.Start(t)
	if code, _, stderr := run(t, srv, "profile", "create", "signing_profile_for_lambda", "--platform", "AWSLambda-SHA384-ECDSA"); code != 0 {
		t.Fatal(stderr)
	}
	cfgDir := filepath.Join(t.TempDir(), "notation")
	code, stdout, stderr := run(t, srv, "trust", "export", "--profile", "signing_profile_for_lambda", cfgDir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "XDG_CONFIG_HOME=") {
		t.Errorf("no usage hint in %s", stdout)
	}
	pemBytes, err := os.ReadFile(filepath.Join(cfgDir, "truststore", "x509", "signingAuthority", "signet", "signet-root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil || !bytes.Equal(blk.Bytes, srv.Authority.Root.Cert.Raw) {
		t.Fatal("the trust store does not hold the installation root")
	}
	want := signing.SignerIdentity(srv.Authority.Root.Cert, srv.AccountID(), "signing_profile_for_lambda").IdentityString()
	legacy, _ := os.ReadFile(filepath.Join(cfgDir, "trustpolicy.json"))
	if oci, _ := os.ReadFile(filepath.Join(cfgDir, "trustpolicy.oci.json")); len(legacy) == 0 || !bytes.Equal(legacy, oci) {
		t.Errorf("trustpolicy.json (read by notation 1.x) is not trustpolicy.oci.json:\n%s\n%s", legacy, oci)
	}
	for _, file := range []string{"trustpolicy.oci.json", "trustpolicy.blob.json"} {
		b, err := os.ReadFile(filepath.Join(cfgDir, file))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Version       string `json:"version"`
			TrustPolicies []struct {
				Name                  string            `json:"name"`
				RegistryScopes        []string          `json:"registryScopes"`
				SignatureVerification map[string]string `json:"signatureVerification"`
				TrustStores           []string          `json:"trustStores"`
				TrustedIdentities     []string          `json:"trustedIdentities"`
				GlobalPolicy          bool              `json:"globalPolicy"`
			} `json:"trustPolicies"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		p := doc.TrustPolicies[0]
		if doc.Version != "1.0" || len(doc.TrustPolicies) != 1 || p.SignatureVerification["level"] != "strict" ||
			len(p.TrustStores) != 2 || p.TrustStores[0] != "signingAuthority:signet" || p.TrustStores[1] != "tsa:signet-tsa" || len(p.TrustedIdentities) != 1 || p.TrustedIdentities[0] != want {
			t.Errorf("%s = %s", file, b)
		}
		if file == "trustpolicy.oci.json" && (len(p.RegistryScopes) != 1 || p.RegistryScopes[0] != "*") {
			t.Errorf("%s: registryScopes %v", file, p.RegistryScopes)
		}
		if file == "trustpolicy.blob.json" && !p.GlobalPolicy {
			t.Errorf("%s: not the global policy", file)
		}
	}
	// notation-go accepts both policies and the trust store as written.
	var oci trustpolicy.OCIDocument
	var blob trustpolicy.BlobDocument
	for file, doc := range map[string]interface{ Validate() error }{"trustpolicy.oci.json": &oci, "trustpolicy.blob.json": &blob} {
		b, _ := os.ReadFile(filepath.Join(cfgDir, file))
		if err := json.Unmarshal(b, doc); err != nil {
			t.Fatal(err)
		}
		if err := doc.Validate(); err != nil {
			t.Errorf("notation-go rejects %s: %v", file, err)
		}
	}
	certs, err := truststore.NewX509TrustStore(dir.NewSysFS(cfgDir)).GetCertificates(context.Background(), truststore.TypeSigningAuthority, "signet")
	if err != nil || len(certs) != 1 {
		t.Errorf("notation-go trust store: %d certificates, %v", len(certs), err)
	}
	if code, _, stderr := run(t, srv, "trust", "export", "--profile", "nobody", cfgDir); code != 1 || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("export of an unknown profile: exit %d, %s", code, stderr)
	}
}

func pemEncode(w *bytes.Buffer, der []byte) {
	pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: der})
}
