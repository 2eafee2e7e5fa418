package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/signet/signet/internal/admission"
	"github.com/signet/signet/internal/config"
)

// setRateLimits puts the limits of c in force; buckets start full.
func (s *Server) setRateLimits(c config.RateLimits) {
	l := rateLimiter(c, s.now)
	if l != nil && s.shared() {
		l.Nodes = s.LiveNodes
	}
	s.authz.limiter.Store(l)
}

// Reload applies what of cfg can change while the server runs (SIGHUP):
// the listeners' certificates (the same files read again, as a
// certificate manager replaces them; a self-issued one issued anew), the rate limits and the admission policies. The log
// level is the caller's (it owns the handler). Nothing changes when cfg
// is not valid or a part of it does not load; changes that need a
// restart are reported in the error, after the rest is applied.
func (s *Server) Reload(ctx context.Context, cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("the configuration is not valid, nothing reloaded:\n%w", err)
	}
	if err := cfg.CheckFiles(); err != nil {
		return fmt.Errorf("nothing reloaded: %w", err)
	}
	// Build everything before changing anything.
	var policies []*policyBuild
	if s.admission != nil {
		ps, trusts, err := s.admissionPolicies(cfg.Admission.Policies)
		if err != nil {
			return fmt.Errorf("nothing reloaded: %w", err)
		}
		policies = append(policies, &policyBuild{ps: ps, trusts: trusts})
	}
	var errs []error
	for _, src := range []*certSource{s.listenerCert, s.admissionCert} {
		if src == nil {
			continue
		}
		if err := src.load(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.setRateLimits(cfg.RateLimits)
	for _, b := range policies {
		s.admission.SetPolicies(b.ps)
		s.trustsMu.Lock()
		s.trusts = b.trusts
		s.trustsMu.Unlock()
	}
	s.log.InfoContext(ctx, "configuration reloaded", "admission_policies", len(cfg.Admission.Policies))
	return restartNeeded(s.cfg, cfg, s.admission != nil)
}

type policyBuild struct {
	ps     []*admission.Policy
	trusts []policyTrust
}

// restartNeeded names the settings that changed from old to cfg but take
// effect only at a restart.
func restartNeeded(old, cfg config.Config, admission bool) error {
	var changed []string
	check := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			changed = append(changed, name)
		}
	}
	check("listen", old.Listen, cfg.Listen)
	check("data_dir", old.DataDir, cfg.DataDir)
	check("database_url", old.DatabaseURL, cfg.DatabaseURL)
	check("object_store_url", old.ObjectStoreURL, cfg.ObjectStoreURL)
	check("public_base_url", old.PublicBaseURL, cfg.PublicBaseURL)
	check("tls", old.TLS.Mode, cfg.TLS.Mode)
	check("tls_cert_file, tls_key_file (the files are read again; other files need a restart)", [2]string{old.TLS.CertFile, old.TLS.KeyFile}, [2]string{cfg.TLS.CertFile, cfg.TLS.KeyFile})
	check("tls_dns_names", old.TLS.DNSNames, cfg.TLS.DNSNames)
	check("functions", old.Functions, cfg.Functions)
	check("admission.listen", old.Admission.Listen, cfg.Admission.Listen)
	check("workloads", old.Workloads, cfg.Workloads)
	check("web_identity", old.WebIdentity, cfg.WebIdentity)
	if !admission && len(cfg.Admission.Policies) > 0 {
		changed = append(changed, "admission.policies (admission was not configured at start)")
	}
	if len(changed) == 0 {
		return nil
	}
	return &RestartNeededError{Settings: changed}
}

// RestartNeededError names settings a reload could not apply.
type RestartNeededError struct{ Settings []string }

func (e *RestartNeededError) Error() string {
	return fmt.Sprintf("reloaded; these changed settings take effect at the next start: %v", e.Settings)
}
