package awsapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recorder is an Authorizer that records what it was asked.
type recorder struct{ reqs []AuthzRequest }

func (a *recorder) Authorize(_ context.Context, r AuthzRequest) error {
	a.reqs = append(a.reqs, r)
	return nil
}

// TestTypedDecodesOnce checks that a typed operation's body is decoded
// once, before authorization, and that its resource, condition keys and
// handler all read that one decoding; a body that does not decode is
// authorized on "*" and refused before the handler runs.
func TestTypedDecodesOnce(t *testing.T) {
	type input struct {
		Name string `json:"name"`
		CSC  string `json:"csc"`
	}
	cases := []struct {
		name, body   string
		wantStatus   int
		wantResource string
		wantHandled  bool
	}{
		{"ok", `{"name":"fn","csc":"arn:csc"}`, 200, "arn:fn", true},
		{"fail/not-json", `{"name":`, 400, "*", false},
		{"fail/wrong-type", `{"name":7}`, 400, "*", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			decodes, handled := 0, false
			var keys map[string][]string
			decode := func(r *http.Request, v any) error { decodes++; return DecodeJSON(r, v) }
			op := Typed(Operation{Name: "Op", Pattern: "POST /op", Action: "svc:Op"}, decode,
				func(_ *http.Request, in *input) string { return "arn:" + in.Name },
				func(in *input) map[string][]string { return map[string][]string{"svc:csc": {in.CSC}} },
				func(w http.ResponseWriter, _ *http.Request, in *input) error {
					handled = true
					if in.Name != "fn" {
						t.Errorf("handler got %+v", in)
					}
					return WriteJSON(w, struct{}{})
				})
			authz := &recorder{}
			svc := &Service{Name: "svc", Protocol: JSON{}, Operations: []Operation{op}, Authorizer: authz}
			rec := httptest.NewRecorder()
			svc.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/op", strings.NewReader(c.body)))
			if rec.Code != c.wantStatus || handled != c.wantHandled || decodes != 1 {
				t.Fatalf("status %d handled %v decodes %d (%s); want %d %v 1", rec.Code, handled, decodes, rec.Body, c.wantStatus, c.wantHandled)
			}
			if len(authz.reqs) != 1 || authz.reqs[0].Resource != c.wantResource {
				t.Fatalf("authorized %+v, want resource %q", authz.reqs, c.wantResource)
			}
			if keys = authz.reqs[0].Keys; c.wantHandled && keys["svc:csc"][0] != "arn:csc" {
				t.Errorf("condition keys %v", keys)
			}
		})
	}
}
