package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/pki"
	"github.com/signet/signet/internal/sigv4"
)

// Installation settings of the TLS certificate authority.
const (
	settingTLSCAKey  = "tls_ca_key_id"
	settingTLSCACert = "tls_ca_cert"
)

const (
	// tlsCAValidity is how long the TLS CA is valid.
	tlsCAValidity = 20 * 365 * 24 * time.Hour
	// tlsLeafValidity is how long a self-issued serving certificate is
	// valid; it is issued again, with a new key, once two thirds of it
	// have passed (and at every start).
	tlsLeafValidity = 90 * 24 * time.Hour
	// TLSCAFile is where, under the data directory, the TLS CA's
	// certificate is written for clients (--ca-bundle).
	TLSCAFile = "tls/ca.pem"
)

// tlsCipherSuites are the TLS 1.2 suites offered: forward-secret AEADs
// only. (TLS 1.3's are all of that kind and not configurable.)
var tlsCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverTLSConfig is the TLS configuration of every listener: TLS 1.2
// and later, the suites above, the certificate from get.
func serverTLSConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   tlsCipherSuites,
		GetCertificate: get,
	}
}

// openTLSCA loads the TLS certificate authority, creating it on the
// first start: the CA that issues the API listener's and
// the admission webhooks' certificates when Signet issues them itself.
// It is not the code-signing root: a client trusting it for HTTPS trusts
// nothing about code, and verifiers trusting the root for code trust no
// server (docs/tls.md).
func (s *Server) openTLSCA(ctx context.Context, ks keys.KeyStore) error {
	if _, err := s.db.Setting(ctx, settingTLSCACert); err != nil {
		if err := s.createTLSCA(ctx, ks); err != nil {
			return fmt.Errorf("failed to create the TLS certificate authority: %w", err)
		}
	}
	certB64, err := s.db.Setting(ctx, settingTLSCACert)
	if err != nil {
		return fmt.Errorf("installation setting %s: %w", settingTLSCACert, err)
	}
	keyID, err := s.db.Setting(ctx, settingTLSCAKey)
	if err != nil {
		return fmt.Errorf("installation setting %s: %w", settingTLSCAKey, err)
	}
	der, err := base64.StdEncoding.DecodeString(certB64)
	if err != nil {
		return fmt.Errorf("TLS CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("TLS CA certificate: %w", err)
	}
	signer, err := ks.Signer(ctx, keyID)
	if err != nil {
		return fmt.Errorf("failed to load the TLS CA key: %w", err)
	}
	s.tlsCA = pki.CA{Cert: cert, Signer: signer}
	path := filepath.Join(s.cfg.DataDir, TLSCAFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// writeFileAtomic writes b to path through a temporary file renamed
// over it, so that a reader never sees half of it.
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func (s *Server) createTLSCA(ctx context.Context, ks keys.KeyStore) error {
	now := s.now()
	keyID, _, err := ks.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		return err
	}
	signer, err := ks.Signer(ctx, keyID)
	if err != nil {
		return err
	}
	subject := s.cfg.Subject.Name()
	subject.CommonName = "Signet TLS CA"
	cert, err := pki.NewServerRoot(signer, subject, now.Add(-5*time.Minute), now.Add(tlsCAValidity))
	if err != nil {
		return err
	}
	// Another node may have created it first: AddSettings keeps the
	// first, and this key is never used.
	_, err = s.db.AddSettings(ctx, []string{settingTLSCACert, settingTLSCAKey}, map[string]string{
		settingTLSCACert: base64.StdEncoding.EncodeToString(cert.Raw),
		settingTLSCAKey:  keyID,
	})
	return err
}

// TLSCA is the TLS certificate authority's certificate.
func (s *Server) TLSCA() *x509.Certificate { return s.tlsCA.Cert }

// TLSCAPath is the file holding the TLS CA's certificate.
func (s *Server) TLSCAPath() string { return filepath.Join(s.cfg.DataDir, TLSCAFile) }

// tlsNames are the names and addresses a self-issued certificate for a
// listener at addr is for: the configured ones, else the host of
// base (the public URL) or of addr, with the loopback names when that
// host is a loopback or unspecified address.
func tlsNames(configured []string, base, addr string) (names []string, ips []net.IP) {
	hosts := configured
	if len(hosts) == 0 {
		host, _, _ := net.SplitHostPort(addr)
		if u, err := url.Parse(base); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		hosts = []string{host}
		if ip := net.ParseIP(host); host == "" || host == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
			hosts = []string{"localhost", "127.0.0.1", "::1"}
		}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			names = append(names, h)
		}
	}
	return names, ips
}

// certSource hands a listener its certificate: files read at start and
// on reload, or a certificate issued from the TLS CA, issued again with
// a new key before it expires.
type certSource struct {
	certFile, keyFile string // files, or
	issue             func() (*tls.Certificate, error)
	now               func() time.Time

	mu       sync.Mutex
	cert     *tls.Certificate
	renewing bool      // a renewal runs
	tried    time.Time // when the last renewal started
	renewals sync.WaitGroup
}

// load reads the files or issues a certificate; on failure the current
// certificate stays.
func (c *certSource) load() error {
	var cert *tls.Certificate
	if c.issue != nil {
		var err error
		if cert, err = c.issue(); err != nil {
			return err
		}
	} else {
		kp, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
		if err != nil {
			return fmt.Errorf("failed to load tls_cert_file/tls_key_file: %w", err)
		}
		cert = &kp
	}
	c.mu.Lock()
	c.cert = cert
	c.mu.Unlock()
	return nil
}

