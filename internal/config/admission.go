package config

import (
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"time"
)

// Admission configures the Kubernetes admission webhooks: an HTTPS
// listener of its own answering AdmissionReview v1 requests at
// POST /validate (ValidatingWebhookConfiguration) and POST /mutate
// (MutatingWebhookConfiguration, which pins image tags to the digests
// verified). `signet admission config` prints both configurations.
type Admission struct {
	// Listen is the webhooks' HTTPS address, such as 0.0.0.0:8443.
	// Empty: no webhooks.
	Listen string `yaml:"listen"`
	// DNSNames are the names kube-apiserver reaches the webhooks at,
	// such as signet.signet-system.svc: at each start Signet issues the
	// listener a certificate for them from its root (which
	// `signet admission config` puts in the caBundle). Default: the
	// listen address's host, or localhost.
	DNSNames []string `yaml:"dns_names"`
	// TLSCertFile and TLSKeyFile, when set, are served instead (PEM);
	// then `signet admission config --ca-file` takes their CA.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// ClientCAFile, when set, makes the webhooks require a client
	// certificate issued by one of its CAs (PEM): kube-apiserver
	// presents one when its AdmissionConfiguration names it for this
	// webhook (kubeconfig client-certificate/client-key).
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientNames, with client_ca_file, are the only client certificates
	// accepted: one of a certificate's DNS names or its common name must
	// be listed (the cluster CA signs every node's and user's
	// certificate too). Empty: any certificate of those CAs.
	ClientNames []string `yaml:"client_names"`
	// TimeoutSeconds is the webhooks' timeoutSeconds (1–30, default
	// 10); a review is answered within it, the failure mode deciding
	// for images the registry did not answer for in time.
	TimeoutSeconds int `yaml:"timeout_seconds"`
	// NegativeCacheTTL is how long a refusal is cached, a duration
	// (default 30s): an image may be signed afterwards by a signer
	// Signet does not hear of. Verified results are kept until their
	// signature or certificate expires or a revocation drops them.
	NegativeCacheTTL string `yaml:"negative_cache_ttl"`
	// InsecureRegistries are registries (HOST:PORT) reached over plain
	// http. Registry credentials come from Docker's config.json
	// (DOCKER_CONFIG), as for notation.
	InsecureRegistries []string `yaml:"insecure_registries"`
	// Policies: the first whose namespaces and images cover an image
	// applies to it; an image no policy covers is admitted.
	Policies []AdmissionPolicy `yaml:"policies"`
}

// AdmissionPolicy is one admission policy.
type AdmissionPolicy struct {
	// Name identifies the policy in messages and audit records.
	Name string `yaml:"name"`
	// Namespaces are globs of the Kubernetes namespaces it covers
	// (prod-*); none: all, and ECS tasks (which have no namespace).
	Namespaces []string `yaml:"namespaces"`
	// Images are globs of the repositories it covers, as HOST/REPOSITORY
	// (registry.example:5000/team/*, docker.io/library/*); none: all.
	Images []string `yaml:"images"`
	// Mode: Enforce (deny, the default), Warn (admit with a warning) or
	// DryRun (admit; only the audit log says).
	Mode string `yaml:"mode"`
	// FailureMode: Fail (the default: deny when an image cannot be
	// checked, in Enforce mode) or Ignore (admit with a warning).
	FailureMode string `yaml:"failure_mode"`
	// Action is what continuous validation does with a running workload
	// that fails the policy: report (the default) or evict.
	Action string `yaml:"action"`
	// Profiles are the signing profiles (names) whose signatures it
	// trusts: the trust policy is then the one `signet trust export`
	// writes, trusting Signet's root.
	Profiles []string `yaml:"profiles"`
	// TrustPolicy is a Notation trust policy file (trustpolicy.json),
	// instead of Profiles; its trust stores are read from TrustStore, a
	// Notation configuration directory (default: Signet's root as the
	// signingAuthority stores signet and aws-signer-ts and its TSA root
	// as the tsa store signet-tsa).
	TrustPolicy string `yaml:"trust_policy"`
	TrustStore  string `yaml:"trust_store"`
}

