// Package server wires Signet together: it opens the data directory,
// initialises the installation on first start, authenticates every API
// request with SigV4, routes it by the service in its credential scope,
// and serves the unsigned endpoints (health, root certificate).
package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/signet/signet/internal/admission"
	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/awsapi/iamapi"
	"github.com/signet/signet/internal/awsapi/kmsapi"
	"github.com/signet/signet/internal/awsapi/lambdaapi"
	"github.com/signet/signet/internal/awsapi/logsapi"
	"github.com/signet/signet/internal/awsapi/s3api"
	"github.com/signet/signet/internal/awsapi/secretsapi"
	"github.com/signet/signet/internal/awsapi/signerapi"
	"github.com/signet/signet/internal/awsapi/signetapi"
	"github.com/signet/signet/internal/awsapi/ssmapi"
	"github.com/signet/signet/internal/awsapi/stsapi"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/console"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/keys/pkcs11"
	"github.com/signet/signet/internal/kms"
	"github.com/signet/signet/internal/logs"
	"github.com/signet/signet/internal/objects"
	"github.com/signet/signet/internal/oidc"
	"github.com/signet/signet/internal/pki"
	"github.com/signet/signet/internal/revocation"
	"github.com/signet/signet/internal/sandbox"
	"github.com/signet/signet/internal/seal"
	"github.com/signet/signet/internal/secrets"
	"github.com/signet/signet/internal/signing"
	"github.com/signet/signet/internal/sigv4"
	"github.com/signet/signet/internal/sniff"
	"github.com/signet/signet/internal/ssm"
	"github.com/signet/signet/internal/store"
	"github.com/signet/signet/internal/telemetry"
	"github.com/signet/signet/internal/tsa"
)

// MaxAPIBody bounds the body of a request to an operation that declares
// no limit of its own (awsapi.Operation.MaxBody); MaxLambdaBody that of a
// Lambda request carrying a package (50 MB of zip in base64).
const (
	MaxAPIBody    = awsapi.DefaultMaxBody
	MaxLambdaBody = lambdaapi.MaxCodeRequest
)

// maxUnsignedBody bounds the body read from a request without a
// signature, to learn whether it is an STS call that needs none
// (AssumeRoleWithWebIdentity: a token of at most 20,000 characters).
const maxUnsignedBody = 64 << 10

// Server is a running installation.
type Server struct {
	// nodeID names this process among nodes sharing a database; started
	// is when it opened; liveNodes counts those alive (see nodes.go).
	nodeID    string
	started   time.Time
	liveNodes atomic.Int64
	deaf      bool // WithoutNotifications

	cfg      config.Config
	log      *slog.Logger
	lock     *os.File
	db       *store.DB
	box      *seal.Box
	inst     installation
	verifier *sigv4.Verifier
	keyring  *iam.KeyRing
	services map[string]*awsapi.Endpoint // by SigV4 signing name
	apis     []*awsapi.Service           // in the order they were wired
	served   string                      // their names, for messages
	public   *http.ServeMux
	console  *console.Console // the web console; nil when off
	ocsp     http.Handler     // the OCSP responders, also in s.public
	limits   requestLimits
	bodies   *bodyBudget
	relayed  *bodyBudget // bodies of requests relayed from sandboxes

	// Profiles is the signing-profile service, exposed for tests.
	Profiles *signing.Service
	// Authority is the installation PKI, exposed for tests.
	Authority *signing.Authority
	// Objects is the versioned object store behind the S3 API.
	Objects *objects.Service
	s3      s3Endpoint

	runner *signing.Runner

	// Functions is the function registry, exposed for tests.
	Functions *functions.Service
	// SignatureValidationErrors counts deployments that Warn let through
	// with a failed signature check (Lambda's metric of that name).
	SignatureValidationErrors atomic.Int64
	codeURLKey                [32]byte // signs Code.Location URLs
	// Invoke runs functions.
	Invoke    *invoke.Service
	sandboxes *sandbox.Host
	logWriter *logs.Writer
	// IAM holds principals and policies.
	IAM         *iam.Service
	authz       *authorizer
	auditWriter *audit.Writer
	auditDB     *store.DB
	auditKey    *ecdsa.PublicKey
	// auditVerifier keeps the state of the audit log's chain for
	// GetAuditLogStatus.
	auditVerifier *auditVerifier
	// Audit is the tamper-evident audit log.
	Audit *audit.Log

	// TSA is the time-stamping authority that timestamps every signature.
	TSA     *tsa.Authority
	tsaRoot pki.CA
	// metrics are served at /metrics; tracing, when configured, exports
	// a span tree per request.
	metrics *telemetry.Metrics
	tracing *sdktrace.TracerProvider
	// noRequestTelemetry (benchmarks): no per-request metrics or spans.
	noRequestTelemetry bool
	// backupMu guards what backupRunning last read.
	backupMu   sync.Mutex
	backupRead time.Time
	backupHeld bool
	// rateLimits are the limits in force (Reload replaces them).
	rateLimits config.RateLimits
	// inflight counts the requests being served.
	inflight inflight
	// tlsCA issues the listeners' certificates when Signet issues them
	// itself; its Cert is nil when nothing needs it.
	tlsCA pki.CA
	// listenerCert is the API listener's certificate, nil without TLS.
	listenerCert *certSource

	// now is the signing clock (see WithClock).
	now func() time.Time

	// admission decides Kubernetes admissions (nil: no policies).
	admission     *admission.Controller
	admissionCert *certSource // nil: no webhook listener
	admissionTLS  *tls.Config
	trustsMu      sync.Mutex
	trusts        []policyTrust // the admission policies' trust, watched
	// buildPolicy makes an admission policy of its configuration (set
	// when admission is configured).
	buildPolicy func(config.AdmissionPolicy) (*admission.Policy, policyTrust, error)
	// workloads is continuous validation (nil: not configured).
	workloads *workloads
	// KMS is the key management service.
	KMS *kms.Service
	// SSM is the Parameter Store.
	SSM *ssm.Service
	// hsm is the PKCS#11 key store when key_store selects one.
	hsm *pkcs11.Store
	// Secrets is the Secrets Manager.
	Secrets     *secrets.Service
	secretsWork *secrets.Worker
	secretsWake chan struct{}
}

