package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/signet/signet/internal/inventory"
	"github.com/signet/signet/internal/store"
)

// Continuous validation on nodes sharing a database. Any node takes what
// reaches it (a pod its webhook admitted, an ECS event, a revocation) and
// queues it in the database; the node holding the "workloads" lease
// applies the queue in order, runs the check rounds and the Kubernetes
// list, acts on violations, and saves the inventory's state after each
// change in the same transaction that marks what it applied (fenced by
// the lease). The other nodes serve the saved state (GET /workloads,
// /metrics) and, when the holder dies, one of them takes the lease once
// it lapses (workloads.leader_lease, 30 s) and carries on from that
// state: nothing queued is lost, and an action whose outcome was not
// saved is carried out again (at least once).

const (
	workloadsLease = "workloads"
	// workloadsAnswerWait bounds how long POST /ecs/events waits for
	// the holder to apply the event and say whether it changed anything;
	// after it the answer says the event is queued.
	workloadsAnswerWait = 5 * time.Second
	// workloadInputsKept is how long applied inputs stay (for the
	// answers of their waiting senders) before they are deleted.
	workloadInputsKept = 10 * time.Minute
	// busWorkloads: an input was queued (the holder applies it now);
	// busWorkloadState: the state was saved (the others read it now).
	busWorkloads     = "workloads"
	busWorkloadState = "workload-state"
)

// workloadInput is one queued input.
type workloadInput struct {
	Op       string              `json:"op"` // observe, gone, revoked
	Workload *inventory.Workload `json:"workload,omitempty"`
	ID       string              `json:"id,omitempty"`
	Version  int64               `json:"version,omitempty"`
	Deps     []string            `json:"deps,omitempty"`
}

// applyWorkloadInput applies one input to the monitor and reports
// whether it changed anything.
func (s *Server) applyWorkloadInput(ctx context.Context, in workloadInput) bool {
	m := s.workloads.monitor
	switch in.Op {
	case "observe":
		if in.Workload != nil {
			return m.Observe(ctx, *in.Workload)
		}
	case "gone":
		return m.Gone(ctx, in.ID, in.Version)
	case "revoked":
		// This node's verdicts may predate the revocation (the other
		// node's message may not have arrived yet).
		if s.admission != nil && s.admission.Cache != nil {
			s.admission.Cache.Evict(in.Deps...)
		}
		return m.Revoked(ctx, in.Deps) > 0
	}
	s.log.WarnContext(ctx, "ignored a malformed continuous validation input", "op", in.Op)
	return false
}

// submitWorkloadInput applies an input here, alone, or queues it for the
// node running continuous validation. With wait it waits (a bounded
// time) for that node's answer: known is false when it did not come.
func (s *Server) submitWorkloadInput(ctx context.Context, in workloadInput, wait bool) (changed, known bool, err error) {
	if !s.shared() {
		return s.applyWorkloadInput(ctx, in), true, nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return false, false, err
	}
	seq, err := s.db.Workloads.AppendWorkloadInput(ctx, b, s.now())
	if err != nil {
		return false, false, err
	}
	s.wakeWorkloads()
	s.publish(ctx, busWorkloads)
	if !wait {
		return false, false, nil
	}
	deadline := time.Now().Add(workloadsAnswerWait)
	pause := 10 * time.Millisecond
	for {
		applied, changed, err := s.db.Workloads.WorkloadInputResult(ctx, seq)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, false, err
		}
		if applied {
			return changed, true, nil
		}
		if time.Now().After(deadline) {
			return false, false, nil
		}
		select {
		case <-ctx.Done():
			return false, false, nil
		case <-time.After(pause):
			pause = min(pause*3/2, 250*time.Millisecond) // a burst of events polls less
		}
	}
}

// wakeWorkloads has the lease holder look at the queue now.
func (s *Server) wakeWorkloads() {
	if s.workloads == nil {
		return
	}
	select {
	case s.workloads.wake <- struct{}{}:
	default:
	}
}

// wakeWorkloadState has a node that does not hold the lease read the
// saved state now.
func (s *Server) wakeWorkloadState() {
	if s.workloads == nil || s.workloads.leading.Load() {
		return
	}
	select {
	case s.workloads.stateWake <- struct{}{}:
	default:
	}
}

