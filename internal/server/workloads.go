package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet/signet/internal/admission"
	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/inventory"
	"github.com/signet/signet/internal/inventory/webhook"
	"github.com/signet/signet/internal/kube"
)

// MaxECSEvent bounds an ECS event body: EventBridge events are at most
// 256 KiB.
const MaxECSEvent = 256 << 10

// maxNotifying bounds the violation notifications in flight.
const maxNotifying = 16

// workloads is continuous validation: the inventory and its sources.
type workloads struct {
	monitor   *inventory.Monitor
	kube      *kube.Client
	notifying chan struct{}
	// With nodes sharing a database (workloadsnodes.go): whether this
	// node holds the lease, and the wake-ups of its queue loop and, when
	// it does not hold it, of its reading of the saved state.
	leading         atomic.Bool
	wake, stateWake chan struct{}

	mu         sync.Mutex
	violations map[string]int64 // rule → count, for /metrics
}

// openWorkloads builds continuous validation from the configuration
// (nothing when it has no source).
func (s *Server) openWorkloads(ctx context.Context) error {
	wc := s.cfg.Workloads
	if !wc.Enabled() {
		return nil
	}
	if s.admission == nil {
		return errors.New("workloads: continuous validation needs admission.policies")
	}
	wl := &workloads{notifying: make(chan struct{}, maxNotifying), violations: map[string]int64{},
		wake: make(chan struct{}, 1), stateWake: make(chan struct{}, 1)}
	m := &inventory.Monitor{Checker: inventory.CheckerFunc(s.checkWorkloadImage), Log: s.log, OnViolation: s.onViolation}
	if k := wc.Kubernetes; k.Kubeconfig != "" || k.InCluster {
		c, err := kube.New(kube.Config{Kubeconfig: k.Kubeconfig, InCluster: k.InCluster, Context: k.Context})
		if err != nil {
			return fmt.Errorf("workloads.kubernetes: %w", err)
		}
		wl.kube = c
		m.Evict = c.EvictWorkload
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if wc.ECSStopHook.URL != "" {
		m.Stop = (&webhook.StopHook{URL: wc.ECSStopHook.URL, Secret: wc.ECSStopHook.Secret, Client: hc}).Stop
	}
	if len(wc.NotifyURLs) > 0 {
		n := &webhook.Notifier{URLs: wc.NotifyURLs, Client: hc}
		m.Notify = func(ctx context.Context, v inventory.Violation) {
			ctx = context.WithoutCancel(ctx)
			select {
			case wl.notifying <- struct{}{}:
			default:
				s.log.WarnContext(ctx, "violation notification dropped: too many in flight", "workload", v.Workload.ID, "image", v.Image)
				return
			}
			go func() {
				defer func() { <-wl.notifying }()
				if err := n.Send(ctx, v); err != nil {
					s.log.WarnContext(ctx, "violation notification failed", "workload", v.Workload.ID, "err", err)
				}
			}()
		}
	}
	wl.monitor = m
	s.workloads = wl
	// Pods the webhook admits are in the inventory at once (those with
	// a name: a controller's pods get theirs from generateName after
	// admission, and come with the next list).
	s.admission.Admitted = func(ctx context.Context, a admission.Admission) {
		if a.Name == "" {
			return
		}
		w := inventory.Workload{ID: inventory.KubernetesID(a.Namespace, a.Name), Source: inventory.SourceKubernetes,
			Namespace: a.Namespace, Name: a.Name, UID: a.UID, Principal: a.User, SeenAt: time.Now()}
		for _, v := range a.Images {
			ref := v.Ref
			if ref == "" {
				ref = v.Image
			}
			w.Images = append(w.Images, ref)
		}
		go func() {
			if _, _, err := s.submitWorkloadInput(context.WithoutCancel(ctx), workloadInput{Op: "observe", Workload: &w}, false); err != nil {
				s.log.WarnContext(ctx, "failed to queue an admitted pod for continuous validation", "workload", w.ID, "err", err)
			}
		}()
	}
	return nil
}

// checkWorkloadImage judges one image of a running workload by the
// admission policy that covers it.
func (s *Server) checkWorkloadImage(ctx context.Context, w inventory.Workload, image string) (inventory.Result, error) {
	v := s.admission.Check(ctx, w.Namespace, image)
	if v.Transient {
		return inventory.Result{}, errors.New(v.Reason)
	}
	res := inventory.Result{Compliant: v.Allowed, Rule: v.Rule, Reason: v.Reason, Deps: v.Deps, Action: inventory.ActionReport}
	if p := s.admission.PolicyNamed(v.Policy); p != nil && p.Action == "evict" {
		res.Action = inventory.ActionEvict
	}
	return res, nil
}

// onViolation audits a violation and counts it.
func (s *Server) onViolation(ctx context.Context, v inventory.Violation) {
	w := v.Workload
	principal := w.Principal
	if principal == "" {
		principal = w.Source + ":unknown"
	}
	err := s.auditWriter.Append(context.WithoutCancel(ctx), audit.Event{
		Time: v.DetectedAt, Principal: principal, Action: "workloads:Violation", Resource: w.ID,
		Decision: "Violation", Outcome: v.Outcome,
		Detail: fmt.Sprintf("image %s: %s: %s (action %s)", v.Image, v.Rule, v.Reason, v.Action),
	}, false)
	if err != nil {
		s.log.ErrorContext(ctx, "failed to write an audit event", "err", err)
	}
	s.workloads.mu.Lock()
	s.workloads.violations[v.Rule]++
	s.workloads.mu.Unlock()
}

// runWorkloads runs the checks on schedule and the Kubernetes list until
// ctx ends.
func (s *Server) runWorkloads(ctx context.Context) {
	if s.workloads == nil {
		return
	}
	if s.shared() {
		s.runSharedWorkloads(ctx)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.workloads.monitor.Run(ctx, s.cfg.Workloads.Interval()) })
	wg.Go(func() { s.listPods(ctx) })
	wg.Wait()
}