// An Option changes how Open builds a server.
type Option func(*Server)

// WithClock makes now the server's signing clock: the time a new
// installation's root and time-stamping certificates start at, profiles
// sign and revoke at, and rate limits count by. Requests are still
// authenticated by the system clock. Tests use it to make an
// installation that lives in the past.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithoutNotifications makes a node that shares a database neither
// listen to the other nodes' notifications nor send its own: tests use
// it to show what holds without them (the bounds of docs/scale-out.md).
func WithoutNotifications() Option {
	return func(s *Server) { s.deaf = true }
}

// Paths inside the data directory.
const (
	masterKeyFile   = "master.key"
	databaseFile    = "signet.db"
	credentialsFile = "credentials"
)

// Open opens (initialising on first start) the data directory of cfg and
// returns a server ready to serve. It fails with ErrDataDirInUse if
// another server holds the directory.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if err := checkKeyStoreBuild(cfg.KeyStore); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create data directory: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: slog.New(telemetry.LogHandler(log.Handler())), lock: lock, limits: defaultLimits, now: func() time.Time { return time.Now().UTC() },
		metrics: telemetry.NewMetrics()}
	for _, o := range opts {
		o(s)
	}
	s.nodeID, s.started = newNodeID(), s.now()
	if e := cfg.Tracing.OTLPEndpoint; e != "" {
		tp, err := telemetry.NewTracerProvider(ctx, e, cfg.Tracing.SampleRatio, s.nodeID)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.tracing = tp
	}
	s.bodies = newBodyBudget(s.limits.bufferedBodies)
	s.relayed = newBodyBudget(s.limits.relayedBodies)
	if err := s.tighten(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// Again for the files the databases created beside themselves.
	if err := s.tighten(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.shared() {
		s.heartbeat(ctx)
	}
	return s, nil
}

// tighten restricts the data directory and its files to their owner.
func (s *Server) tighten(ctx context.Context) error {
	changed, err := tightenDataDir(s.cfg.DataDir)
	for _, c := range changed {
		s.log.WarnContext(ctx, "restricted a data directory entry to its owner", "change", c)
	}
	return err
}

// shared reports whether other nodes may use the same database.
func (s *Server) shared() bool { return s.cfg.DatabaseURL != "" }

func (s *Server) open(ctx context.Context) error {
	dir := s.cfg.DataDir
	master, err := s.openDatabase(ctx)
	if err != nil {
		return err
	}
	// Secrets at rest: function environment variables are sealed under
	// the master key and session tokens kept only as hashes, including
	// those an earlier version stored in clear.
	if err := s.db.Lambda.SealWith(ctx, s.box); err != nil {
		return fmt.Errorf("failed to seal function environments: %w", err)
	}
	if n, err := s.db.IAM.HashClearSessionTokens(ctx); err != nil {
		return fmt.Errorf("failed to hash stored session tokens: %w", err)
	} else if n > 0 {
		s.log.InfoContext(ctx, "replaced session tokens stored in clear with their hashes", "count", n)
	}
	s.keyring = &iam.KeyRing{Store: s.db.IAM, Box: s.box}
	if s.shared() {
		s.keyring.MaxAge = cacheMaxAge
		s.keyring.OnDelete = func(id string) { s.publish(context.Background(), busKey, id) }
	}
	ks, rootKey, err := s.openKeyStore(ctx, master)
	if err != nil {
		return err
	}
	inst, created, err := initialize(ctx, &s.cfg, s.db, ks, rootKey, s.box, s.now())
	if err != nil {
		return err
	}
	s.inst = inst
	if created {
		s.log.InfoContext(ctx, "initialised data directory", "dir", dir, "account", inst.Account.ID, "region", inst.Account.Region)
	}
	if err := s.ensureCredentialsFile(ctx); err != nil {
		return err
	}
	rootSigner, err := ks.Signer(ctx, inst.RootKeyID)
	if err != nil {
		return fmt.Errorf("failed to load root key: %w", s.keyStoreHint(err))
	}
	s.Authority = &signing.Authority{
		Keys:    ks,
		Root:    pki.CA{Cert: inst.RootCert, Signer: rootSigner},
		Account: inst.Account,
		BaseURL: s.cfg.BaseURL(),
	}
	if err := s.openTSA(ctx, ks); err != nil {
		return err
	}
	if err := s.openTLSCA(ctx, ks); err != nil {
		return err
	}
	if err := s.openListenerTLS(); err != nil {
		return err
	}
	if err := s.openObjects(ctx); err != nil {
		return err
	}
	if err := ClaimObjectStore(ctx, s.s3.data, InstallationID(inst.RootCert)); err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	// The in-process TSA's tokens are not re-verified on every signature
	// (three P-384 verifications); the tests verify them with tspclient-go.
	// The database is the jobs' queue and the object store holds their
	// packages; the runner works them while the server serves.
	wakeup := signing.NewWakeup()
	s.Profiles = &signing.Service{Store: s.db.Signing, Issuer: s.Authority, Account: inst.Account, Timestamper: s.TSA,
		Jobs: s.db.Signing, Objects: signingObjects{s.Objects}, Wake: wakeup.Notify, CRLValidity: s.cfg.CRLValidityDuration(), Now: s.now,
		OnRevocation: s.onRevocation, OnPayloadSigned: s.onPayloadSigned,
		ScanAllowlist: s.cfg.SecretScan.Allowlist(), OnScanFindings: s.onScanFindings,
		// Nodes sharing the database: a revocation another node answered
		// holds here from then on, notification or not.
		SharedStore: s.shared(), OnRevocationsElsewhere: s.forgetVerdicts}
	s.ocsp = revocation.OCSPHandler(s.Profiles, s.log)
	s.runner = &signing.Runner{Service: s.Profiles, Log: s.log, Wakeup: wakeup}
	// The data directory lock makes this the only node on an embedded
	// database: leases held by an earlier process are void. Nodes
	// sharing a database leave other nodes' leases to lapse.
	if !s.shared() {
		if err := s.db.Signing.ReleaseLeases(ctx); err != nil {
			return err
		}
	}
	s.verifier = &sigv4.Verifier{Credentials: verifierKeys{s.keyring}}
	s.IAM = &iam.Service{Store: s.db.IAM, Keys: s.keyring, Account: inst.Account, WebIdentity: webIdentityProviders(s.cfg.WebIdentity)}
	if s.shared() {
		s.IAM.MaxAge = cacheMaxAge
		s.IAM.OnChange = func() { s.publish(context.Background(), busIAM) }
	}
	if err := s.openAudit(ctx, ks); err != nil {
		return err
	}
	s.authz = &authorizer{iam: s.IAM}
	s.setRateLimits(s.cfg.RateLimits)
	lambda, err := s.openFunctions(ctx, inst)
	if err != nil {
		return err
	}
	if err := s.openAdmission(ctx); err != nil {
		return err
	}
	if err := s.openWorkloads(ctx); err != nil {
		return err
	}
	s.KMS = &kms.Service{Store: s.db.KMS, Box: s.box, Account: inst.Account, Now: s.now}
	s.SSM = &ssm.Service{Store: s.db.SSM, Keys: s.KMS, Account: inst.Account, Now: s.now}
	s.Functions.EnvKeys, s.Functions.KMSErrorKind = functionEnvKeys{s.KMS}, kmsErrorKind
	s.openSecrets()
	// The APIs, routed by the service their requests are signed for.
	s.routeTo(
		&signerapi.Signer{Profiles: s.Profiles, Authorizer: s.authz, Log: s.log},
		lambda,
		&s3api.S3{Objects: s.Objects, Authorizer: s.authz, Log: s.log, Region: inst.Account.Region, OwnerID: inst.Account.ID},
		&logsapi.Logs{Store: s.db.Logs, Account: inst.Account, Authorizer: s.authz, Log: s.log, Pending: s.logWriter},
		&iamapi.IAM{IAM: s.IAM, Authorizer: s.authz, Simulator: s.authz, Log: s.log},
		&stsapi.STS{IAM: s.IAM, Authorizer: s.authz, Log: s.log, ContextKeys: s.authz.requestKeys, Issuer: oidc.IssuerOf},
		&signetapi.API{Inventory: s.inventory(), Activity: s.consoleData(), AuditLog: s.consoleData(), Authorizer: s.authz, Log: s.log, Now: s.now},
		&kmsapi.KMS{Keys: s.KMS, Grants: s.db.KMS, Authorizer: s.authz, Log: s.log},
		&ssmapi.SSM{Params: s.SSM, Authorizer: s.authz, Log: s.log},
		&secretsapi.Secrets{Secrets: s.Secrets, Authorizer: s.authz, Log: s.log, Function: s.rotationFunction, Started: s.wakeSecrets},
	)
	s.authz.services = func(name string) *awsapi.Service {
		if h, ok := s.services[name]; ok {
			return h.Service()
		}
		return nil
	}
	s.public = http.NewServeMux()
	s.public.HandleFunc("GET /healthz", s.healthz)
	s.registerCollectors()
	mh, err := s.metricsHandler()
	if err != nil {
		return err
	}
	s.public.Handle("GET /metrics", mh)
	s.public.HandleFunc("GET /function-code/{name}", s.functionCode)
	s.public.HandleFunc("GET /pki/root.pem", s.rootPEM)
	s.public.HandleFunc("GET /crl/root.crl", s.rootCRL)
	s.public.HandleFunc("GET /crl/tsa.crl", s.tsaCRL)
	s.public.HandleFunc("GET /pki/tsa-root.pem", s.tsaRootPEM)
	s.public.HandleFunc("GET /pki/tls-ca.pem", s.tlsCAPEM)
	s.public.HandleFunc("GET /crl/tls.crl", s.tlsCRL)
	s.public.Handle("POST /timestamp", s.TSA.Handler())
	s.public.HandleFunc("GET /crl/signing-profiles/{name}/{file}", s.profileCRL)
	s.public.Handle("/ocsp/", s.ocsp)
	if s.workloads != nil && s.cfg.Workloads.ECSEventsSecret != "" {
		// Also without a bearer token, so that it answers 401 and says
		// what to send.
		s.public.HandleFunc("POST /ecs/events", s.ecsEvents)
	}
	return s.openConsole()
}

// consoleData is what Signet's own API reads for the console.
func (s *Server) consoleData() consoleData {
	return consoleData{db: s.db, auditDB: s.auditDB, verifier: s.auditVerifier}
}

// inventory is the workloads API's view of the inventory: a nil
// interface when continuous validation is not configured.
func (s *Server) inventory() signetapi.Inventory {
	if s.workloads == nil {
		return nil
	}
	return s.workloads.monitor
}

// routeTo serves the APIs, each at the SigV4 signing name of its service.
func (s *Server) routeTo(apis ...awsapi.API) {
	s.services = map[string]*awsapi.Endpoint{}
	var names []string
	for _, api := range apis {
		svc := api.Service()
		s.services[svc.Name] = svc.Handler()
		s.apis = append(s.apis, svc)
		names = append(names, svc.Name)
	}
	s.served = strings.Join(names, ", ")
}

// Services returns the AWS services the server serves.
func (s *Server) Services() []*awsapi.Service { return s.apis }

// ensureCredentialsFile writes DIR/credentials if it is missing, from the
// bootstrap key sealed in the database.
func (s *Server) ensureCredentialsFile(ctx context.Context) error {
	path, err := filepath.Abs(filepath.Join(s.cfg.DataDir, credentialsFile))
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	secret, err := s.keyring.Secret(ctx, s.inst.BootstrapKeyID)
	if err != nil {
		return fmt.Errorf("failed to read bootstrap access key: %w", err)
	}
	if err := writeCredentials(path, s.inst.Account.Region, s.inst.BootstrapKeyID, secret); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "wrote bootstrap administrator credentials", "path", path)
	return nil
}

