package cli_test

import (
	"encoding/pem"
	"slices"
	"strings"
	"testing"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"

	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
)

// TestAdmissionConfig: signet admission config prints webhook
// configurations kube-apiserver accepts: Signet's TLS CA (not its
// code-signing root) as the CA bundle,
// failurePolicy Fail, the timeout, every workload kind, v1 reviews.
func TestAdmissionConfig(t *testing.T) {
	srv := servertest.Start(t)
	root := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.TLSCA().Raw}))
	code, stdout, stderr := run(t, srv, "admission", "config", "--url", "https://signet.example:8443", "--mutating", "--timeout", "8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "fetched over plain http") || !strings.Contains(stderr, server.Fingerprint(srv.TLSCA())) {
		t.Errorf("no warning with the fingerprint for a CA bundle fetched over plain http: %q", stderr)
	}
	docs := strings.Split(stdout, "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("want a mutating and a validating configuration:\n%s", stdout)
	}
	var m admissionregv1.MutatingWebhookConfiguration
	var v admissionregv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &m); err != nil || m.Kind != "MutatingWebhookConfiguration" || len(m.Webhooks) != 1 {
		t.Fatalf("mutating: %v\n%s", err, docs[0])
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &v); err != nil || v.Kind != "ValidatingWebhookConfiguration" || len(v.Webhooks) != 1 {
		t.Fatalf("validating: %v\n%s", err, docs[1])
	}
	vw, mw := v.Webhooks[0], m.Webhooks[0]
	if string(vw.ClientConfig.CABundle) != root || string(mw.ClientConfig.CABundle) != root {
		t.Errorf("the CA bundle is not Signet's TLS CA")
	}
	if *vw.ClientConfig.URL != "https://signet.example:8443/validate" || *mw.ClientConfig.URL != "https://signet.example:8443/mutate" {
		t.Errorf("URLs %s, %s", *vw.ClientConfig.URL, *mw.ClientConfig.URL)
	}
	if *vw.FailurePolicy != admissionregv1.Fail || *vw.TimeoutSeconds != 8 || *vw.SideEffects != admissionregv1.SideEffectClassNone || !slices.Equal(vw.AdmissionReviewVersions, []string{"v1"}) {
		t.Errorf("validating webhook %+v", vw)
	}
	var resources []string
	for _, r := range vw.Rules {
		resources = append(resources, r.Resources...)
		if !slices.Equal(r.Operations, []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update}) {
			t.Errorf("operations %v", r.Operations)
		}
	}
	for _, want := range []string{"pods", "pods/ephemeralcontainers", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs", "replicationcontrollers"} {
		if !slices.Contains(resources, want) {
			t.Errorf("the rules leave out %s: %v", want, resources)
		}
	}
	if e := vw.NamespaceSelector.MatchExpressions; len(e) != 1 || !slices.Equal(e[0].Values, []string{"kube-system"}) {
		t.Errorf("namespace selector %+v", vw.NamespaceSelector)
	}

	code, stdout, _ = run(t, srv, "admission", "config", "--service", "signet-system/signet:8443", "--exclude-namespace", "kube-system", "--exclude-namespace", "signet-system")
	if code != 0 || !strings.Contains(stdout, "namespace: signet-system") || !strings.Contains(stdout, "port: 8443") || !strings.Contains(stdout, "path: /validate") || strings.Contains(stdout, "Mutating") {
		t.Errorf("--service: exit %d\n%s", code, stdout)
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"admission", "config"}, "needs one of --url"},
		{[]string{"admission", "config", "--url", "http://signet.example"}, "must be https://"},
		{[]string{"admission", "config", "--service", "signet"}, "NAMESPACE/NAME"},
		{[]string{"admission", "config", "--url", "https://x", "--timeout", "31"}, "from 1 to 30"},
		{[]string{"admission", "print"}, "admission needs a subcommand: config"},
	} {
		if code, _, stderr := run(t, srv, c.args...); code != 2 || !strings.Contains(stderr, c.says) {
			t.Errorf("%v: exit %d, %s; want 2 saying %q", c.args, code, stderr, c.says)
		}
	}
}
