package secretscan

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

func testEngine(t testing.TB) (*detect.Detector, *engine) {
	t.Helper()
	d, err := detector()
	if err != nil {
		t.Fatal(err)
	}
	return d, eng
}

// findingSet is a detector's findings as "rule@line".
func findingSet(found []report.Finding) []string {
	var s []string
	for _, f := range found {
		s = append(s, fmt.Sprintf("%s@%d", f.RuleID, f.StartLine))
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// agree checks that the engine finds in raw what gitleaks' own detector
// finds reading the whole file. It may find more where a rule anchors
// on the text's start or end; it must never find less.
func agree(t *testing.T, d *detect.Detector, e *engine, name, raw string, exact bool) {
	t.Helper()
	want := findingSet(d.DetectContext(context.Background(), detect.Fragment{Raw: raw, FilePath: name}))
	got := findingSet(e.detect(context.Background(), name, raw))
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s: gitleaks finds %s, the engine does not (engine: %v)", name, w, got)
		}
	}
	if exact {
		for _, g := range got {
			if !slices.Contains(want, g) {
				t.Errorf("%s: the engine finds %s, gitleaks does not (gitleaks: %v)", name, g, want)
			}
		}
	}
}

// TestEngineAgreesWithGitleaks compares the windowed engine with
// gitleaks' whole-file detection on real source code (Go's own, which
// is full of "key", "token" and "auth") and on files holding secrets
// across lines and at their edges.
func TestEngineAgreesWithGitleaks(t *testing.T) {
	d, e := testEngine(t)
	budget := 3 << 20
	if testing.Short() {
		budget = 512 << 10
	}
	root := filepath.Join(runtime.GOROOT(), "src", "crypto")
	n := 0
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || budget <= 0 {
			return err
		}
		if ext := filepath.Ext(p); ext != ".go" && ext != ".pem" && ext != ".txt" && ext != ".json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		budget -= len(b)
		n++
		agree(t, d, e, strings.TrimPrefix(p, root+"/"), string(b), true)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("compared %d files of %s; want Go's sources there", n, root)
	}

	s := newSecretsInternal(t)
	cases := map[string]string{
		"config.py":   "import os\n\nAWS_KEY = \"" + s.aws + "\"\n",
		"first.env":   "token=" + s.github + "\n" + strings.Repeat("x = 1\n", 50),
		"last.env":    strings.Repeat("x = 1\n", 50) + "api_key = \"" + s.generic + "\"",
		"split.js":    "const apiKey =\n\n '" + s.generic + "';\n",
		"key.pem":     strings.Repeat("# comment\n", 40) + s.private + strings.Repeat("\n", 40),
		"crlf.ini":    "[default]\r\npassword = " + s.generic + "\r\nregion = x\r\n",
		"mixed.go":    "// Kelvin sign: \u212aey and long s: ſecret\nvar ſecret = \"" + s.generic + "\"\nvar \u212aEY = \"" + s.generic + "\"\n",
		"nonl.txt":    s.aws,
		"curl.sh":     "curl -X POST \\\n  -H \"Authorization: Bearer " + s.generic + "\" \\\n  https://api.example.org/\n",
		"deep.yaml":   "kind: Secret\napiVersion: v1\n" + strings.Repeat("# filler\n", 20) + "data:\n  password: " + s.base64 + "\n",
		"tokens.json": "{\n  \"github\": \"" + s.github + "\",\n  \"slack\": \"xoxb-" + s.digits + "-" + s.digits + "-" + s.generic + "\"\n}\n",
	}
	for name, raw := range cases {
		agree(t, d, e, name, raw, true)
		if len(findingSet(e.detect(context.Background(), name, raw))) == 0 && name != "mixed.go" {
			t.Errorf("%s: nothing found; the case tests nothing", name)
		}
	}
}

type secretsInternal struct{ aws, github, generic, private, base64, digits string }

