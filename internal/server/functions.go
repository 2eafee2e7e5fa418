package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/awsapi/lambdaapi"
	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/kms"
	"github.com/signet/signet/internal/logs"
	"github.com/signet/signet/internal/objects"
	"github.com/signet/signet/internal/revocation"
	"github.com/signet/signet/internal/sandbox"
)

// newCRLChecker builds the deploy gate's revocation checker (replaced by
// tests).
var newCRLChecker = revocation.NewCRLCheckerWithFetcher

// openFunctions wires the function registry, its deploy gate and the
// function runtime, each built whole and once. The gate checks
// revocation against this server's own CRLs, in process; it never runs
// without that check, so a checker that cannot be built stops the server.
// The registry and the runtime refer to each other (the runtime reads
// layers from the registry, the registry stops environments in the
// runtime), as do the registry and the code signing configs: those
// references go through fns, declared first.
func (s *Server) openFunctions(ctx context.Context, inst installation) (*lambdaapi.Lambda, error) {
	s.Audit = &audit.Log{Store: s.auditDB.Audit}
	checker, err := newCRLChecker(s.Profiles.CRLs(), revocation.LocalOCSP{Handler: s.ocsp})
	if err != nil {
		return nil, fmt.Errorf("the deploy gate cannot check revocation, so Signet does not start: building the CRL checker failed: %w", err)
	}
	var fns *functions.Service
	csc := &deploygate.Service{Store: s.db.CodeSigning, Account: inst.Account, RequireEnforce: s.cfg.RequireEnforcedCodeSigning,
		BeforeEnforce: func(ctx context.Context, id string) error { return fns.CheckEnforce(ctx, id) }}
	pool, unavailable := s.openRuntime(ctx, inst, func(ctx context.Context, arn string) (functions.LayerVersion, error) { return fns.LayerCode(ctx, arn) })
	var runner functions.Runner
	if pool != nil {
		runner = pool
	}
	fns = &functions.Service{
		Store: s.db.Lambda, Layers: s.db.Lambda, Permissions: s.db.Lambda, Code: s.s3.data, CodeReader: s.s3.data, CSCs: csc, Account: inst.Account, Log: s.log,
		Gate:           &deploygate.Gate{Roots: []*x509.Certificate{inst.RootCert}, Revocation: checker},
		Runner:         runner,
		RequireEnforce: s.cfg.RequireEnforcedCodeSigning,
		OnWarning: func(ctx context.Context, fn string, d deploygate.Decision) {
			s.SignatureValidationErrors.Add(1)
			s.auditDeploy(ctx, fn, "AllowWithWarning", d)
		},
		OnRefused: func(ctx context.Context, fn string, d deploygate.Decision) { s.auditDeploy(ctx, fn, "Deny", d) },
		OnDecision: func(d deploygate.Decision) {
			outcome := "allowed"
			switch {
			case !d.Allowed:
				outcome = "refused"
			case d.Warned:
				outcome = "warned"
			}
			s.metrics.GateDecisions.WithLabelValues(outcome).Inc()
		},
		LambdaMayAssume: func(ctx context.Context, role string) (bool, error) {
			return s.IAM.ServiceMayAssume(ctx, role, "lambda.amazonaws.com")
		},
	}
	s.Functions = fns
	s.Invoke = &invoke.Service{Functions: fns, Queue: s.db.Lambda, Concurrency: s.db.Lambda, Log: s.log, Pool: pool, Unavailable: unavailable, SharedQueue: s.shared()}
	if err := s.loadCodeURLKey(ctx); err != nil {
		return nil, err
	}
	return &lambdaapi.Lambda{CSCs: csc, Functions: fns, Invoke: s.Invoke, ReadObject: s.readObject, CodeURL: s.codeURL,
		Authorizer: s.authz, Log: s.log}, nil
}

