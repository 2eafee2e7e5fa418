// Package policy parses IAM policy documents and evaluates requests
// against them as AWS does: explicit Deny wins, an Allow is needed from an
// identity-based or a resource-based policy, and a permissions boundary
// limits what identity-based policies grant. It is pure: no storage, no
// network, no clock (the request carries the time).
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrMalformed reports a policy document that is not valid: not JSON, or
// a statement the grammar does not allow.
var ErrMalformed = errors.New("malformed policy document")

// Document is a parsed policy.
type Document struct {
	Version    string
	ID         string
	Statements []Statement
	// Source says where the document comes from: whoever loads it sets
	// it (Parse leaves it empty), and a Decision names it.
	Source Source
}

// Source names a policy for explanations, as the IAM policy simulator
// does (a MatchedStatement's SourcePolicyId and SourcePolicyType).
type Source struct {
	ID   string // the policy's name, or the resource's ARN
	Type string // user, role, user-managed or resource
}

// Statement is one statement of a policy.
type Statement struct {
	Sid          string
	Allow        bool // Effect
	Principal    Principals
	NotPrincipal Principals
	Actions      []string // lowercased patterns
	NotActions   []string
	Resources    []string
	NotResources []string
	Conditions   []Condition
}

// Principals maps a principal type (AWS, Service, Federated, or "*" for
// everyone) to its values. Nil means the statement has no Principal.
type Principals map[string][]string

// Condition is one condition key test of a statement.
type Condition struct {
	Operator string // e.g. StringEquals, without IfExists or set prefix
	IfExists bool
	Set      string // "", "ForAnyValue" or "ForAllValues"
	Key      string // lowercased
	Values   []string
}

// Kind says which elements a document must and must not have.
type Kind int

// The kinds of policy.
const (
	Identity Kind = iota // identity-based policies and permissions boundaries
	Resource             // resource-based policies (Principal required)
	Trust                // role trust policies (Principal required, no Resource)
)

// Parse parses and validates a policy document of the given kind. Errors
// wrap ErrMalformed and say what to fix.
func Parse(doc []byte, kind Kind) (*Document, error) {
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, malformed("the document is not a JSON policy (Version, Statement): %v", err)
	}
	if dec.More() {
		return nil, malformed("the document holds more than one JSON value")
	}
	switch raw.Version {
	case "2012-10-17", "2008-10-17":
	case "":
		return nil, malformed("Version is required; use \"2012-10-17\"")
	default:
		return nil, malformed("Version %q is not supported; use \"2012-10-17\"", raw.Version)
	}
	var rawStmts []json.RawMessage
	switch {
	case len(raw.Statement) == 0:
		return nil, malformed("Statement is required")
	case raw.Statement[0] == '[':
		if err := json.Unmarshal(raw.Statement, &rawStmts); err != nil {
			return nil, malformed("Statement: %v", err)
		}
	default:
		rawStmts = []json.RawMessage{raw.Statement}
	}
	if len(rawStmts) == 0 {
		return nil, malformed("Statement must not be empty")
	}
	d := &Document{Version: raw.Version, ID: raw.ID}
	sids := map[string]bool{}
	for i, rs := range rawStmts {
		st, err := parseStatement(rs, kind)
		if err != nil {
			return nil, fmt.Errorf("%w: statement %d: %s", ErrMalformed, i+1, strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": "))
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return nil, malformed("statement IDs (Sid) must be unique: %q appears twice", st.Sid)
			}
			sids[st.Sid] = true
		}
		d.Statements = append(d.Statements, st)
	}
	return d, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// stringList decodes a string or an array of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("must be a string or an array of strings")
	}
	*l = many
	return nil
}

// scalarList decodes a condition value: a string, number or boolean, or
// an array of them, all kept as strings.
type scalarList []string

func (l *scalarList) UnmarshalJSON(b []byte) error {
	var many []json.RawMessage
	if err := json.Unmarshal(b, &many); err != nil {
		many = []json.RawMessage{b}
	}
	for _, m := range many {
		var v any
		if err := json.Unmarshal(m, &v); err != nil {
			return err
		}
		switch x := v.(type) {
		case string:
			*l = append(*l, x)
		case bool, float64:
			*l = append(*l, strings.TrimSpace(string(m)))
		default:
			return errors.New("condition values must be strings, numbers or booleans")
		}
	}
	return nil
}

