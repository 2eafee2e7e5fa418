package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// TestStateRestore: a Monitor restored from another's State (through
// JSON, as nodes hand it over in their database) holds the same
// workloads, verdicts and violations, refuses the reports the other
// would refuse, and acts again only on the violations whose action had
// failed or not finished — without notifying them a second time.
func TestStateRestore(t *testing.T) {
	ctx := context.Background()
	const signed, unsigned, evicted = "reg.example/signed@sha256:aa", "reg.example/unsigned@sha256:bb", "reg.example/evicted@sha256:cc"
	c := newChecker()
	c.set(signed, Result{Compliant: true, Deps: []string{"arn:job/1"}})
	c.set(evicted, Result{Rule: "unsigned", Action: ActionEvict})
	var r1 recorder
	m1 := r1.monitor(c, t0)
	r1.evictErr = errors.New("the API server refused")
	before := m1.Changes()
	m1.Observe(ctx, pod("prod", "ok", signed))
	m1.Observe(ctx, pod("prod", "bad", unsigned))
	m1.Observe(ctx, pod("prod", "evict-me", evicted)) // its eviction fails: to be retried
	m1.Observe(ctx, task("t1", 5, signed))
	m1.Gone(ctx, task("t1", 6).ID, 6)
	if m1.Changes() == before {
		t.Error("Changes did not move")
	}
	b, err := json.Marshal(m1.State())
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	var r2 recorder
	m2 := r2.monitor(c, t0)
	m2.Restore(st)
	if !reflect.DeepEqual(m2.Workloads(), m1.Workloads()) {
		t.Errorf("workloads after Restore:\n%+v\nwant\n%+v", m2.Workloads(), m1.Workloads())
	}
	if !reflect.DeepEqual(m2.Violations(), m1.Violations()) {
		t.Errorf("violations after Restore:\n%+v\nwant\n%+v", m2.Violations(), m1.Violations())
	}
	if m2.Observe(ctx, task("t1", 5, signed)) {
		t.Error("a report older than the stop was taken after Restore")
	}
	// The next round: the failed eviction is tried again (once), the
	// reported violation is not acted on again, nothing is notified anew.
	if _, err := m2.CheckAll(ctx); err != nil {
		t.Fatal(err)
	}
	evictions, _, notified, onViolation := r2.counts()
	if evictions != 1 || notified != 0 || onViolation != 1 {
		t.Errorf("after a round on the restored monitor: %d evictions, %d notifications, %d violation records; want 1, 0, 1", evictions, notified, onViolation)
	}
	if v := m2.Violations(); len(v) != 2 {
		t.Errorf("violations after the round: %+v", v)
	}
	// Restore replaces: an empty state empties the monitor.
	m2.Restore(State{})
	if len(m2.Workloads()) != 0 || len(m2.Violations()) != 0 {
		t.Error("Restore(State{}) kept something")
	}
}
