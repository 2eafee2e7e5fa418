package signetapi

import (
	"net/http"
	"time"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/inventory"
)

// Inventory is what the workloads operations read (*inventory.Monitor).
type Inventory interface {
	Workloads() []inventory.Status
	Violations() []inventory.Violation
}

var errNotConfigured = &awsapi.Error{Code: "ResourceNotFoundException", Status: http.StatusNotFound,
	Message: "continuous validation is not configured on this server: set workloads (kubernetes or ecs_events_secret) and admission.policies in its configuration"}

// WorkloadJSON is a workload on the wire.
type WorkloadJSON struct {
	ID        string      `json:"id"`
	Source    string      `json:"source"`
	Cluster   string      `json:"cluster,omitempty"`
	Namespace string      `json:"namespace,omitempty"`
	Name      string      `json:"name"`
	UID       string      `json:"uid,omitempty"`
	Principal string      `json:"principal,omitempty"`
	SeenAt    time.Time   `json:"seenAt"`
	Images    []ImageJSON `json:"images"`
}

// ImageJSON is the last verdict on one image of a workload.
type ImageJSON struct {
	Image     string     `json:"image"`
	Checked   bool       `json:"checked"`
	Compliant bool       `json:"compliant"`
	Rule      string     `json:"rule,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	CheckedAt *time.Time `json:"checkedAt,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// ViolationJSON is a violation on the wire.
type ViolationJSON struct {
	WorkloadID string    `json:"workloadId"`
	Source     string    `json:"source"`
	Cluster    string    `json:"cluster,omitempty"`
	Namespace  string    `json:"namespace,omitempty"`
	Name       string    `json:"name"`
	Principal  string    `json:"principal,omitempty"`
	Image      string    `json:"image"`
	Rule       string    `json:"rule"`
	Reason     string    `json:"reason"`
	Action     string    `json:"action"`
	Outcome    string    `json:"outcome"`
	DetectedAt time.Time `json:"detectedAt"`
}

func (x *API) list(w http.ResponseWriter, r *http.Request) error {
	if x.Inventory == nil {
		return errNotConfigured
	}
	out := []WorkloadJSON{}
	for _, s := range x.Inventory.Workloads() {
		wl := s.Workload
		j := WorkloadJSON{ID: wl.ID, Source: wl.Source, Cluster: wl.Cluster, Namespace: wl.Namespace, Name: wl.Name, UID: wl.UID,
			Principal: wl.Principal, SeenAt: wl.SeenAt.UTC(), Images: []ImageJSON{}}
		for _, im := range s.Images {
			ij := ImageJSON{Image: im.Image, Checked: im.Checked, Error: im.Error}
			if im.Checked {
				at := im.CheckedAt.UTC()
				ij.Compliant, ij.Rule, ij.Reason, ij.CheckedAt = im.Result.Compliant, im.Result.Rule, im.Result.Reason, &at
			}
			j.Images = append(j.Images, ij)
		}
		out = append(out, j)
	}
	return awsapi.WriteJSON(w, map[string]any{"workloads": out})
}

func (x *API) violations(w http.ResponseWriter, r *http.Request) error {
	if x.Inventory == nil {
		return errNotConfigured
	}
	out := []ViolationJSON{}
	for _, v := range x.Inventory.Violations() {
		wl := v.Workload
		out = append(out, ViolationJSON{WorkloadID: wl.ID, Source: wl.Source, Cluster: wl.Cluster, Namespace: wl.Namespace, Name: wl.Name,
			Principal: wl.Principal, Image: v.Image, Rule: v.Rule, Reason: v.Reason, Action: string(v.Action), Outcome: v.Outcome, DetectedAt: v.DetectedAt.UTC()})
	}
	return awsapi.WriteJSON(w, map[string]any{"violations": out})
}
