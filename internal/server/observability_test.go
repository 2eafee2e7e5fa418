package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server/servertest"
)

// scrape reads /metrics with the Prometheus text parser.
func scrape(t *testing.T, ts *servertest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := ts.HTTPClient().Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return mfs
}

// value is the value of the series of family name whose labels include
// want, and whether there is one.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics: after a scripted workload, /metrics (parsed with the
// Prometheus text parser) holds per-operation request, error and latency
// series for every API used, the signing-job queue, deploy-gate
// decisions by outcome, invocation metrics under Lambda's names,
// admission reviews, KMS use and authentication failures.
func TestMetrics(t *testing.T) {
	ts := servertest.StartWith(t, func(c *config.Config) { c.Admission.Listen = "127.0.0.1:0" })
	ctx := context.Background()
	_, signedKey, cscARN := signedOnNodes(t, ts, ts, ts, "metrics")
	lc := lambdaClient(ts)
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("metrics"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)),
		Code:                 &ltypes.FunctionCode{S3Bucket: aws.String("artifacts"), S3Key: aws.String(signedKey)},
		CodeSigningConfigArn: aws.String(cscARN)}); err != nil {
		t.Fatal(err)
	}
	// An unsigned package: refused by the gate.
	if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("metrics"), ZipFile: zipOf(t, helloZip)}); apiCode(err) != "CodeVerificationFailedException" {
		t.Fatalf("unsigned update: %v", err)
	}
	// An error answered by an operation.
	if _, err := ts.Signer().GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("nothing_here")}); apiCode(err) != "ResourceNotFoundException" {
		t.Fatalf("GetSigningProfile of a missing profile: %v", err)
	}
	// KMS.
	kc := kmsClient(ts, aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return ts.Creds, nil }))
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	// A request signed with a secret that is not the key's.
	bad := signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Retryer: aws.NopRetryer{},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: ts.Creds.AccessKeyID, SecretAccessKey: "wrong" + ts.Creds.SecretAccessKey[5:]}, nil
		})})
	if _, err := bad.ListSigningPlatforms(ctx, &signer.ListSigningPlatformsInput{}); apiCode(err) == "" {
		t.Fatalf("a bad signature was accepted: %v", err)
	}
	// An admission review of a pod no policy covers.
	review, err := os.ReadFile("testdata/admission/pod.json")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer("__UID__", "u-1", "__NAMESPACE__", "default", "__IMAGE__", "registry.example/app@sha256:"+strings.Repeat("a", 64)).Replace(string(review))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/validate", strings.NewReader(body)).WithContext(ctx)
	req.Header.Set("Content-Type", "application/json")
	ts.AdmissionHandler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("admission review: %d %s", rec.Code, rec.Body)
	}

	mfs := scrape(t, ts)
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"signet_api_requests_total", map[string]string{"service": "signer", "operation": "StartSigningJob"}, 1},
		{"signet_api_requests_total", map[string]string{"service": "s3", "operation": "PutObject"}, 1},
		{"signet_api_requests_total", map[string]string{"service": "lambda", "operation": "CreateFunction"}, 1},
		{"signet_api_request_duration_seconds", map[string]string{"service": "signer", "operation": "DescribeSigningJob"}, 1},
		{"signet_api_errors_total", map[string]string{"service": "signer", "operation": "GetSigningProfile", "code": "ResourceNotFoundException"}, 1},
		{"signet_api_errors_total", map[string]string{"service": "lambda", "operation": "UpdateFunctionCode", "code": "CodeVerificationFailedException"}, 1},
		{"signet_api_requests_total", map[string]string{"service": "kms", "operation": "Encrypt"}, 1},
		{"signet_auth_failures_total", map[string]string{"service": "signer", "code": "InvalidSignatureException"}, 1},
		{"signet_deploy_gate_decisions_total", map[string]string{"outcome": "allowed"}, 1},
		{"signet_deploy_gate_decisions_total", map[string]string{"outcome": "refused"}, 1},
		{"signet_deploy_gate_decisions_total", map[string]string{"outcome": "warned"}, 0},
		{"signet_signing_jobs_in_progress", nil, 0},
		{"signet_signing_job_queue_oldest_age_seconds", nil, 0},
		{"signet_signature_validation_errors_total", nil, 0},
		{"signet_admission_reviews_total", map[string]string{"webhook": "validate", "decision": "allowed"}, 1},
		{"signet_admission_review_duration_seconds", nil, 1},
		{"go_goroutines", nil, 1},
	} {
		v, ok := value(mfs, c.name, c.labels)
		if !ok || v < c.min {
			t.Errorf("%s%v = %v (present %v), want at least %v", c.name, c.labels, v, ok, c.min)
		}
	}
	if ts.Invoke.Pool != nil {
		for _, name := range []string{"signet_lambda_invocations_total", "signet_lambda_errors_total", "signet_lambda_throttles_total", "signet_lambda_duration_seconds"} {
			if _, ok := value(mfs, name, nil); !ok {
				t.Errorf("%s missing", name)
			}
		}
	}
	// Every series the example dashboard and alert rules use is one
	// Signet exports (the workloads' only with continuous validation on,
	// which TestWorkloadsMetrics covers).
	exported := map[string]bool{"signet_workloads": true, "signet_workload_violations": true, "signet_workload_violations_total": true}
	for name, mf := range mfs {
		exported[name] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			exported[name+"_bucket"], exported[name+"_sum"], exported[name+"_count"] = true, true, true
		}
	}
	for _, doc := range []string{"../../docs/observability/alerts.yaml", "../../docs/observability/grafana-dashboard.json", "../../docs/observability.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range regexp.MustCompile(`\bsignet_[a-z_]+\b`).FindAllString(string(b), -1) {
			if !exported[name] && !strings.HasSuffix(name, "_") {
				t.Errorf("%s names %s, which Signet does not export", doc, name)
			}
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if b, err := os.ReadFile("../../docs/observability/alerts.yaml"); err != nil || yaml.Unmarshal(b, &rules) != nil || len(rules.Groups) == 0 {
		t.Fatalf("alerts.yaml: %v", err)
	}
	for _, r := range rules.Groups[0].Rules {
		if r.Alert == "" || r.Expr == "" {
			t.Errorf("alert rule %+v lacks a name or an expression", r)
		}
	}
	if b, err := os.ReadFile("../../docs/observability/grafana-dashboard.json"); err != nil || !json.Valid(b) {
		t.Errorf("grafana-dashboard.json is not JSON: %v", err)
	}
	// The secret of a key never appears, nor an access key id.
	resp, _ := ts.HTTPClient().Get(ts.URL + "/metrics")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(b, []byte(ts.Creds.AccessKeyID)) || bytes.Contains(b, []byte(ts.Creds.SecretAccessKey)) {
		t.Error("/metrics shows the access key")
	}
}

