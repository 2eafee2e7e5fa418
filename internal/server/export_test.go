package server

import (
	"context"
	"net/http"
	"time"

	corecrl "github.com/notaryproject/notation-core-go/revocation/crl"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/revocation"
	"github.com/signet/signet/internal/store"
)

// BreakCRLChecker makes building the deploy gate's CRL checker fail with
// err until restore is called.
func BreakCRLChecker(err error) (restore func()) {
	old := newCRLChecker
	newCRLChecker = func(corecrl.Fetcher, http.RoundTripper) (revocation.CRLChecker, error) {
		return revocation.CRLChecker{}, err
	}
	return func() { newCRLChecker = old }
}

// AddTemporaryKey stores temporary credentials, as STS will issue them.
func (s *Server) AddTemporaryKey(ctx context.Context, id, secret, token string, expires time.Time) error {
	return s.db.IAM.CreateAccessKey(ctx, store.AccessKey{
		ID: id, SealedSecret: s.box.Seal([]byte(secret), iam.SecretAD(id)), SessionTokenHash: store.HashSessionToken(token),
		Expires: expires, PrincipalARN: s.inst.Account.RootARN(), CreatedAt: time.Now(),
	})
}

// DB exposes the store.
func (s *Server) DB() *store.DB { return s.db }

// SetMaxJobSize lowers the largest package a signing job accepts.
func (s *Server) SetMaxJobSize(n int64) { s.runner.MaxSize = n }

// DisableAuthorizationAndAudit makes the server allow every call and
// audit none, for the benchmark that measures what they cost.
func (s *Server) DisableAuthorizationAndAudit() {
	s.authz.bypass = true
	w := s.auditWriter
	s.auditWriter = nil
	w.Close()
}

// AuditDB exposes the audit database.
func (s *Server) AuditDB() *store.DB { return s.auditDB }

// SetRequestLimits changes the header and body deadlines and the
// buffered-body budget. Call it before Serve.
func (s *Server) SetRequestLimits(header, bodyIdle time.Duration, minRate, bufferedBodies int64, bodyWait time.Duration) {
	s.limits = requestLimits{header: header, bodyIdle: bodyIdle, minRate: minRate, bufferedBodies: bufferedBodies, relayedBodies: bufferedBodies, bodyWait: bodyWait}
	s.bodies = newBodyBudget(bufferedBodies)
	s.relayed = newBodyBudget(bufferedBodies)
}

// HoldBodies takes all of the budget of buffered bodies, of the server's
// clients or (relayed) of functions' requests, until release.
func (s *Server) HoldBodies(relayed bool) (release func()) {
	b := s.bodies
	if relayed {
		b = s.relayed
	}
	release, err := b.acquire(context.Background(), b.max, time.Second)
	if err != nil {
		panic(err)
	}
	return release
}

// ServeRelayed serves a request as if a function had made it from its
// sandbox.
func (s *Server) ServeRelayed(ctx context.Context, in invoke.APIRequest) invoke.APIResponse {
	return functionAPI{s}.ServeAPI(ctx, in)
}

// DBStatements is how many statements the server has sent its database
// (PostgreSQL; 0 with SQLite).
func (s *Server) DBStatements() int64 { return s.db.Statements() }

// DBContention is the server database's Contention.
func (s *Server) DBContention() (time.Duration, int64) { return s.db.Contention() }

// WithoutRequestTelemetry makes the server skip its per-request metrics
// and spans, to measure what they cost.
func WithoutRequestTelemetry() Option { return func(s *Server) { s.noRequestTelemetry = true } }

// May asks the authorizer whether c may perform action on resource,
// within a request's audit record, and returns the answer and the
// decision the record holds afterwards ("" if none).
func (s *Server) May(ctx context.Context, c awsapi.Caller, action, resource string) (bool, string) {
	info := &auditInfo{}
	ok := s.authz.May(context.WithValue(ctx, auditInfoKey{}, info), c, action, resource)
	info.mu.Lock()
	defer info.mu.Unlock()
	return ok, info.decision
}

// VerifyAuditLog verifies the audit log as GetAuditLogStatus's
// background verification does (from where the last one stopped).
func (s *Server) VerifyAuditLog(ctx context.Context) error {
	return s.auditVerifier.verify(ctx, false) // after any verification under way
}

// ConsoleAssetSizes reports the bytes of the console's assets, raw and
// gzip-compressed (0 when the console is off).
func (s *Server) ConsoleAssetSizes() (raw, gzipped int) {
	if s.console == nil {
		return 0, 0
	}
	return s.console.AssetSizes()
}
