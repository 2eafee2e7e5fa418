package cli_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/revocation/purpose"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/images"
	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/server/servertest"
)

// BenchmarkImageVerify compares, in one run and on one signed image, a
// warm verification by the library path of signet image verify
// (an images.Verifier with OCSP answers cached in memory until their
// nextUpdate and CRLs in notation-go's file cache; then also with its
// result cache) with the wall time of
// the real notation verify v1.3.2 (a process per verification, as CD
// runs it) with the same trust policy and store. Both check all five
// rules, revocation included, under the strict level signet trust export
// writes.
func BenchmarkImageVerify(b *testing.B) {
	notation := registrytest.Notation(b)
	srv := servertest.Start(b)
	reg := registrytest.Start(b, registrytest.Options{})
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", srv.CredentialsPath())
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("SIGNET_ENDPOINT", srv.URL)
	dockerConfig := b.TempDir()
	b.Setenv("DOCKER_CONFIG", dockerConfig)
	xdg := b.TempDir()
	desc := reg.PushArtifact(b, "demo/app", "v1", []byte("app"))
	ref := reg.Host + "/demo/app@" + desc.Digest.String()
	for _, args := range [][]string{
		{"profile", "create", "images", "--platform", "Notation-OCI-SHA384-ECDSA"},
		{"trust", "export", "--profile", "images", filepath.Join(xdg, "notation")},
		{"image", "sign", ref, "--profile", "images", "--insecure-registry"},
	} {
		if code := cli.Main(context.Background(), args, io.Discard, io.Discard); code != 0 {
			b.Fatalf("signet %v: exit %d", args, code)
		}
	}
	store := filepath.Join(xdg, "notation")
	doc, err := images.LoadPolicy(filepath.Join(store, "trustpolicy.oci.json"))
	if err != nil {
		b.Fatal(err)
	}
	crlCache := b.TempDir()
	ocspCache := &images.OCSPCache{}
	rv, err := images.NewRevocationValidator(purpose.CodeSigning, crlCache, ocspCache)
	if err != nil {
		b.Fatal(err)
	}
	tv, err := images.NewRevocationValidator(purpose.Timestamping, crlCache, ocspCache)
	if err != nil {
		b.Fatal(err)
	}
	opts := images.VerifyOptions{Registry: images.Options{PlainHTTP: true}, Policy: doc, TrustStoreDir: store, Revocation: rv, TimestampRevocation: tv}
	ctx := context.Background()
	bench := func(name string, opts images.VerifyOptions) {
		v, err := images.NewVerifier(opts)
		if err != nil {
			b.Fatal(err)
		}
		verifyOnce := func(b *testing.B) {
			res, err := v.Verify(ctx, ref)
			if err != nil || !res.Verified {
				b.Fatalf("%v %+v", err, res)
			}
		}
		verifyOnce(b) // warm the caches
		b.Run(name, func(b *testing.B) {
			for range b.N {
				verifyOnce(b)
			}
		})
	}
	// Every rule checked on every verification, with the OCSP answers,
	// CRLs, signature envelopes and registry clients cached.
	bench("signet-library-warm", opts)
	// Revocation results kept as long as the OCSP answers they rest on.
	memoOpts := opts
	memoOpts.Revocation = &images.RevocationMemo{Inner: rv}
	memoOpts.TimestampRevocation = &images.RevocationMemo{Inner: tv}
	bench("signet-library-revocation-memo", memoOpts)
	// A signature's successful result kept for a minute (as admission
	// controllers keep verdicts).
	opts.ResultTTL = time.Minute
	bench("signet-library-result-ttl", opts)
	// notation keeps its CRL cache under XDG_CACHE_HOME, kept across
	// its runs here.
	home := b.TempDir()
	b.Run("notation-cli", func(b *testing.B) {
		for range b.N {
			cmd := exec.Command(notation, "verify", "--insecure-registry", ref)
			cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + xdg, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "PATH=" + os.Getenv("PATH"), "DOCKER_CONFIG=" + dockerConfig}
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("notation verify: %v\n%s", err, out)
			}
		}
	})
}
