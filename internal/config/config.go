// Package config is Signet's configuration: one YAML file, every field
// documented on [Config]. Command-line flags override the file; the file
// may reference environment variables as ${NAME} (only that form is
// expanded).
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/signet/signet/internal/pki"
	"github.com/signet/signet/internal/secretscan"
)

// Version is the configuration format version this build reads.
const Version = 1

// Config is the server configuration.
type Config struct {
	// Version of the file format; 0 or 1.
	Version int `yaml:"version"`
	// DataDir holds the database, master key, credentials and blobs.
	// Default ./signet-data.
	DataDir string `yaml:"data_dir"`
	// Listen is the TCP address of the API. Default 127.0.0.1:9090.
	Listen string `yaml:"listen"`
	// Region is the AWS region in every ARN. Default us-east-1. It is
	// fixed when the data directory is initialised.
	Region string `yaml:"region"`
	// AccountID is the 12-digit account id in every ARN. Generated at
	// first start when empty; fixed when the data directory is initialised.
	AccountID string `yaml:"account_id"`
	// PublicBaseURL is the http:// URL clients and verifiers reach this
	// server at; certificates carry CRL distribution points and OCSP
	// responder URLs under it.
	// Default http://LISTEN.
	PublicBaseURL string `yaml:"public_base_url"`
	// TLS: HTTPS on the listener (tls, tls_cert_file, tls_key_file,
	// tls_dns_names).
	TLS `yaml:",inline"`
	// Subject holds the C, ST, L and O of every certificate. Fixed when
	// the root CA is created at first start. Default US, Washington,
	// Seattle, Signet.
	Subject Subject `yaml:"subject"`
	// ObjectStoreURL is where object data (packages, signed packages)
	// is kept: empty for the directory DATA_DIR/objects, or a gocloud.dev
	// blob URL such as
	// "s3://bucket?endpoint=http://minio:9000&region=us-east-1&use_path_style=true"
	// for any S3-compatible store (credentials from the standard AWS
	// environment) or "file:///var/lib/signet/objects". Object metadata
	// stays in the database.
	ObjectStoreURL string `yaml:"object_store_url"`
	// DatabaseURL is the metadata database: empty for SQLite files in
	// the data directory (the default, one node), or
	// postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=… for PostgreSQL,
	// which several nodes share. The audit log then lives in the same
	// database.
	DatabaseURL string `yaml:"database_url"`
	// MasterKeyFile is the 32-byte key everything sealed at rest is
	// sealed under. Default DATA_DIR/master.key, created at first start.
	// Nodes sharing a database must all be given the same one: with
	// database_url set, a node whose file is missing refuses to start
	// on an installation initialised before (it would seal under
	// another key), and one whose key differs from the installation's is
	// refused too.
	MasterKeyFile string `yaml:"master_key_file"`
	// KeyStore says where private keys live: software keys sealed under
	// the master key (default) or a PKCS#11 token (see KeyStore).
	KeyStore KeyStore `yaml:"key_store"`
	// RequireEnforcedCodeSigning makes CreateFunction refuse a function
	// without a code signing config whose UntrustedArtifactOnDeployment is
	// Enforce, and refuses to detach such a config from a function, to
	// attach one that is not Enforce, or to change one from Enforce to
	// Warn. Default false, as in Lambda.
	RequireEnforcedCodeSigning bool `yaml:"require_enforced_code_signing"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`
	// Functions configures the function runtime.
	Functions Functions `yaml:"functions"`
	// RateLimits limits each access key's request rate per action (token
	// buckets). Default: no limit.
	RateLimits RateLimits `yaml:"rate_limits"`
	// WebIdentity lists the OpenID Connect issuers whose ID tokens
	// AssumeRoleWithWebIdentity accepts (CI systems such as GitHub
	// Actions). A role trusts one with Principal {"Federated":
	// "arn:aws:iam::ACCOUNT:oidc-provider/HOST"}.
	WebIdentity []WebIdentityProvider `yaml:"web_identity"`
	// Metrics configures GET /metrics, which takes no credentials.
	Metrics Metrics `yaml:"metrics"`
	// Tracing: OpenTelemetry traces, off by default.
	Tracing Tracing `yaml:"tracing"`
	// ShutdownTimeout is how long SIGTERM waits for requests and
	// invocations in flight to finish before stopping them (a duration,
	// default 30s).
	ShutdownTimeout string `yaml:"shutdown_timeout"`
	// CRLValidity is how long each CRL and OCSP response Signet issues is
	// valid (its nextUpdate), a Go duration such as 1h or 30m, from 1m
	// to 168h. Offline verifiers, and verifiers that cache CRLs (notation
	// keeps them until nextUpdate), learn of a revocation at the latest
	// this long after it; online OCSP at once. Default 1h.
	CRLValidity string `yaml:"crl_validity"`
	// Admission configures the Kubernetes admission webhooks and the
	// image policies.
	Admission Admission `yaml:"admission"`
	// Console configures the web console under /console/.
	Console Console `yaml:"console"`
	// Workloads configures continuous validation of running workloads
	// by the admission policies.
	Workloads Workloads `yaml:"workloads"`
	// SecretScan is the installation-wide allowlist of the secret scan
	// that signing jobs of Lambda profiles run before signing (the
	// profile's signing parameter secretScan: enforce, the default, warn
	// or off; see docs/secretscan.md).
	SecretScan SecretScan `yaml:"secret_scan"`
}

