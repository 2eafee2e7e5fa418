package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeChecker answers from a table keyed by image, counts its calls, and
// can be changed between rounds.
type fakeChecker struct {
	mu      sync.Mutex
	answers map[string]Result
	errs    map[string]error
	calls   map[string]int // by scope + " " + image
	total   int
}

func newChecker() *fakeChecker {
	return &fakeChecker{answers: map[string]Result{}, errs: map[string]error{}, calls: map[string]int{}}
}

func (c *fakeChecker) set(image string, r Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers[image] = r
	delete(c.errs, image)
}

func (c *fakeChecker) fail(image string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs[image] = err
}

func (c *fakeChecker) Check(ctx context.Context, w Workload, image string) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[w.scope()+" "+image]++
	c.total++
	if err := c.errs[image]; err != nil {
		return Result{}, err
	}
	r, ok := c.answers[image]
	if !ok {
		return Result{Rule: "unsigned", Reason: "no signature found"}, nil
	}
	return r, nil
}

func (c *fakeChecker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// recorder records the Monitor's hooks.
type recorder struct {
	mu                    sync.Mutex
	evicted, stopped      []string
	notified, onViolation []Violation
	evictErr              error
}

func (r *recorder) monitor(c Checker, now time.Time) *Monitor {
	return &Monitor{
		Checker: c,
		Now:     func() time.Time { return now },
		Evict: func(ctx context.Context, w Workload) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.evictErr != nil {
				return r.evictErr
			}
			r.evicted = append(r.evicted, w.ID)
			return nil
		},
		Stop: func(ctx context.Context, w Workload) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.stopped = append(r.stopped, w.ID)
			return nil
		},
		Notify: func(ctx context.Context, v Violation) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.notified = append(r.notified, v)
		},
		OnViolation: func(ctx context.Context, v Violation) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.onViolation = append(r.onViolation, v)
		},
	}
}

func (r *recorder) counts() (evicted, stopped, notified, onViolation int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.evicted), len(r.stopped), len(r.notified), len(r.onViolation)
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func pod(ns, name string, images ...string) Workload {
	return Workload{ID: KubernetesID(ns, name), Source: SourceKubernetes, Namespace: ns, Name: name,
		UID: "uid-" + name, Images: images, Principal: "system:serviceaccount:ci:deployer"}
}

func task(id string, version int64, images ...string) Workload {
	arn := "arn:aws:ecs:eu-west-1:111122223333:task/prod/" + id
	return Workload{ID: arn, Source: SourceECS, Cluster: "arn:aws:ecs:eu-west-1:111122223333:cluster/prod",
		Name: id, Images: images, Principal: "ecs-svc/1", Version: version}
}

