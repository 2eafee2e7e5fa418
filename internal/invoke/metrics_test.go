package invoke

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestMetricsByFunction: the metrics name functions only when asked
// (the server asks when metrics.per_function is set); otherwise they are
// totals over all functions.
func TestMetricsByFunction(t *testing.T) {
	m := NewMetrics()
	m.record("secret-payroll", 2*time.Millisecond, false)
	m.record("secret-payroll", 2*time.Second, true)
	m.record("other", 20*time.Millisecond, false)
	m.throttle("other")
	totals, byFn := expose(t, m.Collector(false)), expose(t, m.Collector(true))
	for _, want := range []string{"signet_lambda_invocations_total 3\n", "signet_lambda_errors_total 1\n", "signet_lambda_throttles_total 1\n",
		`signet_lambda_duration_seconds_bucket{le="0.005"} 1` + "\n", `signet_lambda_duration_seconds_bucket{le="+Inf"} 3` + "\n", "signet_lambda_duration_seconds_count 3\n"} {
		if !strings.Contains(totals, want) {
			t.Errorf("totals lack %q:\n%s", want, totals)
		}
	}
	if strings.Contains(totals, "payroll") || strings.Contains(totals, "other") {
		t.Errorf("totals name a function:\n%s", totals)
	}
	for _, want := range []string{`signet_lambda_invocations_total{function="secret-payroll"} 2`, `signet_lambda_throttles_total{function="other"} 1`,
		`signet_lambda_duration_seconds_bucket{function="other",le="0.025"} 1`, `signet_lambda_duration_seconds_count{function="other"} 1`} {
		if !strings.Contains(byFn, want) {
			t.Errorf("per-function metrics lack %q:\n%s", want, byFn)
		}
	}
}

// expose is the Prometheus text exposition of c.
func expose(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
