package invoke

import (
	"strings"
	"testing"
	"time"
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
	var totals, byFn strings.Builder
	m.WritePrometheus(&totals, false)
	m.WritePrometheus(&byFn, true)
	for _, want := range []string{"signet_lambda_invocations_total 3\n", "signet_lambda_errors_total 1\n", "signet_lambda_throttles_total 1\n",
		`signet_lambda_duration_seconds_bucket{le="0.005"} 1` + "\n", `signet_lambda_duration_seconds_bucket{le="+Inf"} 3` + "\n", "signet_lambda_duration_seconds_count 3\n"} {
		if !strings.Contains(totals.String(), want) {
			t.Errorf("totals lack %q:\n%s", want, totals.String())
		}
	}
	if strings.Contains(totals.String(), "payroll") || strings.Contains(totals.String(), "other") {
		t.Errorf("totals name a function:\n%s", totals.String())
	}
	for _, want := range []string{`signet_lambda_invocations_total{function="secret-payroll"} 2`, `signet_lambda_throttles_total{function="other"} 1`,
		`signet_lambda_duration_seconds_bucket{function="other",le="0.025"} 1`, `signet_lambda_duration_seconds_count{function="other"} 1`} {
		if !strings.Contains(byFn.String(), want) {
			t.Errorf("per-function metrics lack %q:\n%s", want, byFn.String())
		}
	}
}