func TestMonitorVerdicts(t *testing.T) {
	const img = "reg.example/app@sha256:aa"
	tests := map[string]struct {
		w           Workload
		res         Result
		wantOutcome string // "" means compliant: no violation
		wantEvicted int
		wantStopped int
	}{
		"ok/compliant": {
			w: pod("prod", "a", img), res: Result{Compliant: true, Deps: []string{"job-1"}},
		},
		"fail/unsigned reported": {
			w: pod("prod", "a", img), res: Result{Rule: "unsigned", Reason: "no signature", Action: ActionReport},
			wantOutcome: OutcomeReported,
		},
		"fail/unsigned without action is reported": {
			w: pod("prod", "a", img), res: Result{Rule: "unsigned", Reason: "no signature"},
			wantOutcome: OutcomeReported,
		},
		"fail/revoked pod evicted": {
			w: pod("prod", "a", img), res: Result{Rule: "revoked", Reason: "signing job revoked", Action: ActionEvict},
			wantOutcome: OutcomeEvicted, wantEvicted: 1,
		},
		"fail/expired task stopped": {
			w: task("t1", 3, img), res: Result{Rule: "expired", Reason: "signature expired", Action: ActionStop},
			wantOutcome: OutcomeStopped, wantStopped: 1,
		},
		"fail/evict action on a task stops it": {
			w: task("t1", 3, img), res: Result{Rule: "untrusted", Reason: "unknown signer", Action: ActionEvict},
			wantOutcome: OutcomeStopped, wantStopped: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := newChecker()
			c.set(img, tt.res)
			var r recorder
			m := r.monitor(c, t0)
			if !m.Observe(t.Context(), tt.w) {
				t.Fatal("Observe of a new workload returned false")
			}
			vs := m.Violations()
			if tt.wantOutcome == "" {
				if len(vs) != 0 {
					t.Fatalf("violations = %+v, want none", vs)
				}
			} else {
				if len(vs) != 1 {
					t.Fatalf("violations = %+v, want one", vs)
				}
				v := vs[0]
				if v.Workload.ID != tt.w.ID || v.Image != img || v.Rule != tt.res.Rule || v.Reason != tt.res.Reason ||
					v.Outcome != tt.wantOutcome || !v.DetectedAt.Equal(t0) {
					t.Errorf("violation = %+v", v)
				}
			}
			ev, st, no, ov := r.counts()
			wantHooks := 0
			if tt.wantOutcome != "" {
				wantHooks = 1
			}
			if ev != tt.wantEvicted || st != tt.wantStopped || no != wantHooks || ov != wantHooks {
				t.Errorf("evicted, stopped, notified, onViolation = %d, %d, %d, %d; want %d, %d, %d, %d",
					ev, st, no, ov, tt.wantEvicted, tt.wantStopped, wantHooks, wantHooks)
			}
			if wantHooks == 1 && r.notified[0].Outcome != tt.wantOutcome {
				t.Errorf("notified outcome = %q, want %q", r.notified[0].Outcome, tt.wantOutcome)
			}
			ws := m.Workloads()
			if len(ws) != 1 || len(ws[0].Images) != 1 || !ws[0].Images[0].Checked ||
				ws[0].Images[0].Result.Compliant != tt.res.Compliant || !ws[0].Images[0].CheckedAt.Equal(t0) {
				t.Errorf("Workloads() = %+v", ws)
			}
		})
	}
}

func TestMonitorActsOnce(t *testing.T) {
	const img = "reg.example/app@sha256:bb"
	c := newChecker()
	c.set(img, Result{Rule: "unsigned", Reason: "no signature", Action: ActionEvict})
	var r recorder
	m := r.monitor(c, t0)
	m.Observe(t.Context(), pod("prod", "a", img))
	for i := range 3 {
		round, err := m.CheckAll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if round.Violations != 1 || round.New != 0 {
			t.Errorf("round %d: violations %d, new %d; want 1, 0", i, round.Violations, round.New)
		}
	}
	if ev, _, no, ov := r.counts(); ev != 1 || no != 1 || ov != 1 {
		t.Errorf("evicted, notified, onViolation = %d, %d, %d; want 1 each", ev, no, ov)
	}

	// A change of rule is a new violation; becoming compliant leaves the list.
	c.set(img, Result{Rule: "revoked", Reason: "job revoked", Action: ActionReport})
	if round, _ := m.CheckAll(t.Context()); round.New != 1 {
		t.Errorf("new violations after a change of rule = %d, want 1", round.New)
	}
	if vs := m.Violations(); len(vs) != 1 || vs[0].Rule != "revoked" {
		t.Errorf("violations = %+v, want the one revoked", vs)
	}
	c.set(img, Result{Compliant: true})
	m.CheckAll(t.Context())
	if vs := m.Violations(); len(vs) != 0 {
		t.Errorf("violations of a compliant workload = %+v", vs)
	}
	if _, _, no, _ := r.counts(); no != 2 {
		t.Errorf("notifications = %d, want 2", no)
	}
}

