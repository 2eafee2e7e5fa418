package server_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// domain are the packages that hold Signet's rules; they know neither
// HTTP nor the database nor the AWS wire protocols.
var domain = []string{"admission", "arn", "audit", "deploygate", "functions", "iam", "inventory", "invoke", "kms", "ssm", "secrets", "logs", "objects", "policy", "signing"}

// domainExceptions are files of domain packages allowed one of those
// imports, and why.
var domainExceptions = map[string]string{
	"invoke/init_linux.go": "the sandbox's init process serves the Lambda Runtime API to the function, over HTTP on a socket inside the sandbox",
}

// TestImportRules checks the direction of the import graph: domain
// packages import neither net/http, database/sql, the store, the server
// nor the awsapi packages; the awsapi core imports no service package;
// service packages import no other service's but stsapi → iamapi (STS
// answers the IAM domain's errors with IAM's codes).
func TestImportRules(t *testing.T) {
	root := ".."
	for _, pkg := range domain {
		for file, imp := range imports(t, filepath.Join(root, pkg)) {
			for _, i := range imp {
				bad := i == "net/http" || i == "database/sql" || strings.Contains(i, "/internal/store") ||
					strings.Contains(i, "/internal/server") || strings.Contains(i, "/internal/awsapi")
				if _, ok := domainExceptions[pkg+"/"+file]; bad && !ok {
					t.Errorf("domain package %s imports %s (%s)", pkg, i, file)
				}
			}
		}
	}
	// The console acts only through the APIs (a transport the server
	// gives it): it holds no store, IAM, policy or service code of its
	// own, so no page can reach around the authorizer or the audit log.
	for file, imp := range imports(t, filepath.Join(root, "console")) {
		for _, i := range imp {
			for _, banned := range []string{"/internal/store", "/internal/iam", "/internal/policy", "/internal/server", "/internal/awsapi", "/internal/signing",
				"/internal/functions", "/internal/kms", "/internal/secrets", "database/sql"} {
				if strings.HasSuffix(i, banned) || strings.Contains(i, banned+"/") || i == banned {
					t.Errorf("the console imports %s (%s): it must act only through the APIs", i, file)
				}
			}
		}
	}
	for file, imp := range imports(t, filepath.Join(root, "awsapi")) {
		for _, i := range imp {
			if strings.Contains(i, "/internal/awsapi/") {
				t.Errorf("the awsapi core imports the service package %s (%s)", i, file)
			}
		}
	}
	dirs, err := os.ReadDir(filepath.Join(root, "awsapi"))
	if err != nil {
		t.Fatal(err)
	}
	services := 0
	for _, d := range dirs {
		if !d.IsDir() || !strings.HasSuffix(d.Name(), "api") {
			continue
		}
		services++
		for file, imp := range imports(t, filepath.Join(root, "awsapi", d.Name())) {
			for _, i := range imp {
				other, ok := strings.CutPrefix(i, "github.com/signet/signet/internal/awsapi/")
				if ok && !(d.Name() == "stsapi" && other == "iamapi") {
					t.Errorf("service package %s imports service package %s (%s)", d.Name(), other, file)
				}
				if strings.Contains(i, "/internal/server") || strings.Contains(i, "/internal/store") {
					t.Errorf("service package %s imports %s (%s)", d.Name(), i, file)
				}
			}
		}
	}
	if services < 6 {
		t.Errorf("found %d service packages under internal/awsapi, want at least 6", services)
	}
}

// imports returns the imports of each non-test Go file of a directory.
func imports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, p := range pkgs {
		for name, f := range p.Files {
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				out[filepath.Base(name)] = append(out[filepath.Base(name)], path)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return out
}
