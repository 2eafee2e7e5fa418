package registrytest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/signet/signet/internal/images/registrytest"
)

// TestStart: a registry starts, takes an artifact and gives it back; one
// with credentials refuses a client without them; one with tokens lets
// anyone pull and only its user push.
func TestStart(t *testing.T) {
	cases := []struct {
		name string
		opts registrytest.Options
	}{
		{"anonymous", registrytest.Options{}},
		{"basic-auth", registrytest.Options{User: "ci", Password: "s3cret-pass"}},
		{"tokens", registrytest.Options{User: "ci", Password: "s3cret-pass", Tokens: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := registrytest.Start(t, c.opts)
			ctx := context.Background()
			desc := reg.PushArtifact(t, "demo/hello", "v1", []byte("hello"))
			got, err := reg.Repository(t, "demo/hello").Resolve(ctx, "v1")
			if err != nil || got.Digest != desc.Digest {
				t.Fatalf("resolve v1: %v, %v; want %v", got.Digest, err, desc.Digest)
			}
			if c.opts.Tokens {
				// Anyone reads; no one else writes.
				anon, err := remote.NewRepository(reg.Host + "/demo/hello")
				if err != nil {
					t.Fatal(err)
				}
				anon.PlainHTTP = true
				if got, err := anon.Resolve(ctx, "v1"); err != nil || got.Digest != desc.Digest {
					t.Fatalf("anonymous resolve v1: %v, %v; want %v", got.Digest, err, desc.Digest)
				}
				err = anon.Tag(ctx, desc, "v2")
				var resp *errcode.ErrorResponse
				if !errors.As(err, &resp) || resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("anonymous push: %v, want 401", err)
				}
				return
			}
			if c.opts.User == "" {
				return
			}
			resp, err := http.Get("http://" + reg.Host + "/v2/demo/hello/manifests/v1")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("without credentials: %s, want 401", resp.Status)
			}
		})
	}
}
