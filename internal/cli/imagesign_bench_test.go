package cli_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/server/servertest"
)

// BenchmarkImageSign compares, in one run and on one image in a real
// registry, `signet image sign` end to end (resolve the tag, SignPayload
// over HTTP to a local Signet — a fresh leaf certificate, the signature
// and a TSA timestamp — and push the signature manifest) with the real
// `notation sign` v1.3.2 signing with a local test key (no timestamp).
// Signet runs both in process and as a process, as CI runs it.
func BenchmarkImageSign(b *testing.B) {
	notation := registrytest.Notation(b)
	srv := servertest.Start(b)
	reg := registrytest.Start(b, registrytest.Options{})
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", srv.CredentialsPath())
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("SIGNET_ENDPOINT", srv.URL)
	dockerConfig := b.TempDir()
	b.Setenv("DOCKER_CONFIG", dockerConfig)
	desc := reg.PushArtifact(b, "demo/app", "v1", []byte("app"))
	ref := reg.Host + "/demo/app@" + desc.Digest.String()
	if code := cli.Main(context.Background(), []string{"profile", "create", "images", "--platform", "Notation-OCI-SHA384-ECDSA"}, io.Discard, io.Discard); code != 0 {
		b.Fatalf("profile create: exit %d", code)
	}
	args := []string{"image", "sign", ref, "--profile", "images", "--insecure-registry"}
	b.Run("signet-in-process", func(b *testing.B) {
		for range b.N {
			if code := cli.Main(context.Background(), args, io.Discard, io.Discard); code != 0 {
				b.Fatalf("signet image sign: exit %d", code)
			}
		}
	})
	bin := filepath.Join(b.TempDir(), "signet")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/signet").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	b.Run("signet-process", func(b *testing.B) {
		for range b.N {
			if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				b.Fatalf("signet image sign: %v\n%s", err, out)
			}
		}
	})
	home := b.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "PATH=" + os.Getenv("PATH"), "DOCKER_CONFIG=" + dockerConfig}
	gen := exec.Command(notation, "cert", "generate-test", "--default", "bench.example")
	gen.Env = env
	if out, err := gen.CombinedOutput(); err != nil {
		b.Fatalf("notation cert generate-test: %v\n%s", err, out)
	}
	b.Run("notation-local-key", func(b *testing.B) {
		for range b.N {
			cmd := exec.Command(notation, "sign", "--insecure-registry", ref)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("notation sign: %v\n%s", err, out)
			}
		}
	})
}
