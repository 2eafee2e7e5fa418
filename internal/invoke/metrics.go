package invoke

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// durationBuckets are the upper bounds, in seconds, of the invocation
// duration histogram.
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// Metrics counts invocations per function.
type Metrics struct {
	mu  sync.Mutex
	fns map[string]*fnMetrics
}

type fnMetrics struct {
	invocations, errors, throttles int64
	buckets                        []int64
	sum                            float64
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics { return &Metrics{fns: map[string]*fnMetrics{}} }

func (m *Metrics) get(fn string) *fnMetrics {
	f := m.fns[fn]
	if f == nil {
		f = &fnMetrics{buckets: make([]int64, len(durationBuckets))}
		m.fns[fn] = f
	}
	return f
}

func (m *Metrics) record(fn string, d time.Duration, failed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.get(fn)
	f.invocations++
	if failed {
		f.errors++
	}
	s := d.Seconds()
	f.sum += s
	for i, b := range durationBuckets {
		if s <= b {
			f.buckets[i]++
		}
	}
}

func (m *Metrics) throttle(fn string) {
	m.mu.Lock()
	m.get(fn).throttles++
	m.mu.Unlock()
}

// Snapshot returns a function's invocation, error and throttle counts.
func (m *Metrics) Snapshot(fn string) (invocations, errors, throttles int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.fns[fn]; f != nil {
		return f.invocations, f.errors, f.throttles
	}
	return 0, 0, 0
}

// WritePrometheus writes the metrics in the Prometheus text format.
func (m *Metrics) WritePrometheus(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.fns))
	for n := range m.fns {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, c := range []struct {
		name, help string
		v          func(*fnMetrics) int64
	}{
		{"signet_lambda_invocations_total", "Invocations that ran (Lambda's Invocations).", func(f *fnMetrics) int64 { return f.invocations }},
		{"signet_lambda_errors_total", "Invocations that ended in a function error (Lambda's Errors).", func(f *fnMetrics) int64 { return f.errors }},
		{"signet_lambda_throttles_total", "Invocations refused for concurrency (Lambda's Throttles).", func(f *fnMetrics) int64 { return f.throttles }},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
		for _, n := range names {
			fmt.Fprintf(w, "%s{function=%q} %d\n", c.name, n, c.v(m.fns[n]))
		}
	}
	const h = "signet_lambda_duration_seconds"
	fmt.Fprintf(w, "# HELP %s Invocation duration (Lambda's Duration).\n# TYPE %s histogram\n", h, h)
	for _, n := range names {
		f := m.fns[n]
		for i, b := range durationBuckets {
			fmt.Fprintf(w, "%s_bucket{function=%q,le=\"%g\"} %d\n", h, n, b, f.buckets[i])
		}
		fmt.Fprintf(w, "%s_bucket{function=%q,le=\"+Inf\"} %d\n", h, n, f.invocations)
		fmt.Fprintf(w, "%s_sum{function=%q} %g\n%s_count{function=%q} %d\n", h, n, f.sum, h, n, f.invocations)
	}
}