// CredentialsPath is the path of the bootstrap credentials file.
func (s *Server) CredentialsPath() string { return filepath.Join(s.cfg.DataDir, credentialsFile) }

// Config is the configuration the server runs with.
func (s *Server) Config() config.Config { return s.cfg }

// AccountID is the installation's account id.
func (s *Server) AccountID() string { return s.inst.Account.ID }

// Close releases the database and the data directory lock.
func (s *Server) Close() error {
	var errs []error
	if s.Invoke != nil && s.Invoke.Pool != nil {
		errs = append(errs, s.Invoke.Pool.Close())
		s.sandboxes.Close()
	}
	if s.logWriter != nil {
		errs = append(errs, s.logWriter.Close())
	}
	if s.auditVerifier != nil {
		s.auditVerifier.close()
	}
	if s.auditWriter != nil {
		errs = append(errs, s.auditWriter.Close())
	}
	if s.auditDB != nil && s.auditDB != s.db {
		errs = append(errs, s.auditDB.Close())
	}
	errs = append(errs, s.closeObjects())
	if s.hsm != nil {
		errs = append(errs, s.hsm.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	if s.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.tracing.Shutdown(ctx)) // exports what is pending
		cancel()
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	return errors.Join(errs...)
}

// ServeHTTP routes a request: unsigned requests to the public endpoints,
// signed ones, once verified, to the service named in their credential
// scope. No body is read before the request's signature information
// (access key, date, scope, session token) has been checked, and then no
// more than its operation takes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := uuid.NewString()
	w.Header().Set("X-Amzn-RequestId", id)
	sandboxed(w, r)
	ctx := awsapi.WithRequestID(r.Context(), id)
	ctx, _ = telemetry.WithRequest(ctx)
	if s.tracing != nil && !s.noRequestTelemetry {
		var span trace.Span
		ctx, span = s.startRequestSpan(ctx, r, id)
		defer span.End()
	}
	r = r.WithContext(ctx)
	r.Body = s.limits.deadlines(w, r.Body)
	defer s.limits.finish(w)

	if s.ecsEventRequest(r) {
		s.ecsEvents(w, r) // its own authentication: a shared secret
		return
	}
	service, region, signed := sigv4.Scope(r)
	if !signed || strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") { // a scraper's token (metrics.token_file), never SigV4
		s.serveUnsigned(w, r)
		return
	}
	h, ok := s.services[service]
	if !ok {
		awsapi.WriteError(w, r, &awsapi.Error{Code: "UnknownOperationException", Status: http.StatusNotFound,
			Message: fmt.Sprintf("this endpoint does not serve the %q API; it serves: %s", service, s.served)})
		return
	}
	svc := h.Service()
	if want := s.inst.Account.Region; region != want && !(svc.Global && region == "us-east-1") { // global services are signed for us-east-1
		e := &awsapi.Error{Code: "InvalidSignatureException", Status: http.StatusForbidden,
			Message: fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. This endpoint serves region %s: set --region %s or AWS_DEFAULT_REGION=%s", region, want, want, want)}
		if svc.WrongRegion != nil {
			e = svc.WrongRegion(region, want)
		}
		h.WriteError(w, r, e)
		return
	}
	if svc.Streaming {
		s.serveStreaming(w, r, h, region)
		return
	}
	pending, err := s.verifier.Authenticate(r)
	if err != nil {
		h.WriteFailure(w, r, err)
		s.countAuthFailure(r, service)
		return
	}
	limit, tooLarge := h.BodyLimit(r)
	body, release, aerr := s.readBody(w, r, svc, limit, tooLarge)
	if aerr != nil {
		h.WriteError(w, r, aerr)
		return
	}
	defer release()
	res, err := pending.Verify(body)
	if err != nil {
		h.WriteFailure(w, r, err)
		s.countAuthFailure(r, service)
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	caller := awsapi.Caller{PrincipalARN: res.Credential.PrincipalARN, PrincipalID: res.Credential.PrincipalID, SourceIdentity: res.Credential.SourceIdentity,
		AccessKeyID: res.Credential.AccessKeyID, SourceIP: host, Region: region, Secure: r.TLS != nil}
	ctx = awsapi.WithCaller(ctx, caller)
	r = r.WithContext(ctx)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	s.audited(w, r, caller, h.ServeHTTP)
}

// sandboxed makes every response but the console's inert in a browser:
// the console shares this origin, and an S3 object (whose type its
// uploader chooses) or any other answer opened in a browser would
// otherwise run its scripts with the console's cookie and CSRF token
// within reach. The sandbox gives such a page an opaque origin and no
// scripts; SDKs and the CLI ignore both headers.
//
// It is set on every response, whatever its path (S3 may have a bucket
// named "console"): the console replaces it with its own policy on the
// responses it serves itself.
func sandboxed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

// serveUnsigned serves a request without a SigV4 credential scope: a
// public endpoint, STS's AssumeRoleWithWebIdentity, or else the
// authentication error of the protocol the request looks like it speaks.
func (s *Server) serveUnsigned(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	auth := r.Header.Get("Authorization")
	if (auth == "" || strings.HasPrefix(auth, "Bearer ")) && r.URL.Query().Get("X-Amz-Credential") == "" {
		if _, pattern := s.public.Handler(r); pattern != "" {
			s.public.ServeHTTP(w, r)
			return
		}
	}
	var form []byte // the body, when it was read
	if r.Header.Get("Authorization") == "" && r.Method == http.MethodPost && r.URL.Path == "/" && r.ContentLength <= maxUnsignedBody {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUnsignedBody))
		if err == nil && unsignedSTS(r, body) {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			caller := awsapi.Caller{PrincipalARN: "anonymous", SourceIP: host, Secure: r.TLS != nil}
			r = r.WithContext(awsapi.WithCaller(ctx, caller))
			r.Body = io.NopCloser(bytes.NewReader(body))
			s.audited(w, r, caller, s.services["sts"].ServeHTTP)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err == nil {
			form = body
		}
	}
	// Let the verifier say what is missing or malformed.
	_, err := s.verifier.Authenticate(r)
	if err == nil {
		err = &awsapi.Error{Code: "IncompleteSignatureException", Status: 400, Message: "the request's signature could not be parsed"}
	}
	switch unsignedProtocol(r) {
	case "query":
		s.queryEndpoint(r, form).WriteFailure(w, r, err)
	case "s3":
		s.services["s3"].WriteFailure(w, r, err)
	default:
		s.services["signer"].WriteFailure(w, r, err)
	}
}

