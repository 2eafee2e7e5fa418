package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/logs"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
)

func requireSandbox(t *testing.T, s *server.Server) {
	t.Helper()
	if s.Invoke.Pool == nil {
		if servertest.RequireAll() {
			t.Fatalf("functions cannot run here: %v", s.Invoke.Unavailable)
		}
		t.Skipf("functions cannot run here: %v", s.Invoke.Unavailable)
	}
}

// TestInvokeSDK invokes through the aws-sdk-go-v2 lambda client and reads
// the invocation metrics, which name no function by default.
func TestInvokeSDK(t *testing.T) {
	ts := servertest.Start(t)
	requireSandbox(t, ts.Server)
	ctx := context.Background()
	lc := lambdaClient(ts)
	_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("hello"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{"key1":"hello, world!"}`), LogType: ltypes.LogTypeTail})
	if err != nil || string(out.Payload) != `"hello, world!"` || out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "$LATEST" || out.LogResult == nil {
		t.Fatalf("Invoke: %v %s", err, out.Payload)
	}
	out, err = lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{}`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"errorType": "KeyError"`) {
		t.Fatalf("failing Invoke: %v %v %s", err, out.FunctionError, out.Payload)
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// /metrics takes no credentials: by default it names no function.
	for _, want := range []string{"signet_lambda_invocations_total 2", "signet_lambda_errors_total 1",
		"signet_lambda_throttles_total 0", "signet_lambda_duration_seconds_count 2"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "hello") {
		t.Errorf("/metrics names a function without metrics.per_function:\n%s", b)
	}
}

// TestEventInvocationsSurviveRestart queues Event invocations that cannot
// run yet (no concurrency reserved), claims one as if a worker had it
// when Signet stopped, restarts, and sees every one run.
func TestEventInvocationsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() (*server.Server, func()) { return serveIn(t, dir) }
	a, stopA := open()
	requireSandbox(t, a)
	code := map[string]string{"app.py": "def handler(event, context):\n    print('ran', event['n'])\n"}
	if _, err := a.Functions.Create(ctx, functions.CreateInput{Function: functions.Function{Name: "ev", Runtime: "python3.11", Handler: "app.handler",
		Role: servertest.LambdaRole(t, a), Timeout: 30, MemorySize: 128}, Zip: zipOf(t, code)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Invoke.PutConcurrency(ctx, "ev", 0); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1", "2", "3"} {
		if _, _, err := a.Invoke.InvokeAsync(ctx, invoke.Input{FunctionName: "ev", Payload: []byte(`{"n":` + n + `}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// A worker holding one when the server stops.
	if _, ok, err := a.DB().Lambda.ClaimAsync(ctx, time.Now().Add(time.Minute), 16*time.Minute); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	stopA()
	b, stopB := open()
	defer stopB()
	if n, err := b.DB().Lambda.PendingAsync(ctx); err != nil || n != 3 {
		t.Fatalf("%d queued after the restart (%v), want 3", n, err)
	}
	if err := b.Invoke.DeleteConcurrency(ctx, "ev"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		events, err := b.DB().Logs.LogEvents(ctx, logs.Query{Group: "/aws/lambda/ev"})
		if err != nil {
			t.Fatal(err)
		}
		ran := map[string]bool{}
		for _, e := range events {
			if n, ok := strings.CutPrefix(e.Message, "ran "); ok {
				ran[n] = true
			}
		}
		if len(ran) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes only %v ran", ran)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n, _ := b.DB().Lambda.PendingAsync(ctx); n != 0 {
		t.Errorf("%d still queued after running", n)
	}
}

// TestAccountSettings: GetAccountSettings reports the configured
// concurrency, what reservations leave, and the code stored.
func TestAccountSettings(t *testing.T) {
	ts := servertest.StartWith(t, func(c *config.Config) { c.Functions.Concurrency = 10 })
	requireSandbox(t, ts.Server)
	ctx := context.Background()
	lc := lambdaClient(ts)
	pkg := zipOf(t, helloZip)
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("f"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: pkg}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("f"), ReservedConcurrentExecutions: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	out, err := lc.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if out.AccountLimit.ConcurrentExecutions != 10 || aws.ToInt32(out.AccountLimit.UnreservedConcurrentExecutions) != 7 ||
		out.AccountUsage.FunctionCount != 1 || out.AccountUsage.TotalCodeSize != int64(len(pkg)) || out.AccountLimit.CodeSizeZipped != 50<<20 {
		t.Errorf("GetAccountSettings = %+v %+v", *out.AccountLimit, *out.AccountUsage)
	}
}

// TestInvokeUnavailable: where sandboxes cannot run, Invoke says why
// (ServiceException) with a status the SDKs and the AWS CLI do not retry
// (they retry 500, 502, 503, 504), and everything else keeps working.
func TestInvokeUnavailable(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	lc := lambdaClient(ts)
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("f"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}}); err != nil {
		t.Fatal(err)
	}
	pool := ts.Invoke.Pool
	ts.Invoke.Pool, ts.Invoke.Unavailable = nil, errors.New("function sandboxes need Signet to run as root")
	defer func() { ts.Invoke.Pool = pool }()
	_, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), Payload: []byte(`{}`)})
	if apiCode(err) != "ServiceException" || !strings.Contains(err.Error(), "functions cannot run on this host: function sandboxes need Signet to run as root") {
		t.Errorf("Invoke without sandboxes: %v", err)
	}
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotImplemented {
		t.Errorf("Invoke without sandboxes: %v, want HTTP 501", err)
	}
	if retry.NewStandard().IsErrorRetryable(err) {
		t.Errorf("the SDK retries %v", err)
	}
	if _, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("f")}); err != nil {
		t.Errorf("GetFunction: %v", err)
	}
}