// otlpReceiver is an in-process OTLP/HTTP trace receiver.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "unexpected "+r.URL.Path+" "+r.Header.Get("Content-Type"), http.StatusBadRequest)
		return
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// TestTracing: with an OTLP endpoint, every request is one span tree —
// the request's span (named by its operation, carrying its request id)
// over the operation, its authorization and its database statements —
// exported to the collector; a W3C traceparent or X-Ray header makes it
// part of the caller's trace; log lines carry the trace id.
func TestTracing(t *testing.T) {
	rcv := &otlpReceiver{}
	collector := httptest.NewServer(rcv)
	defer collector.Close()
	ts := servertest.StartWith(t, func(c *config.Config) { c.Tracing.OTLPEndpoint = collector.URL })
	ctx := context.Background()
	var ids []string
	record := func(r *http.Response) { ids = append(ids, r.Header.Get("X-Amzn-Requestid")) }
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		switch r.Header.Get("Test-Propagation") {
		case "w3c":
			r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		case "xray":
			r.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
		}
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			record(resp)
		}
		return resp, err
	})}
	sc := signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Retryer: aws.NopRetryer{}, HTTPClient: hc,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return ts.Creds, nil })})
	if _, err := sc.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("traced"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
		t.Fatal(err)
	}
	withHeader := func(v string) func(*signer.Options) {
		return func(o *signer.Options) {
			o.APIOptions = append(o.APIOptions, addHeader("Test-Propagation", v))
		}
	}
	if _, err := sc.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("traced")}, withHeader("w3c")); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("missing_one")}, withHeader("xray")); apiCode(err) != "ResourceNotFoundException" {
		t.Fatal(err)
	}
	logs := ts.Log()
	ts.Stop() // flushes the exporter
	if len(ids) != 3 {
		t.Fatalf("request ids %v", ids)
	}

	rcv.mu.Lock()
	spans := rcv.spans
	rcv.mu.Unlock()
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[string(s.SpanId)] = s
	}
	for i, id := range ids {
		var roots []*tracepb.Span
		for _, s := range spans {
			if attr(s, "aws.request_id") == id {
				roots = append(roots, s)
			}
		}
		if len(roots) != 1 {
			t.Fatalf("request %s: %d root spans, want 1", id, len(roots))
		}
		root := roots[0]
		if root.Kind != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("request %s: root span kind %v", id, root.Kind)
		}
		wantName := []string{"signer.PutSigningProfile", "signer.GetSigningProfile", "signer.GetSigningProfile"}[i]
		if root.Name != wantName {
			t.Errorf("request %s: root span %q, want %q", id, root.Name, wantName)
		}
		// Every span of the trace descends from the root: one tree.
		names := map[string]bool{}
		for _, s := range spans {
			if !bytes.Equal(s.TraceId, root.TraceId) || s == root {
				continue
			}
			p := s
			for depth := 0; p != root; depth++ {
				next, ok := byID[string(p.ParentSpanId)]
				if !ok || depth > 20 {
					t.Fatalf("request %s: span %q does not descend from the request's span", id, s.Name)
				}
				p = next
			}
			names[s.Name] = true
		}
		for _, want := range []string{wantName, "authorize", "db.query"} {
			if !names[want] {
				t.Errorf("request %s: no %q span under the request; spans: %v", id, want, names)
			}
		}
		switch i {
		case 1:
			if got := string(hexOf(root.TraceId)); got != "4bf92f3577b34da6a3ce929d0e0e4736" || string(hexOf(root.ParentSpanId)) != "00f067aa0ba902b7" {
				t.Errorf("traceparent not followed: trace %s parent %s", got, hexOf(root.ParentSpanId))
			}
		case 2:
			if got := string(hexOf(root.TraceId)); got != "5759e988bd862e3fe1be46a994272793" || string(hexOf(root.ParentSpanId)) != "53995c3f42cd8ad8" {
				t.Errorf("X-Amzn-Trace-Id not followed: trace %s parent %s", got, hexOf(root.ParentSpanId))
			}
			if attr(root, "aws.error_code") != "ResourceNotFoundException" {
				t.Errorf("the refused request's span has no error code: %v", root.Attributes)
			}
		}
	}
	// The refused request's log line carries its trace id.
	if !strings.Contains(logs, "trace_id=5759e988bd862e3fe1be46a994272793") {
		t.Errorf("no log line carries the trace id:\n%s", logs)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// addHeader adds a header to every request of a client (signed with it).
func addHeader(k, v string) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Build.Add(middleware.BuildMiddlewareFunc("addHeader", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				req.Header.Set(k, v)
			}
			return next.HandleBuild(ctx, in)
		}), middleware.After)
	}
}

