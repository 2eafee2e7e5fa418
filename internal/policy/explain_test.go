package policy

import (
	"slices"
	"testing"
)

// TestDecisionExplained: a decision names the policy of its deciding
// statement and the boundary's own verdict, and MissingKeys lists the
// condition keys an applicable statement tests that the request lacks.
func TestDecisionExplained(t *testing.T) {
	identity := mustParse(t, Identity, `{"Version":"2012-10-17","Statement":[
		{"Sid":"OwnFunctions","Effect":"Allow","Action":"lambda:*","Resource":"*"},
		{"Sid":"Signing","Effect":"Allow","Action":"signer:*","Resource":"*"},
		{"Sid":"NoConfigs","Effect":"Deny","Action":"lambda:PutFunctionCodeSigningConfig","Resource":"*"},
		{"Sid":"Tagged","Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"dev"}}}]}`)
	identity.Source = Source{ID: "developer", Type: "user"}
	boundary := mustFile(t, "DeveloperPermissionBoundary.json")
	boundary.Source = Source{ID: "DeveloperPermissionBoundary", Type: "user-managed"}
	grant := mustParse(t, Resource, `{"Version":"2012-10-17","Statement":{"Sid":"partner","Effect":"Allow","Principal":{"AWS":"`+dev+`"},"Action":"lambda:GetFunction","Resource":"*"}}`)
	p := Policies{Identity: []*Document{identity}, Boundary: boundary}
	cases := map[string]struct {
		p         Policies
		action    string
		effect    Effect
		statement string
		source    Source
		bounded   bool
		allows    bool
	}{
		"ok/identity allow":         {p, "lambda:UpdateFunctionCode", Allow, "OwnFunctions", identity.Source, true, true},
		"ok/boundary deny":          {p, "signer:StartSigningJob", ExplicitDeny, "DenySpecificServices", boundary.Source, true, false},
		"ok/identity deny":          {p, "lambda:PutFunctionCodeSigningConfig", ExplicitDeny, "NoConfigs", identity.Source, true, true},
		"ok/implicit":               {p, "secretsmanager:GetSecretValue", ImplicitDeny, "", Source{}, true, true},
		"ok/no boundary":            {Policies{Identity: []*Document{identity}}, "lambda:GetFunction", Allow, "OwnFunctions", identity.Source, false, false},
		"ok/unnamed resource grant": {Policies{Resource: []*Document{grant}}, "lambda:GetFunction", Allow, "partner", Source{Type: "resource"}, false, false},
	}
	for name, c := range cases {
		d := Evaluate(c.p, Request{Principal: dev, Account: acct, Action: c.action, Resource: fn})
		if d.Effect != c.effect || d.Statement != c.statement || d.Source != c.source || d.Bounded != c.bounded || d.BoundaryAllows != c.allows {
			t.Errorf("%s: %+v", name, d)
		}
	}
	r := Request{Principal: dev, Account: acct, Action: "kms:Decrypt", Resource: "*", Context: map[string][]string{}}
	if got := MissingKeys(p, r); !slices.Equal(got, []string{"aws:resourcetag/team"}) {
		t.Errorf("MissingKeys = %v", got)
	}
	r.Context["aws:resourcetag/team"] = []string{"dev"}
	if got := MissingKeys(p, r); len(got) != 0 {
		t.Errorf("MissingKeys with the key = %v", got)
	}
	if got := MissingKeys(p, Request{Principal: dev, Account: acct, Action: "lambda:GetFunction", Resource: fn}); len(got) != 0 {
		t.Errorf("MissingKeys of an action no conditioned statement applies to = %v", got)
	}
}