// DefaultAdmissionTimeout is the webhooks' default timeoutSeconds.
const DefaultAdmissionTimeout = 10

// NegativeCacheTTLDuration is NegativeCacheTTL parsed (Validate checks
// it); zero when unset.
func (a *Admission) NegativeCacheTTLDuration() time.Duration {
	d, _ := time.ParseDuration(a.NegativeCacheTTL)
	return d
}

// Timeout is TimeoutSeconds, or the default.
func (a *Admission) Timeout() time.Duration {
	if a.TimeoutSeconds == 0 {
		return DefaultAdmissionTimeout * time.Second
	}
	return time.Duration(a.TimeoutSeconds) * time.Second
}

var policyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (a *Admission) validate(workloads bool) error {
	var errs []error
	if a.Listen == "" && len(a.Policies) > 0 && !workloads {
		errs = append(errs, errors.New("admission.listen: policies are set but neither a webhook (listen, such as 0.0.0.0:8443) nor workloads would apply them"))
	}
	if a.Listen != "" {
		if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			errs = append(errs, fmt.Errorf("admission.listen: %q is not HOST:PORT: %v", a.Listen, err))
		}
	}
	if (a.TLSCertFile == "") != (a.TLSKeyFile == "") {
		errs = append(errs, errors.New("admission: tls_cert_file and tls_key_file go together"))
	}
	if len(a.ClientNames) > 0 && a.ClientCAFile == "" {
		errs = append(errs, errors.New("admission.client_names: set admission.client_ca_file too (the names are of client certificates)"))
	}
	if a.ClientCAFile != "" && a.Listen == "" {
		errs = append(errs, errors.New("admission.client_ca_file: set admission.listen too (only the webhooks take client certificates)"))
	}
	if a.TimeoutSeconds < 0 || a.TimeoutSeconds > 30 {
		errs = append(errs, fmt.Errorf("admission.timeout_seconds: %d must be from 1 to 30 (kube-apiserver's limit)", a.TimeoutSeconds))
	}
	if a.NegativeCacheTTL != "" {
		if d, err := time.ParseDuration(a.NegativeCacheTTL); err != nil || d < 0 || d > 24*time.Hour {
			errs = append(errs, fmt.Errorf("admission.negative_cache_ttl: %q must be a duration from 0s to 24h, such as 30s", a.NegativeCacheTTL))
		}
	}
	seen := map[string]bool{}
	for i, p := range a.Policies {
		where := fmt.Sprintf("admission.policies[%d]", i)
		if !policyName.MatchString(p.Name) {
			errs = append(errs, fmt.Errorf("%s.name: %q must be 1–63 letters, digits, '.', '_' or '-'", where, p.Name))
		} else if seen[p.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q is used twice", where, p.Name))
		}
		seen[p.Name] = true
		for _, g := range append(append([]string{}, p.Namespaces...), p.Images...) {
			if _, err := path.Match(g, ""); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a valid glob: %v", where, g, err))
			}
		}
		switch p.Mode {
		case "", "Enforce", "Warn", "DryRun":
		default:
			errs = append(errs, fmt.Errorf("%s.mode: %q must be Enforce, Warn or DryRun", where, p.Mode))
		}
		switch p.FailureMode {
		case "", "Fail", "Ignore":
		default:
			errs = append(errs, fmt.Errorf("%s.failure_mode: %q must be Fail or Ignore", where, p.FailureMode))
		}
		switch p.Action {
		case "", "report", "evict":
		default:
			errs = append(errs, fmt.Errorf("%s.action: %q must be report or evict", where, p.Action))
		}
		switch {
		case len(p.Profiles) == 0 && p.TrustPolicy == "":
			errs = append(errs, fmt.Errorf("%s: set profiles (signing profile names) or trust_policy (a Notation trust policy file)", where))
		case len(p.Profiles) > 0 && p.TrustPolicy != "":
			errs = append(errs, fmt.Errorf("%s: set profiles or trust_policy, not both", where))
		case p.TrustStore != "" && p.TrustPolicy == "":
			errs = append(errs, fmt.Errorf("%s.trust_store: goes with trust_policy", where))
		}
	}
	return errors.Join(errs...)
}
