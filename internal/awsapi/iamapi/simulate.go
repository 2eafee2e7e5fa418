package iamapi

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/policy"
)

// Simulator decides requests of a user or role without making them:
// the server's own authorizer, so that a simulation answers as a real
// request would be answered.
type Simulator interface {
	// Simulate decides action on resource for the user or role
	// principalARN with the condition keys (lowercased). It returns the
	// iam package's ErrNotFound for a principal that does not exist and
	// ErrInvalid for an ARN that names no user or role.
	Simulate(ctx context.Context, principalARN, action, resource string, keys map[string][]string) (policy.Decision, error)
}

// contextKeyTypes are the ContextKeyType values IAM accepts.
var contextKeyTypes = []string{"string", "stringList", "numeric", "numericList", "boolean", "booleanList",
	"ip", "ipList", "binary", "binaryList", "date", "dateList"}

// unsupportedSimulation are SimulatePrincipalPolicy's parameters that
// add policies to the simulation, which Signet does not take: it
// simulates the principal's stored policies and the resources' own.
var unsupportedSimulation = []string{"PolicyInputList.member.1", "PermissionsBoundaryPolicyInputList.member.1", "ResourcePolicy", "ResourceOwner"}

type statementXML struct {
	ID   string `xml:"SourcePolicyId"`
	Type string `xml:"SourcePolicyType"`
}

type evaluationXML struct {
	Action   string         `xml:"EvalActionName"`
	Resource string         `xml:"EvalResourceName"`
	Decision string         `xml:"EvalDecision"`
	Matched  []statementXML `xml:"MatchedStatements>member"`
	Missing  []string       `xml:"MissingContextValues>member"`
	Boundary *struct {
		Allowed bool `xml:"AllowedByPermissionsBoundary"`
	} `xml:"PermissionsBoundaryDecisionDetail,omitempty"`
}

// evalDecision is IAM's name of an effect.
func evalDecision(e policy.Effect) string {
	switch e {
	case policy.Allow:
		return "allowed"
	case policy.ExplicitDeny:
		return "explicitDeny"
	}
	return "implicitDeny"
}

func (x *IAM) simulatePrincipalPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "PolicySourceArn"); err != nil {
		return err
	}
	if x.Simulator == nil {
		return awsapi.Errorf("InvalidInput", http.StatusBadRequest, "this server does not simulate policies")
	}
	source := r.Form.Get("PolicySourceArn")
	if p, err := arn.Parse(source); err != nil || p.Service != "iam" || !strings.HasPrefix(p.Resource, "user/") && !strings.HasPrefix(p.Resource, "role/") {
		return awsapi.Errorf("InvalidInput", http.StatusBadRequest, "PolicySourceArn %s is not a user or role ARN: use arn:aws:iam::ACCOUNT:user/NAME or arn:aws:iam::ACCOUNT:role/NAME", source)
	}
	for _, f := range unsupportedSimulation {
		if r.Form.Has(f) {
			return awsapi.Errorf("InvalidInput", http.StatusBadRequest, "%s is not supported: Signet simulates the principal's stored policies with the resources' own", strings.TrimSuffix(f, ".member.1"))
		}
	}
	if c := r.Form.Get("CallerArn"); c != "" && c != source {
		return awsapi.Errorf("InvalidInput", http.StatusBadRequest, "CallerArn is not supported: the caller simulated is the PolicySourceArn")
	}
	actions := members(r.Form, "ActionNames")
	if len(actions) == 0 {
		return awsapi.Validation("ValidationError", http.StatusBadRequest, errs.Null(nil, "actionNames"))
	}
	resources := members(r.Form, "ResourceArns")
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	keys := map[string][]string{}
	for i := 1; ; i++ {
		prefix := fmt.Sprintf("ContextEntries.member.%d.", i)
		name := r.Form.Get(prefix + "ContextKeyName")
		if name == "" {
			if r.Form.Has(prefix+"ContextKeyType") || r.Form.Has(prefix+"ContextKeyValues.member.1") {
				return awsapi.Validation("ValidationError", http.StatusBadRequest, errs.Null(nil, fmt.Sprintf("contextEntries.%d.member.contextKeyName", i)))
			}
			break
		}
		if t := r.Form.Get(prefix + "ContextKeyType"); t != "" && !slices.Contains(contextKeyTypes, t) {
			return awsapi.Validation("ValidationError", http.StatusBadRequest,
				errs.Value(nil, fmt.Sprintf("contextEntries.%d.member.contextKeyType", i), t, "must satisfy enum value set: [%s]", strings.Join(contextKeyTypes, ", ")))
		}
		keys[strings.ToLower(name)] = members(r.Form, prefix+"ContextKeyValues")
	}

	// One result for each action on each resource, in the order asked.
	type pair struct {
		key              string // the position, for paging
		action, resource string
	}
	var pairs []pair
	for _, a := range actions {
		for _, res := range resources {
			pairs = append(pairs, pair{fmt.Sprintf("%08d", len(pairs)), a, res})
		}
	}
	pairs, next, err := page(r, pairs, func(p pair) string { return p.key })
	if err != nil {
		return err
	}
	out := struct {
		XMLName xml.Name        `xml:"SimulatePrincipalPolicyResult"`
		Results []evaluationXML `xml:"EvaluationResults>member"`
		paging
	}{paging: pagingOf(next)}
	for _, p := range pairs {
		d, err := x.Simulator.Simulate(r.Context(), source, p.action, p.resource, keys)
		if err != nil {
			return err
		}
		e := evaluationXML{Action: p.action, Resource: p.resource, Decision: evalDecision(d.Effect), Missing: d.Missing}
		if d.Statement != "" && d.Effect != policy.ImplicitDeny {
			typ := d.Source.Type
			if typ == "" {
				typ = "none"
			}
			id := d.Source.ID
			if id == "" && typ == "resource" {
				id = p.resource
			}
			e.Matched = []statementXML{{ID: id, Type: typ}}
		}
		if d.Bounded {
			e.Boundary = &struct {
				Allowed bool `xml:"AllowedByPermissionsBoundary"`
			}{d.BoundaryAllows}
		}
		out.Results = append(out.Results, e)
	}
	return proto.Write(w, r, "SimulatePrincipalPolicy", out)
}