// openRuntime sets up the function runtime: the sandboxes, the pool of
// execution environments and the log writer. When sandboxes cannot run
// on this host (no root, no usable cgroups) it returns why, Signet still
// serves everything else, and Invoke answers with the reason.
func (s *Server) openRuntime(ctx context.Context, inst installation, layer func(context.Context, string) (functions.LayerVersion, error)) (*invoke.Pool, error) {
	host, err := sandbox.NewHost()
	if err != nil {
		s.log.Warn("functions cannot be invoked on this host", "err", err)
		return nil, err
	}
	s.sandboxes = host
	fc := s.cfg.Functions
	s.logWriter = logs.NewWriter(s.db.Logs, s.log, 200*time.Millisecond, time.Duration(fc.LogRetentionDays)*24*time.Hour)
	dir := filepath.Join(s.cfg.DataDir, "sandbox")
	code := &invoke.Unpacker{Dir: dir, Reader: s.s3.data, Layer: layer}
	pool, err := invoke.NewPool(invoke.Config{Concurrency: fc.Concurrency, IdleTimeout: fc.IdleTimeoutDuration(), InitTimeout: fc.InitTimeoutDuration(), TmpBytes: int64(fc.TmpSizeMB) << 20,
		Region: inst.Account.Region, StartErrorType: lambdaapi.StartErrorType, API: functionAPI{s}, Credentials: s.executionRole, NodeModules: fc.NodeModulesDir}, host, code, dir, s.logWriter, s.log)
	if err != nil {
		s.log.Warn("functions cannot be invoked on this host", "err", err)
		return nil, err
	}
	reserved, err := s.db.Lambda.AllFunctionConcurrency(ctx)
	if err != nil {
		s.log.Error("failed to read reserved concurrency", "err", err)
	}
	for fn, n := range reserved {
		pool.SetReserved(fn, n)
	}
	return pool, nil
}

// executionRole issues a new execution environment of f the credentials
// of its role, as Lambda does: a session named after the function,
// assumed by lambda.amazonaws.com, so the role's trust policy decides.
// What the function does with them is authorized and audited as
// assumed-role/ROLE/FUNCTION.
func (s *Server) executionRole(ctx context.Context, f functions.Function) (invoke.Credentials, error) {
	session := f.Name
	if len(session) < 2 {
		session += "-fn"
	}
	// The session's source identity is the function's ARN, which no
	// caller of sts:AssumeRole can set (':' is outside the parameter's
	// pattern): a policy condition on aws:SourceIdentity names one
	// function's sessions and nothing else.
	fn := s.Functions.ARN(f.Name)
	c, err := s.IAM.AssumeRole(ctx, iam.Assumer{Principal: "lambda.amazonaws.com"}, f.Role, session, 0,
		map[string][]string{"aws:principalservicename": {"lambda.amazonaws.com"}, "aws:sourcearn": {fn}}, fn)
	if err != nil {
		return invoke.Credentials{}, fmt.Errorf("Lambda cannot assume the function's execution role %s: %w", f.Role, err)
	}
	return invoke.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expiration: c.Expiration}, nil
}