// queryEndpoint is the Query service an unsigned request's Action
// belongs to: IAM's, unless it is one of STS's. The Action is read from
// the URL or from form, the body if it was small enough to be read.
func (s *Server) queryEndpoint(r *http.Request, form []byte) *awsapi.Endpoint {
	sts := s.services["sts"]
	action := r.URL.Query().Get("Action")
	if q, err := url.ParseQuery(string(form)); action == "" && err == nil {
		action = q.Get("Action")
	}
	for _, op := range sts.Service().Operations {
		if op.Target == action {
			return sts
		}
	}
	return s.services["iam"]
}

// unsignedProtocol guesses the protocol of a request that names no
// service: a form POST is the Query protocol (IAM, STS); a JSON 1.1
// target or another POST to /, or a Lambda or Signer path, JSON;
// anything else (GET / included: ListBuckets) S3.
func unsignedProtocol(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || r.URL.Query().Get("Action") != "":
		return "query"
	case r.Header.Get("X-Amz-Target") != "", r.Method == http.MethodPost && p == "/", strings.HasPrefix(p, "/20"),
		strings.HasPrefix(p, "/signing-"), strings.HasPrefix(p, "/revocations"), strings.HasPrefix(p, "/tags/"):
		return "json"
	}
	return "s3"
}

