package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// TLSSelf is the value of `tls` that makes Signet issue its listener a
// certificate from its own TLS certificate authority.
const TLSSelf = "self"

// TLS configures HTTPS on the API listener.
//
// With tls_cert_file and tls_key_file (PEM) the listener serves that
// certificate; with `tls: self` Signet issues one at each start from
// its own TLS certificate authority (a CA of its own, kept apart from
// the code-signing root: see docs/tls.md) for tls_dns_names, and writes
// that CA's certificate to DATA_DIR/tls/ca.pem for clients (the AWS
// CLI's --ca-bundle, AWS_CA_BUNDLE for the SDKs). Without either the
// listener speaks plain HTTP.
//
// With TLS on, the same port still answers plain HTTP for what
// certificate verifiers fetch and cannot fetch over HTTPS (CRLs, OCSP,
// the root certificate, timestamps) and for /healthz; every API call
// must come over HTTPS.
type TLS struct {
	// Mode is `self`, or empty (the certificate files decide).
	Mode string `yaml:"tls"`
	// CertFile and KeyFile are the listener's certificate chain and key
	// (PEM). Reloaded on SIGHUP.
	CertFile string `yaml:"tls_cert_file"`
	KeyFile  string `yaml:"tls_key_file"`
	// DNSNames are the names and addresses the self-issued certificate
	// is for. Default: the public_base_url's or listen address's host,
	// with localhost, 127.0.0.1 and ::1 when that host is a loopback or
	// unspecified address.
	DNSNames []string `yaml:"tls_dns_names"`
}

// Enabled reports whether the API listener serves HTTPS.
func (t TLS) Enabled() bool { return t.Mode == TLSSelf || t.CertFile != "" }

func (t TLS) validate() error {
	var errs []error
	switch {
	case t.Mode != "" && t.Mode != TLSSelf:
		errs = append(errs, fmt.Errorf("tls: %q is not a TLS mode: set `tls: self`, or tls_cert_file and tls_key_file", t.Mode))
	case t.Mode == TLSSelf && (t.CertFile != "" || t.KeyFile != ""):
		errs = append(errs, errors.New("tls: `tls: self` issues the certificate itself; remove tls_cert_file and tls_key_file, or remove `tls: self`"))
	case (t.CertFile == "") != (t.KeyFile == ""):
		errs = append(errs, errors.New("tls_cert_file and tls_key_file go together"))
	}
	if len(t.DNSNames) > 0 && t.Mode != TLSSelf {
		errs = append(errs, errors.New("tls_dns_names: only `tls: self` issues a certificate; a certificate file carries its own names"))
	}
	for _, n := range t.DNSNames {
		if n == "" || net.ParseIP(n) == nil && !validDNSName(n) {
			errs = append(errs, fmt.Errorf("tls_dns_names: %q is not a DNS name or IP address", n))
		}
	}
	return errors.Join(errs...)
}

// validDNSName reports whether n is a plausible host name for a
// certificate: labels of letters, digits and hyphens, a leading "*."
// allowed.
func validDNSName(n string) bool {
	if len(n) > 253 {
		return false
	}
	if len(n) > 2 && n[:2] == "*." {
		n = n[2:]
	}
	label := 0
	for i := 0; i < len(n); i++ {
		switch c := n[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			if label++; label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

// APIBaseURL is the URL clients call the APIs at: BaseURL, with https
// when the listener serves TLS (one port answers both).
func (c *Config) APIBaseURL() string {
	base := c.BaseURL()
	if !c.TLS.Enabled() {
		return base
	}
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Scheme = "https"
	return u.String()
}

// CheckFiles loads the files the configuration names for TLS (the
// listener's and the webhooks' certificates and keys, the webhooks'
// client CAs), so that `signet serve --check-config` finds a bad file
// before a start does.
func (c *Config) CheckFiles() error {
	var errs []error
	pair := func(what, cert, key string) {
		if cert == "" {
			return
		}
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	pair("tls_cert_file/tls_key_file", c.TLS.CertFile, c.TLS.KeyFile)
	pair("admission.tls_cert_file/tls_key_file", c.Admission.TLSCertFile, c.Admission.TLSKeyFile)
	if f := c.Admission.ClientCAFile; f != "" {
		if b, err := os.ReadFile(f); err != nil {
			errs = append(errs, fmt.Errorf("admission.client_ca_file: %w", err))
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			errs = append(errs, fmt.Errorf("admission.client_ca_file: %s holds no PEM certificate", f))
		}
	}
	errs = append(errs, c.KeyStore.checkFiles())
	if f := c.Metrics.TokenFile; f != "" {
		if _, err := ReadToken(f); err != nil {
			errs = append(errs, fmt.Errorf("metrics.token_file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ReadToken reads a bearer token file: one line of at least 16
// characters, readable by its owner only.
func ReadToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 || strings.ContainsAny(tok, " \t\n") {
		return "", fmt.Errorf("%s must hold one token of at least 16 characters", path)
	}
	return tok, nil
}
