package config

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Workloads configures continuous validation: Signet keeps an inventory
// of what runs (Kubernetes pods it admitted or lists, ECS tasks reported
// by EventBridge events), re-verifies every running workload's images by
// the admission policies on a schedule and at once when a revocation
// affects them, and reports or acts on violations.
type Workloads struct {
	// CheckInterval is how often every running workload is verified
	// again, a duration (default 5m; at least 1s).
	CheckInterval string `yaml:"check_interval"`
	// Kubernetes, when Kubeconfig or InCluster is set, lists the
	// cluster's running pods every ListInterval and evicts pods whose
	// policy's action is evict.
	Kubernetes KubernetesSource `yaml:"kubernetes"`
	// ECSEventsSecret, when set, enables POST /ecs/events on the API
	// listener for EventBridge "ECS Task State Change" events (an API
	// destination with an API-key connection whose header is
	// Authorization: Bearer SECRET). Use ${ENV} to keep it out of the
	// file.
	ECSEventsSecret string `yaml:"ecs_events_secret"`
	// NotifyURLs receive each violation as JSON (POST, retried).
	NotifyURLs []string `yaml:"notify_urls"`
	// ECSStopHook, when set, is called with the task ARN (the ECS
	// StopTask request shape) for an ECS task whose policy's action is
	// evict.
	ECSStopHook StopHook `yaml:"ecs_stop_hook"`
	// LeaderLease, with database_url (several nodes), is how long the
	// node running continuous validation holds that work without
	// renewing it (renewed every tenth of it): the bound on how long the
	// work waits when that node dies (default 30s; at least 1s).
	LeaderLease string `yaml:"leader_lease"`
}

// KubernetesSource is how Signet reaches the Kubernetes API server.
type KubernetesSource struct {
	// Kubeconfig is a kubeconfig file; Context picks one of its contexts
	// (default: its current context).
	Kubeconfig string `yaml:"kubeconfig"`
	Context    string `yaml:"context"`
	// InCluster uses the pod's service account (Signet running in the
	// cluster).
	InCluster bool `yaml:"in_cluster"`
	// ListInterval is how often running pods are listed (default 1m).
	ListInterval string `yaml:"list_interval"`
}

// StopHook is an HTTP endpoint that stops ECS tasks.
type StopHook struct {
	URL string `yaml:"url"`
	// Secret, when set, is sent as Authorization: Bearer SECRET.
	Secret string `yaml:"secret"`
}

// Enabled reports whether continuous validation has a source.
func (w *Workloads) Enabled() bool {
	return w.Kubernetes.Kubeconfig != "" || w.Kubernetes.InCluster || w.ECSEventsSecret != ""
}

// Interval returns CheckInterval parsed, or the default.
func (w *Workloads) Interval() time.Duration {
	if d, err := time.ParseDuration(w.CheckInterval); err == nil && d > 0 {
		return d
	}
	return 5 * time.Minute
}

// Lease returns LeaderLease parsed, or the default.
func (w *Workloads) Lease() time.Duration {
	if d, err := time.ParseDuration(w.LeaderLease); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

// ListEvery returns Kubernetes.ListInterval parsed, or the default.
func (w *Workloads) ListEvery() time.Duration {
	if d, err := time.ParseDuration(w.Kubernetes.ListInterval); err == nil && d > 0 {
		return d
	}
	return time.Minute
}

func (w *Workloads) validate(a *Admission) error {
	var errs []error
	for field, v := range map[string]string{"check_interval": w.CheckInterval, "kubernetes.list_interval": w.Kubernetes.ListInterval, "leader_lease": w.LeaderLease} {
		if v == "" {
			continue
		}
		if d, err := time.ParseDuration(v); err != nil || d < time.Second {
			errs = append(errs, fmt.Errorf("workloads.%s: %q must be a duration of at least 1s, such as 5m", field, v))
		}
	}
	if w.Kubernetes.Kubeconfig != "" && w.Kubernetes.InCluster {
		errs = append(errs, errors.New("workloads.kubernetes: set kubeconfig or in_cluster, not both"))
	}
	if w.ECSEventsSecret != "" && len(w.ECSEventsSecret) < 16 {
		errs = append(errs, errors.New("workloads.ecs_events_secret: use at least 16 characters"))
	}
	for _, u := range append(append([]string{}, w.NotifyURLs...), w.ECSStopHook.URL) {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			errs = append(errs, fmt.Errorf("workloads: %q must be an http(s):// URL", u))
		}
	}
	if w.Enabled() && len(a.Policies) == 0 {
		errs = append(errs, errors.New("workloads: continuous validation applies admission.policies, and there are none"))
	}
	if !w.Enabled() && (len(w.NotifyURLs) > 0 || w.ECSStopHook.URL != "") {
		errs = append(errs, errors.New("workloads: notify_urls and ecs_stop_hook need a source: kubernetes (kubeconfig or in_cluster) or ecs_events_secret"))
	}
	return errors.Join(errs...)
}