// TestFunctionCredentials: a function acts as its execution role: boto3's
// GetCallerIdentity inside it names the role session of the function,
// its calls are authorized by the role's policies, forged credentials
// through the same endpoint are InvalidClientTokenId, and a role Lambda can
// no longer assume (deleted) makes the next environment's start fail
// with Lambda's InvalidParameterValueException.
func TestFunctionCredentials(t *testing.T) {
	ts := servertest.Start(t)
	requireSandbox(t, ts.Server)
	if err := exec.Command("/usr/bin/python3", "-c", "import boto3").Run(); err != nil {
		if servertest.RequireAll() {
			t.Fatalf("Debian's python3-boto3 is not installed (apt-get install python3-boto3): %v", err)
		}
		t.Skipf("needs Debian's python3-boto3: %v", err)
	}
	ctx := context.Background()
	role, err := ts.IAM.CreateRole(ctx, "fn-role", "/", "", servertest.LambdaTrustPolicy, 0)
	if err != nil {
		t.Fatal(err)
	}
	code := "import boto3\ndef handler(event, context):\n    who = boto3.client('sts').get_caller_identity()['Arn']\n" +
		"    try:\n        boto3.client('iam').list_users()\n        listed = 'allowed'\n    except Exception as e:\n        listed = type(e).__name__ + ': ' + str(e)[:80]\n" +
		"    try:\n        boto3.client('sts', aws_access_key_id='ASIAFORGEDFORGEDFORG', aws_secret_access_key='x' * 40, aws_session_token='forged').get_caller_identity()\n        forged = 'allowed'\n" +
		"    except Exception as e:\n        forged = e.response['Error']['Code'] if hasattr(e, 'response') else type(e).__name__\n" +
		"    import urllib.request, urllib.error\n    try:\n        urllib.request.urlopen('http://127.0.0.1:9002/healthz', timeout=30)\n        unsigned = 200\n" +
		"    except urllib.error.HTTPError as e:\n        unsigned = e.code\n" +
		"    return {'who': who, 'list_users': listed, 'forged': forged, 'unsigned': unsigned}\n"
	// The role may list users only in the sessions of the function
	// whoami: their source identity is its ARN.
	fnARN := "arn:aws:lambda:us-east-1:" + ts.AccountID() + ":function:whoami"
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, "fn-role", "list", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*",`+
		`"Condition":{"StringEquals":{"aws:SourceIdentity":"`+fnARN+`"}}}}`); err != nil {
		t.Fatal(err)
	}
	lc := lambdaClient(ts)
	for _, name := range []string{"whoami", "whoami-too"} {
		if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython311,
			Handler: aws.String("app.handler"), Role: aws.String(ts.IAM.RoleARN(role)), Timeout: aws.Int32(30),
			Code: &ltypes.FunctionCode{ZipFile: zipOf(t, map[string]string{"app.py": code})}}); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		Who       string `json:"who"`
		ListUsers string `json:"list_users"`
		Forged    string `json:"forged"`
		Unsigned  int    `json:"unsigned"`
	}
	for name, wantList := range map[string]string{"whoami": "allowed", "whoami-too": "AccessDenied"} {
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name)})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("Invoke %s: %v %s", name, err, out.Payload)
		}
		var got result
		json.Unmarshal(out.Payload, &got)
		if got.Who != "arn:aws:sts::"+ts.AccountID()+":assumed-role/fn-role/"+name || !strings.Contains(got.ListUsers, wantList) || got.Forged != "InvalidClientTokenId" || got.Unsigned != 403 {
			t.Errorf("inside the function %s: %s", name, out.Payload)
		}
	}
	// Both calls are audited with the session's source identity (a read's
	// record is written after its response: poll).
	waitUntil(t, time.Minute, "the audit records of the functions' ListUsers", func() bool {
		ev := auditEvents(t, ts, "iam:ListUsers")
		return strings.Contains(ev, `"decision":"Deny","requestId"`) && strings.Contains(ev, `"sourceIdentity":"`+fnARN+`-too"`) &&
			strings.Contains(ev, `"sourceIdentity":"`+fnARN+`"`) && strings.Contains(ev, `"sourceIp":"sandbox"`)
	})
	// A role Lambda cannot assume any more: the next environment cannot start.
	if err := ts.IAM.DeleteInlinePolicy(ctx, iam.KindRole, "fn-role", "list"); err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.DeleteRole(ctx, "fn-role"); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("whoami"), Description: aws.String("new environment")}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("whoami")}); apiCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), "cannot be assumed by Lambda") {
		t.Errorf("Invoke with a deleted role: %v", err)
	}
}

