package consoletest

import (
	"testing"
	"time"
)

// Poll checks cond until it holds or limit passes, and reports whether
// it held: for what the server does after its answer (an audit record
// of a read, a job's signing), which no signal announces.
func Poll(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// Eventually fails the test when cond does not hold within limit.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(limit, cond) {
		t.Fatalf("waited %s for %s", limit, what)
	}
}
