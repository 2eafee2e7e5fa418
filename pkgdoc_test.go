// Package signet is the root of the Signet module; its only file checks
// the documentation of every package. The server and CLI are in
// cmd/signet, everything else in internal/.
package signet

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs requires exactly one package doc comment per package
// (test-only packages excepted), and commands' to start "Command".
func TestPackageDocs(t *testing.T) {
	docs := map[string][]string{} // dir -> files with a package doc
	dirs := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		dirs[dir] = true
		if f.Doc != nil {
			docs[dir] = append(docs[dir], path)
			if f.Name.Name == "main" && !strings.HasPrefix(f.Doc.Text(), "Command ") {
				t.Errorf("%s: a command's doc must start \"Command \"", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir := range dirs {
		switch n := len(docs[dir]); {
		case n == 0:
			t.Errorf("package %s has no doc comment", dir)
		case n > 1:
			t.Errorf("package %s has %d doc comments: %v", dir, n, docs[dir])
		}
	}
}