func TestMonitorFailedActionRetried(t *testing.T) {
	const img = "reg.example/app@sha256:cc"
	c := newChecker()
	c.set(img, Result{Rule: "unsigned", Action: ActionEvict})
	r := recorder{evictErr: errors.New("cannot evict pod prod/a: a PodDisruptionBudget refuses it (HTTP 429)")}
	m := r.monitor(c, t0)
	m.Observe(t.Context(), pod("prod", "a", img))
	vs := m.Violations()
	if len(vs) != 1 || !strings.HasPrefix(vs[0].Outcome, "evict failed: ") || !strings.Contains(vs[0].Outcome, "PodDisruptionBudget") {
		t.Fatalf("violations = %+v, want one whose eviction failed", vs)
	}
	r.mu.Lock()
	r.evictErr = nil
	r.mu.Unlock()
	m.CheckAll(t.Context())
	if vs := m.Violations(); len(vs) != 1 || vs[0].Outcome != OutcomeEvicted {
		t.Fatalf("after retry violations = %+v, want evicted", vs)
	}
	m.CheckAll(t.Context())
	if ev, _, no, ov := r.counts(); ev != 1 || no != 1 || ov != 2 {
		t.Errorf("evicted, notified, onViolation = %d, %d, %d; want 1, 1, 2", ev, no, ov)
	}
}

func TestMonitorTransientError(t *testing.T) {
	const good, bad = "reg.example/good@sha256:01", "reg.example/bad@sha256:02"
	c := newChecker()
	c.set(good, Result{Compliant: true})
	c.set(bad, Result{Rule: "unsigned", Action: ActionEvict})
	var r recorder
	m := r.monitor(c, t0)
	m.Observe(t.Context(), pod("prod", "good", good))
	m.Observe(t.Context(), pod("prod", "bad", bad))
	unreachable := errors.New("registry reg.example unreachable: dial tcp: i/o timeout")
	c.fail(good, unreachable)
	c.fail(bad, unreachable)
	round, err := m.CheckAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if round.Failures != 2 || round.Violations != 0 || round.New != 0 {
		t.Errorf("round = %+v, want 2 failures and no violations", round)
	}
	// The previous verdicts stand.
	vs := m.Violations()
	if len(vs) != 1 || vs[0].Workload.Name != "bad" {
		t.Errorf("violations = %+v, want the one of bad kept", vs)
	}
	for _, s := range m.Workloads() {
		st := s.Images[0]
		if !st.Checked || st.Error != unreachable.Error() {
			t.Errorf("%s: status %+v, want the old verdict with the error", s.Workload.ID, st)
		}
		if s.Workload.Name == "good" && !st.Result.Compliant {
			t.Errorf("good lost its compliant verdict: %+v", st)
		}
	}
	if ev, _, no, _ := r.counts(); ev != 1 || no != 1 {
		t.Errorf("evicted, notified = %d, %d; want 1, 1 (none for the errors)", ev, no)
	}

	// A new workload whose first check fails has no verdict and no violation.
	const other = "reg.example/other@sha256:03"
	c.fail(other, unreachable)
	m.Observe(t.Context(), pod("prod", "new", other))
	for _, s := range m.Workloads() {
		if s.Workload.Name == "new" && (s.Images[0].Checked || s.Images[0].Error == "") {
			t.Errorf("new workload status %+v, want unchecked with an error", s.Images[0])
		}
	}
	if vs := m.Violations(); len(vs) != 1 {
		t.Errorf("violations = %+v, want still only bad's", vs)
	}
}

