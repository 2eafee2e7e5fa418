package functions

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

type entry struct {
	name, body string
	mode       fs.FileMode
}

func zipOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(e.body))
	}
	w.Close()
	return b.Bytes()
}

func TestCheckPackage(t *testing.T) {
	ok := zipOf(t, entry{name: "app.py", body: "x = 1\n"}, entry{name: "lib/", mode: fs.ModeDir | 0o755}, entry{name: "lib/u.py", body: "y"})
	corrupt := bytes.Clone(zipOf(t, entry{name: "app.py", body: strings.Repeat("hello ", 100)}))
	corrupt[40] ^= 0xff // inside the compressed data
	cases := map[string]struct {
		pkg        []byte
		maxSize    int64
		maxEntries int
		want       string // "" accepted, else a part of the message
	}{
		"ok":                    {ok, MaxUnzippedSize, MaxZipEntries, ""},
		"ok/link-inside":        {zipOf(t, entry{name: "a.py", body: "x"}, entry{name: "l", body: "a.py", mode: fs.ModeSymlink | 0o777}), MaxUnzippedSize, MaxZipEntries, ""},
		"fail/not-a-zip":        {[]byte("PK\x03\x04 not really"), MaxUnzippedSize, MaxZipEntries, "Could not unzip uploaded file"},
		"fail/corrupt":          {corrupt, MaxUnzippedSize, MaxZipEntries, "Could not unzip uploaded file"},
		"fail/dot-dot":          {zipOf(t, entry{name: "../evil", body: "x"}), MaxUnzippedSize, MaxZipEntries, `"../evil" leaves the package's root`},
		"fail/dot-dot-inside":   {zipOf(t, entry{name: "a/../../evil", body: "x"}), MaxUnzippedSize, MaxZipEntries, "leaves the package's root"},
		"fail/absolute":         {zipOf(t, entry{name: "/etc/evil", body: "x"}), MaxUnzippedSize, MaxZipEntries, "leaves the package's root"},
		"fail/through-a-link":   {zipOf(t, entry{name: "out", body: "/tmp", mode: fs.ModeSymlink | 0o777}, entry{name: "out/evil", body: "x"}), MaxUnzippedSize, MaxZipEntries, "symbolic link"},
		"fail/too-large":        {ok, 3, MaxZipEntries, "Unzipped size must be smaller than 3 bytes"},
		"fail/too-many-entries": {ok, MaxUnzippedSize, 2, "3 entries; at most 2"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := checkPackage(c.pkg, c.maxSize, c.maxEntries)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrInvalid with %q", err, c.want)
			}
		})
	}
}

// TestCodeLoadingVariablesDocumented: docs/lambda.md lists every
// variable refused under Enforce.
func TestCodeLoadingVariablesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/lambda.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range CodeLoadingVariables {
		if !strings.Contains(string(b), "| `"+name+"` |") {
			t.Errorf("docs/lambda.md does not list %s", name)
		}
	}
	for p := range codeLoadingPrefixes {
		if !strings.Contains(string(b), "every `"+p+"*` variable") {
			t.Errorf("docs/lambda.md does not list the prefix %s", p)
		}
	}
	for name, want := range map[string]bool{"NODE_OPTIONS": true, "LD_PRELOAD": true, "LD_ANYTHING": true, "BASH_FUNC_ls%%": true,
		"PYTHONUNBUFFERED": false, "GREETING": false, "node_options": false} {
		if got := codeLoadingVariable(name) != ""; got != want {
			t.Errorf("codeLoadingVariable(%s) = %v, want %v", name, got, want)
		}
	}
}
