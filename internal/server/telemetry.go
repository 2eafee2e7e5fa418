package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/signet/signet/internal/sigv4"
	"github.com/signet/signet/internal/telemetry"
)

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// startRequestSpan starts the root span of a request, a child of the
// trace context its headers carry (W3C traceparent or X-Amzn-Trace-Id).
func (s *Server) startRequestSpan(ctx context.Context, r *http.Request, requestID string) (context.Context, trace.Span) {
	ctx = telemetry.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
	method := r.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
	default:
		method = "_OTHER" // caller-chosen: not a span name
	}
	return s.tracing.Tracer("github.com/signet/signet").Start(ctx, method+" request", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("aws.request_id", requestID)))
}

// observe records an answered signed request in the metrics and on its
// span: its API and operation (as routed), status and error code.
func (s *Server) observe(r *http.Request, status int, d time.Duration) {
	if s.noRequestTelemetry {
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	req, ok := telemetry.RequestFrom(r.Context())
	service, _, _ := sigv4.Scope(r)
	svc, op := service, "unknown"
	code := ""
	if ok {
		if v, o := req.Operation(); o != "" {
			svc, op = v, o
		}
		code = req.ErrorCode()
	}
	if code == "" && status >= 400 {
		code = "HTTP" + strconv.Itoa(status)
	}
	s.metrics.ObserveRequest(svc, op, code, d)
	span := trace.SpanFromContext(r.Context())
	if span.IsRecording() {
		span.SetName(svc + "." + op)
		span.SetAttributes(attribute.String("rpc.service", svc), attribute.String("rpc.method", op), attribute.Int("http.response.status_code", status))
		if code != "" {
			span.SetAttributes(attribute.String("aws.error_code", code))
			if status >= 500 {
				span.SetStatus(codes.Error, code)
			}
		}
	}
}

// countAuthFailure counts a request refused at authentication.
func (s *Server) countAuthFailure(r *http.Request, service string) {
	code := "unknown"
	if req, ok := telemetry.RequestFrom(r.Context()); ok && req.ErrorCode() != "" {
		code = req.ErrorCode()
	}
	s.metrics.AuthFailures.WithLabelValues(service, code).Inc()
}

// registerCollectors adds the metrics read from the server's state at
// each scrape: the deploy gate's Warn count (Lambda's
// SignatureValidationErrors), the signing-job queue, the invocations and
// the workloads.
func (s *Server) registerCollectors() {
	reg := s.metrics.Registry
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_signature_validation_errors_total",
		Help: "Deployments that a Warn code signing config let through with a failed signature check (Lambda's SignatureValidationErrors)."},
		func() float64 { return float64(s.SignatureValidationErrors.Load()) }))
	reg.MustRegister(&jobQueueCollector{s: s})
	if s.Invoke != nil && s.Invoke.Pool != nil {
		reg.MustRegister(s.Invoke.Pool.Metrics.Collector(s.cfg.Metrics.PerFunction))
		pool := s.Invoke.Pool
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "signet_lambda_concurrent_executions",
			Help: "Invocations running now (Lambda's ConcurrentExecutions)."}, func() float64 { return float64(pool.ConcurrentExecutions()) }))
	}
	if s.workloads != nil {
		reg.MustRegister(&workloadsCollector{s: s})
	}
}

var (
	jobQueueDepth = prometheus.NewDesc("signet_signing_jobs_in_progress", "Signing jobs queued or being signed.", nil, nil)
	jobQueueAge   = prometheus.NewDesc("signet_signing_job_queue_oldest_age_seconds", "Age of the oldest signing job in progress (0 when none).", nil, nil)
)

// jobQueueCollector reads the signing-job queue from the database at
// each scrape.
type jobQueueCollector struct {
	s *Server

	mu     sync.Mutex
	read   time.Time
	n      int
	oldest time.Time
	err    error
}

// jobQueueCacheFor is how long a reading of the queue is served.
const jobQueueCacheFor = 5 * time.Second

func (c *jobQueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobQueueDepth
	ch <- jobQueueAge
}

func (c *jobQueueCollector) Collect(ch chan<- prometheus.Metric) {
	// Read at most every few seconds, however often /metrics is asked.
	c.mu.Lock()
	if time.Since(c.read) >= jobQueueCacheFor || c.err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.n, c.oldest, c.err = c.s.db.Signing.JobQueue(ctx)
		cancel()
		c.read = time.Now()
	}
	n, oldest, err := c.n, c.oldest, c.err
	c.mu.Unlock()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobQueueDepth, err)
		return
	}
	age := 0.0
	if n > 0 {
		age = max(c.s.now().Sub(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(jobQueueDepth, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(jobQueueAge, prometheus.GaugeValue, age)
}

var (
	workloadsDesc       = prometheus.NewDesc("signet_workloads", "Running workloads in the inventory.", nil, nil)
	violationsDesc      = prometheus.NewDesc("signet_workload_violations", "Current violations (running workloads with an image their policy refuses).", nil, nil)
	violationsTotalDesc = prometheus.NewDesc("signet_workload_violations_total", "Violations found, by rule.", []string{"rule"}, nil)
)

// workloadsCollector reports continuous validation.
type workloadsCollector struct{ s *Server }

func (c *workloadsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- workloadsDesc
	ch <- violationsDesc
	ch <- violationsTotalDesc
}

func (c *workloadsCollector) Collect(ch chan<- prometheus.Metric) {
	w := c.s.workloads
	ch <- prometheus.MustNewConstMetric(workloadsDesc, prometheus.GaugeValue, float64(len(w.monitor.Workloads())))
	ch <- prometheus.MustNewConstMetric(violationsDesc, prometheus.GaugeValue, float64(len(w.monitor.Violations())))
	w.mu.Lock()
	defer w.mu.Unlock()
	for rule, n := range w.violations {
		ch <- prometheus.MustNewConstMetric(violationsTotalDesc, prometheus.CounterValue, float64(n), strings.ReplaceAll(rule, `"`, ""))
	}
}