func TestMonitorECSOrdering(t *testing.T) {
	const img = "acct.dkr.ecr.eu-west-1.amazonaws.com/api@sha256:0a"
	c := newChecker()
	c.set(img, Result{Compliant: true})
	var r recorder
	m := r.monitor(c, t0)
	ctx := t.Context()
	steps := []struct {
		name  string
		do    func() bool
		want  bool
		calls int // Checker calls so far
	}{
		{"ok/first report", func() bool { return m.Observe(ctx, task("t1", 2, img)) }, true, 1},
		{"fail/duplicate", func() bool { return m.Observe(ctx, task("t1", 2, img)) }, false, 1},
		{"fail/older", func() bool { return m.Observe(ctx, task("t1", 1, img)) }, false, 1},
		{"fail/older with other images", func() bool { return m.Observe(ctx, task("t1", 1, "other")) }, false, 1},
		{"fail/newer but identical", func() bool { return m.Observe(ctx, task("t1", 3, img)) }, false, 1},
		{"fail/version 3 again, changed", func() bool { return m.Observe(ctx, task("t1", 3, "other")) }, false, 1},
		{"fail/stop older than held", func() bool { return m.Gone(ctx, task("t1", 0).ID, 3) }, false, 1},
		{"ok/stopped", func() bool { return m.Gone(ctx, task("t1", 0).ID, 5) }, true, 1},
		{"fail/late running report", func() bool { return m.Observe(ctx, task("t1", 4, img)) }, false, 1},
		{"fail/duplicate stop", func() bool { return m.Gone(ctx, task("t1", 0).ID, 5) }, false, 1},
		{"ok/unknown version accepted", func() bool { return m.Observe(ctx, task("t2", 0, img)) }, true, 2},
		{"ok/unknown version, changed", func() bool { return m.Observe(ctx, task("t2", 0, img, "other")) }, true, 4},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Errorf("%s: returned %v, want %v", s.name, got, s.want)
		}
		if n := c.count(); n != s.calls {
			t.Errorf("%s: Checker called %d times in all, want %d", s.name, n, s.calls)
		}
	}
	if ws := m.Workloads(); len(ws) != 1 || ws[0].Workload.Name != "t2" {
		t.Errorf("workloads = %+v, want only t2", ws)
	}
}

func TestMonitorRevoked(t *testing.T) {
	const (
		imgA = "reg.example/a@sha256:0a" // signed by job-1
		imgB = "reg.example/b@sha256:0b" // signed by job-1
		imgC = "reg.example/c@sha256:0c" // signed by job-2
	)
	c := newChecker()
	c.set(imgA, Result{Compliant: true, Deps: []string{"job-1", "profile-v1"}})
	c.set(imgB, Result{Compliant: true, Deps: []string{"job-1"}})
	c.set(imgC, Result{Compliant: true, Deps: []string{"job-2", "profile-v1"}})
	var r recorder
	m := r.monitor(c, t0)
	ctx := t.Context()
	podA, taskB, podC := pod("prod", "a", imgA), task("b", 1, imgB), pod("prod", "c", imgC)
	for _, w := range []Workload{podA, taskB, podC} {
		m.Observe(ctx, w)
	}
	before := c.count()

	if n := m.Revoked(ctx, []string{"job-unknown"}); n != 0 {
		t.Errorf("Revoked(unrelated) = %d, want 0", n)
	}
	c.set(imgA, Result{Rule: "revoked", Reason: "signing job job-1 revoked", Action: ActionEvict})
	c.set(imgB, Result{Rule: "revoked", Reason: "signing job job-1 revoked", Action: ActionStop})
	if n := m.Revoked(ctx, []string{"job-1"}); n != 2 {
		t.Errorf("Revoked(job-1) = %d, want 2", n)
	}
	if got := c.count() - before; got != 2 {
		t.Errorf("Checker called %d times, want 2 (a and b only)", got)
	}
	c.mu.Lock()
	calledC := c.calls["prod "+imgC]
	c.mu.Unlock()
	if calledC != 1 {
		t.Errorf("c checked %d times, want once (on Observe only)", calledC)
	}
	r.mu.Lock()
	evicted, stopped := slices.Clone(r.evicted), slices.Clone(r.stopped)
	r.mu.Unlock()
	if !slices.Equal(evicted, []string{podA.ID}) || !slices.Equal(stopped, []string{taskB.ID}) {
		t.Errorf("evicted %q, stopped %q; want %q and %q", evicted, stopped, podA.ID, taskB.ID)
	}
	// A profile version shared by a and c: a is already revoked and
	// rests on no deps now, so only c is checked.
	if n := m.Revoked(ctx, []string{"profile-v1"}); n != 1 {
		t.Errorf("Revoked(profile-v1) = %d, want 1", n)
	}
}

