package inventory

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Monitor's limits.
const (
	DefaultConcurrency  = 8
	DefaultMaxWorkloads = 100_000
	DefaultTombstoneTTL = time.Hour
)

// ErrNoChecker is returned by [Monitor.CheckAll] when the Monitor has no
// Checker.
var ErrNoChecker = errors.New("inventory: Monitor.Checker is nil: set it to the image verifier")

// Monitor holds the inventory of running workloads and verifies their
// images. Set its fields before the first call; its methods are safe for
// concurrent use. The zero Monitor with a Checker is ready to use.
//
// The hooks (Evict, Stop, Notify, OnViolation) are called without the
// Monitor's lock held, from the goroutine that made the check, and may
// call the Monitor's read methods.
type Monitor struct {
	// Checker gives the verdicts. Required.
	Checker Checker
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Evict removes a Kubernetes workload whose violation's Action is
	// ActionEvict or ActionStop; nil only reports.
	Evict func(ctx context.Context, w Workload) error
	// Stop stops an ECS workload whose violation's Action is ActionStop
	// or ActionEvict; nil only reports.
	Stop func(ctx context.Context, w Workload) error
	// Notify sends the notifications of a new violation (webhooks). It is
	// called once per violation, after its action; delivering
	// asynchronously is the caller's business.
	Notify func(ctx context.Context, v Violation)
	// OnViolation records a violation (audit event, metrics). It is
	// called after the action with its outcome, and again after each
	// retry of a failed action.
	OnViolation func(ctx context.Context, v Violation)
	// Log receives what the Monitor does; nil discards.
	Log *slog.Logger
	// Concurrency is the number of checks in flight (default 8).
	Concurrency int
	// MaxWorkloads bounds the inventory (default 100,000): a new workload
	// beyond it is refused, with an error in the log.
	MaxWorkloads int
	// TombstoneTTL is how long the version of a stopped ECS task is kept
	// to refuse reports older than its stop (default one hour).
	TombstoneTTL time.Duration

	changes    atomic.Int64 // see Changes
	mu         sync.Mutex
	entries    map[string]*entry
	tombstones map[string]tombstone
	violations map[violationKey]*violationRecord
}

type entry struct {
	w      Workload
	images []*imageState // in the order of w.Images
}

// imageState is the state of one image of one entry. A check holds
// pointers to the states it applies to, so that applying a verdict needs
// no lookup; current is false once the state is no longer the entry's.
type imageState struct {
	ImageStatus
	e         *entry
	current   bool
	violating bool // m.violations holds its violation
}

type tombstone struct {
	version int64
	at      time.Time
}

type violationKey struct{ id, image string }

type violationRecord struct {
	v      Violation
	acting bool // an action is in progress: do not start another
	failed bool // the last action failed: retry it next round
}

// Round is the account of one [Monitor.CheckAll].
type Round struct {
	// Workloads is the number of workloads in the inventory.
	Workloads int
	// Checks is the number of distinct (scope, image) checks made.
	Checks int
	// Violations counts the (workload, image) pairs found not compliant.
	Violations int
	// New counts the violations found for the first time, and so acted on.
	New int
	// Failures counts the checks that made no verdict.
	Failures int
	// Duration is how long the round took by the Monitor's clock.
	Duration time.Duration
}

// check is one call of the Checker whose verdict applies to every
// target.
type check struct {
	w       Workload // the workload the Checker is shown
	image   string
	targets []*imageState
}

// action is a violation to act on, outside the lock.
type action struct {
	key   violationKey
	rec   *violationRecord
	v     Violation
	retry bool
}

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Monitor) log() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.New(slog.DiscardHandler)
}

// init makes the maps; m.mu must be held.
func (m *Monitor) init() {
	if m.entries == nil {
		m.entries = make(map[string]*entry)
		m.tombstones = make(map[string]tombstone)
		m.violations = make(map[violationKey]*violationRecord)
	}
}

// Observe adds or updates a workload. A report whose Version is not newer
// than the one held (when both are set), or not newer than the workload's
// stop, is ignored and Observe returns false; so does a report whose
// content is the same, whose newer Version and SeenAt are kept, without a
// check. A new or changed workload is checked before Observe returns
// true.
func (m *Monitor) Observe(ctx context.Context, w Workload) bool {
	m.mu.Lock()
	m.init()
	checks, ok := m.putLocked(w)
	m.mu.Unlock()
	if !ok {
		return false
	}
	m.run(ctx, checks)
	return true
}