func newSecretsInternal(t testing.TB) secretsInternal {
	// Fixed values: shaped like real secrets (not EXAMPLE keys), made up.
	return secretsInternal{
		aws:     "AKIA2EQAXF3BZ44CQ7R6",
		github:  "ghp_" + "R8x2KqZ7vN4mT1pL9wS6yB3cD5fH0jG2aE8u",
		generic: "Zr8Kq2Vx7Nm4Tp1Lw9Sy6Bc3",
		private: "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBq3Jm8Yv6d0mZ0m5w0w3c9n3pQ3nW8mJfQ4hWq0b1aGoAoGCCqGSM49\nAwEHoUQDQgAEyQ9Xq0z8a3M8rWv3J8mY1nA2d4XkQ0Zq3W9fJ6u8kU6m2yQ3n5pT\nq0c8r8mJ2xW1vF9b4nD6sH3kL7pQ2zR5tA==\n-----END EC PRIVATE KEY-----\n",
		base64:  "c3VwZXJzZWNyZXRwYXNzd29yZDEyMw==",
		digits:  "1234567890123",
	}
}

// FuzzEngineFindsWhatGitleaksFinds: whatever the text, the windowed
// engine misses nothing gitleaks finds in the whole file.
func FuzzEngineFindsWhatGitleaksFinds(f *testing.F) {
	s := newSecretsInternal(f)
	for _, seed := range []string{
		"api_key = \"" + s.generic + "\"\n",
		"password:\n\n\n'" + s.generic + "'\n",
		s.private,
		"x\n" + s.aws + "\ny",
		"curl -u user:" + s.generic + " https://x\n",
	} {
		f.Add(seed)
	}
	d, e := testEngine(f)
	f.Fuzz(func(t *testing.T, raw string) {
		agree(t, d, e, "fuzz.txt", raw, false)
	})
}

// TestWindowable checks how rules are classed: the costly generic rule
// reads windows reaching 9 lines down only, a private key (unbounded)
// and a rule whose keyword its expression does not prove (none here)
// read whole files.
func TestWindowable(t *testing.T) {
	d, _ := testEngine(t)
	for _, tc := range []struct {
		rule     string
		windowed bool
		reach    reach
	}{
		{"generic-api-key", true, reach{0, 9}},
		{"aws-access-token", true, reach{0, 0}},
		{"github-pat", true, reach{0, 0}},
		{"slack-legacy-token", true, reach{0, 0}},
		{"private-key", false, reach{}},
		{"kubernetes-secret-yaml", false, reach{}},
		{"pkcs12-file", false, reach{}},
	} {
		r, ok := d.Config.Rules[tc.rule]
		if !ok {
			t.Fatalf("no rule %s", tc.rule)
		}
		got, windowed := windowable(r)
		if windowed != tc.windowed || (windowed && got != tc.reach) {
			t.Errorf("%s: windowable = %v, %v; want %v, %v", tc.rule, got, windowed, tc.reach, tc.windowed)
		}
	}
}

// BenchmarkEngine compares, on one goroutine, the windowed engine with
// gitleaks' own whole-file detection over the same source files (Go's
// crypto packages, about 8 MB): the reference for docs/performance.md.
func BenchmarkEngine(b *testing.B) {
	d, e := testEngine(b)
	var files []string
	size := 0
	root := filepath.Join(runtime.GOROOT(), "src")
	filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasSuffix(p, ".go") && size < 8<<20 {
			if src, err := os.ReadFile(p); err == nil {
				files = append(files, string(src))
				size += len(src)
			}
		}
		return err
	})
	b.Run("engine", func(b *testing.B) {
		b.SetBytes(int64(size))
		for range b.N {
			for _, f := range files {
				e.detect(context.Background(), "a.go", f)
			}
		}
	})
	b.Run("gitleaks", func(b *testing.B) {
		b.SetBytes(int64(size))
		for range b.N {
			for _, f := range files {
				d.DetectContext(context.Background(), detect.Fragment{Raw: f, FilePath: "a.go"})
			}
		}
	})
}
