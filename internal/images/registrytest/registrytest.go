// Package registrytest runs the real programs the image tests need: a
// distribution registry (v3.1.2) on a loopback port, and the notation CLI
// (v1.3.2). scripts/test builds both when they are missing and names them
// in SIGNET_REGISTRY and SIGNET_NOTATION; otherwise they are looked up on
// PATH. A test whose program is absent is skipped, with a message naming
// the program, unless SIGNET_REQUIRE_ALL=1 makes it a failure.
package registrytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Tool returns the path of an external program: the file named by the
// environment variable env, or name found on PATH. When neither exists
// the test is skipped, or fails under SIGNET_REQUIRE_ALL=1.
func Tool(tb testing.TB, name, env string) string {
	tb.Helper()
	p, err := Find(name, env)
	if err != nil {
		missing(tb, err.Error())
	}
	return p
}

// Find returns the path of an external program as Tool does, or an
// error that says how to provide it; for tests that leave out only a part
// when it is missing.
func Find(name, env string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		return "", fmt.Errorf("%s: %s=%s does not exist", name, env, p)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found: set %s or put it on PATH (./scripts/test builds it)", name, env)
	}
	return p, nil
}

func missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
		tb.Fatalf("%s; SIGNET_REQUIRE_ALL=1 makes it mandatory", msg)
	}
	tb.Skipf("%s; skipping (SIGNET_REQUIRE_ALL=1 makes this a failure)", msg)
}

// Notation returns the notation CLI (SIGNET_NOTATION or PATH).
func Notation(tb testing.TB) string { return Tool(tb, "notation", "SIGNET_NOTATION") }

// Options configure a registry.
type Options struct {
	// User and Password, when set, make the registry require HTTP basic
	// authentication (an htpasswd file with this one user).
	User, Password string
	// Tokens makes the registry authenticate with bearer tokens from a
	// token server in the test process instead, as Docker Hub, GHCR and
	// ECR do: User (with Password) may pull and push, anyone else, with
	// or without credentials, only pull.
	Tokens bool
}

// Registry is a running distribution registry.
type Registry struct {
	// Host is host:port on the loopback interface, the registry part of
	// an image reference.
	Host           string
	User, Password string
	mu             sync.Mutex
	log            bytes.Buffer
}

// startTimeout bounds how long a registry may take to answer /v2/.
const startTimeout = 60 * time.Second

// Start runs a registry (SIGNET_REGISTRY or "registry" on PATH) on a
// free loopback port with its storage in a temporary directory, waits
// until it answers /v2/, and stops it when the test ends.
func Start(tb testing.TB, opts Options) *Registry {
	tb.Helper()
	bin := Tool(tb, "registry", "SIGNET_REGISTRY")
	dir := tb.TempDir()
	var authCfg string
	switch {
	case opts.Tokens:
		if opts.User == "" {
			tb.Fatal("registrytest: Options.Tokens needs a User who may push")
		}
		authCfg = startTokenServer(tb, dir, opts.User, opts.Password)
	case opts.User != "":
		hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), bcrypt.MinCost)
		if err != nil {
			tb.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(opts.User+":"+string(hash)+"\n"), 0o600); err != nil {
			tb.Fatal(err)
		}
		authCfg = fmt.Sprintf("auth:\n  htpasswd:\n    realm: signet-test\n    path: %s\n", htpasswd)
	}
	// The port is chosen by the kernel, released, and given to the
	// registry; another process may take it in between, so a registry
	// that exits before answering is started again on a new port.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		host := freePort(tb)
		cfg := filepath.Join(dir, "config.yml")
		body := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n%s",
			filepath.Join(dir, "data"), host, authCfg)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
		r := &Registry{Host: host, User: opts.User, Password: opts.Password}
		cmd := exec.Command(bin, "serve", cfg)
		cmd.Stdout, cmd.Stderr = lockedWriter{r}, lockedWriter{r}
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start registry: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		lastErr = waitReady(host, exited)
		if lastErr == nil {
			tb.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return r
		}
		cmd.Process.Kill()
		<-exited
		lastErr = fmt.Errorf("%w\nregistry log:\n%s", lastErr, r.Log())
	}
	tb.Fatalf("registry did not start: %v", lastErr)
	return nil
}

type lockedWriter struct{ r *Registry }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.r.log.Write(p)
}

func freePort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady polls GET /v2/ until the registry answers (200, or 401 when
// it requires authentication), it exits, or the deadline passes.
func waitReady(host string, exited <-chan error) error {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer from http://%s/v2/ within %v (last error: %v)", host, startTimeout, err)
		}
		select {
		case err := <-exited:
			return fmt.Errorf("registry exited: %v", err)
		case <-tick.C:
		}
	}
}

// Repository returns an oras-go client for host/name, over plain HTTP,
// with the registry's credentials when it has any.
func (r *Registry) Repository(tb testing.TB, name string) *remote.Repository {
	tb.Helper()
	repo, err := remote.NewRepository(r.Host + "/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	repo.PlainHTTP = true
	if r.User != "" {
		repo.Client = &auth.Client{Credential: auth.StaticCredential(r.Host, auth.Credential{Username: r.User, Password: r.Password}), Cache: auth.NewCache()}
	}
	return repo
}

// PushArtifact pushes a small OCI artifact (one layer holding content)
// to host/name and tags it, and returns its manifest descriptor.
func (r *Registry) PushArtifact(tb testing.TB, name, tag string, content []byte) ocispec.Descriptor {
	tb.Helper()
	ctx := context.Background()
	repo := r.Repository(tb, name)
	layer, err := oras.PushBytes(ctx, repo, "text/plain", content)
	if err != nil {
		tb.Fatalf("push layer: %v", err)
	}
	desc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, "application/vnd.signet.test", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		tb.Fatalf("push manifest: %v", err)
	}
	if err := repo.Tag(ctx, desc, tag); err != nil {
		tb.Fatalf("tag %s: %v", tag, err)
	}
	return desc
}

// DockerConfig writes a Docker config.json holding the registry's
// credentials in dir and returns dir, for DOCKER_CONFIG.
func (r *Registry) DockerConfig(tb testing.TB, dir string) string {
	tb.Helper()
	if r.User == "" {
		tb.Fatal("DockerConfig: the registry has no credentials")
	}
	b, err := json.Marshal(map[string]any{"auths": map[string]any{
		r.Host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(r.User + ":" + r.Password))},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Log returns what the registry has written so far.
func (r *Registry) Log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}
