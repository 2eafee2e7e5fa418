package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Request is what is being decided.
type Request struct {
	Principal string // caller's ARN (for a role session, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION)
	Account   string // caller's account id
	Action    string // e.g. signer:StartSigningJob
	Resource  string // an ARN, or "*"
	// Context holds the request's condition keys, lowercased
	// (aws:sourceip, aws:currenttime, lambda:codesigningconfigarn, …).
	Context map[string][]string
}

// Policies are the policies that apply to a request.
type Policies struct {
	Identity []*Document // the principal's identity-based policies
	Boundary *Document   // its permissions boundary; nil: none
	Resource []*Document // the resource's resource-based policies
	// RoleARN is the role of a role session, matched by resource-policy
	// principals that name the role.
	RoleARN string
}

// Effect is an evaluation's outcome.
type Effect int

// The outcomes.
const (
	ImplicitDeny Effect = iota
	Allow
	ExplicitDeny
)

func (e Effect) String() string {
	return [...]string{"ImplicitDeny", "Allow", "ExplicitDeny"}[e]
}

// Decision is an evaluation's outcome with the reason AWS gives for it.
type Decision struct {
	Effect Effect
	// Reason completes "… is not authorized to perform: A on resource: R
	// because …" for a denial.
	Reason string
	// Statement is the Sid (or index) of the deciding statement, when
	// one decided, and Source the policy it is in.
	Statement string
	Source    Source
	// Bounded reports that the principal has a permissions boundary, and
	// BoundaryAllows whether the boundary allows the request (an Allow
	// in it, and no Deny).
	Bounded, BoundaryAllows bool
	// Missing are the condition keys that applicable statements test and
	// the request does not carry, when asked for (MissingKeys); Evaluate
	// leaves it nil.
	Missing []string
}

// Allowed reports whether the request is allowed.
func (d Decision) Allowed() bool { return d.Effect == Allow }

// Evaluate decides a request as AWS's policy evaluation logic does for a
// principal and a resource of the same account:
//
//  1. an explicit Deny in any applicable policy denies;
//  2. an Allow in a resource-based policy that names the principal
//     allows (a boundary does not limit what a resource policy grants to
//     a principal it names by ARN);
//  3. otherwise an identity-based Allow is needed, and when the principal
//     has a permissions boundary, an Allow in the boundary too.
func Evaluate(p Policies, r Request) Decision {
	type source struct {
		docs []*Document
		name string
	}
	var boundary []*Document
	if p.Boundary != nil {
		boundary = []*Document{p.Boundary}
	}
	for _, s := range []source{{p.Identity, "an identity-based policy"}, {boundary, "a permissions boundary"}, {p.Resource, "a resource-based policy"}} {
		if sid, src, ok := find(s.docs, r, p.RoleARN, false); ok {
			if src.Type == "" && s.name == "a resource-based policy" {
				src.Type = "resource"
			}
			return bounded(Decision{Effect: ExplicitDeny, Reason: "with an explicit deny in " + s.name, Statement: sid, Source: src}, p, r)
		}
	}
	boundaryAllows := p.Boundary == nil
	if !boundaryAllows {
		_, _, boundaryAllows = find(boundary, r, p.RoleARN, true)
	}
	b := Decision{Bounded: p.Boundary != nil, BoundaryAllows: p.Boundary != nil && boundaryAllows}
	if sid, src, exact, ok := resourceAllow(p.Resource, r, p.RoleARN); ok && (exact || boundaryAllows) {
		b.Effect, b.Statement, b.Source = Allow, sid, src
		return b
	}
	sid, src, identityAllows := find(p.Identity, r, p.RoleARN, true)
	switch {
	case identityAllows && boundaryAllows:
		b.Effect, b.Statement, b.Source = Allow, sid, src
	case identityAllows:
		b.Reason = fmt.Sprintf("no permissions boundary allows the %s action", r.Action)
	default:
		b.Reason = fmt.Sprintf("no identity-based policy allows the %s action", r.Action)
	}
	return b
}

// bounded completes a decision taken before the boundary was read
// with the boundary's own verdict.
func bounded(d Decision, p Policies, r Request) Decision {
	if p.Boundary == nil {
		return d
	}
	docs := []*Document{p.Boundary}
	_, _, deny := find(docs, r, p.RoleARN, false)
	_, _, allow := find(docs, r, p.RoleARN, true)
	d.Bounded, d.BoundaryAllows = true, allow && !deny
	return d
}

