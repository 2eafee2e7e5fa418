// Package scantest makes packages to scan, for the secret scan's tests
// and benchmarks.
package scantest

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// SourceZip returns a stored zip of about size bytes of Go's own source
// files, real code full of "key", "token" and "auth", and their number.
func SourceZip(tb testing.TB, size int) ([]byte, int) {
	tb.Helper()
	root := filepath.Join(runtime.GOROOT(), "src")
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || buf.Len() >= size {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := w.CreateHeader(&zip.FileHeader{Name: strings.TrimPrefix(p, root+"/"), Method: zip.Store})
		if err != nil {
			return err
		}
		n++
		_, err = f.Write(src)
		return err
	})
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), n
}