func (c *certSource) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cert := c.cert
	if c.issue != nil && cert.Leaf != nil && !c.renewing {
		lifetime := cert.Leaf.NotAfter.Sub(cert.Leaf.NotBefore)
		now := c.now()
		if now.After(cert.Leaf.NotBefore.Add(lifetime*2/3)) && now.Sub(c.tried) >= renewRetry {
			// Issued again in the background, once at a time and at most
			// once a minute: a handshake (before any authentication)
			// never waits for, nor triggers, a key generation and a
			// signature of the CA's.
			c.renewing, c.tried = true, now
			c.renewals.Go(func() {
				c.load()
				c.mu.Lock()
				c.renewing = false
				c.mu.Unlock()
			})
		}
	}
	return cert, nil
}

// renewRetry is how long after a renewal attempt the next may start.
const renewRetry = time.Minute

// issueServerCert issues a serving certificate from the TLS CA for the
// names, with a new key.
func (s *Server) issueServerCert(names []string, ips []net.IP) (*tls.Certificate, error) {
	key, err := pki.GenerateKey()
	if err != nil {
		return nil, err
	}
	now := s.now()
	subject := s.cfg.Subject.Name()
	subject.CommonName = "Signet"
	if len(names) > 0 {
		subject.CommonName = names[0]
	} else if len(ips) > 0 {
		subject.CommonName = ips[0].String()
	}
	cert, err := s.tlsCA.IssueServer(pki.Template{Subject: subject, PublicKey: key.Public(),
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(tlsLeafValidity), CRLURL: s.cfg.BaseURL() + "/crl/tls.crl"}, names, ips)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// openListenerTLS prepares the API listener's certificate when TLS is
// configured.
func (s *Server) openListenerTLS() error {
	t := s.cfg.TLS
	if !t.Enabled() {
		return nil
	}
	src := &certSource{certFile: t.CertFile, keyFile: t.KeyFile, now: s.now}
	if t.Mode == "self" {
		names, ips := tlsNames(t.DNSNames, s.cfg.PublicBaseURL, s.cfg.Listen)
		src.issue = func() (*tls.Certificate, error) { return s.issueServerCert(names, ips) }
	}
	if err := src.load(); err != nil {
		return err
	}
	s.listenerCert = src
	return nil
}

// ListenerCertificate is the API listener's certificate, nil without TLS.
func (s *Server) ListenerCertificate() *x509.Certificate {
	if s.listenerCert == nil {
		return nil
	}
	c, _ := s.listenerCert.get(nil)
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, _ := x509.ParseCertificate(c.Certificate[0])
	return leaf
}

func (s *Server) tlsCAPEM(w http.ResponseWriter, r *http.Request) {
	if s.tlsCA.Cert == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: s.tlsCA.Cert.Raw})
}

func (s *Server) tlsCRL(w http.ResponseWriter, r *http.Request) {
	if s.tlsCA.Cert == nil {
		http.NotFound(w, r)
		return
	}
	der, err := s.Profiles.CAcrl(r.Context(), "tls", s.tlsCA)
	s.writeCRL(w, r, der, err)
}

// plainHTTPPaths are what the API port answers over plain HTTP when it
// serves TLS: what certificate verifiers fetch (they fetch CRLs, OCSP
// and AIA over http:// only) and the health check.
func (s *Server) plainHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /pki/root.pem", s.rootPEM)
	mux.HandleFunc("GET /pki/tsa-root.pem", s.tsaRootPEM)
	mux.HandleFunc("GET /pki/tls-ca.pem", s.tlsCAPEM)
	mux.HandleFunc("GET /crl/root.crl", s.rootCRL)
	mux.HandleFunc("GET /crl/tsa.crl", s.tsaCRL)
	mux.HandleFunc("GET /crl/tls.crl", s.tlsCRL)
	mux.HandleFunc("GET /crl/signing-profiles/{name}/{file}", s.profileCRL)
	mux.Handle("POST /timestamp", s.TSA.Handler())
	mux.Handle("/ocsp/", s.ocsp)
	mux.HandleFunc("GET /console/", func(w http.ResponseWriter, r *http.Request) {
		// The console's cookie never travels over plain HTTP.
		http.Redirect(w, r, strings.TrimSuffix(s.cfg.APIBaseURL(), "/")+r.URL.Path, http.StatusPermanentRedirect)
	})
	mux.HandleFunc("/", s.httpsOnly)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sandboxed(w, r)
		mux.ServeHTTP(w, r)
	})
}

// httpsOnly answers a request over plain HTTP on a port that serves the
// APIs over HTTPS only: with the error shape of the API it is signed
// for when it is signed.
func (s *Server) httpsOnly(w http.ResponseWriter, r *http.Request) {
	msg := fmt.Sprintf("this endpoint serves its APIs over HTTPS only: use %s", s.cfg.APIBaseURL())
	if s.tlsCA.Cert != nil && s.cfg.TLS.Mode == "self" {
		msg += fmt.Sprintf(" and trust Signet's TLS CA, the server's DATA_DIR/%s (SHA-256 fingerprint %s; the AWS CLI's --ca-bundle, AWS_CA_BUNDLE for the SDKs)", TLSCAFile, Fingerprint(s.tlsCA.Cert))
	}
	if service, _, signed := sigv4.Scope(r); signed {
		if h, ok := s.services[service]; ok {
			h.WriteError(w, r, &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden, Message: msg})
			return
		}
	}
	http.Error(w, "signet: "+msg, http.StatusForbidden)
}

// Fingerprint is a certificate's SHA-256 fingerprint, as openssl x509
// -fingerprint -sha256 prints it.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
