package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestDeployGateNeedsRevocation: a server whose deploy gate cannot check
// revocation does not start, and says why.
func TestDeployGateNeedsRevocation(t *testing.T) {
	restore := server.BreakCRLChecker(errors.New("no CRL fetcher available"))
	defer restore()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	s, err := server.Open(context.Background(), cfg, quietLog())
	if err == nil {
		s.Close()
		t.Fatal("the server started with a deploy gate that cannot check revocation")
	}
	if !strings.Contains(err.Error(), "no CRL fetcher available") || !strings.Contains(err.Error(), "revocation") {
		t.Errorf("error %q does not give the reason", err)
	}
}

// TestDataDirPermissions: a new data directory is 0700 with its files
// 0600; a looser one is tightened at start.
func TestDataDirPermissions(t *testing.T) {
	check := func(t *testing.T, dir string) {
		t.Helper()
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("data directory mode %04o, want 0700", fi.Mode().Perm())
		}
		entries, _ := os.ReadDir(dir)
		dbs := 0
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			if strings.Contains(e.Name(), ".db") {
				dbs++
			}
			if info.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s has mode %04o, open to group or others", e.Name(), info.Mode().Perm())
			}
		}
		if dbs < 2 {
			t.Errorf("found %d database files in %s, want signet.db and audit.db at least", dbs, dir)
		}
	}
	t.Run("new", func(t *testing.T) {
		cfg := config.Defaults()
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
		s, err := server.Open(context.Background(), cfg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, cfg.DataDir)
	})
	t.Run("tightened at start", func(t *testing.T) {
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		s, err := server.Open(context.Background(), cfg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		os.Chmod(cfg.DataDir, 0o755)
		entries, _ := os.ReadDir(cfg.DataDir)
		for _, e := range entries {
			if e.Type().IsRegular() {
				os.Chmod(filepath.Join(cfg.DataDir, e.Name()), 0o644)
			}
		}
		s, err = server.Open(context.Background(), cfg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, cfg.DataDir)
	})
}

// TestPackagesCheckedAtDeploy: CreateFunction, UpdateFunctionCode and
// PublishLayerVersion refuse a package that is not a valid zip, has an
// entry leaving its root, or unpacks to more than the limit (lowered
// here), with InvalidParameterValueException.
func TestPackagesCheckedAtDeploy(t *testing.T) {
	ts := servertest.Start(t)
	ts.Functions.MaxUnzippedSize = 1000
	ctx := context.Background()
	lc := lambdaClient(ts)
	role := aws.String(ts.LambdaRole(t))
	create := func(name string, pkg []byte) error {
		_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("lambda_function.lambda_handler"), Role: role, Code: &ltypes.FunctionCode{ZipFile: pkg}})
		return err
	}
	large := zipOf(t, map[string]string{"lambda_function.py": strings.Repeat("# padding\n", 200)})
	bad := map[string]struct {
		pkg  []byte
		want string
	}{
		"escaping": {zipOf(t, map[string]string{"../lambda_function.py": "x"}), "leaves the package's root"},
		"large":    {large, "Unzipped size must be smaller than 1000 bytes"},
		"not-zip":  {[]byte("PK\x03\x04 and then nothing a zip reader wants"), "Could not unzip uploaded file"},
	}
	for name, c := range bad {
		err := create("f-"+name, c.pkg)
		if apiCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CreateFunction with a %s package: %v, want InvalidParameterValueException with %q", name, err, c.want)
		}
	}
	if err := create("ok", zipOf(t, helloZip)); err != nil {
		t.Fatal(err)
	}
	_, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("ok"), ZipFile: large})
	if apiCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), "Unzipped size") {
		t.Errorf("UpdateFunctionCode with a large package: %v", err)
	}
	_, err = lc.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("l"), Content: &ltypes.LayerVersionContentInput{ZipFile: large}})
	if apiCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), "Unzipped size") {
		t.Errorf("PublishLayerVersion with a large package: %v", err)
	}
}

