package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/notaryproject/notation-core-go/revocation/purpose"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signet/signet/internal/admission"
	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/images"
	"github.com/signet/signet/internal/revocation"
	"github.com/signet/signet/internal/signing"
)

// Trust store names of the admission trust store Signet writes.
const (
	admissionStoreDir = "admission/notation"
	tsaStoreName      = "signet-tsa"
)

// admissionStores are the signingAuthority store names under which the
// default admission trust store holds Signet's root.
var admissionStores = []string{"signet", "aws-signer-ts"}

// MaxAdmissionReview bounds an AdmissionReview body: kube-apiserver
// sends objects up to etcd's 1.5 MiB, twice for an UPDATE.
const MaxAdmissionReview = 4 << 20

// openAdmission builds the admission controller from the configuration
// (nothing when no webhook listens).
func (s *Server) openAdmission(ctx context.Context) error {
	ac := s.cfg.Admission
	if ac.Listen == "" && len(ac.Policies) == 0 {
		return nil
	}
	storeDir := filepath.Join(s.cfg.DataDir, admissionStoreDir)
	if err := s.writeAdmissionStore(storeDir); err != nil {
		return fmt.Errorf("admission: failed to write the trust store: %w", err)
	}
	ocspRT := inProcessOCSP{base: s.cfg.BaseURL(), h: s.ocsp}
	network, err := images.NewRevocationValidator(purpose.CodeSigning, "", ocspRT)
	if err != nil {
		return err
	}
	// Signet's own chains are judged from its records (as its OCSP
	// responders would judge them, without signing a response per
	// leaf); others over OCSP and CRLs.
	rv := &revocation.Local{Service: s.Profiles, Root: s.Authority.Root.Cert, Fallback: network}
	tv, err := images.NewRevocationValidator(purpose.Timestamping, "", ocspRT)
	if err != nil {
		return err
	}
	ctl := &admission.Controller{
		Cache: &admission.Cache{NegativeTTL: ac.NegativeCacheTTLDuration()},
		Log:   s.log,
		// Before a cached verdict: a revocation committed since by any
		// node drops the verdicts (forgetVerdicts).
		BeforeCache: func(ctx context.Context) { s.Profiles.Freshen(ctx) },
		Audit: func(ctx context.Context, e audit.Event) {
			if err := s.auditWriter.Append(context.WithoutCancel(ctx), e, false); err != nil {
				s.log.ErrorContext(ctx, "failed to write an audit event", "err", err)
			}
		},
	}
	// One pool of registry connections for every policy, large enough
	// for a burst of reviews.
	registryClient := &http.Client{Timeout: ac.Timeout(), Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, MaxIdleConns: 256, MaxIdleConnsPerHost: 64,
		IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second, ExpectContinueTimeout: time.Second,
	}}
	s.buildPolicy = func(pc config.AdmissionPolicy) (*admission.Policy, policyTrust, error) {
		doc, dir, err := s.admissionTrust(pc, storeDir)
		if err != nil {
			return nil, policyTrust{}, fmt.Errorf("admission policy %s: %w", pc.Name, err)
		}
		version, err := trustVersion(doc, dir)
		if err != nil {
			return nil, policyTrust{}, fmt.Errorf("admission policy %s: %w", pc.Name, err)
		}
		vf, err := images.NewVerifier(images.VerifyOptions{
			Registry:      images.Options{PlainHTTPHosts: ac.InsecureRegistries, HTTPClient: registryClient},
			Policy:        doc,
			TrustStoreDir: dir,
			Revocation:    rv, TimestampRevocation: tv,
		})
		if err != nil {
			return nil, policyTrust{}, fmt.Errorf("admission policy %s: %w", pc.Name, err)
		}
		p := &admission.Policy{Name: pc.Name, Namespaces: pc.Namespaces, Images: pc.Images,
			Mode: admission.Mode(pc.Mode), FailureMode: admission.FailureMode(pc.FailureMode), Action: pc.Action,
			Version: version, Verifier: vf}
		if p.Mode == "" {
			p.Mode = admission.ModeEnforce
		}
		if p.FailureMode == "" {
			p.FailureMode = admission.FailClosed
		}
		if p.Action == "" {
			p.Action = "report"
		}
		return p, policyTrust{policy: p, doc: doc, dir: dir}, nil
	}
	policies, trusts, err := s.admissionPolicies(ac.Policies)
	if err != nil {
		return err
	}
	ctl.Policies, s.trusts = policies, trusts
	s.admission = ctl
	if ac.Listen == "" {
		return nil // the policies serve continuous validation only
	}
	cert, err := s.admissionCertificate(ac)
	if err != nil {
		return fmt.Errorf("admission: %w", err)
	}
	s.admissionCert = cert
	s.admissionTLS = serverTLSConfig(cert.get)
	if ac.ClientCAFile != "" {
		pool, err := loadCAPool(ac.ClientCAFile)
		if err != nil {
			return fmt.Errorf("admission.client_ca_file: %w", err)
		}
		s.admissionTLS.ClientCAs = pool
		s.admissionTLS.ClientAuth = tls.RequireAndVerifyClientCert
		if names := ac.ClientNames; len(names) > 0 {
			s.admissionTLS.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
				if len(chains) == 0 || len(chains[0]) == 0 {
					return errors.New("admission: no verified client certificate")
				}
				leaf := chains[0][0]
				for _, n := range append([]string{leaf.Subject.CommonName}, leaf.DNSNames...) {
					if n != "" && slices.Contains(names, n) {
						return nil
					}
				}
				return fmt.Errorf("admission: client certificate %q is not one of admission.client_names", leaf.Subject.CommonName)
			}
		}
	}
	return nil
}

