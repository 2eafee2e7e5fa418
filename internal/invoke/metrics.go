package invoke

import (
	"fmt"
	"io"
	"sort"
	"strings"
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

// WritePrometheus writes the metrics in the Prometheus text format:
// with byFunction, a series per function (labelled function="NAME");
// without, one series of totals over all functions, which names none.
func (m *Metrics) WritePrometheus(w io.Writer, byFunction bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	type series struct {
		labels string // `function="NAME",` or ""
		f      *fnMetrics
	}
	var all []series
	if byFunction {
		names := make([]string, 0, len(m.fns))
		for n := range m.fns {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			all = append(all, series{fmt.Sprintf("function=%q,", n), m.fns[n]})
		}
	} else {
		t := &fnMetrics{buckets: make([]int64, len(durationBuckets))}
		for _, f := range m.fns {
			t.invocations, t.errors, t.throttles, t.sum = t.invocations+f.invocations, t.errors+f.errors, t.throttles+f.throttles, t.sum+f.sum
			for i, b := range f.buckets {
				t.buckets[i] += b
			}
		}
		all = []series{{"", t}}
	}
	braces := func(labels string) string {
		if labels == "" {
			return ""
		}
		return "{" + strings.TrimSuffix(labels, ",") + "}"
	}
	for _, c := range []struct {
		name, help string
		v          func(*fnMetrics) int64
	}{
		{"signet_lambda_invocations_total", "Invocations that ran (Lambda's Invocations).", func(f *fnMetrics) int64 { return f.invocations }},
		{"signet_lambda_errors_total", "Invocations that ended in a function error (Lambda's Errors).", func(f *fnMetrics) int64 { return f.errors }},
		{"signet_lambda_throttles_total", "Invocations refused for concurrency (Lambda's Throttles).", func(f *fnMetrics) int64 { return f.throttles }},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
		for _, s := range all {
			fmt.Fprintf(w, "%s%s %d\n", c.name, braces(s.labels), c.v(s.f))
		}
	}
	const h = "signet_lambda_duration_seconds"
	fmt.Fprintf(w, "# HELP %s Invocation duration (Lambda's Duration).\n# TYPE %s histogram\n", h, h)
	for _, s := range all {
		for i, b := range durationBuckets {
			fmt.Fprintf(w, "%s_bucket{%sle=\"%g\"} %d\n", h, s.labels, b, s.f.buckets[i])
		}
		fmt.Fprintf(w, "%s_bucket{%sle=\"+Inf\"} %d\n", h, s.labels, s.f.invocations)
		fmt.Fprintf(w, "%s_sum%s %g\n%s_count%s %d\n", h, braces(s.labels), s.f.sum, h, braces(s.labels), s.f.invocations)
	}
}
