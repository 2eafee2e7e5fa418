// Package inventory keeps the list of workloads that run — Kubernetes pods
// and ECS tasks — and verifies their images continuously: on a schedule,
// at once when a workload appears or changes, and at once when a revocation
// touches what a verdict rests on. Deployment-time checks see only what goes
// through the pipeline; the inventory sees what actually runs.
//
// # Sources
//
// Workloads come from two sources. Kubernetes reports pods as they are
// admitted ([Monitor.Observe]) and, periodically, as a full list from the
// API server ([Monitor.Replace]). ECS reports tasks through EventBridge
// "ECS Task State Change" events, parsed by [ParseTaskStateChange], which
// carry a version: a report older than the one held is ignored, so
// duplicated and reordered deliveries change nothing.
//
// # Verdicts and violations
//
// A [Checker] gives the verdict on one image of one workload. A verdict
// that is not compliant is a [Violation]; it is acted on once per
// (workload, image, rule): the enforcement action the policy names
// ([ActionEvict] or [ActionStop]) is carried out, then the audit hook
// ([Monitor.OnViolation]) and the notifier ([Monitor.Notify]) are told,
// with the outcome. A Checker error is not a verdict: the previous state is
// kept and the image is checked again in the next round.
//
// This package is the domain: it holds no HTTP client or database. The
// actions are functions that the server wires to the Kubernetes API
// (internal/kube) and to webhooks (internal/inventory/webhook).
package inventory

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Sources of workloads.
const (
	// SourceKubernetes marks pods, reported by the admission webhook and
	// listed from the Kubernetes API server.
	SourceKubernetes = "kubernetes"
	// SourceECS marks ECS tasks, reported by EventBridge task state change
	// events.
	SourceECS = "ecs"
)

// Workload is one running unit: a Kubernetes pod or an ECS task.
type Workload struct {
	// ID identifies the workload across reports: "kubernetes/NAMESPACE/POD"
	// for a pod (see [KubernetesID]), the task ARN for an ECS task.
	ID string
	// Source is SourceKubernetes or SourceECS.
	Source string
	// Cluster is the ECS cluster ARN ("" for Kubernetes).
	Cluster string
	// Namespace is the Kubernetes namespace ("" for ECS).
	Namespace string
	// Name is the pod name, or the task id (the last segment of its ARN).
	Name string
	// UID is the pod UID ("" for ECS).
	UID string
	// Images are the images its containers run: by digest when it is known
	// (host/repo@sha256:…, see [ImageRef]), else as given.
	Images []string
	// Principal is who started it: the Kubernetes user of the admission
	// request, or the ECS startedBy. A later report without one (the API
	// server's list of pods) keeps the one known; so does one without UID.
	Principal string
	// Version orders the reports of one workload (the ECS detail.version);
	// 0 means unknown, and such a report is always accepted.
	Version int64
	// SeenAt is when the workload was last reported.
	SeenAt time.Time
}

// KubernetesID returns the ID of the pod name in namespace ns.
func KubernetesID(ns, name string) string { return SourceKubernetes + "/" + ns + "/" + name }

// sameContent reports whether two reports of a workload describe the same
// thing: everything but Version and SeenAt is equal.
func sameContent(a, b Workload) bool {
	return a.ID == b.ID && a.Source == b.Source && a.Cluster == b.Cluster &&
		a.Namespace == b.Namespace && a.Name == b.Name && a.UID == b.UID &&
		a.Principal == b.Principal && slices.Equal(a.Images, b.Images)
}

// scope is the part of a workload that a verdict may depend on besides the
// image: the namespace of a pod, the cluster of a task.
func (w Workload) scope() string {
	if w.Source == SourceECS {
		return w.Cluster
	}
	return w.Namespace
}

// Action is what the policy says to do about a violation.
type Action string

// Actions.
const (
	// ActionReport only reports: audit event, metric, notification.
	ActionReport Action = "report"
	// ActionEvict reports and removes the workload: a Kubernetes pod is
	// evicted through [Monitor.Evict], an ECS task stopped through
	// [Monitor.Stop].
	ActionEvict Action = "evict"
	// ActionStop is ActionEvict in ECS's words; the two act alike.
	ActionStop Action = "stop"
)

// Outcomes of acting on a violation, in [Violation.Outcome]. A failed
// action is "evict failed: ERROR" or "stop failed: ERROR".
const (
	OutcomeReported = "reported"
	OutcomeEvicted  = "evicted"
	OutcomeStopped  = "stopped"
)

// Result is a verdict on one image of one workload.
type Result struct {
	// Compliant is true when the image may run.
	Compliant bool
	// Rule names the rule that failed, when not compliant: "unsigned",
	// "untrusted", "revoked", "expired", "integrity", …
	Rule string
	// Reason explains the verdict to a person.
	Reason string
	// Deps are the revocable things the verdict rests on (signing job
	// ARNs, signing profile version ARNs): revoking one of them makes
	// [Monitor.Revoked] check the image again at once.
	Deps []string
	// Action is what the matching policy says to do about a violation.
	Action Action
}

// Checker verifies one image of a workload.
//
// A Checker must give the same verdict for every workload of one scope —
// a Kubernetes namespace, an ECS cluster — since a round checks each
// distinct (scope, image) once and applies the verdict to every workload
// that runs the image there.
//
// An error means no verdict could be made (registry unreachable, timeout):
// the previous state is kept, the image is checked again next round, and
// no violation is recorded for it. Check must be safe for concurrent use.
type Checker interface {
	Check(ctx context.Context, w Workload, image string) (Result, error)
}

// CheckerFunc adapts a function to a [Checker].
type CheckerFunc func(ctx context.Context, w Workload, image string) (Result, error)

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context, w Workload, image string) (Result, error) {
	return f(ctx, w, image)
}

// Violation is a workload that runs an image that is not compliant.
type Violation struct {
	Workload Workload
	Image    string
	Rule     string
	Reason   string
	// Action is what the policy said to do.
	Action Action
	// Outcome is what was done: "reported", "evicted", "stopped", or
	// "evict failed: ERROR" / "stop failed: ERROR".
	Outcome    string
	DetectedAt time.Time
}

// ImageStatus is the last verdict on one image of a workload.
type ImageStatus struct {
	Image string
	// Checked is true once a verdict was made; Result and CheckedAt are
	// only meaningful then.
	Checked   bool
	Result    Result
	CheckedAt time.Time
	// Error is the last check's error, when it made no verdict ("" after
	// a verdict).
	Error string
}

// Status is a workload with the last verdicts on its images.
type Status struct {
	Workload Workload
	Images   []ImageStatus
}

// ImageRef returns image pinned to digest: "host/repo@sha256:…" from
// "host/repo:tag" (or "host/repo", or "host/repo@sha256:other") and
// "sha256:…". When digest is empty image is returned as given.
func ImageRef(image, digest string) string {
	if digest == "" {
		return image
	}
	return Repository(image) + "@" + digest
}

// Repository returns image without its tag and digest.
func Repository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}