// admissionPolicies builds the configured policies.
func (s *Server) admissionPolicies(pcs []config.AdmissionPolicy) ([]*admission.Policy, []policyTrust, error) {
	var policies []*admission.Policy
	var trusts []policyTrust
	for _, pc := range pcs {
		p, t, err := s.buildPolicy(pc)
		if err != nil {
			return nil, nil, err
		}
		policies = append(policies, p)
		trusts = append(trusts, t)
	}
	return policies, trusts, nil
}

// loadCAPool reads a PEM file of CA certificates.
func loadCAPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// writeAdmissionStore writes Signet's root and TSA root as a Notation
// trust store directory.
func (s *Server) writeAdmissionStore(dir string) error {
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Authority.Root.Cert.Raw})
	files := map[string][]byte{}
	for _, name := range admissionStores {
		files[filepath.Join("truststore", "x509", "signingAuthority", name, "signet-root.pem")] = root
	}
	if s.tsaRoot.Cert != nil {
		files[filepath.Join("truststore", "x509", "tsa", tsaStoreName, "signet-tsa-root.pem")] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.tsaRoot.Cert.Raw})
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// admissionTrust returns a policy's trust policy document and trust
// store directory.
func (s *Server) admissionTrust(pc config.AdmissionPolicy, storeDir string) (*trustpolicy.OCIDocument, string, error) {
	if pc.TrustPolicy != "" {
		doc, err := images.LoadPolicy(pc.TrustPolicy)
		if err != nil {
			return nil, "", err
		}
		dir := pc.TrustStore
		if dir == "" {
			dir = storeDir
		}
		return doc, dir, nil
	}
	var ids []string
	for _, name := range pc.Profiles {
		if err := signing.ValidateProfileName(name); err != nil {
			return nil, "", fmt.Errorf("profiles: %w", err)
		}
		ids = append(ids, signing.SignerIdentity(s.Authority.Root.Cert, s.inst.Account.ID, name).IdentityString())
	}
	stores := []string{"signingAuthority:" + admissionStores[0]}
	if s.tsaRoot.Cert != nil {
		stores = append(stores, "tsa:"+tsaStoreName)
	}
	doc := &trustpolicy.OCIDocument{Version: "1.0", TrustPolicies: []trustpolicy.OCITrustPolicy{{
		Name: pc.Name, RegistryScopes: []string{"*"},
		SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: trustpolicy.LevelStrict.Name},
		TrustStores:           stores, TrustedIdentities: ids,
	}}}
	if err := doc.Validate(); err != nil {
		return nil, "", err
	}
	return doc, storeDir, nil
}

