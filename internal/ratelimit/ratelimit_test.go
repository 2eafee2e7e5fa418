package ratelimit

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	now := time.Unix(0, 0)
	l := &Limiter{Default: Limit{Rate: 10, Burst: 5}, ByAction: map[string]Limit{"signer:StartSigningJob": {Rate: 1, Burst: 1}, "free": {}}, Now: func() time.Time { return now }}
	steps := []struct {
		advance time.Duration
		key     string
		action  string
		want    bool
	}{
		{0, "k1", "a", true}, {0, "k1", "a", true}, {0, "k1", "a", true}, {0, "k1", "a", true}, {0, "k1", "a", true},
		{0, "k1", "a", false},                     // burst of 5 spent
		{0, "k2", "a", true},                      // another key has its own bucket
		{0, "k1", "b", true},                      // another action too
		{100 * time.Millisecond, "k1", "a", true}, // one token back after 1/10 s
		{0, "k1", "a", false},
		{0, "k1", "signer:StartSigningJob", true}, // per-action limit
		{500 * time.Millisecond, "k1", "signer:StartSigningJob", false},
		{500 * time.Millisecond, "k1", "signer:StartSigningJob", true},
		{0, "k1", "free", true}, {0, "k1", "free", true}, // unlimited
		{time.Hour, "k1", "a", true}, // refilled, capped at the burst
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := l.Allow(s.key, s.action); got != s.want {
			t.Errorf("step %d (%s %s): %v, want %v", i, s.key, s.action, got, s.want)
		}
	}
}

// TestUnderTheRate never throttles traffic below the rate.
func TestUnderTheRate(t *testing.T) {
	now := time.Unix(0, 0)
	l := &Limiter{Default: Limit{Rate: 100, Burst: 10}, Now: func() time.Time { return now }}
	for i := range 10000 {
		now = now.Add(11 * time.Millisecond) // 91 requests/s
		if !l.Allow("k", "a") {
			t.Fatalf("request %d throttled under the rate", i)
		}
	}
}

// TestSharedByNodes: with N nodes sharing the limits, each node's bucket
// holds Burst/N and refills at Rate/N, so N nodes together allow what one
// would; the share follows the number of nodes as it changes.
func TestSharedByNodes(t *testing.T) {
	now := time.Unix(0, 0)
	nodes := 3
	l := &Limiter{Default: Limit{Rate: 3, Burst: 6}, Now: func() time.Time { return now }, Nodes: func() int { return nodes }}
	cases := []struct {
		advance time.Duration
		nodes   int
		want    bool
	}{
		{0, 3, true}, {0, 3, true}, // 6/3 = 2 tokens
		{0, 3, false},
		{500 * time.Millisecond, 3, false}, // 3/3 = 1 token a second
		{500 * time.Millisecond, 3, true},
		{0, 3, false},
		{time.Hour, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, // alone: the whole burst
		{0, 1, false},
		{time.Hour, 10, true}, // more nodes than the burst: one token each
		{0, 10, false},
	}
	for i, c := range cases {
		now, nodes = now.Add(c.advance), c.nodes
		if got := l.Allow("k", "a"); got != c.want {
			t.Errorf("step %d (%d nodes): %v, want %v", i, c.nodes, got, c.want)
		}
	}
}