// TestTracingIgnoresCallerSampling: a caller's traceparent cannot make
// the server record (and export) its requests beyond the configured
// ratio: the flag arrives before authentication.
func TestTracingIgnoresCallerSampling(t *testing.T) {
	rcv := &otlpReceiver{}
	collector := httptest.NewServer(rcv)
	defer collector.Close()
	ts := servertest.StartWith(t, func(c *config.Config) { c.Tracing.OTLPEndpoint = collector.URL; c.Tracing.SampleRatio = 0 })
	for range 5 {
		req, _ := http.NewRequest("GET", ts.URL+"/healthz", nil)
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if _, err := ts.Signer().ListSigningPlatforms(context.Background(), &signer.ListSigningPlatformsInput{}, addTraceparent); err != nil {
		t.Fatal(err)
	}
	ts.Stop()
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.spans) != 0 {
		t.Fatalf("%d spans exported at sample_ratio 0 because the caller asked", len(rcv.spans))
	}
}

func addTraceparent(o *signer.Options) {
	o.APIOptions = append(o.APIOptions, addHeader("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
}

// TestMetricsToken: with metrics.token_file, /metrics answers only with
// the bearer token.
func TestMetricsToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "metrics.token")
	if err := os.WriteFile(tokenFile, []byte("s3cr3t-scrape-token-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := servertest.StartWith(t, func(c *config.Config) { c.Metrics.TokenFile = tokenFile })
	for name, c := range map[string]struct {
		auth string
		want int
	}{
		"none":  {"", http.StatusUnauthorized},
		"wrong": {"Bearer s3cr3t-scrape-token-0124", http.StatusUnauthorized},
		"right": {"Bearer s3cr3t-scrape-token-0123", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %s, want %d", name, resp.Status, c.want)
		}
	}
	// A token others can read is refused.
	os.Chmod(tokenFile, 0o644)
	cfg := config.Defaults()
	cfg.Metrics.TokenFile = tokenFile
	if err := cfg.CheckFiles(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable token file: %v", err)
	}
}