// SecretScan is the secret scan's allowlist: a finding matching any
// entry neither fails nor marks a signing job.
type SecretScan struct {
	// AllowPaths are path globs ("*.pem", "tests/*", matched against the
	// whole path and each suffix after a / or !) or regular expressions
	// written "re:EXPR". A file in a nested archive is named
	// outer.zip!inner/file.
	AllowPaths []string `yaml:"allow_paths"`
	// AllowRules are gitleaks rule ids, such as generic-api-key.
	AllowRules []string `yaml:"allow_rules"`
	// AllowFingerprints are single findings, PATH:RULE:LINE as a job's
	// secretScanFindings show them.
	AllowFingerprints []string `yaml:"allow_fingerprints"`
}

// Allowlist is the allowlist the scanner applies.
func (s SecretScan) Allowlist() *secretscan.Allowlist {
	return &secretscan.Allowlist{Paths: s.AllowPaths, Rules: s.AllowRules, Fingerprints: s.AllowFingerprints}
}

// MaxCRLValidity bounds crl_validity.
const MaxCRLValidity = 7 * 24 * time.Hour

// CRLValidityDuration is CRLValidity parsed (Validate checks it).
func (c *Config) CRLValidityDuration() time.Duration {
	d, _ := time.ParseDuration(c.CRLValidity)
	return d
}

// Metrics configures what the unauthenticated GET /metrics shows.
type Metrics struct {
	// PerFunction adds a series per function, labelled with its name, to
	// the invocation metrics. Default false: anyone who can reach the
	// server can read /metrics, so by default the invocation metrics are
	// totals over all functions and name none. Turn it on where the
	// metrics endpoint is reachable only by the monitoring system.
	PerFunction bool `yaml:"per_function"`
	// TokenFile, when set, names a file holding a bearer token that
	// GET /metrics then requires (Prometheus: authorization:
	// {credentials_file: …}); without it /metrics is public, as
	// /healthz is.
	TokenFile string `yaml:"token_file"`
}