// listPods replaces the Kubernetes part of the inventory with the
// cluster's running pods every list interval, until ctx ends (nothing
// without a cluster).
func (s *Server) listPods(ctx context.Context) {
	c := s.workloads.kube
	if c == nil {
		return
	}
	t := time.NewTicker(s.cfg.Workloads.ListEvery())
	defer t.Stop()
	for {
		pods, err := c.ListPods(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "failed to list the cluster's pods", "err", err)
			}
		} else {
			s.workloads.monitor.Replace(ctx, inventory.SourceKubernetes, pods)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Workloads is the inventory of running workloads, nil when continuous
// validation is not configured.
func (s *Server) Workloads() *inventory.Monitor {
	if s.workloads == nil {
		return nil
	}
	return s.workloads.monitor
}

// ecsEventRequest reports whether r is for POST /ecs/events with a
// bearer token, which is not SigV4 (an S3 POST to a bucket "ecs" would
// be signed).
func (s *Server) ecsEventRequest(r *http.Request) bool {
	return s.workloads != nil && s.cfg.Workloads.ECSEventsSecret != "" && r.Method == http.MethodPost && r.URL.Path == "/ecs/events" &&
		strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// ecsEvents takes an EventBridge "ECS Task State Change" event: a running
// task enters the inventory (and is checked at once), a stopped one
// leaves it. The caller proves itself with the configured secret before
// the body is read.
func (s *Server) ecsEvents(w http.ResponseWriter, r *http.Request) {
	want := "Bearer " + s.cfg.Workloads.ECSEventsSecret
	if got := r.Header.Get("Authorization"); subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="signet-ecs-events"`)
		http.Error(w, "signet: POST /ecs/events needs Authorization: Bearer SECRET (workloads.ecs_events_secret)", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxECSEvent))
	if err != nil {
		http.Error(w, fmt.Sprintf("signet: failed to read the event (at most %d bytes, as EventBridge sends): %v", MaxECSEvent, err), http.StatusRequestEntityTooLarge)
		return
	}
	wl, running, err := inventory.ParseTaskStateChange(body)
	if err != nil {
		http.Error(w, "signet: "+err.Error(), http.StatusBadRequest)
		return
	}
	in := workloadInput{Op: "gone", ID: wl.ID, Version: wl.Version}
	if running {
		in = workloadInput{Op: "observe", Workload: &wl}
	}
	changed, known, err := s.submitWorkloadInput(r.Context(), in, true)
	if err != nil {
		// EventBridge retries an API destination's 5xx.
		s.log.ErrorContext(r.Context(), "failed to queue an ECS event", "task", wl.ID, "err", err)
		http.Error(w, "signet: the event could not be recorded; send it again", http.StatusServiceUnavailable)
		return
	}
	out := map[string]any{"taskArn": wl.ID, "running": running}
	if known {
		out["changed"] = changed
	} else {
		// Queued for the node that runs continuous validation, which
		// has not answered yet (it may be taking over).
		out["queued"] = true
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
