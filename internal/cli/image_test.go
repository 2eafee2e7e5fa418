package cli_test

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/server/servertest"
)

// notationVerify runs notation verify v1.3.2 with the configuration in
// xdg/notation and Docker's configuration in dockerConfig.
func notationVerify(t *testing.T, bin, xdg, dockerConfig, ref string) (string, error) {
	t.Helper()
	cmd := notationCmd(t, bin, xdg, "verify", "--insecure-registry", ref)
	cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+dockerConfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var sigManifestLine = regexp.MustCompile(`signature manifest: (sha256:[0-9a-f]{64})`)

// TestImageSignNotationVerify is the image signing test: an artifact
// pushed to a real registry and signed by signet image sign (JWS and
// COSE) verifies with the real notation verify v1.3.2 using exactly the
// files signet trust export wrote; once the tag points at a changed
// manifest, verification fails; a registry that needs credentials works
// with them in Docker's config.json.
func TestImageSignNotationVerify(t *testing.T) {
	notation := registrytest.Notation(t)
	srv := servertest.Start(t)
	open := registrytest.Start(t, registrytest.Options{})
	private := registrytest.Start(t, registrytest.Options{User: "ci", Password: "pushing-images"})
	if code, _, stderr := run(t, srv, "profile", "create", "images", "--platform", "Notation-OCI-SHA384-ECDSA"); code != 0 {
		t.Fatal(stderr)
	}
	xdg := t.TempDir()
	if code, _, stderr := run(t, srv, "trust", "export", "--profile", "images", "--store-name", "aws-signer-ts", filepath.Join(xdg, "notation")); code != 0 {
		t.Fatal(stderr)
	}
	otherXDG := t.TempDir()
	if code, _, stderr := run(t, srv, "profile", "create", "other_images", "--platform", "Notation-OCI-SHA384-ECDSA"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(t, srv, "trust", "export", "--profile", "other_images", filepath.Join(otherXDG, "notation")); code != 0 {
		t.Fatal(stderr)
	}
	noCreds := t.TempDir()
	creds := private.DockerConfig(t, t.TempDir())
	cases := []struct {
		name, format string
		reg          *registrytest.Registry
		dockerConfig string
	}{
		{"jws", "jws", open, noCreds},
		{"cose", "cose", open, noCreds},
		{"private-registry", "jws", private, creds},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("DOCKER_CONFIG", c.dockerConfig)
			repo := "demo/app-" + c.name
			desc := c.reg.PushArtifact(t, repo, "v1", []byte("image "+c.name))
			tagRef := c.reg.Host + "/" + repo + ":v1"
			code, stdout, stderr := run(t, srv, "image", "sign", tagRef, "--profile", "images", "--signature-format", c.format, "--insecure-registry")
			if code != 0 {
				t.Fatalf("image sign: exit %d\n%s%s", code, stdout, stderr)
			}
			digestRef := c.reg.Host + "/" + repo + "@" + desc.Digest.String()
			for _, want := range []string{"signed " + digestRef, "signing job: arn:aws:signer:us-east-1:"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			m := sigManifestLine.FindStringSubmatch(stdout)
			if m == nil {
				t.Fatalf("no signature manifest digest in:\n%s", stdout)
			}
			// The registry has no referrers API: the signature is listed
			// in the index under the referrers tag.
			ctx := context.Background()
			r := c.reg.Repository(t, repo)
			if _, err := r.Resolve(ctx, strings.Replace(desc.Digest.String(), ":", "-", 1)); err != nil {
				t.Errorf("no referrers tag for the signature: %v", err)
			}
			sigDesc, err := r.Resolve(ctx, m[1])
			if err != nil {
				t.Fatalf("signature manifest %s: %v", m[1], err)
			}
			b, err := content.FetchAll(ctx, r, sigDesc)
			if err != nil {
				t.Fatal(err)
			}
			var manifest ocispec.Manifest
			if err := json.Unmarshal(b, &manifest); err != nil {
				t.Fatal(err)
			}
			wantType := map[string]string{"jws": "application/jose+json", "cose": "application/cose"}[c.format]
			if manifest.ArtifactType != "application/vnd.cncf.notary.signature" || len(manifest.Layers) != 1 || manifest.Layers[0].MediaType != wantType ||
				manifest.Subject == nil || manifest.Subject.Digest != desc.Digest || manifest.Annotations["io.cncf.notary.x509chain.thumbprint#S256"] == "" {
				t.Errorf("signature manifest: %s", b)
			}
			// The policy is strict and lists the tsa store, so this also
			// checks the timestamp and the revocation status (Signet's CRLs).
			out, err := notationVerify(t, notation, xdg, c.dockerConfig, digestRef)
			if err != nil || !strings.Contains(out, "Successfully verified signature for "+digestRef) {
				t.Fatalf("notation verify %s: %v\n%s", digestRef, err, out)
			}
			// A policy trusting another profile refuses the signature.
			if out, err := notationVerify(t, notation, otherXDG, c.dockerConfig, digestRef); err == nil || strings.Contains(out, "Successfully verified") {
				t.Errorf("notation verify trusting another profile passed:\n%s", out)
			}
			// The tag now names another manifest, which nobody signed.
			c.reg.PushArtifact(t, repo, "v1", []byte("changed "+c.name))
			out, err = notationVerify(t, notation, xdg, c.dockerConfig, tagRef)
			if err == nil || strings.Contains(out, "Successfully verified") {
				t.Errorf("notation verify of the changed image passed:\n%s", out)
			}
		})
	}
}

// TestImageSignJSON: --output json gives what the table gives.
func TestImageSignJSON(t *testing.T) {
	srv := servertest.Start(t)
	reg := registrytest.Start(t, registrytest.Options{})
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if code, _, stderr := run(t, srv, "profile", "create", "images", "--platform", "Notation-OCI-SHA384-ECDSA"); code != 0 {
		t.Fatal(stderr)
	}
	desc := reg.PushArtifact(t, "demo/app", "v1", []byte("app"))
	code, stdout, stderr := run(t, srv, "image", "sign", reg.Host+"/demo/app:v1", "--profile", "images", "--insecure-registry", "--signature-format", "cose", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Reference, ArtifactDigest, SignatureManifestDigest, SignatureMediaType, JobID, JobArn string
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if got.Reference != reg.Host+"/demo/app@"+desc.Digest.String() || got.ArtifactDigest != desc.Digest.String() ||
		!strings.HasPrefix(got.SignatureManifestDigest, "sha256:") || got.SignatureMediaType != "application/cose" ||
		got.JobID == "" || !strings.HasSuffix(got.JobArn, "/signing-jobs/"+got.JobID) {
		t.Errorf("json output: %s", stdout)
	}
}

// TestImageSignErrors: each way signet image sign can be refused has its
// exit status and says what to fix.
func TestImageSignErrors(t *testing.T) {
	srv := servertest.Start(t)
	open := registrytest.Start(t, registrytest.Options{})
	private := registrytest.Start(t, registrytest.Options{User: "ci", Password: "pushing-images"})
	// Anyone may read, only its owner push: as a CD principal's view of
	// a production registry.
	readOnly := registrytest.Start(t, registrytest.Options{User: "owner", Password: "owns-the-registry", Tokens: true})
	for _, p := range [][]string{{"images", "Notation-OCI-SHA384-ECDSA"}, {"lambda_zips", "AWSLambda-SHA384-ECDSA"}} {
		if code, _, stderr := run(t, srv, "profile", "create", p[0], "--platform", p[1]); code != 0 {
			t.Fatal(stderr)
		}
	}
	open.PushArtifact(t, "demo/app", "v1", []byte("app"))
	private.PushArtifact(t, "demo/app", "v1", []byte("app"))
	readOnly.PushArtifact(t, "demo/app", "v1", []byte("app"))
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	wrongCreds := (&registrytest.Registry{Host: private.Host, User: "ci", Password: "wrong"}).DockerConfig(t, t.TempDir())
	cases := []struct {
		name         string
		args         []string
		dockerConfig string
		code         int
		stderr       []string
	}{
		{"lambda-profile", []string{open.Host + "/demo/app:v1", "--profile", "lambda_zips"}, "", 1,
			[]string{"signing profile lambda_zips has platform AWSLambda-SHA384-ECDSA", "images need a profile of platform Notation-OCI-SHA384-ECDSA", "hint: create one: signet profile create NAME --platform Notation-OCI-SHA384-ECDSA"}},
		{"no-such-tag", []string{open.Host + "/demo/app:v2", "--profile", "images"}, "", 10,
			[]string{"no such image: " + open.Host + "/demo/app:v2", "hint: check the repository"}},
		{"no-such-repository", []string{open.Host + "/demo/nothing:v1", "--profile", "images"}, "", 10,
			[]string{"no such image: " + open.Host + "/demo/nothing:v1"}},
		{"unreachable", []string{unusedPort(t) + "/demo/app:v1", "--profile", "images"}, "", 11,
			[]string{"registry unreachable for ", "hint: check the registry's host and port"}},
		{"https-to-http", []string{open.Host + "/demo/app:v1", "--profile", "images"}, "", 11,
			[]string{"registry unreachable", "use --insecure-registry"}},
		{"no-credentials", []string{private.Host + "/demo/app:v1", "--profile", "images"}, "", 12,
			[]string{"not authorized to read " + private.Host + "/demo/app:v1", "hint: log in to the registry"}},
		{"wrong-credentials", []string{private.Host + "/demo/app:v1", "--profile", "images"}, wrongCreds, 12,
			[]string{"not authorized to read ", "401"}},
		{"push-refused", []string{readOnly.Host + "/demo/app:v1", "--profile", "images"}, "", 12,
			[]string{"not authorized to push the signature of " + readOnly.Host + "/demo/app:v1", "401", "hint: log in to the registry", "pushing to its repository",
				"hint: the signature was made (signing job arn:aws:signer:", "but is not in the registry"}},
		{"no-tag", []string{open.Host + "/demo/app", "--profile", "images"}, "", 2,
			[]string{"names no tag or digest"}},
		{"bad-format", []string{open.Host + "/demo/app:v1", "--profile", "images", "--signature-format", "pem"}, "", 2,
			[]string{"--signature-format must be jws or cose"}},
		{"no-profile", []string{open.Host + "/demo/app:v1"}, "", 2,
			[]string{"image sign needs --profile NAME"}},
		{"unknown-profile", []string{open.Host + "/demo/app:v1", "--profile", "nobody"}, "", 1,
			[]string{"ResourceNotFoundException"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.dockerConfig != "" {
				t.Setenv("DOCKER_CONFIG", c.dockerConfig)
			}
			args := append([]string{"image", "sign"}, c.args...)
			if c.name != "https-to-http" {
				args = append(args, "--insecure-registry")
			}
			code, stdout, stderr := run(t, srv, args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
}

// unusedPort returns a loopback host:port on which nothing listens.
func unusedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