// Tracing configures OpenTelemetry traces: a span tree per API request
// (request, operation, authorization, database statements, object store,
// function sandbox), exported over OTLP/HTTP. Trace context is read from
// and written to W3C traceparent and AWS X-Ray X-Amzn-Trace-Id headers.
type Tracing struct {
	// OTLPEndpoint is the collector's OTLP/HTTP URL, such as
	// http://otel-collector:4318 (/v1/traces is added when it has no
	// path). Empty: no tracing (the default).
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the share of the traces that start here that are
	// recorded, 0 to 1 (default 1); a caller's sampling decision is
	// followed.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// WebIdentityProvider is a trusted OpenID Connect issuer.
type WebIdentityProvider struct {
	// Issuer is the iss of its tokens, an https:// URL (http:// is
	// accepted for tests on loopback).
	Issuer string `yaml:"issuer"`
	// JWKSURL is where its signing keys are; default: the jwks_uri of
	// ISSUER/.well-known/openid-configuration.
	JWKSURL string `yaml:"jwks_url"`
	// Audiences are the accepted aud values (client ids); empty accepts
	// any, leaving the check to trust policy conditions on HOST:aud.
	Audiences []string `yaml:"audiences"`
}

// RateLimits are token-bucket limits per access key and action.
type RateLimits struct {
	// Rate is requests per second per access key and action; 0: none.
	Rate float64 `yaml:"rate"`
	// Burst is the bucket size (default 2 × Rate).
	Burst int `yaml:"burst"`
	// Actions overrides Rate and Burst for IAM actions such as
	// signer:StartSigningJob.
	Actions map[string]RateLimit `yaml:"actions"`
}

// RateLimit is one action's limit.
type RateLimit struct {
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
}

// Functions configures how functions run.
type Functions struct {
	// Concurrency is how many invocations may run at once across all
	// functions (Lambda's account concurrency limit). Default 16.
	Concurrency int `yaml:"concurrency"`
	// IdleTimeout is how long an unused execution environment is kept
	// warm, as a Go duration. Default 5m.
	IdleTimeout string `yaml:"idle_timeout"`
	// InitTimeout bounds a runtime's init phase (the function's Timeout
	// when longer), as a Go duration. Default 10s, Lambda's; raise it on
	// a slow or heavily shared machine.
	InitTimeout string `yaml:"init_timeout"`
	// TmpSizeMB is the size of each sandbox's /tmp (Lambda's ephemeral
	// storage). It counts against the function's memory. Default 512.
	TmpSizeMB int `yaml:"tmp_size_mb"`
	// AsyncWorkers run Event invocations. Default 2.
	AsyncWorkers int `yaml:"async_workers"`
	// LogRetentionDays deletes function log events older than this;
	// 0 keeps them. Default 30.
	LogRetentionDays int `yaml:"log_retention_days"`
	// NodeModulesDir is a node_modules directory that node functions
	// find at /var/runtime/node_modules, as Lambda's node runtimes ship
	// the AWS SDK for JavaScript v3 there (install it with npm install
	// --prefix DIR @aws-sdk/client-…). Empty: none.
	NodeModulesDir string `yaml:"node_modules_dir"`
}

// InitTimeoutDuration is InitTimeout parsed (Validate checks it), or 0
// for the default.
func (f Functions) InitTimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(f.InitTimeout)
	return d
}

// IdleTimeoutDuration is IdleTimeout parsed (Validate checks it).
func (f Functions) IdleTimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(f.IdleTimeout)
	return d
}

// Subject is the distinguished name shared by every certificate.
type Subject struct {
	Country      string `yaml:"country"`
	State        string `yaml:"state"`
	Locality     string `yaml:"locality"`
	Organization string `yaml:"organization"`
}

// Name returns the subject as a pki.Name.
func (s Subject) Name() pki.Name {
	return pki.Name{Country: s.Country, Province: s.State, Locality: s.Locality, Organization: s.Organization}
}

// Defaults returns the embedded defaults.
func Defaults() Config {
	return Config{
		Version:         Version,
		DataDir:         "./signet-data",
		Listen:          "127.0.0.1:9090",
		Region:          "us-east-1",
		LogLevel:        "info",
		Subject:         Subject{Country: "US", State: "Washington", Locality: "Seattle", Organization: "Signet"},
		Functions:       Functions{Concurrency: 16, IdleTimeout: "5m", TmpSizeMB: 512, AsyncWorkers: 2, LogRetentionDays: 30},
		CRLValidity:     "1h",
		Tracing:         Tracing{SampleRatio: 1},
		ShutdownTimeout: "30s",
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Load reads the YAML file at path over the defaults. Unknown fields are
// errors, so that a misspelt key does not silently do nothing.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Defaults(), fmt.Errorf("failed to read config: %w", err)
	}
	return Parse(path, b)
}

