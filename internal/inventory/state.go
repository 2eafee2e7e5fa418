package inventory

import (
	"slices"
	"time"
)

// State is what a Monitor holds: its workloads with the last verdicts on
// their images, the stops it remembers, and the current violations. One
// process hands continuous validation to another with it (nodes sharing
// a database, see [Monitor.State] and [Monitor.Restore]).
type State struct {
	Workloads  []Status
	Tombstones []Tombstone      `json:",omitempty"`
	Violations []ViolationState `json:",omitempty"`
}

// Tombstone is the version of a stopped workload, kept to refuse older
// reports.
type Tombstone struct {
	ID      string
	Version int64
	At      time.Time
}

// ViolationState is a current violation; Retry says its action failed,
// or had not finished, and is to be tried again next round.
type ViolationState struct {
	Violation
	Retry bool `json:",omitempty"`
}

// State returns what the Monitor holds.
func (m *Monitor) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	var s State
	for _, e := range m.entries {
		st := Status{Workload: e.w, Images: make([]ImageStatus, 0, len(e.images))}
		for _, img := range e.images {
			c := img.ImageStatus
			c.Result.Deps = slices.Clone(c.Result.Deps)
			st.Images = append(st.Images, c)
		}
		s.Workloads = append(s.Workloads, st)
	}
	for id, t := range m.tombstones {
		s.Tombstones = append(s.Tombstones, Tombstone{ID: id, Version: t.version, At: t.at})
	}
	for _, rec := range m.violations {
		s.Violations = append(s.Violations, ViolationState{Violation: rec.v, Retry: rec.failed || rec.acting})
	}
	return s
}

// Restore replaces what the Monitor holds with s, without checking
// anything: the next round checks as usual, and acts again on the
// violations marked Retry (an action another process may have carried
// out before it stopped: at least once).
func (m *Monitor) Restore(s State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = make(map[string]*entry, len(s.Workloads))
	m.tombstones = make(map[string]tombstone, len(s.Tombstones))
	m.violations = make(map[violationKey]*violationRecord, len(s.Violations))
	for _, t := range s.Tombstones {
		m.tombstones[t.ID] = tombstone{version: t.Version, at: t.At}
	}
	for _, v := range s.Violations {
		m.violations[violationKey{v.Workload.ID, v.Image}] = &violationRecord{v: v.Violation, failed: v.Retry}
	}
	for _, st := range s.Workloads {
		e := &entry{w: st.Workload}
		for _, img := range st.Images {
			_, violating := m.violations[violationKey{st.Workload.ID, img.Image}]
			e.images = append(e.images, &imageState{ImageStatus: img, e: e, current: true, violating: violating})
		}
		m.entries[st.Workload.ID] = e
	}
	m.changes.Add(1)
}

// Changes counts what changed the Monitor's state: a caller that keeps
// the state elsewhere saves it again when the count moved.
func (m *Monitor) Changes() int64 { return m.changes.Load() }