func parseStatement(b json.RawMessage, kind Kind) (Statement, error) {
	var raw struct {
		Sid          string                           `json:"Sid"`
		Effect       string                           `json:"Effect"`
		Principal    json.RawMessage                  `json:"Principal"`
		NotPrincipal json.RawMessage                  `json:"NotPrincipal"`
		Action       *stringList                      `json:"Action"`
		NotAction    *stringList                      `json:"NotAction"`
		Resource     *stringList                      `json:"Resource"`
		NotResource  *stringList                      `json:"NotResource"`
		Condition    map[string]map[string]scalarList `json:"Condition"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Statement{}, malformed("%v", err)
	}
	st := Statement{Sid: raw.Sid}
	switch raw.Effect {
	case "Allow":
		st.Allow = true
	case "Deny":
	default:
		return st, malformed("Effect must be \"Allow\" or \"Deny\", not %q", raw.Effect)
	}
	switch {
	case raw.Action != nil && raw.NotAction != nil:
		return st, malformed("give Action or NotAction, not both")
	case raw.Action != nil:
		st.Actions = lowerAll(*raw.Action)
	case raw.NotAction != nil:
		st.NotActions = lowerAll(*raw.NotAction)
	default:
		return st, malformed("Action or NotAction is required")
	}
	for _, a := range append(append([]string{}, st.Actions...), st.NotActions...) {
		if a != "*" && !strings.Contains(a, ":") {
			return st, malformed("action %q must be SERVICE:ACTION (for example signer:StartSigningJob) or *", a)
		}
	}
	switch {
	case raw.Resource != nil && raw.NotResource != nil:
		return st, malformed("give Resource or NotResource, not both")
	case raw.Resource != nil:
		st.Resources = *raw.Resource
	case raw.NotResource != nil:
		st.NotResources = *raw.NotResource
	}
	if kind == Trust && (raw.Resource != nil || raw.NotResource != nil) {
		return st, malformed("a trust policy has no Resource")
	}
	if kind != Trust && raw.Resource == nil && raw.NotResource == nil {
		return st, malformed("Resource or NotResource is required")
	}
	var err error
	if st.Principal, err = parsePrincipals(raw.Principal); err != nil {
		return st, err
	}
	if st.NotPrincipal, err = parsePrincipals(raw.NotPrincipal); err != nil {
		return st, err
	}
	hasPrincipal := st.Principal != nil || st.NotPrincipal != nil
	if kind == Identity && hasPrincipal {
		return st, malformed("an identity-based policy or permissions boundary has no Principal")
	}
	if kind != Identity && !hasPrincipal {
		return st, malformed("Principal is required")
	}
	ops := make([]string, 0, len(raw.Condition))
	for op := range raw.Condition {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		c := Condition{Operator: op}
		if set, rest, ok := strings.Cut(op, ":"); ok {
			if set != "ForAnyValue" && set != "ForAllValues" {
				return st, malformed("condition operator %q: the only set prefixes are ForAnyValue: and ForAllValues:", op)
			}
			c.Set, c.Operator = set, rest
		}
		if base, ok := strings.CutSuffix(c.Operator, "IfExists"); ok && c.Operator != "IfExists" {
			c.Operator, c.IfExists = base, true
		}
		if !knownOperators[c.Operator] {
			return st, malformed("condition operator %q is not supported", op)
		}
		keys := make([]string, 0, len(raw.Condition[op]))
		for k := range raw.Condition[op] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cc := c
			cc.Key, cc.Values = strings.ToLower(k), raw.Condition[op][k]
			if err := checkValues(cc); err != nil {
				return st, err
			}
			st.Conditions = append(st.Conditions, cc)
		}
	}
	return st, nil
}

func parsePrincipals(b json.RawMessage) (Principals, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var star string
	if err := json.Unmarshal(b, &star); err == nil {
		if star != "*" {
			return nil, malformed("Principal must be \"*\" or an object such as {\"AWS\": \"arn:aws:iam::123456789012:root\"}")
		}
		return Principals{"*": {"*"}}, nil
	}
	var m map[string]stringList
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, malformed("Principal: %v", err)
	}
	p := Principals{}
	for k, v := range m {
		switch k {
		case "AWS", "Service", "Federated", "CanonicalUser":
		default:
			return nil, malformed("principal type %q is not one of AWS, Service, Federated", k)
		}
		p[k] = v
	}
	return p, nil
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}