// Parse reads YAML configuration text over the defaults; name is used in
// error messages.
func Parse(name string, b []byte) (Config, error) {
	c := Defaults()
	path := name
	var missing []string
	expanded := envRef.ReplaceAllStringFunc(string(b), func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return c, fmt.Errorf("config %s references unset environment variables: %s", path, strings.Join(missing, ", "))
	}
	dec := yaml.NewDecoder(strings.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks the configuration, reporting every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Version != 0 && c.Version != Version {
		errs = append(errs, fmt.Errorf("version: %d is not supported (this build reads version %d)", c.Version, Version))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: must not be empty"))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %q is not HOST:PORT: %v", c.Listen, err))
	}
	if c.AccountID != "" && !regexp.MustCompile(`^[0-9]{12}$`).MatchString(c.AccountID) {
		errs = append(errs, fmt.Errorf("account_id: %q must be exactly 12 digits", c.AccountID))
	}
	if !regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`).MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("region: %q is not a region name such as us-east-1", c.Region))
	}
	if c.PublicBaseURL != "" {
		u, err := url.Parse(c.PublicBaseURL)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			errs = append(errs, fmt.Errorf("public_base_url: %q must be an http:// URL (Notary verifiers fetch CRLs only over http)", c.PublicBaseURL))
		}
	}
	if err := c.TLS.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Console.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Subject.Name().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("subject: %v", err))
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, errors.New("database_url: must be a postgres:// URL (or empty for SQLite in the data directory)"))
		}
	}
	if c.ObjectStoreURL != "" {
		u, err := url.Parse(c.ObjectStoreURL)
		if err != nil || (u.Scheme != "s3" && u.Scheme != "file") {
			errs = append(errs, fmt.Errorf("object_store_url: %q must be an s3:// or file:// URL", c.ObjectStoreURL))
		}
	}
	if f := c.Functions; f.Concurrency < 1 || f.TmpSizeMB < 1 || f.AsyncWorkers < 1 || f.LogRetentionDays < 0 {
		errs = append(errs, fmt.Errorf("functions: concurrency, tmp_size_mb and async_workers must be at least 1, log_retention_days at least 0"))
	}
	if v := c.Functions.InitTimeout; v != "" {
		if d, err := time.ParseDuration(v); err != nil || d < time.Second {
			errs = append(errs, fmt.Errorf("functions.init_timeout: %q must be a duration of at least 1s, such as 10s", v))
		}
	}
	if d, err := time.ParseDuration(c.Functions.IdleTimeout); err != nil || d <= 0 {
		errs = append(errs, fmt.Errorf("functions.idle_timeout: %q must be a positive duration such as 5m", c.Functions.IdleTimeout))
	}
	if d, err := time.ParseDuration(c.CRLValidity); err != nil || d < time.Minute || d > MaxCRLValidity {
		errs = append(errs, fmt.Errorf("crl_validity: %q must be a duration from 1m to 168h, such as 1h", c.CRLValidity))
	}
	if c.RateLimits.Rate < 0 || c.RateLimits.Burst < 0 {
		errs = append(errs, errors.New("rate_limits: rate and burst must not be negative"))
	}
	for a, l := range c.RateLimits.Actions {
		if !strings.Contains(a, ":") || l.Rate < 0 || l.Burst < 0 {
			errs = append(errs, fmt.Errorf("rate_limits.actions: %q must be an IAM action such as signer:StartSigningJob with a rate and burst of at least 0", a))
		}
	}
	for _, p := range c.WebIdentity {
		u, err := url.Parse(p.Issuer)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost"))) {
			errs = append(errs, fmt.Errorf("web_identity: issuer %q must be an https:// URL", p.Issuer))
		}
	}
	if err := c.Admission.validate(c.Workloads.Enabled()); err != nil {
		errs = append(errs, err)
	}
	if err := c.Workloads.validate(&c.Admission); err != nil {
		errs = append(errs, err)
	}
	if err := c.KeyStore.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.SecretScan.Allowlist().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("secret_scan: %w", err))
	}
	if t := c.Tracing; t.SampleRatio < 0 || t.SampleRatio > 1 {
		errs = append(errs, fmt.Errorf("tracing.sample_ratio: %v must be from 0 to 1", t.SampleRatio))
	}
	if e := c.Tracing.OTLPEndpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("tracing.otlp_endpoint: %q must be an http:// or https:// URL such as http://otel-collector:4318", e))
		}
	}
	if d, err := time.ParseDuration(c.ShutdownTimeout); err != nil || d < 0 || d > time.Hour {
		errs = append(errs, fmt.Errorf("shutdown_timeout: %q must be a duration from 0s to 1h, such as 30s", c.ShutdownTimeout))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: %q must be debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// BaseURL returns PublicBaseURL, or http://LISTEN when it is empty.
func (c *Config) BaseURL() string {
	if c.PublicBaseURL != "" {
		return strings.TrimSuffix(c.PublicBaseURL, "/")
	}
	return "http://" + c.Listen
}

// ShutdownTimeoutDuration is ShutdownTimeout parsed (Validate checks it).
func (c *Config) ShutdownTimeoutDuration() time.Duration {
	d, err := time.ParseDuration(c.ShutdownTimeout)
	if err != nil {
		return 30 * time.Second
	}
	return d
}
