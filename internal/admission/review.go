package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signet/signet/internal/audit"
)

// Audit decisions of admission events.
const (
	DecisionAllow     = "Allow"
	DecisionDeny      = "Deny"
	DecisionWarn      = "AllowWithWarning"
	DecisionDryRun    = "AllowDryRun" // refused by a DryRun policy, admitted
	DecisionBreakGlas = "AllowBreakGlass"
)

// Validate answers a validating AdmissionRequest: every container, init
// container and ephemeral container image of a Pod or a pod-owning
// workload is checked under the policy that covers it.
func (c *Controller) Validate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return resp
	}
	w, ok, err := parseWorkload(req.Kind.Group, req.Kind.Version, req.Kind.Kind, req.Object.Raw)
	if !ok {
		return resp
	}
	if err != nil {
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonBadRequest, Code: 400, Message: "signet: " + err.Error()}
		return resp
	}
	namespace := req.Namespace
	if namespace == "" {
		namespace = w.Meta.Namespace
	}
	reason, breakGlass := w.breakGlass()
	var (
		denied, warnings, dryRun []string
		verdicts                 []Verdict
	)
	for _, ct := range w.Containers {
		v := c.Check(ctx, namespace, ct.Image)
		verdicts = append(verdicts, v)
		if v.Allowed {
			continue
		}
		p := c.PolicyNamed(v.Policy)
		mode, failure := ModeEnforce, FailClosed
		if p != nil {
			mode, failure = p.Mode, p.FailureMode
		}
		switch {
		case v.Transient && failure == FailOpen:
			warnings = append(warnings, fmt.Sprintf("image %s admitted unverified (policy %s, failure mode %s): %s", v.Image, v.Policy, failure, v.Reason))
		case v.Transient && mode == ModeEnforce:
			denied = append(denied, fmt.Sprintf("image %s could not be verified (policy %s, failure mode %s): %s", v.Image, v.Policy, failure, v.Reason))
		case v.Transient && mode == ModeWarn:
			warnings = append(warnings, fmt.Sprintf("image %s could not be verified (policy %s): %s", v.Image, v.Policy, v.Reason))
		case v.Transient:
			dryRun = append(dryRun, fmt.Sprintf("image %s could not be verified (policy %s): %s", v.Image, v.Policy, v.Reason))
		case mode == ModeEnforce:
			denied = append(denied, fmt.Sprintf("%s (policy %s)", describe(v), v.Policy))
		case mode == ModeWarn:
			warnings = append(warnings, fmt.Sprintf("%s (policy %s, mode Warn: admitted)", describe(v), v.Policy))
		default:
			dryRun = append(dryRun, fmt.Sprintf("%s (policy %s, mode DryRun: admitted)", describe(v), v.Policy))
		}
	}
	decision := DecisionAllow
	switch {
	case breakGlass:
		decision = DecisionBreakGlas
		msg := fmt.Sprintf("break-glass (%s=%q): admitted without enforcing signatures; this admission is audited", BreakGlassAnnotation, reason)
		if strings.TrimSpace(reason) == "" {
			msg += "; give the reason as the annotation's value"
		}
		warnings = append(append([]string{msg}, denied...), warnings...)
		denied = nil
	case len(denied) > 0:
		decision = DecisionDeny
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonForbidden, Code: 403,
			Message: "signet: " + strings.Join(denied, "; ")}
	case len(warnings) > 0:
		decision = DecisionWarn
	case len(dryRun) > 0:
		decision = DecisionDryRun
	}
	resp.Warnings = warnings
	c.audit(ctx, req, w, decision, breakGlass, verdicts, append(append(append([]string{}, denied...), warnings...), dryRun...))
	if dryRunRequest := req.DryRun != nil && *req.DryRun; resp.Allowed && req.Kind.Group == "" && req.Kind.Kind == "Pod" && !dryRunRequest && c.Admitted != nil {
		c.Admitted(ctx, Admission{Namespace: namespace, Name: firstNonEmpty(req.Name, w.Meta.Name), UID: string(w.Meta.UID), User: req.UserInfo.Username, Images: verdicts, BreakGlass: breakGlass})
	}
	return resp
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// PolicyNamed returns the policy of that name, or nil.
func (c *Controller) PolicyNamed(name string) *Policy {
	for _, p := range c.policies() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// audit records one admission decision; the principal is the
// Kubernetes user who asked.
func (c *Controller) audit(ctx context.Context, req *admissionv1.AdmissionRequest, w *workload, decision string, breakGlass bool, verdicts []Verdict, notes []string) {
	if c.Audit == nil {
		return
	}
	name := firstNonEmpty(req.Name, w.Meta.Name, w.Meta.GenerateName+"*")
	namespace := firstNonEmpty(req.Namespace, w.Meta.Namespace)
	var detail []string
	for _, v := range verdicts {
		s := v.Image
		if v.Ref != "" && v.Ref != v.Image {
			s += " = " + v.Ref
		}
		switch {
		case v.Policy == "":
			s += ": no policy"
		case v.Allowed:
			s += ": verified (policy " + v.Policy + ")"
		case v.Transient:
			s += ": not verified (policy " + v.Policy + "): " + v.Reason
		default:
			s += ": " + v.Rule + " (policy " + v.Policy + ")"
		}
		detail = append(detail, s)
	}
	if len(notes) > 0 && breakGlass {
		detail = append(detail, "bypassed: "+strings.Join(notes[1:], "; "))
	}
	if req.DryRun != nil && *req.DryRun {
		detail = append(detail, "dry run request")
	}
	principal := req.UserInfo.Username
	if principal == "" {
		principal = "kubernetes:unknown"
	}
	c.Audit(ctx, audit.Event{
		Time: c.now(), Principal: principal, Action: "admission:Validate",
		Resource: fmt.Sprintf("kubernetes:%s/%s/%s", namespace, req.Kind.Kind, name),
		Decision: decision, RequestID: string(req.UID), Detail: strings.Join(detail, "; "), BreakGlass: breakGlass,
	})
}

// Mutate answers a mutating AdmissionRequest: every image a policy
// covers and that verifies is pinned to the digest that was verified
// (a JSON patch of its image field), so that what runs is what was
// verified even if the tag moves. It admits everything; refusing is the
// validating webhook's part.
func (c *Controller) Mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return resp
	}
	w, ok, err := parseWorkload(req.Kind.Group, req.Kind.Version, req.Kind.Kind, req.Object.Raw)
	if !ok || err != nil {
		return resp
	}
	namespace := firstNonEmpty(req.Namespace, w.Meta.Namespace)
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value string `json:"value"`
	}
	var ops []op
	for _, ct := range w.Containers {
		if strings.Contains(ct.Image, "@") {
			continue
		}
		v := c.Check(ctx, namespace, ct.Image)
		if !v.Allowed || v.Policy == "" || !strings.Contains(v.Ref, "@") {
			continue
		}
		normalized, _ := NormalizeImage(ct.Image)
		_, digest, _ := strings.Cut(v.Ref, "@")
		ops = append(ops, op{"replace", ct.Path, normalized + "@" + digest})
	}
	if len(ops) == 0 {
		return resp
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return resp
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	return resp
}