// readObject reads a whole object version (at most max bytes).
func (s *Server) readObject(ctx context.Context, bucket, key, version string, max int64) ([]byte, error) {
	obj, err := s.Objects.OpenVersion(ctx, bucket, key, version)
	if errors.Is(err, objects.ErrNoSuchBucket) || errors.Is(err, objects.ErrNoSuchKey) || errors.Is(err, objects.ErrNoSuchVersion) {
		return nil, fmt.Errorf("%w: %w", lambdaapi.ErrObjectNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	if obj.Size() > max {
		return nil, fmt.Errorf("EntityTooLarge: the object is %d bytes, over %d", obj.Size(), max)
	}
	return io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
}

// codeURLValidity is how long a GetFunction Code.Location URL works.
const codeURLValidity = 10 * time.Minute

// codeURL returns a short-lived URL from which a function's current
// package can be downloaded without credentials, as GetFunction's
// Code.Location is.
func (s *Server) codeURL(name, codeSHA256 string) string {
	exp := time.Now().Add(codeURLValidity).Unix()
	q := url.Values{}
	q.Set("sha256", codeSHA256)
	q.Set("expires", strconv.FormatInt(exp, 10))
	q.Set("signature", s.codeURLSignature(name, codeSHA256, exp))
	return s.cfg.APIBaseURL() + "/function-code/" + url.PathEscape(name) + "?" + q.Encode()
}

func (s *Server) codeURLSignature(name, codeSHA256 string, exp int64) string {
	m := hmac.New(sha256.New, s.codeURLKey[:])
	fmt.Fprintf(m, "%s\n%s\n%d", name, codeSHA256, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// functionCode serves GET /function-code/{name} for a URL made by codeURL.
func (s *Server) functionCode(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	want := s.codeURLSignature(name, q.Get("sha256"), exp)
	if err != nil || !hmac.Equal([]byte(want), []byte(q.Get("signature"))) {
		http.Error(w, "the download URL is not valid; call GetFunction for a new one", http.StatusForbidden)
		return
	}
	if time.Now().Unix() > exp {
		http.Error(w, "the download URL has expired; call GetFunction for a new one", http.StatusForbidden)
		return
	}
	f, err := s.Functions.Get(r.Context(), name)
	if err != nil || f.CodeSHA256 != q.Get("sha256") {
		http.Error(w, "the function's code has changed or the function is gone; call GetFunction again", http.StatusNotFound)
		return
	}
	rc, err := s.s3.data.NewRangeReader(r.Context(), f.CodePath, 0, -1)
	if err != nil {
		http.Error(w, "code unavailable", http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.FormatInt(f.CodeSize, 10))
	io.Copy(w, rc)
}

// auditDeploy records a deploy-gate decision that was not a clean pass in
// the audit log: which function, which check, who deployed.
func (s *Server) auditDeploy(ctx context.Context, fn, decision string, d deploygate.Decision) {
	caller, _ := awsapi.CallerFrom(ctx)
	err := s.auditWriter.Append(ctx, audit.Event{
		Time: time.Now(), Principal: caller.PrincipalARN, Action: awsapi.ActionFrom(ctx), Resource: s.Functions.ARN(fn),
		Decision: decision, RequestID: awsapi.RequestID(ctx), SourceIP: caller.SourceIP, SourceIdentity: caller.SourceIdentity, Outcome: lambdaapi.ErrorCode(d.Refusal),
		Detail: fmt.Sprintf("code signing check %s failed: %s", d.Failed, d.Detail),
	}, true)
	if err != nil {
		s.log.ErrorContext(ctx, "failed to write an audit event", "err", err)
	}
}

// functionAPI serves the AWS API requests functions make from inside
// their sandboxes (invoke.APIAddr) with the server's own handler: they
// are authenticated, authorized and audited as any other request.
type functionAPI struct{ s *Server }

func (f functionAPI) ServeAPI(ctx context.Context, in invoke.APIRequest) invoke.APIResponse {
	req, err := http.NewRequestWithContext(ctx, in.Method, "http://"+in.Host+in.URI, bytes.NewReader(in.Body))
	if err != nil {
		return invoke.APIResponse{Status: http.StatusBadRequest, Body: []byte("Signet could not relay the request: " + err.Error())}
	}
	req.Header = http.Header(in.Header)
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Host, req.RequestURI = in.Host, in.URI
	// Not a loopback address: a policy that trusts 127.0.0.1 (aws:SourceIp)
	// must not trust a function; the audit log says where it came from.
	req.RemoteAddr = "sandbox:0"
	// Only signed requests (an Authorization header or a presigned
	// URL): the sandbox reaches Signet's AWS APIs, not its public
	// endpoints.
	if req.Header.Get("Authorization") == "" && req.URL.Query().Get("X-Amz-Credential") == "" {
		return invoke.APIResponse{Status: http.StatusForbidden, Header: map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}},
			Body: []byte("Signet's endpoint inside a function's sandbox takes signed AWS API requests only\n")}
	}
	// The body is in memory already: count it against the sandboxes'
	// budget, not the one other clients' bodies share.
	release, err := f.s.relayed.acquire(ctx, int64(len(in.Body)), f.s.limits.bodyWait)
	if err != nil {
		return invoke.APIResponse{Status: http.StatusTooManyRequests, Header: map[string][]string{
			"Content-Type": {"text/plain; charset=utf-8"}, "X-Amzn-Errortype": {"ThrottlingException"}},
			Body: []byte("Signet holds as many request bodies from functions as it can at once; retry with backoff\n")}
	}
	defer release()
	req = req.WithContext(context.WithValue(req.Context(), relayedKey{}, true))
	rec := newRecorder(invoke.MaxRelayBody)
	f.s.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.overflow {
		return invoke.APIResponse{Status: http.StatusBadGateway, Header: map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}},
			Body: []byte(fmt.Sprintf("the response is larger than the %d bytes Signet relays into a sandbox\n", invoke.MaxRelayBody))}
	}
	return invoke.APIResponse{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}
}

// relayedKey marks the context of a request relayed from a sandbox.
type relayedKey struct{}

// relayedFrom reports whether ctx is a relayed request's.
func relayedFrom(ctx context.Context) bool { v, _ := ctx.Value(relayedKey{}).(bool); return v }

// recorder collects a response served in process (relayed from a
// sandbox, or a console page's API call), at most limit bytes of body.
type recorder struct {
	limit    int
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool // the body went over the limit
}

func newRecorder(limit int) *recorder { return &recorder{limit: limit, header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.overflow || r.body.Len()+len(b) > r.limit {
		r.overflow = true
		return 0, fmt.Errorf("the response is larger than the %d bytes Signet passes on", r.limit)
	}
	return r.body.Write(b)
}

// Flush does nothing: the response is passed on whole.
func (r *recorder) Flush() {}

// functionEnvKeys encrypts functions' variables under customer keys by
// envelope: a data key from the key (with Lambda's encryption context)
// encrypts them with AES-256-GCM; only the encrypted data key is kept.
// Lambda decrypts them to run the function, with no caller's permission
// (as Lambda does with its grant); GetFunction shows them only to a
// caller allowed kms:Decrypt.
type functionEnvKeys struct{ k *kms.Service }

func (e functionEnvKeys) KeyARN(ctx context.Context, ref string) (string, error) {
	k, err := e.k.Resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	if k.Usage != kms.UsageEncrypt {
		return "", fmt.Errorf("key %s is a %s key, not an ENCRYPT_DECRYPT one", e.k.ARN(k.ID), k.Usage)
	}
	return e.k.ARN(k.ID), nil
}

var envAD = []byte("signet-lambda-environment-v1")

func (e functionEnvKeys) Seal(ctx context.Context, keyARN string, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	env, _, err := e.k.SealEnvelope(ctx, keyARN, encCtx, plaintext, envAD)
	return env, err
}

func (e functionEnvKeys) Open(ctx context.Context, sealed []byte, encCtx map[string]string) ([]byte, error) {
	return e.k.OpenEnvelope(ctx, sealed, encCtx, envAD)
}

// kmsErrorKind names a key service error for Lambda.
func kmsErrorKind(err error) error {
	switch {
	case errors.Is(err, kms.ErrDisabled):
		return functions.ErrKMSDisabled
	case errors.Is(err, kms.ErrInvalidState):
		return functions.ErrKMSInvalidState
	case errors.Is(err, kms.ErrNotFound):
		return functions.ErrKMSNotFound
	}
	return functions.ErrKMSAccessDenied
}