// TestShutdownDrainsEventInvocations: an Event invocation running when
// the server is told to stop finishes within the shutdown timeout and is
// done with (not left to run again after the restart). Before, the stop
// abandoned it: it ran to its end but stayed queued.
func TestShutdownDrainsEventInvocations(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() (*server.Server, func()) { return serveIn(t, dir) }
	a, stopA := open()
	requireSandbox(t, a)
	code := map[string]string{"app.py": "import time\ndef handler(event, context):\n    time.sleep(1)\n    print('done', event['n'])\n"}
	if _, err := a.Functions.Create(ctx, functions.CreateInput{Function: functions.Function{Name: "drain", Runtime: "python3.11", Handler: "app.handler",
		Role: servertest.LambdaRole(t, a), Timeout: 60, MemorySize: 128}, Zip: zipOf(t, code)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Invoke.InvokeAsync(ctx, invoke.Input{FunctionName: "drain", Payload: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 2*time.Minute, "the Event invocation to run", func() bool { return a.Invoke.Pool.Running("drain") > 0 })
	// Nothing may run it again after the restart: a copy left queued
	// stays visible.
	if _, err := a.Invoke.PutConcurrency(ctx, "drain", 0); err != nil {
		t.Fatal(err)
	}
	stopA()
	b, stopB := open()
	defer stopB()
	if n, err := b.DB().Lambda.PendingAsync(ctx); err != nil || n != 0 {
		t.Fatalf("%d Event invocations still queued after a stop that should have drained it (%v)", n, err)
	}
	events, err := b.DB().Logs.LogEvents(ctx, logs.Query{Group: "/aws/lambda/drain"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if strings.HasPrefix(e.Message, "done 1") {
			return
		}
	}
	t.Fatalf("the drained invocation's output is not in its log: %v", events)
}

// serveIn opens a server on the data directory dir and serves it until
// the returned stop, which also closes it: a stop and a restart on the
// same directory, as a process would.
func serveIn(t *testing.T, dir string) (*server.Server, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir, cfg.Listen = dir, l.Addr().String()
	cfg.Functions.InitTimeout = "2m" // no outcome depends on the machine's speed
	s, err := server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, l); close(done) }()
	return s, func() { cancel(); <-done; s.Close() }
}