// readBody reads a request body of at most limit bytes, under the
// server's budget of buffered bodies: release returns the body's share
// once the request is served. A body known (Content-Length) or found to
// be larger than limit gets tooLarge; one known to be larger is not
// read at all.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, svc *awsapi.Service, limit int64, tooLarge *awsapi.Error) (body []byte, release func(), _ *awsapi.Error) {
	if r.ContentLength > limit {
		return nil, nil, tooLarge
	}
	if relayedFrom(r.Context()) {
		// Held by the relay already, under the sandboxes' own budget.
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil || int64(len(body)) > limit {
			return nil, nil, tooLarge
		}
		return body, func() {}, nil
	}
	n := limit
	if r.ContentLength >= 0 {
		n = r.ContentLength
	}
	release, err := s.bodies.acquire(r.Context(), n, s.limits.bodyWait)
	if err != nil {
		e := svc.Throttle
		e.Message = "the server holds as many request bodies as it can at once; retry with backoff"
		return nil, nil, &e
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(n, 1<<20)+bytes.MinRead))
	if _, err = buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		release()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, tooLarge
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, nil, &awsapi.Error{Code: "RequestTimeoutException", Status: http.StatusRequestTimeout,
				Message: fmt.Sprintf("the request body arrived too slowly: send it at %d bytes/s or more, without pauses of %s", s.limits.minRate, s.limits.bodyIdle)}
		}
		return nil, nil, &awsapi.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "failed to read the request body: " + err.Error()}
	}
	return buf.Bytes(), release, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// metricsHandler serves the Prometheus exposition format, behind the
