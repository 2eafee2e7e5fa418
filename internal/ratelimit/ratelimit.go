// Package ratelimit limits request rates with token buckets: each key
// (an access key and an action) has a bucket that holds up to Burst
// tokens and refills at Rate per second; a request takes one token or is
// refused.
package ratelimit

import (
	"sync"
	"time"
)

// Limit is a bucket's rate and size. A zero Rate means unlimited.
type Limit struct {
	Rate  float64 // tokens per second
	Burst int
}

// Limiter holds the buckets.
type Limiter struct {
	Default Limit
	// ByAction overrides Default for some actions.
	ByAction map[string]Limit
	Now      func() time.Time
	// Nodes, when set, is how many nodes share the limits (the live
	// nodes on one database): each node's buckets then refill at
	// Rate/Nodes and hold Burst/Nodes (at least one token), so that
	// requests spread over the nodes by a balancer get the configured
	// rate in all.
	Nodes func() int

	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	swept   time.Time
}

type bucketKey struct{ key, action string }

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Allow takes a token from the bucket of (key, action), reporting
// whether there was one.
func (l *Limiter) Allow(key, action string) bool {
	lim, ok := l.ByAction[action]
	if !ok {
		lim = l.Default
	}
	if lim.Rate <= 0 {
		return true
	}
	if l.Nodes != nil {
		if n := l.Nodes(); n > 1 {
			lim = Limit{Rate: lim.Rate / float64(n), Burst: max(1, lim.Burst/n)}
		}
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[bucketKey]*bucket{}
	}
	l.sweep(now)
	k := bucketKey{key, action}
	b := l.buckets[k]
	if b == nil {
		b = &bucket{tokens: float64(lim.Burst), last: now}
		l.buckets[k] = b
	}
	b.tokens = min(float64(lim.Burst), b.tokens+now.Sub(b.last).Seconds()*lim.Rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep drops buckets idle long enough to be full again, once a minute.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if now.Sub(b.last) > 10*time.Minute {
			delete(l.buckets, k)
		}
	}
}