// putLocked records w and returns the checks it needs, or false when w
// changes nothing. m.mu must be held.
func (m *Monitor) putLocked(w Workload) ([]check, bool) {
	if w.ID == "" {
		m.log().Error("workload report without an ID ignored", "source", w.Source, "name", w.Name)
		return nil, false
	}
	if t, ok := m.tombstones[w.ID]; ok && w.Version > 0 {
		if w.Version <= t.version {
			return nil, false
		}
	}
	w.Images = dedup(w.Images)
	e := m.entries[w.ID]
	if e != nil && e.w.Source == w.Source && (w.UID == "" || e.w.UID == "" || w.UID == e.w.UID) {
		// The API server's list knows no principal, and an admission
		// request may come before the pod has a UID: keep what is known.
		w.Principal = cmp.Or(w.Principal, e.w.Principal)
		w.UID = cmp.Or(w.UID, e.w.UID)
	}
	if e != nil {
		if w.Version > 0 && e.w.Version > 0 && w.Version <= e.w.Version {
			return nil, false
		}
		if sameContent(e.w, w) {
			m.changes.Add(1)
			e.w.SeenAt = w.SeenAt
			e.w.Version = max(e.w.Version, w.Version)
			return nil, false
		}
	} else if max := cmp.Or(m.MaxWorkloads, DefaultMaxWorkloads); len(m.entries) >= max {
		m.log().Error("inventory is full: workload ignored; raise MaxWorkloads", "id", w.ID, "max", max)
		return nil, false
	}
	delete(m.tombstones, w.ID)
	if w.SeenAt.IsZero() {
		w.SeenAt = m.now()
	}
	if e == nil || e.w.UID != w.UID || e.w.Source != w.Source {
		// A new workload, or a new pod under an old name: start afresh.
		m.removeLocked(w.ID)
		e = &entry{}
		m.entries[w.ID] = e
	}
	m.changes.Add(1)
	e.w = w
	old := e.images
	e.images = make([]*imageState, 0, len(w.Images))
	checks := make([]check, 0, len(w.Images))
	for _, img := range w.Images {
		i := slices.IndexFunc(old, func(st *imageState) bool { return st != nil && st.Image == img })
		var st *imageState
		if i >= 0 {
			st, old[i] = old[i], nil
		} else {
			st = &imageState{ImageStatus: ImageStatus{Image: img}, e: e, current: true}
		}
		e.images = append(e.images, st)
		if rec := m.violations[violationKey{w.ID, img}]; rec != nil {
			rec.v.Workload = w
		}
		checks = append(checks, check{w: w, image: img, targets: []*imageState{st}})
	}
	for _, st := range old {
		if st != nil {
			st.current = false
			delete(m.violations, violationKey{w.ID, st.Image})
		}
	}
	return checks, true
}

// removeLocked drops a workload and its violations. m.mu must be held.
func (m *Monitor) removeLocked(id string) bool {
	e := m.entries[id]
	if e == nil {
		return false
	}
	for _, st := range e.images {
		st.current = false
		delete(m.violations, violationKey{id, st.Image})
	}
	delete(m.entries, id)
	m.changes.Add(1)
	return true
}

// Gone records that a workload stopped: it leaves the inventory, and its
// violations the list. A version not newer than the one held (when both
// are set) changes nothing. A version is remembered for TombstoneTTL so
// that a report older than the stop, delivered late, does not bring the
// workload back. Gone returns whether a workload was removed.
func (m *Monitor) Gone(ctx context.Context, id string, version int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	e := m.entries[id]
	if e != nil && version > 0 && e.w.Version > 0 && version <= e.w.Version {
		return false
	}
	if version > 0 {
		if t, ok := m.tombstones[id]; !ok || t.version < version {
			m.tombstones[id] = tombstone{version: version, at: m.now()}
			m.changes.Add(1)
		}
	}
	if !m.removeLocked(id) {
		return false
	}
	m.log().InfoContext(ctx, "workload gone", "id", id, "version", version)
	return true
}

// Replace takes a full list of the workloads of one source: new ones are
// added and checked at once, changed ones updated and checked, and those
// of that source absent from the list dropped with their violations.
// Workloads of the list whose Source is empty are taken to be of source;
// those of another source are ignored.
func (m *Monitor) Replace(ctx context.Context, source string, ws []Workload) {
	m.mu.Lock()
	m.init()
	present := make(map[string]bool, len(ws))
	var checks []check
	for _, w := range ws {
		if w.Source == "" {
			w.Source = source
		}
		if w.Source != source {
			m.log().WarnContext(ctx, "workload of another source in a list ignored", "id", w.ID, "source", w.Source, "list", source)
			continue
		}
		present[w.ID] = true
		if c, ok := m.putLocked(w); ok {
			checks = append(checks, c...)
		}
	}
	dropped := 0
	for id, e := range m.entries {
		if e.w.Source == source && !present[id] {
			m.removeLocked(id)
			dropped++
		}
	}
	m.mu.Unlock()
	if dropped > 0 {
		m.log().InfoContext(ctx, "workloads no longer listed dropped", "source", source, "count", dropped)
	}
	m.run(ctx, group(checks))
}

