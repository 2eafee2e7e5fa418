package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/store"
)

// gatedBody is a request body that tells when it is first read (the
// server's handler has asked for it: the request is being served) and
// gives its bytes only once released.
type gatedBody struct {
	b        []byte
	first    chan struct{}
	release  chan struct{}
	once     sync.Once
	released bool
}

func (g *gatedBody) Read(p []byte) (int, error) {
	g.once.Do(func() { close(g.first) })
	if !g.released {
		<-g.release
		g.released = true
	}
	if len(g.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.b)
	g.b = g.b[n:]
	return n, nil
}

// TestShutdownDrainsInvocations: a stop (SIGTERM) lets a synchronous
// invocation in flight — its request being served, its function not yet
// run — finish and answer, before the server stops.
func TestShutdownDrainsInvocations(t *testing.T) {
	ts := servertest.Start(t)
	requireSandbox(t, ts.Server)
	ctx := context.Background()
	code := zipOf(t, map[string]string{"lambda_function.py": "import time\ndef lambda_handler(event, context):\n    time.sleep(1)\n    return event['key1']\n"})
	if _, err := lambdaClient(ts).CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("slow"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: code}}); err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"key1":"drained"}`)
	body := &gatedBody{b: payload, first: make(chan struct{}), release: make(chan struct{})}
	req, err := http.NewRequest("POST", ts.URL+"/2015-03-31/functions/slow/invocations", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(payload))
	req.Header.Set("Expect", "100-continue") // the body goes once the handler reads it
	sum := sha256.Sum256(payload)
	if err := v4.NewSigner().SignHTTP(ctx, ts.Creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Minute}}
	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- answer{status: resp.StatusCode, body: string(b)}
	}()
	select {
	case <-body.first:
	case a := <-answered:
		t.Fatalf("answered before reading the body: %+v", a)
	}
	// The request is being served: stop the server, and once it says it
	// is draining, let the body go.
	stopped := make(chan struct{})
	go func() { ts.Stop(); close(stopped) }()
	waitUntil(t, 2*time.Minute, "the server to start draining", func() bool { return strings.Contains(ts.Log(), "stopping: draining") })
	close(body.release)
	a := <-answered
	if a.err != nil || a.status != http.StatusOK || a.body != `"drained"` {
		t.Fatalf("the invocation in flight at the stop: %+v", a)
	}
	<-stopped
	// Once stopped, nothing is served.
	if _, err := http.Get(ts.URL + "/healthz"); err == nil {
		t.Fatal("the server still answers after it stopped")
	}
}

// TestShutdownWaitsForCancelledRequests: a request still running at the
// end of the shutdown timeout is cancelled, and the stop waits for its
// handler to return, so its audit record is written before the audit
// log closes. (Before, the stop returned at the deadline and closed the
// audit log under the running handler, whose record was lost.)
func TestShutdownWaitsForCancelledRequests(t *testing.T) {
	ts := servertest.StartWith(t, func(c *config.Config) { c.ShutdownTimeout = "1s" })
	requireSandbox(t, ts.Server)
	ctx := context.Background()
	code := zipOf(t, map[string]string{"lambda_function.py": "import time\ndef lambda_handler(event, context):\n    time.sleep(600)\n"})
	lc := lambdaClient(ts)
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("stuck"), Runtime: ltypes.RuntimePython312, Timeout: aws.Int32(900),
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: code}}); err != nil {
		t.Fatal(err)
	}
	invoked := make(chan error, 1)
	go func() {
		_, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("stuck")})
		invoked <- err
	}()
	waitUntil(t, 2*time.Minute, "the function to run", func() bool {
		return ts.Invoke.Pool.Running("stuck") > 0
	})
	dir := ts.Config().DataDir
	ts.Stop()
	<-invoked
	// The audit log: its own SQLite file, or the shared database.
	dsn := filepath.Join(dir, "audit.db")
	if u := ts.Config().DatabaseURL; u != "" {
		dsn = u
	}
	db, err := store.OpenUnmigrated(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Audit.AuditRecords(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Event.Action == "lambda:InvokeFunction" {
			return
		}
	}
	t.Fatalf("the invocation cancelled by the stop has no audit record (%d records)", len(recs))
}
