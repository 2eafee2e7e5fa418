package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/policy"
	"github.com/signet/signet/internal/ratelimit"
)

// authorizer is the one Authorizer of every API: rate limits, then the
// caller's policies (identity, boundary, and the resource's own policy)
// evaluated by package policy. It records its decision for the audit
// log.
type authorizer struct {
	bypass  bool // benchmarks only: allow everything, as before IAM
	iam     *iam.Service
	limiter atomic.Pointer[ratelimit.Limiter] // nil: no limits; replaced on reload
	now     func() time.Time
	// services returns the service a resource ARN belongs to (nil when
	// Signet serves none), whose resource policies judge a second
	// resource an operation acts on (AuthorizeAlso).
	services func(service string) *awsapi.Service
}

func (a *authorizer) Authorize(ctx context.Context, req awsapi.AuthzRequest) error {
	if a.bypass {
		return nil
	}
	info := auditInfoFrom(ctx)
	if req.Probe {
		// An answer for the response, not the request's decision; but a
		// response it lets carry plaintext is held for its record.
		real := info
		info = &auditInfo{}
		defer func() {
			info.mu.Lock()
			plain := info.plaintext
			info.mu.Unlock()
			if plain {
				real.mu.Lock()
				real.plaintext = true
				real.mu.Unlock()
			}
		}()
	}
	if req.Public {
		info.set(req.Action, req.Resource, "Allow", false)
		return nil
	}
	if l := a.limiter.Load(); l != nil && !req.Also && !l.Allow(req.Caller.AccessKeyID, req.Action) {
		info.set(req.Action, req.Resource, "Throttled", false)
		return &awsapi.Throttled{Message: fmt.Sprintf("Rate exceeded: access key %s is over its limit for %s; retry with backoff", req.Caller.AccessKeyID, req.Action)}
	}
	who, err := a.iam.Resolve(ctx, req.Caller.PrincipalARN)
	if err == nil && req.Caller.PrincipalID != "" && who.ID != req.Caller.PrincipalID {
		// The key's user or role was deleted and another of the same
		// name created: the key (a role session) died with the first.
		err = iam.ErrNotFound
	}
	if err != nil {
		info.set(req.Action, req.Resource, "Deny", false)
		if errors.Is(err, iam.ErrNotFound) {
			return denied(req, "the principal no longer exists")
		}
		return err
	}
	if who.Root || req.Action == "sts:GetCallerIdentity" {
		info.set(req.Action, req.Resource, "Allow", who.Root)
		return nil
	}
	d, err := a.decide(ctx, req, who, req.Action)
	if err != nil {
		return err
	}
	// An alternative action grants the request too, unless one of them
	// is explicitly denied.
	for _, alt := range req.OrActions {
		if d.Effect == policy.ExplicitDeny {
			break
		}
		da, err := a.decide(ctx, req, who, alt)
		if err != nil {
			return err
		}
		if da.Effect == policy.ExplicitDeny {
			d, req.Action, req.OrActions = da, alt, nil // the refusal names the denied action
		} else if !d.Allowed() && da.Allowed() {
			d = da
		}
	}
	if d.Allowed() {
		info.set(req.Action, req.Resource, "Allow", false)
		return nil
	}
	info.set(req.Action, req.Resource, "Deny", false)
	if d.Effect == policy.ExplicitDeny {
		return denied(req, d.Reason)
	}
	return denied(req, "because "+d.Reason)
}

// decide evaluates the caller's policies, and the resource's own when
// they are needed, for action on the request's resource.
func (a *authorizer) decide(ctx context.Context, req awsapi.AuthzRequest, who iam.Resolved, action string) (policy.Decision, error) {
	p := who.Policies
	req.Action = action
	if req.Also && req.Policies == nil && a.services != nil && strings.HasPrefix(req.Resource, "arn:") {
		if parts := strings.SplitN(req.Resource, ":", 4); len(parts) == 4 {
			if svc := a.services(parts[2]); svc != nil && svc.Policies != nil {
				req.Policies, req.Gated = svc.Policies.ResourcePolicies, svc.Gated
			}
		}
	}
	preq := policy.Request{Principal: who.Principal, Account: a.iam.Account.ID, Action: action, Resource: req.Resource, Context: a.contextKeys(req, who)}
	if req.Gated && req.Policies != nil {
		// The resource's policy gates access (a KMS key policy), when
		// the resource exists; a missing one is judged by IAM alone, so
		// that a caller IAM allows learns that it does not exist.
		docs, err := req.Policies(ctx, action, req.Resource)
		if err != nil {
			return policy.Decision{}, err
		}
		if docs != nil {
			p.Resource = docs
			return policy.EvaluateGated(p, preq), nil
		}
	}
	d := policy.Evaluate(p, preq)
	if !d.Allowed() && d.Effect != policy.ExplicitDeny {
		// The resource policies Signet has (profile permissions, trust
		// policies) only allow, so they can only change an implicit
		// denial: they are read only then.
		var err error
		if req.Policies != nil {
			if p.Resource, err = req.Policies(ctx, action, req.Resource); err != nil {
				return d, err
			}
		}
		if p.Resource != nil {
			d = policy.Evaluate(p, preq)
		}
	}
	return d, nil
}

