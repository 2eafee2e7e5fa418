package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server/servertest"
)

// TestDeployGate drives seed 000's deploy steps with the aws-sdk-go-v2
// lambda client: a function, an Enforce code signing config, an unsigned
// update refused, the signed package accepted with its signing details.
func TestDeployGate(t *testing.T) {
	e := newJobEnv(t)
	ctx := context.Background()
	lc := lambdaClient(e.ts)
	unsigned := zipOf(t, helloZip)
	ver := e.put(t, "artifacts", "hello.zip", unsigned)
	id, err := e.start(t, "hello.zip", ver, "signing_profile_for_lambda", "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if d := e.wait(t, id); d.Status != types.SigningStatusSucceeded {
		t.Fatal(aws.ToString(d.StatusReason))
	}
	signed, _ := e.get(t, "artifacts", "signed-"+id+".zip")
	versionARN := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/signing_profile_for_lambda/%s", e.ts.AccountID(), e.version)
	jobARN := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-jobs/%s", e.ts.AccountID(), id)

	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("hello-world-lambda"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(e.ts.LambdaRole(t)),
		Code: &ltypes.FunctionCode{ZipFile: unsigned}, Tags: map[string]string{"team": "payments"}}); err != nil {
		t.Fatal(err)
	}
	csc, err := lc.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{
		AllowedPublishers:   &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}},
		CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyEnforce}})
	if err != nil {
		t.Fatal(err)
	}
	cscARN := csc.CodeSigningConfig.CodeSigningConfigArn
	if g, err := lc.GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String("hello-world-lambda")}); err != nil || g.CodeSigningConfigArn != nil {
		t.Errorf("GetFunctionCodeSigningConfig before attaching = %+v, %v", g, err)
	}
	if _, err := lc.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("hello-world-lambda"), CodeSigningConfigArn: cscARN}); err != nil {
		t.Fatal(err)
	}
	// Existing unsigned code keeps running; the next deployment is gated.
	if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello-world-lambda"), ZipFile: unsigned}); apiCode(err) != "CodeVerificationFailedException" {
		t.Errorf("unsigned update under Enforce = %v, want CodeVerificationFailedException", err)
	}
	tampered := append([]byte{}, signed...)
	tampered[45] ^= 0x01
	if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello-world-lambda"), ZipFile: tampered}); apiCode(err) != "InvalidCodeSignatureException" {
		t.Errorf("tampered update = %v, want InvalidCodeSignatureException", err)
	}
	up, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello-world-lambda"), S3Bucket: aws.String("artifacts"), S3Key: aws.String("signed-" + id + ".zip")})
	if err != nil {
		t.Fatalf("signed update = %v", err)
	}
	got, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello-world-lambda")})
	if err != nil || aws.ToString(got.Configuration.SigningProfileVersionArn) != versionARN || aws.ToString(got.Configuration.SigningJobArn) != jobARN ||
		aws.ToString(got.Configuration.CodeSha256) != aws.ToString(up.CodeSha256) || got.Tags["team"] != "payments" {
		t.Errorf("GetFunction = %+v, %v", got.Configuration, err)
	}
	// Code.Location downloads exactly the deployed package, without credentials.
	resp, err := http.Get(aws.ToString(got.Code.Location))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != string(signed) {
		t.Errorf("Code.Location: %d, %d bytes, want the %d-byte signed package", resp.StatusCode, len(body), len(signed))
	}
	if resp, err := http.Get(strings.Replace(aws.ToString(got.Code.Location), "signature=", "signature=0", 1)); err != nil || resp.StatusCode != 403 {
		t.Errorf("a forged Code.Location answered %v %v", resp.StatusCode, err)
	}
	if l, err := lc.ListFunctionsByCodeSigningConfig(ctx, &lambda.ListFunctionsByCodeSigningConfigInput{CodeSigningConfigArn: cscARN}); err != nil || len(l.FunctionArns) != 1 {
		t.Errorf("ListFunctionsByCodeSigningConfig = %+v, %v", l, err)
	}
	if _, err := lc.DeleteCodeSigningConfig(ctx, &lambda.DeleteCodeSigningConfigInput{CodeSigningConfigArn: cscARN}); apiCode(err) != "ResourceConflictException" {
		t.Errorf("deleting a config in use = %v, want ResourceConflictException", err)
	}
	// Warn lets the unsigned package through and counts it.
	before := e.ts.SignatureValidationErrors.Load()
	if _, err := lc.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: cscARN, CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyWarn}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello-world-lambda"), ZipFile: unsigned}); err != nil {
		t.Errorf("unsigned update under Warn = %v, want success", err)
	}
	if n := e.ts.SignatureValidationErrors.Load() - before; n != 1 {
		t.Errorf("SignatureValidationErrors grew by %d, want 1", n)
	}
	// The warned and the refused deployments are in the audit log, whose
	// chain verifies.
	recs, err := e.ts.AuditDB().Audit.AuditRecords(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var warned, denied int
	for _, r := range recs {
		switch {
		case r.Event.Decision == "AllowWithWarning" && strings.Contains(r.Event.Detail, "check unsigned failed") && r.Event.Action == "lambda:UpdateFunctionCode" && strings.HasSuffix(r.Event.Principal, ":root"):
			warned++
		case r.Event.Decision == "Deny":
			denied++
		}
	}
	if warned != 1 || denied < 2 {
		t.Errorf("audit log holds %d warned and %d denied deployments, want 1 and at least 2: %+v", warned, denied, recs)
	}
	if n, err := e.ts.Audit.Verify(ctx); err != nil || n != int64(len(recs)) {
		t.Errorf("audit Verify = %d, %v", n, err)
	}
	if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello-world-lambda"), ZipFile: tampered}); apiCode(err) != "InvalidCodeSignatureException" {
		t.Errorf("tampered update under Warn = %v, want InvalidCodeSignatureException", err)
	}
	// Bad input.
	bad := map[string]struct {
		err  error
		code string
	}{}
	_, err = lc.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("hello-world-lambda"),
		CodeSigningConfigArn: aws.String("arn:aws:lambda:us-east-1:" + e.ts.AccountID() + ":code-signing-config:csc-0000000000000000a")})
	bad["fail/unknown-config"] = struct {
		err  error
		code string
	}{err, "CodeSigningConfigNotFoundException"}
	_, err = lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello-world-lambda"), ZipFile: []byte("not a zip")})
	bad["fail/not-a-zip"] = struct {
		err  error
		code string
	}{err, "InvalidParameterValueException"}
	_, err = lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello-world-lambda"), ZipFile: append([]byte("PK"), make([]byte, 50<<20)...)})
	bad["fail/zip-over-limit"] = struct {
		err  error
		code string
	}{err, "RequestTooLargeException"}
	_, err = lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("nobody")})
	bad["fail/unknown-function"] = struct {
		err  error
		code string
	}{err, "ResourceNotFoundException"}
	_, err = lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("hello-world-lambda"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("h.h"), Role: aws.String(e.ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: unsigned}})
	bad["fail/exists"] = struct {
		err  error
		code string
	}{err, "ResourceConflictException"}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			if apiCode(c.err) != c.code {
				t.Errorf("got %v, want %s", c.err, c.code)
			}
		})
	}
	// A published version keeps its code when $LATEST changes.
	pub, err := lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("hello-world-lambda")})
	if err != nil || aws.ToString(pub.Version) != "1" || !strings.HasSuffix(aws.ToString(pub.FunctionArn), ":hello-world-lambda:1") {
		t.Fatalf("PublishVersion = %+v, %v", pub, err)
	}
	latest, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("hello-world-lambda"), ZipFile: signed})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello-world-lambda"), Qualifier: aws.String("1")})
	if err != nil || aws.ToString(v1.Configuration.CodeSha256) != aws.ToString(pub.CodeSha256) || aws.ToString(v1.Configuration.CodeSha256) == aws.ToString(latest.CodeSha256) || aws.ToString(v1.Configuration.Version) != "1" {
		t.Errorf("GetFunction(Qualifier=1) = %+v, %v", v1, err)
	}
	if _, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello-world-lambda"), Qualifier: aws.String("9")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("an unpublished version = %v", err)
	}

	// Packages that no version uses are removed; the others stay.
	codeDir := filepath.Join(e.ts.Config().DataDir, "objects", "functions", "hello-world-lambda")
	if files, _ := os.ReadDir(codeDir); len(files) != 2 {
		t.Errorf("%d package files after the deployments, want 2 ($LATEST and version 1)", len(files))
	}
	if _, err := lc.DeleteFunctionCodeSigningConfig(ctx, &lambda.DeleteFunctionCodeSigningConfigInput{FunctionName: aws.String("hello-world-lambda")}); err != nil {
		t.Error(err)
	}
	if _, err := lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("hello-world-lambda")}); err != nil {
		t.Error(err)
	}
	if files, _ := os.ReadDir(codeDir); len(files) != 0 {
		t.Errorf("%d package files after DeleteFunction, want 0", len(files))
	}
}