// sandboxProcess reports whether a process whose command line is
// exactly args runs on the host.
func sandboxProcess(args ...string) bool {
	want := strings.Join(args, "\x00") + "\x00"
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline")); err == nil && string(b) == want {
			return true
		}
	}
	return false
}

// waitGone polls until no process runs with args, failing after a
// generous deadline.
func waitGone(t *testing.T, what string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for sandboxProcess(args...) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q still runs", what, args)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEnvironmentsEndWithTheirCode: changing a function's code or
// deleting it ends its environments and every process in them at once,
// and deleting it removes its unpacked code.
func TestEnvironmentsEndWithTheirCode(t *testing.T) {
	ts := servertest.Start(t)
	requireSandbox(t, ts.Server)
	ctx := context.Background()
	lc := lambdaClient(ts)
	code := zipOf(t, map[string]string{"app.py": "import subprocess\ndef handler(event, context):\n    subprocess.Popen(['sleep', event['marker']])\n    return 'started'\n"})
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("lingers"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("app.handler"), Role: aws.String(ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: code}}); err != nil {
		t.Fatal(err)
	}
	start := func(marker string) {
		t.Helper()
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("lingers"), Payload: []byte(`{"marker":"` + marker + `"}`)})
		if err != nil || string(out.Payload) != `"started"` {
			t.Fatalf("Invoke: %v %s", err, out.Payload)
		}
		// Popen returns once the child exists; poll for it to show under
		// its command line rather than assume it already does.
		for deadline := time.Now().Add(20 * time.Second); !sandboxProcess("sleep", marker); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the function's background process sleep %s is not running", marker)
			}
		}
	}
	marker := fmt.Sprintf("%d", 40000+time.Now().UnixNano()%10000)
	start(marker)
	if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("lingers"), ZipFile: code}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "after UpdateFunctionCode", "sleep", marker)

	marker2 := marker + "1"
	start(marker2)
	if _, err := lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("lingers")}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "after DeleteFunction", "sleep", marker2)
	if n := ts.Invoke.Pool.Idle(); n != 0 {
		t.Errorf("%d idle environments after DeleteFunction", n)
	}
	if entries, _ := os.ReadDir(filepath.Join(ts.Config().DataDir, "sandbox", "code")); len(entries) != 0 {
		t.Errorf("unpacked code left after DeleteFunction: %v", entries)
	}
}