// runSharedWorkloads takes part in continuous validation on a shared
// database until ctx ends: it holds the lease and does the work, or
// serves the state the holder saves.
func (s *Server) runSharedWorkloads(ctx context.Context) {
	wl := s.workloads
	lease := s.cfg.Workloads.Lease()
	tick := time.NewTicker(lease / 10)
	defer tick.Stop()
	var stop context.CancelFunc
	var done chan struct{}
	var seen time.Time    // when the saved state this node last read was saved
	var renewed time.Time // when this node last renewed the lease it holds
	leading := func() bool { return stop != nil }
	demote := func() {
		stop()
		<-done
		stop, done = nil, nil
		wl.leading.Store(false)
	}
	for {
		if leading() {
			select {
			case <-done: // it stopped on its own: the lease was lost
				stop()
				stop, done = nil, nil
				wl.leading.Store(false)
			default:
			}
		}
		now := s.now()
		ok, err := s.db.AcquireLease(ctx, workloadsLease, s.nodeID, now, now.Add(lease))
		switch {
		case err != nil:
			if ctx.Err() != nil {
				break
			}
			s.log.WarnContext(ctx, "failed to renew the continuous validation lease", "err", err)
			// Cut off from the database: step down before the lease can
			// lapse and another node take over, so that two never act.
			if leading() && time.Since(renewed) > lease*7/10 {
				s.log.ErrorContext(ctx, "could not renew the continuous validation lease: stepping down", "node", s.nodeID)
				demote()
			}
		case ok && !leading():
			// Lead only from the saved state: a node that cannot read it
			// would overwrite it with its own older copy.
			at, err := s.readWorkloadState(ctx, time.Time{})
			if err != nil {
				s.log.ErrorContext(ctx, "took the continuous validation lease but cannot read the saved state: giving it back", "err", err)
				s.db.ReleaseLease(ctx, workloadsLease, s.nodeID)
				break
			}
			seen, renewed = at, time.Now()
			lctx, cancel := context.WithCancel(ctx)
			stop, done = cancel, make(chan struct{})
			wl.leading.Store(true)
			s.log.InfoContext(ctx, "this node runs continuous validation", "node", s.nodeID)
			go func() { defer close(done); s.leadWorkloads(lctx) }()
		case ok:
			renewed = time.Now()
		case leading():
			s.log.WarnContext(ctx, "another node runs continuous validation now", "node", s.nodeID)
			demote()
		default:
			if at, err := s.readWorkloadState(ctx, seen); err == nil {
				seen = at
			} else {
				s.log.WarnContext(ctx, "failed to read continuous validation's saved state", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			if leading() {
				demote()
				// Another node takes over at once rather than after the lease.
				s.db.ReleaseLease(context.WithoutCancel(ctx), workloadsLease, s.nodeID)
			}
			return
		case <-tick.C:
		case <-wl.stateWake:
		}
	}
}

// WorkloadsLeader reports whether this node runs continuous validation
// for the nodes sharing its database (always, alone).
func (s *Server) WorkloadsLeader() bool {
	if s.workloads == nil {
		return false
	}
	return !s.shared() || s.workloads.leading.Load()
}

// readWorkloadState restores the monitor from the saved state when it
// was saved at another time than seen (the holder's clock, which a new
// holder may have behind the old one's), and returns the time of the
// state the monitor holds. Nothing saved yet is no error.
func (s *Server) readWorkloadState(ctx context.Context, seen time.Time) (time.Time, error) {
	at, err := s.db.Workloads.WorkloadStateTime(ctx)
	if err != nil || at.IsZero() || at.Equal(seen) {
		return seen, err
	}
	b, at, err := s.db.Workloads.WorkloadState(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return seen, nil
	}
	if err != nil {
		return seen, err
	}
	var st inventory.State
	if err := json.Unmarshal(b, &st); err != nil {
		return seen, fmt.Errorf("continuous validation's saved state: %w", err)
	}
	s.workloads.monitor.Restore(st)
	return at, nil
}

// leadWorkloads does continuous validation while this node holds the
// lease (until ctx ends): it applies the queue, makes the rounds, lists
// the cluster, and saves the state whenever it changed.
func (s *Server) leadWorkloads(ctx context.Context) {
	wl := s.workloads
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	saved := int64(-1)
	defer func() {
		// Handing over (the node stops, or another took the lease): the
		// rounds and the list stop first, then what they changed since
		// the last save is saved, if the lease still allows, within a
		// bound (a database that hangs must not keep the node from
		// stepping down).
		cancel()
		wg.Wait()
		if n := wl.monitor.Changes(); n != saved {
			if b, err := json.Marshal(wl.monitor.State()); err == nil {
				sctx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				s.db.Workloads.SaveWorkloadState(sctx, workloadsLease, s.nodeID, b, nil, s.now(), workloadInputsKept)
				done()
			}
		}
	}()
	wg.Go(func() {
		t := time.NewTicker(s.cfg.Workloads.Interval())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if r, err := wl.monitor.CheckAll(ctx); err == nil {
				s.log.InfoContext(ctx, "inventory round", "workloads", r.Workloads, "checks", r.Checks, "violations", r.Violations, "new", r.New, "failures", r.Failures)
			}
		}
	})
	wg.Go(func() { s.listPods(ctx) })
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		applied := map[int64]bool{}
		if pending, err := s.db.Workloads.PendingWorkloadInputs(ctx, 100); err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "failed to read continuous validation's queue", "err", err)
			}
		} else {
			for _, p := range pending {
				var in workloadInput
				if err := json.Unmarshal(p.Input, &in); err != nil {
					s.log.WarnContext(ctx, "ignored a malformed continuous validation input", "seq", p.Seq, "err", err)
					applied[p.Seq] = false
					continue
				}
				applied[p.Seq] = s.applyWorkloadInput(ctx, in)
			}
		}
		if n := wl.monitor.Changes(); n != saved || len(applied) > 0 {
			b, err := json.Marshal(wl.monitor.State())
			if err == nil {
				err = s.db.Workloads.SaveWorkloadState(ctx, workloadsLease, s.nodeID, b, applied, s.now(), workloadInputsKept)
			}
			switch {
			case errors.Is(err, store.ErrLeaseLost):
				s.log.WarnContext(ctx, "lost the continuous validation lease: stopping", "node", s.nodeID)
				return
			case err != nil:
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "failed to save continuous validation's state", "err", err)
				}
			default:
				saved = n
				s.publish(ctx, busWorkloadState)
			}
		}
		if len(applied) == 100 {
			continue // more queued
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wl.wake:
		}
	}
}
