package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/functions"
)

var functionTests = map[string]func(*testing.T, Opener){
	"functions/code-signing-configs": testCSCs,
	"functions/functions":            testFunctions,
	"functions/rows-outlive-nothing": testRowsOfDeletedFunction,
}

// testRowsOfDeletedFunction plays the interleaving of AddPermission (or
// PutFunctionCodeSigningConfig, PutFunctionConcurrency) with
// DeleteFunction: the operation found the function, DeleteFunction then
// removed it, and the operation writes its row. The write must fail, or
// a function re-created under the name would inherit the row.
func testRowsOfDeletedFunction(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	f := functions.Function{Name: "f", Runtime: "python3.12", Handler: "a.b", Role: "r", Timeout: 3, MemorySize: 128, CodePath: "p1", LastModified: t0}
	if err := db.Lambda.CreateFunction(ctx, f, ""); err != nil {
		t.Fatal(err)
	}
	c := deploygate.CodeSigningConfig{ID: "csc-bbbbbbbbbbbbbbbbb", Policy: deploygate.Warn, LastModified: t0}
	if err := db.CodeSigning.CreateCSC(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := db.Lambda.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if err := db.Lambda.AddFunctionStatement(ctx, "f", "s1", `{"Sid":"s1"}`); !errors.Is(err, functions.ErrNotFound) {
		t.Errorf("AddFunctionStatement after DeleteFunction = %v, want ErrNotFound", err)
	}
	if err := db.Lambda.SetFunctionCSC(ctx, "f", c.ID); !errors.Is(err, functions.ErrNotFound) {
		t.Errorf("SetFunctionCSC after DeleteFunction = %v, want ErrNotFound", err)
	}
	if err := db.Lambda.SetFunctionConcurrency(ctx, "f", 2); !errors.Is(err, functions.ErrNotFound) {
		t.Errorf("SetFunctionConcurrency after DeleteFunction = %v, want ErrNotFound", err)
	}
	if err := db.Lambda.CreateFunction(ctx, f, ""); err != nil {
		t.Fatal(err)
	}
	if sts, _ := db.Lambda.FunctionStatements(ctx, "f"); len(sts) != 0 {
		t.Errorf("the re-created function has the statements %v", sts)
	}
	if id, _ := db.Lambda.FunctionCSC(ctx, "f"); id != "" {
		t.Errorf("the re-created function has the code signing config %s", id)
	}
	if n, _ := db.Lambda.FunctionConcurrency(ctx, "f"); n != -1 {
		t.Errorf("the re-created function has reserved concurrency %d", n)
	}
}

func testCSCs(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	c := deploygate.CodeSigningConfig{ID: "csc-aaaaaaaaaaaaaaaaa", AllowedPublishers: []string{"arn:aws:signer:us-east-1:123456789012:/signing-profiles/p"}, Policy: deploygate.Enforce, LastModified: t0}
	if err := db.CodeSigning.CreateCSC(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := db.CodeSigning.CSC(ctx, c.ID)
	if err != nil || got.Policy != deploygate.Enforce || len(got.AllowedPublishers) != 1 || !got.LastModified.Equal(t0) {
		t.Errorf("CSC = %+v, %v", got, err)
	}
	if err := db.CodeSigning.UpdateCSC(ctx, c.ID, func(c *deploygate.CodeSigningConfig) error { c.Policy = deploygate.Warn; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.CodeSigning.CSC(ctx, c.ID); got.Policy != deploygate.Warn {
		t.Errorf("after update policy = %s", got.Policy)
	}
	f := functions.Function{Name: "f", Runtime: "python3.12", Handler: "a.b", Role: "r", Timeout: 3, MemorySize: 128, CodePath: "p1", LastModified: t0}
	if err := db.Lambda.CreateFunction(ctx, f, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.CodeSigning.DeleteCSC(ctx, c.ID); !errors.Is(err, deploygate.ErrInUse) {
		t.Errorf("deleting a config in use = %v, want ErrInUse", err)
	}
	if names, _ := db.Lambda.FunctionsByCSC(ctx, c.ID, "", 10); len(names) != 1 || names[0] != "f" {
		t.Errorf("FunctionsByCSC = %v", names)
	}
	if err := db.Lambda.SetFunctionCSC(ctx, "f", ""); err != nil {
		t.Fatal(err)
	}
	if err := db.CodeSigning.DeleteCSC(ctx, c.ID); err != nil {
		t.Errorf("deleting a detached config = %v", err)
	}
	if _, err := db.CodeSigning.CSC(ctx, c.ID); !errors.Is(err, deploygate.ErrNotFound) {
		t.Errorf("CSC after delete = %v", err)
	}
}

func testFunctions(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	f := functions.Function{Name: "f", Runtime: "python3.12", Handler: "a.b", Role: "r", Timeout: 3, MemorySize: 128, CodePath: "p1", LastModified: t0,
		Environment: map[string]string{"A": "1"}, Tags: map[string]string{"t": "v"}, Layers: []functions.LayerUse{{ARN: "arn:l:1", CodeSize: 5}}}
	if err := db.Lambda.CreateFunction(ctx, f, ""); err != nil {
		t.Fatal(err)
	}
	if err := db.Lambda.CreateFunction(ctx, f, ""); !errors.Is(err, functions.ErrExists) {
		t.Errorf("second CreateFunction = %v, want ErrExists", err)
	}
	got, err := db.Lambda.Function(ctx, "f")
	if err != nil || got.Environment["A"] != "1" || got.Tags["t"] != "v" || len(got.Layers) != 1 || got.CodePath != "p1" {
		t.Errorf("Function = %+v, %v", got, err)
	}
	v, n, err := db.Lambda.PublishVersion(ctx, "f", t0)
	if err != nil || n != 1 || v.CodePath != "p1" {
		t.Fatalf("PublishVersion = %+v, %d, %v", v, n, err)
	}
	if err := db.Lambda.UpdateFunction(ctx, "f", func(f *functions.Function) error { f.CodePath = "p2"; return nil }); err != nil {
		t.Fatal(err)
	}
	if used, _ := db.Lambda.CodePathInUse(ctx, "p1"); !used {
		t.Error("the package of version 1 is reported unused")
	}
	if v1, err := db.Lambda.FunctionVersion(ctx, "f", 1); err != nil || v1.CodePath != "p1" {
		t.Errorf("FunctionVersion = %+v, %v", v1, err)
	}
	paths, err := db.Lambda.DeleteFunctionVersions(ctx, "f")
	if err != nil || len(paths) != 1 || paths[0] != "p1" {
		t.Errorf("DeleteFunctionVersions = %v, %v", paths, err)
	}
	if err := db.Lambda.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if used, _ := db.Lambda.CodePathInUse(ctx, "p2"); used {
		t.Error("a deleted function's package is reported in use")
	}
	if _, err := db.Lambda.Function(ctx, "f"); !errors.Is(err, functions.ErrNotFound) {
		t.Errorf("Function after delete = %v", err)
	}
	l, err := db.Lambda.PublishLayer(ctx, functions.LayerVersion{Name: "deps", CodeSHA256: "x", CodeSize: 1, CodePath: "l1", CreatedAt: t0})
	if err != nil || l.Version != 1 {
		t.Fatalf("PublishLayer = %+v, %v", l, err)
	}
	if l2, _ := db.Lambda.PublishLayer(ctx, functions.LayerVersion{Name: "deps", CodePath: "l2", CreatedAt: t0}); l2.Version != 2 {
		t.Errorf("second layer version = %d", l2.Version)
	}
	if _, err := db.Lambda.Layer(ctx, "deps", 3); !errors.Is(err, functions.ErrNotFound) {
		t.Errorf("Layer(3) = %v", err)
	}
}