// bearer token of metrics.token_file when one is set.
func (s *Server) metricsHandler() (http.Handler, error) {
	h := s.metrics.Handler()
	if s.cfg.Metrics.TokenFile == "" {
		return h, nil
	}
	token, err := config.ReadToken(s.cfg.Metrics.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("metrics.token_file: %w", err)
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="signet metrics"`)
			http.Error(w, "signet: /metrics requires the bearer token of metrics.token_file", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}

func (s *Server) rootPEM(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: s.inst.RootCert.Raw})
}

func (s *Server) rootCRL(w http.ResponseWriter, r *http.Request) {
	der, err := s.Profiles.RootCRL(r.Context())
	s.writeCRL(w, r, der, err)
}

func (s *Server) profileCRL(w http.ResponseWriter, r *http.Request) {
	version, ok := strings.CutSuffix(r.PathValue("file"), ".crl")
	if !ok {
		http.NotFound(w, r)
		return
	}
	der, err := s.Profiles.ProfileCRL(r.Context(), r.PathValue("name"), version)
	if errors.Is(err, signing.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	s.writeCRL(w, r, der, err)
}

func (s *Server) writeCRL(w http.ResponseWriter, r *http.Request, der []byte, err error) {
	if err != nil {
		s.log.ErrorContext(r.Context(), "failed to issue CRL", "path", r.URL.Path, "err", err)
		http.Error(w, "CRL unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "max-age=300")
	w.Write(der)
}

// Serve serves on l until ctx is done, then shuts down gracefully: it
// stops taking connections and work, lets requests and Event
// invocations in flight finish within the shutdown timeout, then cancels
// what still runs and waits for its handlers to return, so that nothing
// is committed after Close closes the audit log and the databases.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	// Requests' contexts end at the drain's deadline, not at the signal.
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	hs := &http.Server{
		Handler:           s.counted(s),
		ReadHeaderTimeout: s.limits.header, // the body's deadlines are set as it is read (requestLimits)
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
	}
	errc := make(chan error, 2)
	var plain *http.Server
	if s.listenerCert == nil {
		go func() { errc <- hs.Serve(l) }()
	} else {
		// One port, both: HTTPS for everything, plain HTTP for what
		// certificate verifiers fetch (the http:// URLs certificates
		// carry) and the health check.
		tlsL, plainL := sniff.Split(l, s.limits.header)
		hs.TLSConfig = serverTLSConfig(s.listenerCert.get)
		plain = &http.Server{
			Handler:           s.counted(s.plainHandler()),
			ReadHeaderTimeout: s.limits.header,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      time.Minute,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          hs.ErrorLog,
			BaseContext:       hs.BaseContext,
		}
		go func() { errc <- hs.ServeTLS(tlsL, "", "") }()
		go func() { errc <- plain.Serve(plainL) }()
	}
	// Work the server takes on by itself stops at the start of a drain;
	// what keeps this node's caches and view of the others true (the
	// notification listener, heartbeats, the trust stores' watch) runs
	// until the requests have drained.
	jobsCtx, stopJobs := context.WithCancel(ctx)
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		if s.runner != nil {
			s.runner.Run(jobsCtx)
		}
	}()
	workDone := make(chan struct{})
	go func() {
		defer close(workDone)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); s.runSecrets(jobsCtx) }()
		wg.Add(1)
		go func() { defer wg.Done(); s.destroyKMSKeys(jobsCtx) }()
		wg.Add(1)
		go func() { defer wg.Done(); s.runObjectGC(jobsCtx) }()
		wg.Add(1)
		go func() { defer wg.Done(); s.releaseHeldDeletes(jobsCtx) }()
		s.runWorkloads(jobsCtx)
		wg.Wait()
	}()
	backgroundDone := make(chan struct{})
	go func() {
		defer close(backgroundDone)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); s.watchAdmissionTrust(bgCtx) }()
		wg.Add(1)
		go func() { defer wg.Done(); s.listenBus(bgCtx) }()
		s.runHeartbeat(bgCtx)
		wg.Wait()
	}()
	defer func() { stopBackground(); <-backgroundDone }()
	defer func() { stopJobs(); <-workDone }()
	// Event invocations stop being claimed with the jobs, and those
	// running may finish until the shutdown timeout.
	asyncRun, killAsync := context.WithCancel(context.WithoutCancel(ctx))
	defer killAsync()
	asyncDone := make(chan struct{})
	go func() {
		defer close(asyncDone)
		if s.Invoke.Pool != nil {
			s.Invoke.RunAsyncDraining(jobsCtx, asyncRun, s.cfg.Functions.AsyncWorkers)
		}
	}()
	defer func() { stopJobs(); killAsync(); <-asyncDone }()
	defer func() { stopJobs(); <-jobsDone }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	timeout := s.cfg.ShutdownTimeoutDuration()
	s.log.InfoContext(ctx, "stopping: draining requests and invocations in flight", "shutdown_timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	stopJobs()
	if plain != nil {
		go plain.Shutdown(sctx)
	}
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil
		s.log.WarnContext(ctx, "requests still in flight after the shutdown timeout are cancelled", "shutdown_timeout", timeout.String())
	}
	// Past the deadline (or drained): cancel what remains, close every
	// connection, and wait for the handlers to return before the caller
	// closes what they write to.
	cancelRequests()
	if s.Invoke != nil && s.Invoke.Pool != nil && sctx.Err() != nil {
		s.Invoke.Pool.Abort() // synchronous invocations run on past a client's going
	}
	hs.Close()
	if plain != nil {
		plain.Close()
	}
	select {
	case <-s.inflight.idle():
	case <-time.After(handlerGrace):
		s.log.ErrorContext(ctx, "requests did not return after being cancelled; stopping anyway", "waited", handlerGrace.String())
	}
	select {
	case <-asyncDone:
	case <-sctx.Done():
		s.log.WarnContext(ctx, "Event invocations still running after the shutdown timeout were stopped; they run again", "shutdown_timeout", timeout.String())
		killAsync()
		<-asyncDone
	}
	return err
}

// handlerGrace is how long a stop waits for cancelled requests'
// handlers to return.
const handlerGrace = 10 * time.Second

// counted counts the requests h serves, so that a stop can wait for
// them.
func (s *Server) counted(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.add(1)
		defer s.inflight.add(-1)
		h.ServeHTTP(w, r)
	})
}

// inflight counts requests being served; unlike a WaitGroup it may be
// waited on while requests still start.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero []chan struct{}
}

func (c *inflight) add(d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += d
	if c.n == 0 {
		for _, ch := range c.zero {
			close(ch)
		}
		c.zero = nil
	}
}

// idle returns a channel closed once no request is being served.
func (c *inflight) idle() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	if c.n == 0 {
		close(ch)
	} else {
		c.zero = append(c.zero, ch)
	}
	return ch
}

// verifierKeys hands the key ring's keys to the SigV4 verifier.
type verifierKeys struct{ ring *iam.KeyRing }

func (v verifierKeys) LookupAccessKey(ctx context.Context, id string) (sigv4.Credential, error) {
	c, err := v.ring.Lookup(ctx, id)
	if errors.Is(err, iam.ErrNotFound) {
		return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
	}
	if err != nil {
		return sigv4.Credential{}, err
	}
	return sigv4.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionTokenSHA256: c.SessionTokenSHA256,
		Expires: c.Expires, PrincipalARN: c.PrincipalARN, PrincipalID: c.PrincipalID, SourceIdentity: c.SourceIdentity}, nil
}

// unsignedSTS reports whether an unsigned request is an STS call that
// needs no credentials (AssumeRoleWithWebIdentity), reading its form.
func unsignedSTS(r *http.Request, body []byte) bool {
	if r.Method != http.MethodPost || r.URL.Path != "/" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return false
	}
	q, err := url.ParseQuery(string(body))
	return err == nil && q.Get("Action") == "AssumeRoleWithWebIdentity"
}

// openDatabase opens the metadata database (SQLite in the data
// directory, or the PostgreSQL database nodes share) and the master key,
// and sets s.db and s.box. A node on a shared database never creates a
// master key for an installation that has one, and refuses a key other
// than the one the installation's secrets are sealed under.
func (s *Server) openDatabase(ctx context.Context) (master []byte, err error) {
	path := s.cfg.MasterKeyFile
	if path == "" {
		path = filepath.Join(s.cfg.DataDir, masterKeyFile)
	}
	if !s.shared() {
		if master, _, err = keys.LoadOrCreateMasterKey(path); err != nil {
			return nil, err
		}
		if s.box, err = seal.New(master); err != nil {
			return nil, err
		}
		if s.db, err = store.OpenSQLite(ctx, filepath.Join(s.cfg.DataDir, databaseFile)); err != nil {
			return nil, err
		}
		return master, s.checkMasterKey(ctx, path)
	}
	if s.db, err = store.Open(ctx, s.cfg.DatabaseURL); err != nil {
		return nil, err
	}
	_, err = s.db.Setting(ctx, settingInitialized)
	switch {
	case err == nil:
		if master, err = keys.LoadMasterKey(path); err != nil {
			return nil, fmt.Errorf("the installation in the database was initialised by another node: give this node that node's master key (master_key_file): %w", err)
		}
	case errors.Is(err, store.ErrNotFound):
		if master, _, err = keys.LoadOrCreateMasterKey(path); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if s.box, err = seal.New(master); err != nil {
		return nil, err
	}
	return master, s.checkMasterKey(ctx, path)
}

// masterKeyCheckSetting holds a value sealed under the master key, by
// which a node tells whether it was given the installation's key.
const masterKeyCheckSetting = "master_key_check"

var masterKeyCheck = []byte("signet master key check")

func (s *Server) checkMasterKey(ctx context.Context, path string) error {
	v, err := s.db.Setting(ctx, masterKeyCheckSetting)
	if errors.Is(err, store.ErrNotFound) {
		sealed := base64.StdEncoding.EncodeToString(s.box.Seal(masterKeyCheck, []byte(masterKeyCheckSetting)))
		if _, err := s.db.AddSettings(ctx, []string{masterKeyCheckSetting}, map[string]string{masterKeyCheckSetting: sealed}); err != nil {
			return err
		}
		if v, err = s.db.Setting(ctx, masterKeyCheckSetting); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err == nil {
		var clear []byte
		clear, err = s.box.Open(b, []byte(masterKeyCheckSetting))
		if err == nil && !bytes.Equal(clear, masterKeyCheck) {
			err = errors.New("unexpected content")
		}
	}
	if err != nil {
		return fmt.Errorf("the master key %s is not the one this installation's secrets are sealed under (%v): give every node the same master_key_file", path, err)
	}
	return nil
}

// codeURLKeySetting holds the key that signs GetFunction's Code.Location
// URLs, sealed under the master key: one for the installation, so that a
// URL one node made works on every node and after a restart.
const codeURLKeySetting = "code_url_key"

func (s *Server) loadCodeURLKey(ctx context.Context) error {
	v, err := s.db.Setting(ctx, codeURLKeySetting)
	if errors.Is(err, store.ErrNotFound) {
		var k [32]byte
		if _, err := rand.Read(k[:]); err != nil {
			return err
		}
		sealed := base64.StdEncoding.EncodeToString(s.box.Seal(k[:], []byte(codeURLKeySetting)))
		if _, err := s.db.AddSettings(ctx, []string{codeURLKeySetting}, map[string]string{codeURLKeySetting: sealed}); err != nil {
			return err
		}
		v, err = s.db.Setting(ctx, codeURLKeySetting) // another node's, if it came first
	}
	if err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return fmt.Errorf("the stored code URL key is malformed: %w", err)
	}
	k, err := s.box.Open(b, []byte(codeURLKeySetting))
	if err != nil || len(k) != len(s.codeURLKey) {
		return fmt.Errorf("the stored code URL key does not open under the master key: %v", err)
	}
	copy(s.codeURLKey[:], k)
	return nil
}
