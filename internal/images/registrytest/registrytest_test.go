package registrytest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/signet/signet/internal/images/registrytest"
)

// TestStart: a registry starts, takes an artifact and gives it back; one
// with credentials refuses a client without them.
func TestStart(t *testing.T) {
	cases := []struct {
		name string
		opts registrytest.Options
	}{
		{"anonymous", registrytest.Options{}},
		{"basic-auth", registrytest.Options{User: "ci", Password: "s3cret-pass"}},
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