// TestFunctionSettings covers UpdateFunctionConfiguration, the
// installation setting that requires Enforce, and /metrics.
func TestFunctionSettings(t *testing.T) {
	ts := servertest.StartWith(t, func(c *config.Config) { c.RequireEnforcedCodeSigning = true })
	lc := lambdaClient(ts)
	ctx := context.Background()
	zip := zipOf(t, helloZip)
	role := aws.String(ts.LambdaRole(t))
	create := func(name string, csc *string) error {
		_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("lambda_function.lambda_handler"), Role: role, Code: &ltypes.FunctionCode{ZipFile: zip}, CodeSigningConfigArn: csc})
		return err
	}
	if err := create("no_config", nil); apiCode(err) != "InvalidParameterValueException" {
		t.Errorf("a function without a config = %v, want InvalidParameterValueException", err)
	}
	versionARN := "arn:aws:signer:us-east-1:" + ts.AccountID() + ":/signing-profiles/p/ABCDEFGHIJ"
	warn, err := lc.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := create("warn_config", warn.CodeSigningConfig.CodeSigningConfigArn); apiCode(err) != "InvalidParameterValueException" {
		t.Errorf("a function with a Warn config = %v, want InvalidParameterValueException", err)
	}
	// With Enforce the unsigned package is refused by the gate itself.
	if _, err := lc.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: warn.CodeSigningConfig.CodeSigningConfigArn,
		CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyEnforce}}); err != nil {
		t.Fatal(err)
	}
	if err := create("enforced", warn.CodeSigningConfig.CodeSigningConfigArn); apiCode(err) != "CodeVerificationFailedException" {
		t.Errorf("an unsigned function under Enforce = %v, want CodeVerificationFailedException", err)
	}

	// UpdateFunctionConfiguration on an installation without the setting.
	ts2 := servertest.Start(t)
	lc2 := lambdaClient(ts2)
	if _, err := lc2.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("f"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("a.b"), Role: aws.String(ts2.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: zip}}); err != nil {
		t.Fatal(err)
	}
	up, err := lc2.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("f"), Timeout: aws.Int32(30),
		Environment: &ltypes.Environment{Variables: map[string]string{"STAGE": "prod"}}})
	if err != nil || aws.ToInt32(up.Timeout) != 30 || up.Environment.Variables["STAGE"] != "prod" || aws.ToString(up.Handler) != "a.b" {
		t.Errorf("UpdateFunctionConfiguration = %+v, %v", up, err)
	}
	if _, err := lc2.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("f"), Timeout: aws.Int32(901)}); apiCode(err) != "InvalidParameterValueException" {
		t.Errorf("Timeout 901 = %v", err)
	}
	resp, err := http.Get(ts2.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "signet_signature_validation_errors_total 0") {
		t.Errorf("/metrics = %s", b)
	}
}

