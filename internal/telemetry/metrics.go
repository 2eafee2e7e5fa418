package telemetry

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus metrics, on a registry of its own
// (several servers may run in one process, as in tests).
type Metrics struct {
	Registry *prometheus.Registry

	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// AuthFailures counts requests refused before authorization: unknown
	// access key, bad signature, expired or skewed request, by the AWS
	// error code answered.
	AuthFailures *prometheus.CounterVec
	// GateDecisions counts the Lambda deploy gate's decisions by outcome
	// (allowed, warned, refused).
	GateDecisions *prometheus.CounterVec
	// AdmissionReviews counts admission reviews by webhook (validate,
	// mutate) and decision (allowed, warned, denied, error).
	AdmissionReviews *prometheus.CounterVec
	// AdmissionDuration is how long reviews took to answer.
	AdmissionDuration prometheus.Histogram
}

// latencyBuckets are the request duration histogram's bounds, in
// seconds: from a cached read to a slow signing job.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// NewMetrics returns the metrics registered on a new registry, with the
// Go runtime's and the process's collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_api_requests_total",
			Help: "API requests answered, by API and operation (errors included)."}, []string{"service", "operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_api_errors_total",
			Help: "API requests answered with an error, by API, operation and AWS error code."}, []string{"service", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "signet_api_request_duration_seconds",
			Help: "Time to answer API requests, by API and operation.", Buckets: latencyBuckets}, []string{"service", "operation"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_auth_failures_total",
			Help: "Requests refused before authorization (unknown key, bad or expired signature), by API and AWS error code."}, []string{"service", "code"}),
		GateDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_deploy_gate_decisions_total",
			Help: "Decisions of the Lambda deploy gate on code with a code signing config, by outcome (allowed, warned, refused)."}, []string{"outcome"}),
		AdmissionReviews: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_admission_reviews_total",
			Help: "Admission reviews answered, by webhook (validate, mutate) and decision (allowed, warned, denied, error)."}, []string{"webhook", "decision"}),
		AdmissionDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "signet_admission_review_duration_seconds",
			Help: "Time to answer an admission review.", Buckets: latencyBuckets}),
	}
	m.Registry.MustRegister(m.requests, m.errors, m.duration, m.AuthFailures, m.GateDecisions, m.AdmissionReviews, m.AdmissionDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range []string{"allowed", "warned", "refused"} {
		m.GateDecisions.WithLabelValues(o) // present at 0 from the start
	}
	return m
}

// ObserveRequest records one answered API request; code is the AWS
// error code, empty for a success.
func (m *Metrics) ObserveRequest(service, operation, code string, d time.Duration) {
	m.requests.WithLabelValues(service, operation).Inc()
	m.duration.WithLabelValues(service, operation).Observe(d.Seconds())
	if code != "" {
		m.errors.WithLabelValues(service, operation, code).Inc()
	}
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	// A few scrapes at a time, each bounded: /metrics answers before
	// authentication.
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, MaxRequestsInFlight: 4, Timeout: 10 * time.Second})
}