func TestMonitorReplace(t *testing.T) {
	const ok, bad = "reg.example/ok@sha256:01", "reg.example/bad@sha256:02"
	c := newChecker()
	c.set(ok, Result{Compliant: true})
	c.set(bad, Result{Rule: "unsigned"})
	var r recorder
	m := r.monitor(c, t0)
	ctx := t.Context()
	m.Observe(ctx, task("t1", 1, bad))
	m.Replace(ctx, SourceKubernetes, []Workload{pod("prod", "a", ok), pod("prod", "b", bad), pod("dev", "c", bad)})
	if vs := m.Violations(); len(vs) != 3 {
		t.Fatalf("violations = %+v, want 3", vs)
	}
	calls := c.count()
	// The same list again checks nothing.
	m.Replace(ctx, SourceKubernetes, []Workload{pod("prod", "a", ok), pod("prod", "b", bad), pod("dev", "c", bad)})
	if n := c.count(); n != calls {
		t.Errorf("an unchanged list made %d checks", n-calls)
	}
	// b and c are gone; the ECS task is of another source and stays.
	m.Replace(ctx, SourceKubernetes, []Workload{pod("prod", "a", ok)})
	var ids []string
	for _, s := range m.Workloads() {
		ids = append(ids, s.Workload.ID)
	}
	want := []string{"arn:aws:ecs:eu-west-1:111122223333:task/prod/t1", "kubernetes/prod/a"}
	if !slices.Equal(ids, want) {
		t.Errorf("workloads = %q, want %q", ids, want)
	}
	if vs := m.Violations(); len(vs) != 1 || vs[0].Workload.Source != SourceECS {
		t.Errorf("violations = %+v, want only the task's", vs)
	}
	// A pod replaced under the same name (new UID) is new: its violation
	// is acted on again.
	_, _, before, _ := r.counts()
	p := pod("prod", "a", bad)
	p.UID = "uid-a-2"
	m.Replace(ctx, SourceKubernetes, []Workload{p})
	if _, _, after, _ := r.counts(); after != before+1 {
		t.Errorf("notifications for the new pod = %d, want 1", after-before)
	}
}

func TestMonitorKeepsAdmissionPrincipal(t *testing.T) {
	c := newChecker()
	c.set("reg.example/a:1", Result{Compliant: true})
	c.set("reg.example/a@sha256:01", Result{Compliant: true})
	m := &Monitor{Checker: c}
	admitted := pod("prod", "a", "reg.example/a:1")
	admitted.UID, admitted.Principal = "", "alice@example.com"
	m.Observe(t.Context(), admitted)
	listed := pod("prod", "a", "reg.example/a@sha256:01")
	listed.Principal = ""
	m.Replace(t.Context(), SourceKubernetes, []Workload{listed})
	ws := m.Workloads()
	if len(ws) != 1 || ws[0].Workload.Principal != "alice@example.com" || ws[0].Workload.UID != "uid-a" {
		t.Fatalf("workloads = %+v, want the listed pod with the admitted principal", ws)
	}
	if ws[0].Images[0].Image != "reg.example/a@sha256:01" || !ws[0].Images[0].Checked {
		t.Errorf("image status = %+v, want the digest checked", ws[0].Images[0])
	}
}

