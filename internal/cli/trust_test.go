package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/signing"
)

// notationCmd runs the notation CLI with its configuration in
// xdg/notation and nothing else of the user's.
func notationCmd(t *testing.T, bin, xdg string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	home := t.TempDir()
	cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + xdg, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "PATH=" + os.Getenv("PATH")}
	return cmd
}

// TestTrustExportNotationCLI: the notation CLI v1.3.2 reads the trust
// policy and the trust stores exactly as trust export writes them.
func TestTrustExportNotationCLI(t *testing.T) {
	notation := registrytest.Notation(t)
	srv := servertest.Start(t)
	if code, _, stderr := run(t, srv, "profile", "create", "images", "--platform", "Notation-OCI-SHA384-ECDSA"); code != 0 {
		t.Fatal(stderr)
	}
	identity := signing.SignerIdentity(srv.Authority.Root.Cert, srv.AccountID(), "images").IdentityString()
	cases := []struct {
		name, store string
		args        []string
	}{
		{"default-store", "signet", nil},
		{"aws-store-name", "aws-signer-ts", []string{"--store-name", "aws-signer-ts"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			xdg := t.TempDir()
			args := append([]string{"trust", "export", "--profile", "images"}, c.args...)
			if code, _, stderr := run(t, srv, append(args, filepath.Join(xdg, "notation"))...); code != 0 {
				t.Fatalf("trust export: %s", stderr)
			}
			out, err := notationCmd(t, notation, xdg, "policy", "show").CombinedOutput()
			if err != nil {
				t.Fatalf("notation policy show: %v\n%s", err, out)
			}
			for _, want := range []string{identity, `"signingAuthority:` + c.store + `"`, `"tsa:signet-tsa"`, `"strict"`} {
				if !strings.Contains(string(out), want) {
					t.Errorf("notation policy show lacks %q:\n%s", want, out)
				}
			}
			out, err = notationCmd(t, notation, xdg, "cert", "ls").CombinedOutput()
			if err != nil {
				t.Fatalf("notation cert ls: %v\n%s", err, out)
			}
			for _, want := range []string{"signingAuthority", c.store, "signet-root.pem", "tsa", "signet-tsa-root.pem"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("notation cert ls lacks %q:\n%s", want, out)
				}
			}
		})
	}
	if code, _, stderr := run(t, srv, "trust", "export", "--profile", "images", "--store-name", "no/slash", t.TempDir()); code != 2 || !strings.Contains(stderr, "--store-name") {
		t.Errorf("bad store name: exit %d, %s", code, stderr)
	}
}
