package invoke

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

var (
	invocationsDesc = []string{"signet_lambda_invocations_total", "Invocations that ran (Lambda's Invocations)."}
	errorsDesc      = []string{"signet_lambda_errors_total", "Invocations that ended in a function error (Lambda's Errors)."}
	throttlesDesc   = []string{"signet_lambda_throttles_total", "Invocations refused for concurrency (Lambda's Throttles)."}
	durationDesc    = []string{"signet_lambda_duration_seconds", "Invocation duration (Lambda's Duration)."}
)

// Collector returns a Prometheus collector of the metrics: with
// byFunction, a series per function (labelled function="NAME");
// without, one series of totals over all functions, which names none.
func (m *Metrics) Collector(byFunction bool) prometheus.Collector {
	var labels []string
	if byFunction {
		labels = []string{"function"}
	}
	d := func(nh []string) *prometheus.Desc { return prometheus.NewDesc(nh[0], nh[1], labels, nil) }
	return &collector{m: m, byFunction: byFunction,
		invocations: d(invocationsDesc), errors: d(errorsDesc), throttles: d(throttlesDesc), duration: d(durationDesc)}
}

type collector struct {
	m                                        *Metrics
	byFunction                               bool
	invocations, errors, throttles, duration *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.invocations
	ch <- c.errors
	ch <- c.throttles
	ch <- c.duration
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	emit := func(f *fnMetrics, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.invocations, prometheus.CounterValue, float64(f.invocations), labels...)
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(f.errors), labels...)
		ch <- prometheus.MustNewConstMetric(c.throttles, prometheus.CounterValue, float64(f.throttles), labels...)
		buckets := make(map[float64]uint64, len(durationBuckets))
		for i, b := range durationBuckets {
			buckets[b] = uint64(f.buckets[i])
		}
		ch <- prometheus.MustNewConstHistogram(c.duration, uint64(f.invocations), f.sum, buckets, labels...)
	}
	if c.byFunction {
		for name, f := range c.m.fns {
			emit(f, name)
		}
		return
	}
	t := &fnMetrics{buckets: make([]int64, len(durationBuckets))}
	for _, f := range c.m.fns {
		t.invocations, t.errors, t.throttles, t.sum = t.invocations+f.invocations, t.errors+f.errors, t.throttles+f.throttles, t.sum+f.sum
		for i, b := range f.buckets {
			t.buckets[i] += b
		}
	}
	emit(t)
}