// TestLayers checks that layers are checked like function code against
// the function's code signing config.
func TestLayers(t *testing.T) {
	e := newJobEnv(t)
	ctx := context.Background()
	lc := lambdaClient(e.ts)
	unsigned := zipOf(t, helloZip)
	ver := e.put(t, "artifacts", "hello.zip", unsigned)
	id, err := e.start(t, "hello.zip", ver, "signing_profile_for_lambda", "layer")
	if err != nil {
		t.Fatal(err)
	}
	e.wait(t, id)
	signed, _ := e.get(t, "artifacts", "signed-"+id+".zip")
	versionARN := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/signing_profile_for_lambda/%s", e.ts.AccountID(), e.version)
	pubUnsigned, err := lc.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("deps"), Content: &ltypes.LayerVersionContentInput{ZipFile: unsigned}})
	if err != nil {
		t.Fatal(err)
	}
	pubSigned, err := lc.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("deps"), Content: &ltypes.LayerVersionContentInput{ZipFile: signed}})
	if err != nil || pubSigned.Version != 2 {
		t.Fatalf("PublishLayerVersion = %+v, %v", pubSigned, err)
	}
	if g, err := lc.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("deps"), VersionNumber: aws.Int64(2)}); err != nil || aws.ToString(g.LayerVersionArn) != aws.ToString(pubSigned.LayerVersionArn) {
		t.Errorf("GetLayerVersion = %+v, %v", g, err)
	}
	csc, err := lc.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}},
		CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyEnforce}})
	if err != nil {
		t.Fatal(err)
	}
	create := func(layer *string) error {
		_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("with_layers"), Runtime: ltypes.RuntimePython312, Handler: aws.String("a.b"),
			Role: aws.String(e.ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: signed},
			CodeSigningConfigArn: csc.CodeSigningConfig.CodeSigningConfigArn, Layers: []string{aws.ToString(layer)}})
		return err
	}
	if err := create(pubUnsigned.LayerVersionArn); apiCode(err) != "CodeVerificationFailedException" {
		t.Errorf("an unsigned layer under Enforce = %v, want CodeVerificationFailedException", err)
	}
	if err := create(pubSigned.LayerVersionArn); err != nil {
		t.Fatalf("a signed layer = %v", err)
	}
	got, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("with_layers")})
	if err != nil || len(got.Layers) != 1 || aws.ToString(got.Layers[0].SigningProfileVersionArn) != versionARN {
		t.Errorf("GetFunctionConfiguration layers = %+v, %v", got.Layers, err)
	}
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("with_layers"), Layers: []string{aws.ToString(pubUnsigned.LayerVersionArn)}}); apiCode(err) != "CodeVerificationFailedException" {
		t.Errorf("switching to an unsigned layer = %v, want CodeVerificationFailedException", err)
	}
	if _, err := lc.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("deps"), VersionNumber: aws.Int64(9)}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("an unknown layer version = %v", err)
	}
}