// May reports whether the caller may perform action on resource, as a
// probe: the caller's policies, its boundary and the resource's own
// policies decide as for a request, but the answer is not the audit
// decision of the request that asks (see awsapi.Allowed).
func (a *authorizer) May(ctx context.Context, c awsapi.Caller, action, resource string) bool {
	return a.Authorize(ctx, awsapi.AuthzRequest{Caller: c, Action: action, Resource: resource, Also: true, Probe: true}) == nil
}

// Simulate decides action on resource for a user or a role, given by
// ARN, as a request of theirs with the condition keys would be decided:
// a user as itself, a role as a session of it. The resource's own
// policies count as for a real request (profile permissions, function
// policies, key policies); the request is taken to come over TLS in the
// server's region unless keys say otherwise. Nothing is audited and no
// rate limit counts. It returns iam.ErrNotFound for a user or role that
// does not exist, iam.ErrInvalid for an ARN that names neither.
func (a *authorizer) Simulate(ctx context.Context, principalARN, action, resource string, keys map[string][]string) (policy.Decision, error) {
	acct := a.iam.Account
	who := principalARN
	switch p, err := arn.Parse(principalARN); {
	case err != nil || p.Service != "iam" || p.Account != acct.ID:
		return policy.Decision{}, errs.Errorf(iam.ErrInvalid, "%s is not the ARN of a user or role of account %s", principalARN, acct.ID)
	case strings.HasPrefix(p.Resource, "user/"):
	case strings.HasPrefix(p.Resource, "role/"):
		name := p.Resource[strings.LastIndex(p.Resource, "/")+1:]
		role, err := a.iam.Role(ctx, name)
		if err == nil && a.iam.RoleARN(role) != principalARN {
			err = errs.Errorf(iam.ErrNotFound, "The role with ARN %s cannot be found.", principalARN) // its real path is not the caller's to learn
		}
		if err != nil {
			return policy.Decision{}, err
		}
		who = fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", acct.Partition, acct.ID, role.Name, simulatedSession)
	default:
		return policy.Decision{}, errs.Errorf(iam.ErrInvalid, "%s is not the ARN of a user or role of account %s", principalARN, acct.ID)
	}
	resolved, err := a.iam.Resolve(ctx, who)
	if err != nil {
		return policy.Decision{}, err
	}
	if action == "sts:GetCallerIdentity" {
		return policy.Decision{Effect: policy.Allow}, nil
	}
	// The resource's own policy counts only when the caller may read it:
	// the simulator must not tell what a key policy or a function policy
	// says to one who may not see it (AWS's simulator reads none).
	readable := false
	if c, ok := awsapi.CallerFrom(ctx); ok {
		if read := resourcePolicyReader(resource); read != "" {
			readable = a.May(ctx, c, read, resource)
		}
	}
	req := awsapi.AuthzRequest{Caller: awsapi.Caller{PrincipalARN: who, Region: acct.Region, Secure: true}, Action: action, Resource: resource, Keys: keys, Also: readable}
	d, err := a.decide(ctx, req, resolved, action)
	if err != nil {
		return d, err
	}
	d.Missing = policy.MissingKeys(resolved.Policies, policy.Request{Principal: who, Account: acct.ID, Action: action, Resource: resource,
		Context: a.contextKeys(req, resolved)})
	return d, nil
}

