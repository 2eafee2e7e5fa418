package invoke

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/signet/signet/internal/functions"
)

func zipEntries(entries ...[2]string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e[0]}
		if len(e[0]) > 5 && e[0][:5] == "link:" {
			h.Name = e[0][5:]
			h.SetMode(os.ModeSymlink | 0o777)
		}
		f, _ := w.CreateHeader(h)
		f.Write([]byte(e[1]))
	}
	w.Close()
	return b.Bytes()
}

// unpack extracts pkg with a fresh Unpacker under dir and returns the
// code directory.
func unpack(t testing.TB, dir string, pkg []byte) (string, error) {
	code := filepath.Join(dir, "packages")
	os.MkdirAll(code, 0o700)
	sum := sha256.Sum256(pkg)
	os.WriteFile(filepath.Join(code, "p.zip"), pkg, 0o600)
	u := &Unpacker{Dir: filepath.Join(dir, "cache"), Reader: dirCode(code)}
	task, _, err := u.Unpack(context.Background(), functions.Function{Name: "f", CodeSHA256: base64.StdEncoding.EncodeToString(sum[:]), CodePath: "p.zip", CodeSize: int64(len(pkg))})
	return task, err
}

func TestUnpackConfined(t *testing.T) {
	tests := []struct {
		name    string
		pkg     []byte
		want    map[string]string // files inside the code directory
		wantErr bool
	}{
		{"plain", zipEntries([2]string{"app.py", "x"}, [2]string{"lib/util.py", "y"}), map[string]string{"app.py": "x", "lib/util.py": "y"}, false},
		{"dot-dot is dropped", zipEntries([2]string{"../evil", "x"}, [2]string{"a/../../evil2", "x"}, [2]string{"ok", "1"}), map[string]string{"ok": "1"}, false},
		{"absolute is made relative", zipEntries([2]string{"/etc/evil", "x"}), map[string]string{"etc/evil": "x"}, false},
		{"write through an escaping link fails", zipEntries([2]string{"link:out", "/tmp"}, [2]string{"out/evil", "x"}), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			task, err := unpack(t, dir, tc.pkg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadPackage) {
				t.Errorf("err %v is not ErrBadPackage: the package's fault would be reported as Signet's", err)
			}
			for name, content := range tc.want {
				if b, err := os.ReadFile(filepath.Join(task, name)); err != nil || string(b) != content {
					t.Errorf("%s: %q %v", name, b, err)
				}
			}
			if _, err := os.Stat("/tmp/evil"); err == nil {
				t.Error("a package wrote /tmp/evil")
			}
			if _, err := os.Stat(filepath.Join(dir, "evil")); err == nil {
				t.Error("a package wrote outside its directory")
			}
		})
	}
}

// FuzzUnpack unpacks arbitrary packages: nothing may be created outside
// the cache's code directory.
func FuzzUnpack(f *testing.F) {
	f.Add(zipEntries([2]string{"app.py", "x"}))
	f.Add(zipEntries([2]string{"../x", "x"}, [2]string{"link:l", "../../"}, [2]string{"l/y", "y"}))
	f.Fuzz(func(t *testing.T, pkg []byte) {
		dir := t.TempDir()
		unpack(t, dir, pkg)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() != "packages" && e.Name() != "cache" {
				t.Fatalf("unpacking created %s outside the cache", e.Name())
			}
		}
		cache, _ := os.ReadDir(filepath.Join(dir, "cache"))
		for _, e := range cache {
			if e.Name() != "code" {
				t.Fatalf("unpacking created cache/%s", e.Name())
			}
		}
	})
}