// TestEnforceRefusesCodeLoadingVariables: under an Enforce code signing
// config, environment variables that load code from outside the signed
// package are refused, naming the variable, whichever way the function
// and the config come together.
func TestEnforceRefusesCodeLoadingVariables(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	lc := lambdaClient(ts)
	versionARN := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/p/ABCDEFGHIJ", ts.AccountID())
	newCSC := func(p ltypes.CodeSigningPolicy) *string {
		out, err := lc.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{
			AllowedPublishers:   &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}},
			CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: p}})
		if err != nil {
			t.Fatal(err)
		}
		return out.CodeSigningConfig.CodeSigningConfigArn
	}
	enforce, warn := newCSC(ltypes.CodeSigningPolicyEnforce), newCSC(ltypes.CodeSigningPolicyWarn)
	create := func(name string, env map[string]string, csc *string) error {
		_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython312,
			Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)),
			Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}, Environment: &ltypes.Environment{Variables: env}, CodeSigningConfigArn: csc})
		return err
	}
	refused := func(what string, err error, variable string) {
		t.Helper()
		if apiCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), "environment variable "+variable+" ") {
			t.Errorf("%s: %v, want InvalidParameterValueException naming %s", what, err, variable)
		}
	}
	for _, v := range []string{"NODE_OPTIONS", "PYTHONPATH", "LD_PRELOAD", "BASH_ENV", "PYTHONWARNINGS", "AWS_LAMBDA_EXEC_WRAPPER"} {
		refused("CreateFunction under Enforce with "+v, create("f-"+strings.ToLower(strings.ReplaceAll(v, "_", "-")), map[string]string{"GREETING": "hi", v: "x"}, enforce), v)
	}
	// Without a config or under Warn they are allowed, as in Lambda.
	if err := create("loose", map[string]string{"PYTHONPATH": "/tmp"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := lc.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("loose"), CodeSigningConfigArn: enforce})
	refused("attaching an Enforce config", err, "PYTHONPATH")
	if _, err := lc.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("loose"), CodeSigningConfigArn: warn}); err != nil {
		t.Fatalf("attaching a Warn config: %v", err)
	}
	_, err = lc.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: warn,
		CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyEnforce}})
	refused("turning the config of a function with PYTHONPATH to Enforce", err, "PYTHONPATH")
	// A clean function under Enforce may not gain one.
	if err := create("clean", map[string]string{"GREETING": "hi"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("clean"), CodeSigningConfigArn: enforce}); err != nil {
		t.Fatalf("attaching an Enforce config to a function without such variables: %v", err)
	}
	_, err = lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("clean"),
		Environment: &ltypes.Environment{Variables: map[string]string{"GREETING": "hi", "LD_LIBRARY_PATH": "/tmp"}}})
	refused("UpdateFunctionConfiguration under Enforce", err, "LD_LIBRARY_PATH")
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("clean"),
		Environment: &ltypes.Environment{Variables: map[string]string{"GREETING": "hello", "PYTHONUNBUFFERED": "1"}}}); err != nil {
		t.Errorf("UpdateFunctionConfiguration with harmless variables: %v", err)
	}
}

// TestNoSecretsInTheDataDirectory: a function's environment variables and
// an STS session token appear nowhere in the data directory's files, and
// both still work (GetFunction shows the variables, the temporary
// credentials authenticate).
func TestNoSecretsInTheDataDirectory(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	lc := lambdaClient(ts)
	const secret = "db-password-3f9a1c77e2"
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("withsecret"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}, Environment: &ltypes.Environment{Variables: map[string]string{"DB_PASSWORD": secret}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("withsecret")}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []*string{nil, aws.String("1")} {
		got, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("withsecret"), Qualifier: q})
		if err != nil || got.Environment == nil || got.Environment.Variables["DB_PASSWORD"] != secret {
			t.Errorf("GetFunctionConfiguration(%v): %+v, %v", aws.ToString(q), got, err)
		}
	}

	cfg := aws.Config{Region: "us-east-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return ts.Creds, nil })}
	ic := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(ts.URL); o.Retryer = aws.NopRetryer{} })
	sc := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(ts.URL); o.Retryer = aws.NopRetryer{} })
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + ts.AccountID() + `:root"},"Action":"sts:AssumeRole"}}`
	if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ci"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	out, err := sc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + ts.AccountID() + ":role/ci"), RoleSessionName: aws.String("build")})
	if err != nil {
		t.Fatal(err)
	}
	token := aws.ToString(out.Credentials.SessionToken)
	temp := aws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: token}
	tempCfg := aws.Config{Region: "us-east-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return temp, nil })}
	tsc := sts.NewFromConfig(tempCfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(ts.URL); o.Retryer = aws.NopRetryer{} })
	id, err := tsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.Contains(aws.ToString(id.Arn), "assumed-role/ci/build") {
		t.Fatalf("GetCallerIdentity with the session: %+v, %v", id, err)
	}
	temp.SessionToken = token[:len(token)-2] + "AA"
	if _, err := tsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		t.Error("a wrong session token was accepted")
	}

	var inClear []string
	filepath.WalkDir(ts.Config().DataDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for what, s := range map[string]string{"environment variable": secret, "session token": token} {
			if strings.Contains(string(b), s) {
				inClear = append(inClear, what+" in "+p)
			}
		}
		return nil
	})
	for _, f := range inClear {
		t.Errorf("in clear: %s", f)
	}
}
