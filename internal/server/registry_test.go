package server_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/signet/signet/internal/server/servertest"
)

// TestOperationRegistry walks every operation of every service the server
// serves: each declares its IAM action (in its service's namespace), a
// resource function and a handler, no two share a route, and every
// error of the domain packages its service calls has an AWS code in the
// service's registry, so that no domain error falls through to a
// generic 500.
func TestOperationRegistry(t *testing.T) {
	ts := servertest.Start(t)
	svcs := ts.Services()
	if len(svcs) == 0 {
		t.Fatal("the server serves no services")
	}
	namespace := map[string]string{"sts": "sts", "s3": "s3"}
	for _, svc := range svcs {
		t.Run(svc.Name, func(t *testing.T) {
			if svc.Protocol == nil || svc.Authorizer == nil {
				t.Fatalf("service %s: protocol %v, authorizer %v", svc.Name, svc.Protocol, svc.Authorizer)
			}
			if svc.Throttle.Code == "" || svc.Throttle.Status < 400 {
				t.Errorf("service %s has no throttling error", svc.Name)
			}
			ns := namespace[svc.Name]
			if ns == "" {
				ns = svc.Name
			}
			routes := map[string]string{}
			for _, op := range svc.Operations {
				if op.Name == "" || op.Handle == nil {
					t.Errorf("%s: an operation has no name or handler: %+v", svc.Name, op)
				}
				if !strings.HasPrefix(op.Action, ns+":") || len(op.Action) == len(ns)+1 {
					t.Errorf("%s %s: IAM action %q is not in namespace %s", svc.Name, op.Name, op.Action, ns)
				}
				if op.Resource == nil {
					t.Errorf("%s %s: no resource function (use awsapi.AllResources for \"*\")", svc.Name, op.Name)
				}
				route := op.Pattern + " " + op.Target
				if other, ok := routes[route]; ok {
					t.Errorf("%s: %s and %s share the route %q", svc.Name, other, op.Name, route)
				}
				routes[route] = op.Name
			}
			for _, c := range svc.Errors {
				if c.Code == "" || c.Status < 400 || c.Status > 599 && c.Status != 0 || (c.Err == nil && c.Match == nil && c.From == "") {
					t.Errorf("%s: malformed registry entry %+v", svc.Name, c)
				}
			}
		})
	}

	// Every sentinel error a service's domain packages declare has an
	// entry in that service's table (by name, from the source).
	root := filepath.Join("..", "awsapi")
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range dirs {
		if !d.IsDir() || !strings.HasSuffix(d.Name(), "api") {
			continue
		}
		imports, registered := serviceSource(t, filepath.Join(root, d.Name()))
		for _, imp := range imports {
			for _, name := range sentinels(t, filepath.Join("..", imp)) {
				checked++
				if _, ok := neverOnTheWire[imp+"."+name]; ok {
					continue
				}
				if !registered[imp+"."+name] {
					t.Errorf("%s: the %s package's %s has no AWS code in the service's error table", d.Name(), imp, name)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no domain sentinels to check")
	}
}

// domainPackages are the packages whose errors reach the wire; the
// others a service imports (arn, policy, sigv4…) return none to it.
var domainPackages = map[string]bool{"signing": true, "functions": true, "deploygate": true, "invoke": true, "iam": true, "objects": true, "logs": true}

// neverOnTheWire are sentinels no operation can return, and why.
var neverOnTheWire = map[string]string{
	"deploygate.ErrNoRevocation": "a gate built without a revocation checker fails at its first check; the server never builds one (it does not start)",
}

// serviceSource returns the domain packages a service package imports
// and the sentinels its error tables name (as "pkg.ErrX"), followed
// through tables of other service packages it uses (stsapi uses
// iamapi's).
func serviceSource(t *testing.T, dir string) (imports []string, registered map[string]bool) {
	t.Helper()
	registered = map[string]bool{}
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				rest, ok := strings.CutPrefix(path, "github.com/signet/signet/internal/")
				switch {
				case ok && domainPackages[rest] && !seen[rest]:
					seen[rest] = true
					imports = append(imports, rest)
				case ok && strings.HasPrefix(rest, "awsapi/") && rest != "awsapi":
					_, sub := serviceSource(t, filepath.Join("..", rest))
					for k := range sub {
						registered[k] = true
					}
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				kv, ok := n.(*ast.KeyValueExpr)
				if !ok {
					return true
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Err" {
					if sel, ok := kv.Value.(*ast.SelectorExpr); ok {
						if x, ok := sel.X.(*ast.Ident); ok {
							registered[x.Name+"."+sel.Sel.Name] = true
						}
					}
				}
				return true
			})
		}
	}
	sort.Strings(imports)
	return imports, registered
}

// sentinels returns the exported Err… variables a package declares.
func sentinels(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, decl := range f.Decls {
				g, ok := decl.(*ast.GenDecl)
				if !ok || g.Tok != token.VAR {
					continue
				}
				for _, spec := range g.Specs {
					for _, n := range spec.(*ast.ValueSpec).Names {
						if strings.HasPrefix(n.Name, "Err") && n.IsExported() {
							names = append(names, n.Name)
						}
					}
				}
			}
		}
	}
	return names
}
