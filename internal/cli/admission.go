package cli

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/signet/signet/internal/server"
)

// admissionCmd prints the webhook configurations kube-apiserver needs to
// call Signet's admission webhooks.
func admissionCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "config" {
		return usageError("admission needs a subcommand: config")
	}
	var cf clientFlags
	fs := flag.NewFlagSet("admission config", flag.ContinueOnError)
	cf.register(fs)
	webhookURL := fs.String("url", "", "the webhooks' base URL as kube-apiserver reaches them, https://HOST:PORT (or use --service)")
	service := fs.String("service", "", "the webhooks' Kubernetes Service, NAMESPACE/NAME[:PORT] (default port 443)")
	caFile := fs.String("ca-file", "", "PEM CA bundle of the webhooks' certificate (default: Signet's TLS CA, from the server)")
	timeout := fs.Int("timeout", 10, "timeoutSeconds, 1–30; keep it at least admission.timeout_seconds")
	mutating := fs.Bool("mutating", false, "also print the MutatingWebhookConfiguration that pins tags to verified digests")
	var exclude listFlags
	fs.Var(&exclude, "exclude-namespace", "namespace the webhooks never see (repeatable; default kube-system)")
	name := fs.String("name", "signet", "name of the configurations (and prefix of the webhooks' names)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("admission config takes flags only")
	}
	if (*webhookURL == "") == (*service == "") {
		return usageError("admission config needs one of --url https://HOST:PORT or --service NAMESPACE/NAME[:PORT]")
	}
	if *timeout < 1 || *timeout > 30 {
		return usageError("--timeout %d: timeoutSeconds must be from 1 to 30", *timeout)
	}
	if len(exclude) == 0 {
		exclude = listFlags{"kube-system"}
	}
	var ca []byte
	if *caFile != "" {
		if ca, err = os.ReadFile(*caFile); err != nil {
			return err
		}
	} else {
		if err := cf.check(); err != nil {
			return err
		}
		var cert *x509.Certificate
		if cert, ca, err = fetchPEM(ctx, &cf, "/pki/tls-ca.pem"); err == nil && strings.HasPrefix(cf.endpoint, "http://") {
			// Over plain http anyone on the path could have answered: the
			// caBundle decides whom kube-apiserver sends pods to.
			fmt.Fprintf(stderr, "signet: the CA bundle was fetched over plain http; check its SHA-256 fingerprint %s against the one 'signet serve' printed, or pass --ca-file DATA_DIR/tls/ca.pem\n", server.Fingerprint(cert))
		}
		if err != nil {
			return &hintError{err, []string{"is 'signet serve' running at " + cf.endpoint + "? or give the CA with --ca-file"}}
		}
	}
	clientConfig := func(path string) (admissionregv1.WebhookClientConfig, error) {
		cc := admissionregv1.WebhookClientConfig{CABundle: ca}
		if *webhookURL != "" {
			u, err := url.Parse(*webhookURL)
			if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				return cc, usageError("--url %q must be https://HOST[:PORT] (kube-apiserver calls webhooks over https only)", *webhookURL)
			}
			s := strings.TrimSuffix(u.String(), "/") + path
			cc.URL = &s
			return cc, nil
		}
		ns, rest, ok := strings.Cut(*service, "/")
		svc, portText, hasPort := strings.Cut(rest, ":")
		if !ok || ns == "" || svc == "" {
			return cc, usageError("--service %q must be NAMESPACE/NAME[:PORT]", *service)
		}
		port := int32(443)
		if hasPort {
			var p int
			if _, err := fmt.Sscanf(portText, "%d", &p); err != nil || p < 1 || p > 65535 {
				return cc, usageError("--service %q: the port must be 1–65535", *service)
			}
			port = int32(p)
		}
		cc.Service = &admissionregv1.ServiceReference{Namespace: ns, Name: svc, Path: &path, Port: &port}
		return cc, nil
	}
	rules := []admissionregv1.RuleWithOperations{{
		Operations: []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update},
		Rule: admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
			Resources: []string{"pods", "pods/ephemeralcontainers", "replicationcontrollers"}},
	}, {
		Operations: []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update},
		Rule:       admissionregv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets"}},
	}, {
		Operations: []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update},
		Rule:       admissionregv1.Rule{APIGroups: []string{"batch"}, APIVersions: []string{"v1"}, Resources: []string{"jobs", "cronjobs"}},
	}}
	fail := admissionregv1.Fail
	none := admissionregv1.SideEffectClassNone
	to := int32(*timeout)
	selector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: exclude,
	}}}
	vcc, err := clientConfig("/validate")
	if err != nil {
		return err
	}
	docs := []any{admissionregv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: *name},
		Webhooks: []admissionregv1.ValidatingWebhook{{
			Name: "validate." + *name + ".signet.io", ClientConfig: vcc, Rules: rules, FailurePolicy: &fail,
			SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: &to, NamespaceSelector: selector,
		}},
	}}
	if *mutating {
		mcc, err := clientConfig("/mutate")
		if err != nil {
			return err
		}
		never := admissionregv1.NeverReinvocationPolicy
		docs = append([]any{admissionregv1.MutatingWebhookConfiguration{
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
			ObjectMeta: metav1.ObjectMeta{Name: *name},
			Webhooks: []admissionregv1.MutatingWebhook{{
				Name: "mutate." + *name + ".signet.io", ClientConfig: mcc, Rules: rules, FailurePolicy: &fail,
				SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: &to, NamespaceSelector: selector,
				ReinvocationPolicy: &never,
			}},
		}}, docs...)
	}
	for i, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(stdout, "---")
		}
		stdout.Write(b)
	}
	return nil
}