// group merges checks of the same (source, scope, image) into one.
func group(checks []check) []check {
	type key struct{ source, scope, image string }
	idx := make(map[key]int, len(checks))
	var out []check
	for _, c := range checks {
		k := key{c.w.Source, c.w.scope(), c.image}
		if i, ok := idx[k]; ok {
			out[i].targets = append(out[i].targets, c.targets...)
			continue
		}
		idx[k] = len(out)
		out = append(out, check{w: c.w, image: c.image, targets: slices.Clone(c.targets)})
	}
	return out
}

// CheckAll makes one round over every workload: each distinct (scope,
// image) is checked once however many workloads run it, new violations
// are acted on, and failed actions are tried again. It returns the
// round's account, and the context's error when it ended the round early.
func (m *Monitor) CheckAll(ctx context.Context) (Round, error) {
	if m.Checker == nil {
		return Round{}, ErrNoChecker
	}
	start := m.now()
	m.mu.Lock()
	m.init()
	ttl := cmp.Or(m.TombstoneTTL, DefaultTombstoneTTL)
	for id, t := range m.tombstones {
		if start.Sub(t.at) > ttl {
			delete(m.tombstones, id)
			m.changes.Add(1)
		}
	}
	type key struct{ source, scope, image string }
	idx := make(map[key]int)
	var checks []check
	for _, e := range m.entries {
		scope := e.w.scope()
		for _, st := range e.images {
			k := key{e.w.Source, scope, st.Image}
			if i, ok := idx[k]; ok {
				checks[i].targets = append(checks[i].targets, st)
				continue
			}
			idx[k] = len(checks)
			checks = append(checks, check{w: e.w, image: st.Image, targets: []*imageState{st}})
		}
	}
	r := Round{Workloads: len(m.entries)}
	m.mu.Unlock()

	s := m.run(ctx, checks)
	r.Checks, r.Violations, r.New, r.Failures = s.checks, s.violations, s.new, s.failures
	r.Duration = m.now().Sub(start)
	return r, ctx.Err()
}

// Revoked checks again, at once, every image whose last verdict rests on
// any of deps (signing jobs, profile versions that were just revoked), and
// acts on the violations found. It returns how many workloads were
// checked. The Checker must not answer from a cache older than the
// revocation.
func (m *Monitor) Revoked(ctx context.Context, deps []string) int {
	if len(deps) == 0 {
		return 0
	}
	set := make(map[string]bool, len(deps))
	for _, d := range deps {
		set[d] = true
	}
	m.mu.Lock()
	m.init()
	var checks []check
	n := 0
	for _, e := range m.entries {
		hit := false
		for _, st := range e.images {
			if !st.Checked || !slices.ContainsFunc(st.Result.Deps, func(d string) bool { return set[d] }) {
				continue
			}
			checks = append(checks, check{w: e.w, image: st.Image, targets: []*imageState{st}})
			hit = true
		}
		if hit {
			n++
		}
	}
	m.mu.Unlock()
	if n > 0 {
		m.log().InfoContext(ctx, "revocation: checking affected workloads again", "deps", deps, "workloads", n)
	}
	m.run(ctx, group(checks))
	return n
}

// Run makes a round every interval until ctx ends.
func (m *Monitor) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r, err := m.CheckAll(ctx)
		if err != nil {
			m.log().ErrorContext(ctx, "inventory round failed", "err", err)
			continue
		}
		m.log().InfoContext(ctx, "inventory round", "workloads", r.Workloads, "checks", r.Checks,
			"violations", r.Violations, "new", r.New, "failures", r.Failures, "duration", r.Duration)
	}
}

type stats struct{ checks, violations, new, failures int }

type verdict struct {
	done bool
	res  Result
	err  error
}

