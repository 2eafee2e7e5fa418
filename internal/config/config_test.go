package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Setenv("SIGNET_TEST_REGION", "eu-west-1")
	cases := map[string]struct {
		yaml  string
		err   string // substring; "" for success
		check func(Config) bool
	}{
		"ok/empty": {"", "", func(c Config) bool { return reflect.DeepEqual(c, Defaults()) }},
		"ok/rate-limits": {"rate_limits:\n  rate: 5\n  actions:\n    signer:StartSigningJob: {rate: 1, burst: 2}\n", "", func(c Config) bool {
			return c.RateLimits.Rate == 5 && c.RateLimits.Actions["signer:StartSigningJob"].Burst == 2
		}},
		"ok/rate-limit-action-invalid": {"rate_limits:\n  actions:\n    StartSigningJob: {rate: 1}\n", "", func(c Config) bool {
			err := c.Validate()
			return err != nil && strings.Contains(err.Error(), "must be an IAM action")
		}},
		"ok/fields": {"listen: 0.0.0.0:8080\nregion: ap-northeast-1\naccount_id: \"123456789012\"\npublic_base_url: http://signet.internal:8080\n", "", func(c Config) bool {
			return c.Listen == "0.0.0.0:8080" && c.Region == "ap-northeast-1" && c.BaseURL() == "http://signet.internal:8080"
		}},
		"ok/env":           {"region: ${SIGNET_TEST_REGION}\n", "", func(c Config) bool { return c.Region == "eu-west-1" }},
		"ok/metrics":       {"metrics: {per_function: true}\n", "", func(c Config) bool { return c.Metrics.PerFunction && !Defaults().Metrics.PerFunction }},
		"ok/dollar":        {"subject:\n  organization: Cost$Center\n", "", func(c Config) bool { return c.Subject.Organization == "Cost$Center" }},
		"fail/unset-env":   {"region: ${SIGNET_TEST_UNSET_VARIABLE}\n", "SIGNET_TEST_UNSET_VARIABLE", nil},
		"fail/unknown-key": {"listne: x\n", "field listne not found", nil},
		"fail/syntax":      {"listen: [\n", "config", nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Parse("test.yaml", []byte(c.yaml))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Parse = %v, want an error containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(got) {
				t.Errorf("Parse = %+v", got)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		edit func(*Config)
		err  string
	}{
		"ok/defaults":              {func(*Config) {}, ""},
		"fail/listen":              {func(c *Config) { c.Listen = "9090" }, "listen:"},
		"fail/account":             {func(c *Config) { c.AccountID = "12345" }, "account_id:"},
		"fail/region":              {func(c *Config) { c.Region = "US East" }, "region:"},
		"fail/https-base":          {func(c *Config) { c.PublicBaseURL = "https://x" }, "public_base_url:"},
		"fail/subject":             {func(c *Config) { c.Subject.Country = "USA" }, "subject:"},
		"fail/log-level":           {func(c *Config) { c.LogLevel = "loud" }, "log_level:"},
		"fail/version":             {func(c *Config) { c.Version = 2 }, "version:"},
		"ok/crl-validity":          {func(c *Config) { c.CRLValidity = "30m" }, ""},
		"fail/crl-validity-zero":   {func(c *Config) { c.CRLValidity = "0s" }, "crl_validity:"},
		"fail/crl-validity-neg":    {func(c *Config) { c.CRLValidity = "-1h" }, "crl_validity:"},
		"fail/crl-validity-long":   {func(c *Config) { c.CRLValidity = "169h" }, "crl_validity:"},
		"fail/crl-validity-syntax": {func(c *Config) { c.CRLValidity = "an hour" }, "crl_validity:"},
		"fail/several-at-once":     {func(c *Config) { c.Region = "x"; c.LogLevel = "y" }, "log_level:"},
		"ok/secret-scan": {func(c *Config) {
			c.SecretScan = SecretScan{AllowPaths: []string{"tests/*", `re:^vendor/.*\.jar!`}, AllowRules: []string{"generic-api-key"}, AllowFingerprints: []string{"a.py:aws-access-token:3"}}
		}, ""},
		"fail/secret-scan-glob":  {func(c *Config) { c.SecretScan.AllowPaths = []string{"[a-"} }, "secret_scan:"},
		"fail/secret-scan-regex": {func(c *Config) { c.SecretScan.AllowPaths = []string{"re:(unclosed"} }, "secret_scan:"},
		"ok/admission": {func(c *Config) {
			c.Admission = Admission{Listen: "0.0.0.0:8443", Policies: []AdmissionPolicy{{Name: "prod", Namespaces: []string{"prod-*"}, Profiles: []string{"images"}, Mode: "Warn", FailureMode: "Ignore", Action: "evict"}}}
		}, ""},
		"fail/admission-no-listen": {func(c *Config) { c.Admission.Policies = []AdmissionPolicy{{Name: "p", Profiles: []string{"x"}}} }, "admission.listen: policies are set"},
		"fail/admission-listen":    {func(c *Config) { c.Admission.Listen = "8443" }, "admission.listen:"},
		"fail/admission-cert":      {func(c *Config) { c.Admission = Admission{Listen: ":8443", TLSCertFile: "c.pem"} }, "tls_cert_file and tls_key_file go together"},
		"fail/admission-timeout":   {func(c *Config) { c.Admission = Admission{Listen: ":8443", TimeoutSeconds: 31} }, "timeout_seconds"},
		"fail/admission-ttl":       {func(c *Config) { c.Admission = Admission{Listen: ":8443", NegativeCacheTTL: "soon"} }, "negative_cache_ttl"},
		"fail/admission-mode": {func(c *Config) {
			c.Admission = Admission{Listen: ":8443", Policies: []AdmissionPolicy{{Name: "p", Profiles: []string{"x"}, Mode: "enforce"}}}
		}, "admission.policies[0].mode: \"enforce\" must be Enforce, Warn or DryRun"},
		"fail/admission-trust": {func(c *Config) { c.Admission = Admission{Listen: ":8443", Policies: []AdmissionPolicy{{Name: "p"}}} }, "set profiles"},
		"fail/admission-both": {func(c *Config) {
			c.Admission = Admission{Listen: ":8443", Policies: []AdmissionPolicy{{Name: "p", Profiles: []string{"x"}, TrustPolicy: "tp.json"}}}
		}, "not both"},
		"fail/admission-glob": {func(c *Config) {
			c.Admission = Admission{Listen: ":8443", Policies: []AdmissionPolicy{{Name: "p", Profiles: []string{"x"}, Images: []string{"reg/[a"}}}}
		}, "not a valid glob"},
		"ok/init-timeout":         {func(c *Config) { c.Functions.InitTimeout = "30s" }, ""},
		"fail/init-timeout":       {func(c *Config) { c.Functions.InitTimeout = "100ms" }, "functions.init_timeout"},
		"fail/workloads-lease":    {func(c *Config) { c.Workloads.LeaderLease = "500ms" }, "workloads.leader_lease"},
		"fail/workloads-interval": {func(c *Config) { c.Workloads.CheckInterval = "often" }, "workloads.check_interval"},
		"fail/admission-dup": {func(c *Config) {
			c.Admission = Admission{Listen: ":8443", Policies: []AdmissionPolicy{{Name: "p", Profiles: []string{"x"}}, {Name: "p", Profiles: []string{"y"}}}}
		}, "used twice"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := Defaults()
			c.edit(&cfg)
			err := cfg.Validate()
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Validate = %v, want %q", err, c.err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:9090\nregion: us-east-1\n"))
	f.Add([]byte("subject:\n  country: US\n  state: ${HOME}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("fuzz.yaml", b)
		if err == nil {
			_ = c.Validate()
		}
	})
}
