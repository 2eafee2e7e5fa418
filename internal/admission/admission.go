// Package admission decides whether Kubernetes may run a workload, by
// the signatures of its container images: the Kubernetes admission
// webhooks' domain (the HTTP side is in internal/server). A Policy says
// which namespaces and images need which Notation trust policy, and what
// to do when an image fails it (Enforce, Warn, DryRun) or cannot be
// checked (its failure mode). Verdicts are kept in a Cache by image
// digest until they stop holding, and a revocation drops the verdicts
// resting on it at once.
package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/images"
)

// Mode is what a policy does with an image that fails it.
type Mode string

// Modes.
const (
	// ModeEnforce denies the workload.
	ModeEnforce Mode = "Enforce"
	// ModeWarn admits it with a warning the client shows (kubectl).
	ModeWarn Mode = "Warn"
	// ModeDryRun admits it silently; only the audit log says.
	ModeDryRun Mode = "DryRun"
)

// FailureMode is what a policy does when an image cannot be checked
// (registry unreachable, timeout): no verdict exists, and none is cached.
type FailureMode string

// Failure modes.
const (
	// FailClosed denies (in Enforce mode), as kube-apiserver's
	// failurePolicy Fail does for an unreachable webhook.
	FailClosed FailureMode = "Fail"
	// FailOpen admits with a warning.
	FailOpen FailureMode = "Ignore"
)

// BreakGlassAnnotation on a workload (or its pod template) admits it
// whatever its images, and the admission is audited as break-glass. Its
// value is the reason.
const BreakGlassAnnotation = "signet.io/break-glass"

// Rules a verdict can fail, beyond notation's (images.Rule…).
const (
	RuleUnsigned  = "unsigned"
	RuleNotFound  = "notFound"
	RuleNoScope   = "noTrustPolicy"
	RuleReference = "invalidReference"
)

// ImageVerifier verifies images against one trust policy and store
// (*images.Verifier).
type ImageVerifier interface {
	Resolve(ctx context.Context, ref string) (string, error)
	Verify(ctx context.Context, digestRef string) (*images.Verification, error)
}

// Policy says which images of which namespaces need a verified
// signature, by whom (Verifier), and what to do otherwise.
type Policy struct {
	Name string
	// Namespaces are globs (path.Match) of the namespaces it covers;
	// none: every namespace.
	Namespaces []string
	// Images are globs of the repositories it covers, as
	// host/repository (docker.io/library/nginx); none: every image.
	Images      []string
	Mode        Mode
	FailureMode FailureMode
	// Action is what continuous validation does with a running workload
	// that fails the policy: "report" (default) or "evict" (a Kubernetes
	// pod; an ECS task is stopped).
	Action string
	// Version identifies what verdicts under the policy depend on (its
	// trust policy and trust store): verdicts are cached under it, so a
	// change of either makes new ones (see SetVersion).
	Version  string
	Verifier ImageVerifier

	current atomic.Pointer[string]
}

// CurrentVersion is the version verdicts are cached under: Version, or
// the last SetVersion.
func (p *Policy) CurrentVersion() string {
	if v := p.current.Load(); v != nil {
		return *v
	}
	return p.Version
}

// SetVersion changes the version (the trust store changed): verdicts
// cached under the old one are no longer found.
func (p *Policy) SetVersion(v string) { p.current.Store(&v) }

// Covers reports whether the policy applies to an image (normalized)
// of a namespace. Workloads without a namespace (ECS tasks, namespace
// "") fall under policies that name no namespaces.
func (p *Policy) Covers(namespace, image string) bool {
	return matchAny(p.Namespaces, namespace) && matchAny(p.Images, repository(image))
}

func matchAny(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
		// "registry/team/*" covers deeper repositories too.
		if strings.HasSuffix(g, "/*") && strings.HasPrefix(s, strings.TrimSuffix(g, "*")) {
			return true
		}
	}
	return false
}

// Verdict is what one policy says of one image.
type Verdict struct {
	Image   string `json:"image"`            // as the workload names it
	Ref     string `json:"ref,omitempty"`    // normalized; by digest once resolved
	Policy  string `json:"policy,omitempty"` // "" when no policy covers the image
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule,omitempty"` // the rule that refused it
	Reason  string `json:"reason,omitempty"`
	// Deps are the signing job and profile version ARNs of the
	// signatures that verified it: revoking any drops the verdict.
	Deps []string `json:"deps,omitempty"`
	// Expires is when a positive verdict stops holding by itself.
	Expires time.Time `json:"-"`
	// Transient: no verdict could be made (the registry could not be
	// asked); never cached.
	Transient bool `json:"transient,omitempty"`
	Cached    bool `json:"cached,omitempty"`
}