// EvaluateGated decides a request on a resource whose own policy gates
// all access to it, as a KMS key policy does:
//
//  1. an explicit Deny in any applicable policy denies;
//  2. an Allow in the resource policy that names the caller (its ARN,
//     its role, or "*") allows;
//  3. an Allow that names the caller's account delegates to IAM: an
//     identity-based Allow (and the boundary's) is then needed;
//  4. otherwise nothing allows, whatever the identity policies say.
func EvaluateGated(p Policies, r Request) Decision {
	for _, s := range []struct {
		docs []*Document
		name string
	}{{p.Identity, "an identity-based policy"}, {boundaryDocs(p), "a permissions boundary"}, {p.Resource, "a resource-based policy"}} {
		if sid, src, ok := find(s.docs, r, p.RoleARN, false); ok {
			if src.Type == "" && s.name == "a resource-based policy" {
				src.Type = "resource"
			}
			return bounded(Decision{Effect: ExplicitDeny, Reason: "with an explicit deny in " + s.name, Statement: sid, Source: src}, p, r)
		}
	}
	for _, d := range p.Resource {
		for i, st := range d.Statements {
			if st.Allow && st.applies(r, p.RoleARN) && namesCaller(st.Principal, r, p.RoleARN) {
				return bounded(Decision{Effect: Allow, Statement: sidOf(st, i), Source: sourceOf(d, "resource")}, p, r)
			}
		}
	}
	if _, _, delegated := find(p.Resource, r, p.RoleARN, true); !delegated {
		return bounded(Decision{Effect: ImplicitDeny, Reason: fmt.Sprintf("no resource-based policy allows the %s action", r.Action)}, p, r)
	}
	p.Resource = nil
	return Evaluate(p, r)
}

func boundaryDocs(p Policies) []*Document {
	if p.Boundary == nil {
		return nil
	}
	return []*Document{p.Boundary}
}

// namesCaller reports whether a Principal names the caller itself (its
// ARN, its role, or everyone), not only its account.
func namesCaller(p Principals, r Request, roleARN string) bool {
	if _, ok := p["*"]; ok {
		return true
	}
	for _, v := range p["AWS"] {
		if v == "*" || v == r.Principal || roleARN != "" && v == roleARN {
			return true
		}
	}
	return false
}

// find returns the first statement with the given effect that applies,
// and the source of its document.
func find(docs []*Document, r Request, roleARN string, allow bool) (string, Source, bool) {
	for _, d := range docs {
		for i, st := range d.Statements {
			if st.Allow == allow && st.applies(r, roleARN) {
				return sidOf(st, i), d.Source, true
			}
		}
	}
	return "", Source{}, false
}

// resourceAllow finds an Allow in a resource policy; exact reports that
// it names the caller's own ARN (not its account or everyone).
func resourceAllow(docs []*Document, r Request, roleARN string) (sid string, src Source, exact, ok bool) {
	for _, d := range docs {
		for i, st := range d.Statements {
			if st.Allow && st.applies(r, roleARN) {
				exact := false
				for _, v := range st.Principal["AWS"] {
					exact = exact || v == r.Principal
				}
				return sidOf(st, i), sourceOf(d, "resource"), exact, true
			}
		}
	}
	return "", Source{}, false, false
}

// sourceOf is a document's source, of type typ if its loader left it
// unnamed (the services' resource policies).
func sourceOf(d *Document, typ string) Source {
	if d.Source.Type == "" {
		return Source{ID: d.Source.ID, Type: typ}
	}
	return d.Source
}

