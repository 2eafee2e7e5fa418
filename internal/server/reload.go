package server

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/signet/signet/internal/admission"
	"github.com/signet/signet/internal/config"
)

// setRateLimits puts the limits of c in force; buckets start full.
func (s *Server) setRateLimits(c config.RateLimits) {
	s.rateLimits = c
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
	var policies []*admission.Policy
	var trusts []policyTrust
	if s.admission != nil {
		var err error
		if policies, trusts, err = s.admissionPolicies(cfg.Admission.Policies); err != nil {
			return fmt.Errorf("nothing reloaded: %w", err)
		}
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
	if !reflect.DeepEqual(cfg.RateLimits, s.rateLimits) {
		s.setRateLimits(cfg.RateLimits) // unchanged limits keep their buckets: a reload grants no new burst
	}
	if s.admission != nil {
		s.admission.SetPolicies(policies)
		s.trustsMu.Lock()
		s.trusts = trusts
		s.trustsMu.Unlock()
	}
	s.log.InfoContext(ctx, "configuration reloaded", "admission_policies", len(cfg.Admission.Policies))
	return restartNeeded(s.cfg, cfg, s.admission != nil)
}

// restartNeeded names the settings that changed from old to cfg but take
// effect only at a restart: every setting but those Reload applies (deny
// by default, so that a setting added later is never silently ignored).
func restartNeeded(old, cfg config.Config, admission bool) error {
	// What Reload applies: the same in both before comparing.
	cfg.LogLevel, cfg.RateLimits = old.LogLevel, old.RateLimits
	if admission {
		cfg.Admission.Policies = old.Admission.Policies
	}
	changed := diffFields(reflect.ValueOf(old), reflect.ValueOf(cfg), "")
	if len(changed) == 0 {
		return nil
	}
	return &RestartNeededError{Settings: changed}
}

// diffFields names, by their YAML keys, the fields of two configuration
// structs that differ, descending into nested sections.
func diffFields(a, b reflect.Value, prefix string) []string {
	var out []string
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		fa, fb := a.Field(i), b.Field(i)
		if f.Anonymous || name == "" { // inlined sections
			if f.Type.Kind() == reflect.Struct {
				out = append(out, diffFields(fa, fb, prefix)...)
			}
			continue
		}
		if reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, diffFields(fa, fb, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

// RestartNeededError names settings a reload could not apply.
type RestartNeededError struct{ Settings []string }

func (e *RestartNeededError) Error() string {
	return fmt.Sprintf("reloaded; these changed settings take effect at the next start: %v", e.Settings)
}