// Controller decides admissions with its policies (the first that
// covers an image applies).
type Controller struct {
	// Policies are the policies at start; SetPolicies replaces them.
	Policies []*Policy
	Cache    *Cache
	// Audit records each admission decision; nil records nothing.
	Audit func(ctx context.Context, e audit.Event)
	// Admitted, if set, is told of every pod admitted (for the
	// inventory of running workloads).
	Admitted func(ctx context.Context, a Admission)
	// BeforeCache, if set, is called before a verdict is taken from the
	// Cache: nodes sharing a database drop verdicts there that another
	// node's revocation made stale.
	BeforeCache func(ctx context.Context)
	Now         func() time.Time
	Log         *slog.Logger

	mu       sync.RWMutex
	replaced []*Policy // set: SetPolicies was called
	set      bool
}

// SetPolicies replaces the policies (a configuration reload) and drops
// every cached verdict, which the old policies made.
func (c *Controller) SetPolicies(ps []*Policy) {
	c.mu.Lock()
	c.replaced, c.set = ps, true
	c.mu.Unlock()
	if c.Cache != nil {
		c.Cache.Purge()
	}
}

// policies are the policies in force.
func (c *Controller) policies() []*Policy {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.set {
		return c.replaced
	}
	return c.Policies
}

func (c *Controller) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Policy returns the policy that covers an image of a namespace, or nil.
func (c *Controller) Policy(namespace, image string) *Policy {
	for _, p := range c.policies() {
		if p.Covers(namespace, image) {
			return p
		}
	}
	return nil
}

// Check verifies one image for a namespace under the policy that covers
// it. An image no policy covers is allowed.
func (c *Controller) Check(ctx context.Context, namespace, image string) Verdict {
	v := Verdict{Image: image}
	ref, err := NormalizeImage(image)
	if err != nil {
		p := c.Policy(namespace, image)
		if p == nil {
			v.Allowed = true
			return v
		}
		v.Policy, v.Rule, v.Reason = p.Name, RuleReference, err.Error()
		return v
	}
	v.Ref = ref
	p := c.Policy(namespace, ref)
	if p == nil {
		v.Allowed = true
		return v
	}
	v.Policy = p.Name
	digestRef, err := p.Verifier.Resolve(ctx, ref)
	if err != nil {
		return c.failed(v, err)
	}
	v.Ref = digestRef
	var gen uint64
	if c.Cache != nil {
		if c.BeforeCache != nil {
			c.BeforeCache(ctx)
		}
		gen = c.Cache.Gen() // before the verification reads anything
		if cv, ok := c.Cache.Get(p.CurrentVersion(), digestRef); ok {
			cv.Image, cv.Cached = image, true
			return cv
		}
	}
	res, err := p.Verifier.Verify(ctx, digestRef)
	switch {
	case errors.Is(err, images.ErrNoSignature):
		v.Rule, v.Reason = RuleUnsigned, "no signature found for "+digestRef
	case errors.Is(err, images.ErrNoScope):
		v.Rule, v.Reason = RuleNoScope, err.Error()
	case err != nil:
		return c.failed(v, err)
	case res.Verified:
		v.Allowed = true
		for _, s := range res.Signatures {
			if !s.Verified {
				continue
			}
			for _, d := range []string{s.JobARN, s.ProfileVersionARN} {
				if d != "" {
					v.Deps = append(v.Deps, d)
				}
			}
			if !s.Expires.IsZero() && (v.Expires.IsZero() || s.Expires.Before(v.Expires)) {
				v.Expires = s.Expires
			}
		}
		sort.Strings(v.Deps)
	default:
		v.Rule = res.Failed()
		if len(res.Signatures) > 0 {
			v.Reason = res.Signatures[0].Error
		}
		if v.Reason == "" {
			v.Reason = "the signature failed the " + v.Rule + " check"
		}
	}
	if c.Cache != nil {
		c.Cache.PutAt(p.CurrentVersion(), digestRef, v, gen)
	}
	return v
}

// failed turns a registry failure into a verdict (the image does not
// exist, the reference is malformed) or a transient failure.
func (c *Controller) failed(v Verdict, err error) Verdict {
	switch {
	case errors.Is(err, images.ErrNotFound):
		v.Rule, v.Reason = RuleNotFound, err.Error()
	case errors.Is(err, images.ErrReference):
		v.Rule, v.Reason = RuleReference, err.Error()
	default:
		v.Transient, v.Reason = true, err.Error()
	}
	return v
}

// Admission is a pod admitted, for the inventory.
type Admission struct {
	Namespace, Name, UID, User string
	Images                     []Verdict
	BreakGlass                 bool
}

// describe is a verdict as one line of a message.
func describe(v Verdict) string {
	return fmt.Sprintf("image %s: %s: %s", v.Image, v.Rule, v.Reason)
}