// MissingKeys returns the condition keys, lowercased and sorted, that
// the statements of p applying to r's action and resource test and r
// does not carry: what a policy simulator reports as missing context
// values.
func MissingKeys(p Policies, r Request) []string {
	docs := append(append(append([]*Document(nil), p.Identity...), boundaryDocs(p)...), p.Resource...)
	seen := map[string]bool{}
	var out []string
	for _, d := range docs {
		for _, st := range d.Statements {
			unconditioned := st
			unconditioned.Conditions = nil
			if !unconditioned.applies(r, p.RoleARN) {
				continue
			}
			for _, c := range st.Conditions {
				if _, ok := r.Context[c.Key]; !ok && !seen[c.Key] {
					seen[c.Key] = true
					out = append(out, c.Key)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func sidOf(st Statement, i int) string {
	if st.Sid != "" {
		return st.Sid
	}
	return fmt.Sprintf("statement %d", i+1)
}

func (st *Statement) applies(r Request, roleARN string) bool {
	if st.Principal != nil && !principalMatches(st.Principal, r, roleARN) {
		return false
	}
	if st.NotPrincipal != nil && principalMatches(st.NotPrincipal, r, roleARN) {
		return false
	}
	action := strings.ToLower(r.Action)
	if st.Actions != nil && !anyMatch(st.Actions, action, globMatch) {
		return false
	}
	if st.NotActions != nil && anyMatch(st.NotActions, action, globMatch) {
		return false
	}
	if st.Resources != nil && !anyMatch(expandAll(st.Resources, r.Context), r.Resource, resourceMatch) {
		return false
	}
	if st.NotResources != nil && anyMatch(expandAll(st.NotResources, r.Context), r.Resource, resourceMatch) {
		return false
	}
	for _, c := range st.Conditions {
		if !c.holds(r.Context) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, s string, match func(p, s string) bool) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

// resourceMatch matches an ARN against a resource pattern. "*" in the
// request (an operation on no particular resource) is matched only by
// a pattern that is "*".
func resourceMatch(p, s string) bool {
	if s == "*" {
		return p == "*"
	}
	return globMatch(p, s)
}

// principalMatches reports whether a Principal element names the caller:
// "*", its ARN, its role (for a role session), or its account (as an id
// or arn:aws:iam::ACCOUNT:root).
func principalMatches(p Principals, r Request, roleARN string) bool {
	if _, ok := p["*"]; ok {
		return true
	}
	for _, v := range p["AWS"] {
		switch {
		case v == "*", v == r.Principal, roleARN != "" && v == roleARN:
			return true
		case v == r.Account, r.Account != "" && v == "arn:aws:iam::"+r.Account+":root":
			return true
		}
	}
	for _, v := range p["Federated"] {
		for _, f := range r.Context["aws:federatedprovider"] {
			if v == f {
				return true
			}
		}
	}
	for _, v := range p["Service"] {
		for _, s := range r.Context["aws:principalservicename"] {
			if v == s {
				return true
			}
		}
	}
	return false
}

// globMatch matches s against a pattern where * is any run of
// characters and ? is one character.
func globMatch(p, s string) bool {
	px, sx := 0, 0
	nextPx, nextSx := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				nextPx, nextSx = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if nextSx > 0 && nextSx <= len(s) {
			px, sx = nextPx, nextSx
			continue
		}
		return false
	}
	return true
}

// expandAll substitutes policy variables (${aws:username}, ${*}, ${?},
// ${$}) in patterns.
func expandAll(patterns []string, ctx map[string][]string) []string {
	var out []string
	for _, p := range patterns {
		if !strings.Contains(p, "${") {
			out = append(out, p)
			continue
		}
		if v, ok := expand(p, ctx); ok {
			out = append(out, v)
		}
	}
	if out == nil {
		return []string{}
	}
	return out
}

// expand substitutes the variables of one pattern; false when a variable
// has no single value (the pattern then matches nothing, as in AWS).
func expand(p string, ctx map[string][]string) (string, bool) {
	var b strings.Builder
	for {
		i := strings.Index(p, "${")
		if i < 0 {
			b.WriteString(p)
			return b.String(), true
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			b.WriteString(p)
			return b.String(), true
		}
		b.WriteString(p[:i])
		name := p[i+2 : i+j]
		switch name {
		case "*", "?", "$":
			b.WriteString(name)
		default:
			def := ""
			hasDef := false
			if k, d, ok := strings.Cut(name, ", '"); ok {
				name, def, hasDef = k, strings.TrimSuffix(d, "'"), true
			}
			v := ctx[strings.ToLower(strings.TrimSpace(name))]
			switch {
			case len(v) == 1:
				b.WriteString(v[0])
			case hasDef:
				b.WriteString(def)
			default:
				return "", false
			}
		}
		p = p[i+j+1:]
	}
}