// TestRequireEnforceKeepsConfigs: under require_enforced_code_signing a
// function's Enforce config can be neither detached, nor replaced by a
// Warn config, nor switched to Warn, so that no function ends up
// without one after it was created.
func TestRequireEnforceKeepsConfigs(t *testing.T) {
	ts := servertest.Start(t)
	lc := lambdaClient(ts)
	ctx := context.Background()
	if _, err := ts.IAM.CreateRole(ctx, "r", "", "", lambdaTrust, 0); err != nil {
		t.Fatal(err)
	}
	// A function made before the setting was turned on.
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("f"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("a.b"), Role: aws.String("arn:aws:iam::" + ts.AccountID() + ":role/r"), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}}); err != nil {
		t.Fatal(err)
	}
	versionARN := "arn:aws:signer:us-east-1:" + ts.AccountID() + ":/signing-profiles/p/ABCDEFGHIJ"
	newCSC := func(p ltypes.CodeSigningPolicy) *string {
		out, err := lc.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}},
			CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: p}})
		if err != nil {
			t.Fatal(err)
		}
		return out.CodeSigningConfig.CodeSigningConfigArn
	}
	warn, enforce := newCSC(ltypes.CodeSigningPolicyWarn), newCSC(ltypes.CodeSigningPolicyEnforce)
	ts.Functions.RequireEnforce, ts.Functions.CSCs.RequireEnforce = true, true
	cases := []struct {
		name string
		call func() error
		code string // "" for success
	}{
		{"fail/attach-warn", func() error {
			_, err := lc.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("f"), CodeSigningConfigArn: warn})
			return err
		}, "InvalidParameterValueException"},
		{"ok/attach-enforce", func() error {
			_, err := lc.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("f"), CodeSigningConfigArn: enforce})
			return err
		}, ""},
		{"fail/detach", func() error {
			_, err := lc.DeleteFunctionCodeSigningConfig(ctx, &lambda.DeleteFunctionCodeSigningConfigInput{FunctionName: aws.String("f")})
			return err
		}, "InvalidParameterValueException"},
		{"fail/switch-to-warn", func() error {
			_, err := lc.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: enforce,
				CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyWarn}})
			return err
		}, "ValidationException"},
		{"ok/describe", func() error {
			_, err := lc.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: enforce, Description: aws.String("payments")})
			return err
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); apiCode(err) != c.code {
				t.Errorf("error %v, want code %q", err, c.code)
			}
		})
	}
	got, err := lc.GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String("f")})
	if err != nil || aws.ToString(got.CodeSigningConfigArn) != aws.ToString(enforce) {
		t.Errorf("GetFunctionCodeSigningConfig = %+v, %v", got, err)
	}
}

// lambdaTrust is the trust policy of a function's execution role.
const lambdaTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
