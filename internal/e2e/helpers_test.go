package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet/signet/internal/e2e/e2etest"
)

// requireTool returns the resolved path of an external program (an
// absolute path, or a name looked up in PATH). When the program is missing
// the test is skipped, or fails when SIGNET_REQUIRE_ALL=1.
func requireTool(t *testing.T, path string) string { return e2etest.RequireTool(t, path) }

// lockedBuffer is a bytes.Buffer safe for concurrent writers, for server
// logs and process stderr.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sharedCredentials is the [default] section of an AWS shared credentials
// file.
type sharedCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	Region          string
}

// readCredentials parses the [default] section of the credentials file
// at path.
func readCredentials(t *testing.T, path string) sharedCredentials {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("failed to read credentials file: %v", err)
	}
	var c sharedCredentials
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			continue
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			continue
		}
		if section != "default" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			c.AccessKeyID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.SecretAccessKey = strings.TrimSpace(v)
		case "region":
			c.Region = strings.TrimSpace(v)
		}
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		t.Fatalf("credentials file %s has no [default] access key:\n%s", path, b)
	}
	return c
}

// writeCredentials writes a [default] credentials file and returns its path.
func writeCredentials(t *testing.T, dir, name string, c sharedCredentials) string {
	t.Helper()
	path := dir + "/" + name
	body := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n", c.AccessKeyID, c.SecretAccessKey, c.Region)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// JSON type checks. encoding/json decodes into any as string, float64,
// bool, map[string]any, []any or nil, which are the JSON types.

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// field returns m[key] as a T, failing the test when the key is missing or
// holds another JSON type.
func field[T any](t *testing.T, m map[string]any, key string) T {
	t.Helper()
	v, ok := m[key]
	if !ok {
		t.Fatalf("field %q is missing from %s", key, compact(m))
	}
	x, ok := v.(T)
	if !ok {
		var zero T
		t.Fatalf("field %q = %s is a JSON %s, want a JSON %s", key, compact(v), jsonType(v), jsonType(any(zero)))
	}
	return x
}

func str(t *testing.T, m map[string]any, key string) string {
	t.Helper()
	return field[string](t, m, key)
}

func num(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	return field[float64](t, m, key)
}

func boolean(t *testing.T, m map[string]any, key string) bool {
	t.Helper()
	return field[bool](t, m, key)
}

func obj(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	return field[map[string]any](t, m, key)
}

func arr(t *testing.T, m map[string]any, key string) []any {
	t.Helper()
	return field[[]any](t, m, key)
}

// objects returns the array m[key] whose every element is an object.
func objects(t *testing.T, m map[string]any, key string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, v := range arr(t, m, key) {
		o, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s[%d] = %s is a JSON %s, want a JSON object", key, i, compact(v), jsonType(v))
		}
		out = append(out, o)
	}
	return out
}

// stringMap returns the object m[key] whose every value is a string.
func stringMap(t *testing.T, m map[string]any, key string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range obj(t, m, key) {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s.%s = %s is a JSON %s, want a JSON string", key, k, compact(v), jsonType(v))
		}
		out[k] = s
	}
	return out
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// sandboxesAvailable reports whether the server can run functions; when
// it cannot (not root, no usable cgroups) the test fails under
// SIGNET_REQUIRE_ALL=1 and otherwise logs why the invocations are left out.
func (s *cliServer) sandboxesAvailable(t *testing.T) bool {
	t.Helper()
	if s.srv.Invoke.Pool != nil {
		return true
	}
	if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
		t.Fatalf("functions cannot run here: %v", s.srv.Invoke.Unavailable)
	}
	t.Logf("functions cannot run here (%v); leaving out the invocations", s.srv.Invoke.Unavailable)
	return false
}

// waitServing waits until signet serve's stderr holds its "serving" log
// line, which it writes after its start banner: the output reaches the
// buffer through a pipe, after /healthz already answers.
func waitServing(t *testing.T, log *lockedBuffer) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(log.String(), `"msg":"serving"`); {
		if time.Now().After(deadline) {
			t.Fatalf("signet serve wrote no serving line in a minute:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return log.String()
}