func TestCheckAllChecksEachImageOnce(t *testing.T) {
	c := newChecker()
	images := []string{"reg.example/a@sha256:01", "reg.example/b@sha256:02", "reg.example/c@sha256:03"}
	for _, img := range images {
		c.set(img, Result{Compliant: true})
	}
	m := &Monitor{Checker: c, Now: func() time.Time { return t0 }}
	var ws []Workload
	for i := range 300 {
		ws = append(ws, pod("prod", fmt.Sprint("p", i), images[i%3], images[(i+1)%3]))
	}
	ws = append(ws, pod("dev", "d", images[0])) // another namespace: its own check
	m.Replace(t.Context(), SourceKubernetes, ws)
	if n := c.count(); n != 4 {
		t.Errorf("Replace made %d checks, want 4", n)
	}
	for i := range 2 {
		round, err := m.CheckAll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if round.Workloads != 301 || round.Checks != 4 {
			t.Errorf("round %d = %+v, want 301 workloads and 4 checks", i, round)
		}
	}
	if n := c.count(); n != 12 {
		t.Errorf("Checker called %d times, want 12", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range c.calls {
		if n != 3 {
			t.Errorf("%s checked %d times, want 3", k, n)
		}
	}
}

func TestMonitorLimits(t *testing.T) {
	c := newChecker()
	now := t0
	m := &Monitor{Checker: c, Now: func() time.Time { return now }, MaxWorkloads: 2, TombstoneTTL: time.Minute}
	ctx := t.Context()
	m.Observe(ctx, pod("p", "a", "i"))
	m.Observe(ctx, pod("p", "b", "i"))
	if m.Observe(ctx, pod("p", "c", "i")) {
		t.Error("Observe beyond MaxWorkloads returned true")
	}
	// A tombstone refuses a late report until it expires.
	tk := task("t", 7, "i")
	m.Gone(ctx, tk.ID, 8)
	m.Gone(ctx, pod("p", "b").ID, 0)
	if m.Observe(ctx, tk) {
		t.Error("a report older than the stop was accepted")
	}
	now = now.Add(2 * time.Minute)
	m.CheckAll(ctx)
	if !m.Observe(ctx, tk) {
		t.Error("the tombstone outlived TombstoneTTL")
	}
	if _, err := (&Monitor{}).CheckAll(ctx); !errors.Is(err, ErrNoChecker) {
		t.Errorf("CheckAll without Checker: %v, want ErrNoChecker", err)
	}
}

func TestMonitorConcurrent(t *testing.T) {
	c := newChecker()
	c.set("good", Result{Compliant: true})
	var r recorder
	m := r.monitor(c, t0)
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				img := "good"
				if i%5 == 0 {
					img = "bad"
				}
				w := task(fmt.Sprint(g, "-", i%10), int64(i+1), img)
				m.Observe(ctx, w)
				if i%7 == 0 {
					m.Gone(ctx, w.ID, int64(i+2))
				}
				m.Violations()
				m.Workloads()
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			m.CheckAll(ctx)
			m.Revoked(ctx, []string{"x"})
		}
	})
	wg.Wait()
	// Every remaining violation was acted on exactly once.
	seen := map[violationKey]int{}
	r.mu.Lock()
	for _, v := range r.notified {
		seen[violationKey{v.Workload.ID, v.Image}]++
	}
	r.mu.Unlock()
	for _, v := range m.Violations() {
		if v.Outcome == "" {
			t.Errorf("violation %s left in progress", v.Workload.ID)
		}
		if seen[violationKey{v.Workload.ID, v.Image}] == 0 {
			t.Errorf("violation %s never notified", v.Workload.ID)
		}
	}
}

func TestMonitorRun(t *testing.T) {
	checked := make(chan struct{}, 1)
	m := &Monitor{Checker: CheckerFunc(func(ctx context.Context, w Workload, image string) (Result, error) {
		select {
		case checked <- struct{}{}:
		default:
		}
		return Result{Compliant: true}, nil
	})}
	m.Observe(t.Context(), pod("p", "a", "img"))
	<-checked // the check of Observe
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { m.Run(ctx, time.Millisecond); close(done) }()
	deadline := time.After(10 * time.Second)
	for range 2 {
		select {
		case <-checked:
		case <-deadline:
			t.Fatal("Run made no round in 10s")
		}
	}
	cancel()
	<-done
}

func BenchmarkCheckAll(b *testing.B) {
	free := CheckerFunc(func(ctx context.Context, w Workload, image string) (Result, error) {
		return Result{Compliant: true, Deps: []string{"job"}}, nil
	})
	m := &Monitor{Checker: free}
	ws := make([]Workload, 10_000)
	for i := range ws {
		ws[i] = pod("prod", fmt.Sprint("pod-", i), fmt.Sprintf("reg.example/app@sha256:%064x", i%500))
	}
	m.Replace(b.Context(), SourceKubernetes, ws)
	b.ReportAllocs()
	var checks int
	for b.Loop() {
		r, err := m.CheckAll(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		checks = r.Checks
	}
	b.ReportMetric(float64(checks), "checks/round")
	b.ReportMetric(float64(len(ws)), "workloads/round")
}