// trustVersion identifies a trust policy and the trust store files it
// reads: verdicts are cached under it.
func trustVersion(doc *trustpolicy.OCIDocument, dir string) (string, error) {
	h := sha256.New()
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	h.Write(b)
	err = filepath.WalkDir(filepath.Join(dir, "truststore"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// admissionCertificate loads the configured certificate, or issues one
// from the TLS CA for the configured names (a fresh key at each start).
func (s *Server) admissionCertificate(ac config.Admission) (*certSource, error) {
	src := &certSource{certFile: ac.TLSCertFile, keyFile: ac.TLSKeyFile, now: s.now}
	if ac.TLSCertFile == "" {
		names, ips := tlsNames(ac.DNSNames, "", ac.Listen)
		src.issue = func() (*tls.Certificate, error) { return s.issueServerCert(names, ips) }
	}
	if err := src.load(); err != nil {
		return nil, err
	}
	return src, nil
}

// AdmissionCertificate is the webhooks' serving certificate, nil when
// no webhook is configured.
func (s *Server) AdmissionCertificate() *x509.Certificate {
	if s.admissionCert == nil {
		return nil
	}
	c, _ := s.admissionCert.get(nil)
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, _ := x509.ParseCertificate(c.Certificate[0])
	return leaf
}

// Admission is the admission controller, nil when no webhook is
// configured.
func (s *Server) Admission() *admission.Controller { return s.admission }

// ServeAdmission serves the admission webhooks over TLS on l until ctx
// ends.
func (s *Server) ServeAdmission(ctx context.Context, l net.Listener) error {
	if s.admissionCert == nil {
		return errors.New("admission: no webhook is configured (admission.listen)")
	}
	hs := &http.Server{
		Handler:           s.AdmissionHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      40 * time.Second,
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         s.admissionTLS,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(l, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// AdmissionHandler serves POST /validate and POST /mutate
// (AdmissionReview v1) and GET /healthz.
func (s *Server) AdmissionHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /validate", func(w http.ResponseWriter, r *http.Request) { s.serveReview(w, r, s.admission.Validate) })
	mux.HandleFunc("POST /mutate", func(w http.ResponseWriter, r *http.Request) { s.serveReview(w, r, s.admission.Mutate) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

// serveReview decodes an AdmissionReview, decides within the timeout
// kube-apiserver gives (its ?timeout= parameter, else the configured
// one) and answers an AdmissionReview of the same version.
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, decide func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		http.Error(w, "signet: an AdmissionReview must be sent as application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAdmissionReview))
	if err != nil {
		http.Error(w, fmt.Sprintf("signet: failed to read the AdmissionReview (at most %d bytes): %v", MaxAdmissionReview, err), http.StatusRequestEntityTooLarge)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		http.Error(w, "signet: the body is not an AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if review.APIVersion != admissionv1.SchemeGroupVersion.String() || review.Kind != "AdmissionReview" {
		http.Error(w, fmt.Sprintf("signet: expected apiVersion %s, kind AdmissionReview; got apiVersion %q, kind %q (set admissionReviewVersions: [v1])",
			admissionv1.SchemeGroupVersion, review.APIVersion, review.Kind), http.StatusBadRequest)
		return
	}
	if review.Request == nil || review.Request.UID == "" {
		http.Error(w, "signet: the AdmissionReview has no request, or its request no uid", http.StatusBadRequest)
		return
	}
	timeout := s.cfg.Admission.Timeout()
	if t, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && t > 0 && t < timeout {
		timeout = t
	}
	// Answer with time to spare for the reply.
	ctx, cancel := context.WithTimeout(r.Context(), timeout*9/10)
	defer cancel()
	start := time.Now()
	resp := decide(ctx, review.Request)
	s.metrics.AdmissionDuration.Observe(time.Since(start).Seconds())
	s.metrics.AdmissionReviews.WithLabelValues(strings.TrimPrefix(r.URL.Path, "/"), reviewDecision(resp)).Inc()
	out := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: review.APIVersion, Kind: review.Kind}, Response: resp}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// reviewDecision names an admission response's decision for metrics.
func reviewDecision(r *admissionv1.AdmissionResponse) string {
	switch {
	case r == nil:
		return "error"
	case !r.Allowed:
		return "denied"
	case len(r.Warnings) > 0:
		return "warned"
	}
	return "allowed"
}

// inProcessOCSP answers OCSP requests to Signet's own responders in
// process (no network), and sends others over http.
type inProcessOCSP struct {
	base string
	h    http.Handler
}

func (t inProcessOCSP) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.h == nil || !strings.HasPrefix(r.URL.String(), t.base+"/ocsp/") {
		return http.DefaultTransport.RoundTrip(r)
	}
	rec := httptest.NewRecorder()
	r2 := r.Clone(r.Context())
	r2.RequestURI = r.URL.RequestURI()
	t.h.ServeHTTP(rec, r2)
	return rec.Result(), nil
}

// onRevocation drops the admission verdicts a revocation affects, then
// has the running workloads resting on it checked again at once (in the
// background: the revocation's answer does not wait for evictions).
func (s *Server) onRevocation(ctx context.Context, r signing.Revocation) {
	if s.admission != nil && s.admission.Cache != nil {
		s.admission.Cache.Evict(r.Deps()...)
	}
	s.publish(ctx, busRevocation, r.Deps()...)
	if s.workloads != nil {
		go func() {
			if _, _, err := s.submitWorkloadInput(context.WithoutCancel(ctx), workloadInput{Op: "revoked", Deps: r.Deps()}, false); err != nil {
				// The next round checks every workload anyway.
				s.log.WarnContext(ctx, "failed to queue a revocation for continuous validation", "err", err)
			}
		}()
	}
}

// forgetVerdicts drops every cached admission verdict: a revocation
// another node committed may have made any of them stale.
func (s *Server) forgetVerdicts() {
	if s.admission != nil && s.admission.Cache != nil {
		s.admission.Cache.Purge()
	}
}

// onPayloadSigned drops the refusals of a digest just signed.
func (s *Server) onPayloadSigned(ctx context.Context, digest string) {
	if s.admission != nil && s.admission.Cache != nil {
		s.admission.Cache.EvictDigest(digest)
	}
	s.publish(ctx, busSigned, digest)
}

// policyTrust is what a policy's verdicts depend on, watched for changes.
type policyTrust struct {
	policy *admission.Policy
	doc    *trustpolicy.OCIDocument
	dir    string
}

// trustRefreshInterval is how often the trust stores are read for
// changes.
const trustRefreshInterval = 10 * time.Second

// RefreshAdmissionTrust reads each policy's trust store again: a policy
// whose store changed gets a new version, so that its cached verdicts
// are not used any more (notation-go reads the store at each
// verification). It reports how many policies changed.
func (s *Server) RefreshAdmissionTrust(ctx context.Context) int {
	changed := 0
	s.trustsMu.Lock()
	trusts := s.trusts
	s.trustsMu.Unlock()
	for _, t := range trusts {
		v, err := trustVersion(t.doc, t.dir)
		if err != nil {
			s.log.WarnContext(ctx, "failed to read an admission trust store", "policy", t.policy.Name, "dir", t.dir, "err", err)
			continue
		}
		if v != t.policy.CurrentVersion() {
			t.policy.SetVersion(v)
			changed++
			s.log.InfoContext(ctx, "admission trust store changed: the policy's images are verified anew", "policy", t.policy.Name, "dir", t.dir)
		}
	}
	return changed
}

// watchAdmissionTrust refreshes the trust stores until ctx ends.
func (s *Server) watchAdmissionTrust(ctx context.Context) {
	if s.admission == nil {
		return
	}
	t := time.NewTicker(trustRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.RefreshAdmissionTrust(ctx)
		}
	}
}