// resourcePolicyReader is the action that reads the policy a resource of
// Signet's carries ("" when it has none).
func resourcePolicyReader(resource string) string {
	p, err := arn.Parse(resource)
	if err != nil {
		return ""
	}
	switch p.Service {
	case "kms":
		return "kms:GetKeyPolicy"
	case "signer":
		return "signer:ListProfilePermissions"
	case "lambda":
		return "lambda:GetPolicy"
	case "iam":
		return "iam:GetRole" // a role's trust policy
	case "secretsmanager":
		return "secretsmanager:GetResourcePolicy"
	case "s3":
		return "s3:GetBucketPolicy"
	}
	return ""
}

// simulatedSession is the session name a simulated role's requests
// carry (in aws:userid and the session's ARN).
const simulatedSession = "SimulatePrincipalPolicy"

// denied is AWS's AccessDenied: "User: ARN is not authorized to perform:
// ACTION on resource: RESOURCE because …"; a second resource's refusal
// also says which operation needed it.
func denied(req awsapi.AuthzRequest, why string) error {
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", req.Caller.PrincipalARN, req.Action, req.Resource, why)
	if len(req.OrActions) > 0 {
		msg += " (" + strings.Join(req.OrActions, " or ") + " would also do)"
	}
	if req.Also && req.Operation != "" {
		msg += "; " + req.Operation + " needs it because it acts on that resource for you"
	}
	return &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden, Message: msg}
}

// contextKeys are the global condition keys of a request, with the
// operation's own.
func (a *authorizer) contextKeys(req awsapi.AuthzRequest, who iam.Resolved) map[string][]string {
	now := time.Now()
	if a.now != nil {
		now = a.now()
	}
	typ := "User"
	if who.Policies.RoleARN != "" {
		typ = "AssumedRole"
	}
	k := map[string][]string{
		"aws:principalarn":     {who.Principal},
		"aws:principalaccount": {a.iam.Account.ID},
		"aws:principaltype":    {typ},
		"aws:userid":           {who.UserID},
		"aws:currenttime":      {now.UTC().Format(time.RFC3339)},
		"aws:epochtime":        {strconv.FormatInt(now.Unix(), 10)},
		"aws:securetransport":  {strconv.FormatBool(req.Caller.Secure)},
	}
	if who.Username != "" {
		k["aws:username"] = []string{who.Username}
	}
	if req.Caller.SourceIP != "" {
		k["aws:sourceip"] = []string{req.Caller.SourceIP}
	}
	if req.Caller.SourceIdentity != "" {
		k["aws:sourceidentity"] = []string{req.Caller.SourceIdentity}
	}
	if req.Caller.Region != "" {
		k["aws:requestedregion"] = []string{req.Caller.Region}
	}
	for key, v := range req.Keys {
		k[key] = v
	}
	if strings.HasPrefix(req.Resource, "arn:aws:kms:") || strings.HasPrefix(req.Resource, "arn:"+a.iam.Account.Partition+":kms:") {
		k["kms:calleraccount"] = []string{a.iam.Account.ID}
		// A key used by another service for the caller: the service it
		// came through, as AWS names it.
		if req.Also && req.Service != "" && req.Service != "kms" {
			k["kms:viaservice"] = []string{req.Service + "." + a.iam.Account.Region + ".amazonaws.com"}
		}
	}
	return k
}

// requestKeys are the condition keys a handler passes on (AssumeRole's
// trust policy conditions).
func (a *authorizer) requestKeys(r *http.Request) map[string][]string {
	c, _ := awsapi.CallerFrom(r.Context())
	who, _ := a.iam.Resolve(r.Context(), c.PrincipalARN)
	return a.contextKeys(awsapi.AuthzRequest{Caller: c}, who)
}

// rateLimiter builds the limiter of the configuration (nil: no limits).
func rateLimiter(c config.RateLimits, now func() time.Time) *ratelimit.Limiter {
	if c.Rate == 0 && len(c.Actions) == 0 {
		return nil
	}
	burst := func(rate float64, b int) int {
		if b == 0 {
			b = max(int(2*rate), 1)
		}
		return b
	}
	l := &ratelimit.Limiter{Default: ratelimit.Limit{Rate: c.Rate, Burst: burst(c.Rate, c.Burst)}, ByAction: map[string]ratelimit.Limit{}, Now: now}
	for a, al := range c.Actions {
		l.ByAction[a] = ratelimit.Limit{Rate: al.Rate, Burst: burst(al.Rate, al.Burst)}
	}
	return l
}