// run makes the checks, Concurrency at a time, applies their verdicts and
// acts on the violations.
func (m *Monitor) run(ctx context.Context, checks []check) stats {
	var s stats
	if len(checks) == 0 {
		return s
	}
	if m.Checker == nil {
		m.log().ErrorContext(ctx, "workload not checked", "err", ErrNoChecker)
		return s
	}
	verdicts := make([]verdict, len(checks))
	m.parallel(ctx, len(checks), func(i int) {
		c := checks[i]
		res, err := m.Checker.Check(ctx, c.w, c.image)
		verdicts[i] = verdict{done: true, res: res, err: err}
	})

	now := m.now()
	var acts []action
	m.mu.Lock()
	m.changes.Add(1)
	for i, c := range checks {
		vd := verdicts[i]
		if !vd.done {
			continue
		}
		s.checks++
		if vd.err != nil {
			s.failures++
			m.log().WarnContext(ctx, "image check made no verdict; will retry", "image", c.image, "workload", c.w.ID, "err", vd.err)
		}
		for _, st := range c.targets {
			if !st.current {
				continue // gone, or no longer runs the image
			}
			e := st.e
			if vd.err != nil {
				st.Error = vd.err.Error()
				continue
			}
			st.Checked, st.Result, st.CheckedAt, st.Error = true, vd.res, now, ""
			k := violationKey{e.w.ID, c.image}
			if vd.res.Compliant {
				if st.violating {
					delete(m.violations, k)
					st.violating = false
				}
				continue
			}
			s.violations++
			rec := m.violations[k]
			if rec != nil && rec.v.Rule == vd.res.Rule {
				if rec.failed && !rec.acting {
					rec.acting = true
					acts = append(acts, action{key: k, rec: rec, v: rec.v, retry: true})
				}
				continue
			}
			s.new++
			rec = &violationRecord{acting: true, v: Violation{
				Workload: e.w, Image: c.image, Rule: vd.res.Rule, Reason: vd.res.Reason,
				Action: cmp.Or(vd.res.Action, ActionReport), DetectedAt: now,
			}}
			m.violations[k] = rec
			st.violating = true
			acts = append(acts, action{key: k, rec: rec, v: rec.v})
		}
	}
	m.mu.Unlock()

	m.parallel(ctx, len(acts), func(i int) { m.act(ctx, acts[i]) })
	return s
}

// parallel calls f(0) … f(n-1), Concurrency at a time, and stops starting
// calls when ctx ends.
func (m *Monitor) parallel(ctx context.Context, n int, f func(i int)) {
	workers := min(cmp.Or(m.Concurrency, DefaultConcurrency), n)
	if workers <= 1 {
		for i := 0; i < n && ctx.Err() == nil; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// act carries out a violation's action, records its outcome, and tells
// the hooks.
func (m *Monitor) act(ctx context.Context, a action) {
	v := a.v
	var failed bool
	v.Outcome, failed = m.enforce(ctx, v)
	m.mu.Lock()
	if m.violations[a.key] == a.rec {
		a.rec.v.Outcome, a.rec.failed, a.rec.acting = v.Outcome, failed, false
		m.changes.Add(1)
	}
	m.mu.Unlock()

	lvl := slog.LevelWarn
	if failed {
		lvl = slog.LevelError
	}
	m.log().Log(ctx, lvl, "workload violates policy", "id", v.Workload.ID, "image", v.Image,
		"rule", v.Rule, "reason", v.Reason, "action", v.Action, "outcome", v.Outcome, "retry", a.retry)
	if m.OnViolation != nil {
		m.OnViolation(ctx, v)
	}
	if !a.retry && m.Notify != nil {
		m.Notify(ctx, v)
	}
}

// enforce carries out the action of v and returns the outcome, and
// whether the action failed.
func (m *Monitor) enforce(ctx context.Context, v Violation) (string, bool) {
	if v.Action != ActionEvict && v.Action != ActionStop {
		return OutcomeReported, false
	}
	switch v.Workload.Source {
	case SourceKubernetes:
		if m.Evict == nil {
			return OutcomeReported, false
		}
		if err := m.Evict(ctx, v.Workload); err != nil {
			return "evict failed: " + err.Error(), true
		}
		return OutcomeEvicted, false
	case SourceECS:
		if m.Stop == nil {
			return OutcomeReported, false
		}
		if err := m.Stop(ctx, v.Workload); err != nil {
			return "stop failed: " + err.Error(), true
		}
		return OutcomeStopped, false
	}
	return OutcomeReported, false
}

// Workloads returns every workload with the last verdicts on its images,
// sorted by ID.
func (m *Monitor) Workloads() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.entries))
	for _, e := range m.entries {
		s := Status{Workload: e.w, Images: make([]ImageStatus, 0, len(e.w.Images))}
		for _, st := range e.images {
			c := st.ImageStatus
			c.Result.Deps = slices.Clone(c.Result.Deps)
			s.Images = append(s.Images, c)
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Workload.ID, b.Workload.ID) })
	return out
}

// Violations returns the current violations, sorted by workload ID and
// image. A workload that becomes compliant or is gone leaves the list. An
// empty Outcome means the action is still in progress.
func (m *Monitor) Violations() []Violation {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Violation, 0, len(m.violations))
	for _, rec := range m.violations {
		out = append(out, rec.v)
	}
	slices.SortFunc(out, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.Workload.ID, b.Workload.ID), cmp.Compare(a.Image, b.Image))
	})
	return out
}

// dedup returns images without repeats, in their first order, in a new
// slice.
func dedup(images []string) []string {
	out := make([]string, 0, len(images))
	for _, img := range images {
		if img != "" && !slices.Contains(out, img) {
			out = append(out, img)
		}
	}
	return out
}
