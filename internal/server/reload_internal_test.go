package server

import (
	"slices"
	"testing"

	"github.com/signet/signet/internal/config"
)

// TestRestartNeeded: a reload names every changed setting it does not
// apply, including ones no list of known settings would hold (deny by
// default); what it applies is not named.
func TestRestartNeeded(t *testing.T) {
	cases := map[string]struct {
		edit func(*config.Config)
		want []string
	}{
		"ok/nothing":     {func(*config.Config) {}, nil},
		"ok/log level":   {func(c *config.Config) { c.LogLevel = "debug" }, nil},
		"ok/rate limits": {func(c *config.Config) { c.RateLimits.Rate = 5 }, nil},
		"ok/policies": {func(c *config.Config) {
			c.Admission.Policies = []config.AdmissionPolicy{{Name: "p"}}
		}, nil},
		"fail/enforce":            {func(c *config.Config) { c.RequireEnforcedCodeSigning = true }, []string{"require_enforced_code_signing"}},
		"fail/insecure registry":  {func(c *config.Config) { c.Admission.InsecureRegistries = []string{"r:5000"} }, []string{"admission.insecure_registries"}},
		"fail/client ca":          {func(c *config.Config) { c.Admission.ClientCAFile = "ca.pem" }, []string{"admission.client_ca_file"}},
		"fail/tls file":           {func(c *config.Config) { c.TLS.CertFile = "other.crt" }, []string{"tls_cert_file"}},
		"fail/secret scan":        {func(c *config.Config) { c.SecretScan.AllowRules = []string{"x"} }, []string{"secret_scan.allow_rules"}},
		"fail/tracing and listen": {func(c *config.Config) { c.Tracing.OTLPEndpoint = "http://c:4318"; c.Listen = "0.0.0.0:1" }, []string{"listen", "tracing.otlp_endpoint"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			old := config.Defaults()
			next := config.Defaults()
			tc.edit(&next)
			err := restartNeeded(old, next, true)
			var got []string
			if err != nil {
				got = err.(*RestartNeededError).Settings
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("restart needed for %v, want %v", got, tc.want)
			}
		})
	}
}
