package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/oidc"
	"github.com/signet/signet/internal/policy"
	"github.com/signet/signet/internal/ratelimit"
	"github.com/signet/signet/internal/store"
)

// authorizer is the one Authorizer of every API: rate limits, then the
// caller's policies (identity, boundary, and the resource's own policy)
// evaluated by package policy. It records its decision for the audit
// log.
type authorizer struct {
	bypass  bool // benchmarks only: allow everything, as before IAM
	iam     *iam.Service
	limiter *ratelimit.Limiter
	now     func() time.Time
}

// auditInfo is what authorization learned about a request, for its
// audit record.
type auditInfo struct {
	mu         sync.Mutex
	action     string
	resource   string
	decision   string
	breakGlass bool
}

type auditInfoKey struct{}

func auditInfoFrom(ctx context.Context) *auditInfo {
	i, _ := ctx.Value(auditInfoKey{}).(*auditInfo)
	if i == nil {
		return &auditInfo{}
	}
	return i
}

func (i *auditInfo) set(action, resource, decision string, breakGlass bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.action == "" || decision != "Allow" {
		i.action, i.resource, i.decision, i.breakGlass = action, resource, decision, breakGlass
	}
}

func (a *authorizer) Authorize(ctx context.Context, req awsapi.AuthzRequest) error {
	if a.bypass {
		return nil
	}
	info := auditInfoFrom(ctx)
	if req.Public {
		info.set(req.Action, req.Resource, "Allow", false)
		return nil
	}
	if a.limiter != nil && !req.Also && !a.limiter.Allow(req.Caller.AccessKeyID, req.Action) {
		info.set(req.Action, req.Resource, "Throttled", false)
		return &awsapi.Throttled{Message: fmt.Sprintf("Rate exceeded: access key %s is over its limit for %s; retry with backoff", req.Caller.AccessKeyID, req.Action)}
	}
	who, err := a.iam.Resolve(ctx, req.Caller.PrincipalARN)
	if err == nil && req.Caller.PrincipalID != "" && who.ID != req.Caller.PrincipalID {
		// The key's user or role was deleted and another of the same
		// name created: the key (a role session) died with the first.
		err = iam.ErrNotFound
	}
	if err != nil {
		info.set(req.Action, req.Resource, "Deny", false)
		if errors.Is(err, iam.ErrNotFound) {
			return denied(req, "the principal no longer exists")
		}
		return err
	}
	if who.Root || req.Action == "sts:GetCallerIdentity" {
		info.set(req.Action, req.Resource, "Allow", who.Root)
		return nil
	}
	d, err := a.decide(ctx, req, who, req.Action)
	if err != nil {
		return err
	}
	// An alternative action grants the request too, unless one of them
	// is explicitly denied.
	for _, alt := range req.OrActions {
		if d.Effect == policy.ExplicitDeny {
			break
		}
		da, err := a.decide(ctx, req, who, alt)
		if err != nil {
			return err
		}
		if da.Effect == policy.ExplicitDeny {
			d, req.Action, req.OrActions = da, alt, nil // the refusal names the denied action
		} else if !d.Allowed() && da.Allowed() {
			d = da
		}
	}
	if d.Allowed() {
		info.set(req.Action, req.Resource, "Allow", false)
		return nil
	}
	info.set(req.Action, req.Resource, "Deny", false)
	if d.Effect == policy.ExplicitDeny {
		return denied(req, d.Reason)
	}
	return denied(req, "because "+d.Reason)
}

// decide evaluates the caller's policies, and the resource's own when
// they are needed, for action on the request's resource.
func (a *authorizer) decide(ctx context.Context, req awsapi.AuthzRequest, who iam.Resolved, action string) (policy.Decision, error) {
	p := who.Policies
	req.Action = action
	preq := policy.Request{Principal: who.Principal, Account: a.iam.Account.ID, Action: action, Resource: req.Resource, Context: a.contextKeys(req, who)}
	d := policy.Evaluate(p, preq)
	if !d.Allowed() && d.Effect != policy.ExplicitDeny {
		// The resource policies Signet has (profile permissions, trust
		// policies) only allow, so they can only change an implicit
		// denial: they are read only then.
		var err error
		if req.Policies != nil {
			if p.Resource, err = req.Policies(ctx, action, req.Resource); err != nil {
				return d, err
			}
		}
		if p.Resource != nil {
			d = policy.Evaluate(p, preq)
		}
	}
	return d, nil
}

// denied is AWS's AccessDenied: "User: ARN is not authorized to perform:
// ACTION on resource: RESOURCE because …"; a second resource's refusal
// also says which operation needed it.
func denied(req awsapi.AuthzRequest, why string) error {
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", req.Caller.PrincipalARN, req.Action, req.Resource, why)
	if len(req.OrActions) > 0 {
		msg += " (" + strings.Join(req.OrActions, " or ") + " would also do)"
	}
	if req.Also && req.Operation != "" {
		msg += "; " + req.Operation + " needs it because it acts on that resource for you"
	}
	return &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden, Message: msg}
}

// contextKeys are the global condition keys of a request, with the
// operation's own.
func (a *authorizer) contextKeys(req awsapi.AuthzRequest, who iam.Resolved) map[string][]string {
	now := time.Now()
	if a.now != nil {
		now = a.now()
	}
	typ := "User"
	if who.Policies.RoleARN != "" {
		typ = "AssumedRole"
	}
	k := map[string][]string{
		"aws:principalarn":     {who.Principal},
		"aws:principalaccount": {a.iam.Account.ID},
		"aws:principaltype":    {typ},
		"aws:userid":           {who.UserID},
		"aws:currenttime":      {now.UTC().Format(time.RFC3339)},
		"aws:epochtime":        {strconv.FormatInt(now.Unix(), 10)},
		"aws:securetransport":  {strconv.FormatBool(req.Caller.Secure)},
	}
	if who.Username != "" {
		k["aws:username"] = []string{who.Username}
	}
	if req.Caller.SourceIP != "" {
		k["aws:sourceip"] = []string{req.Caller.SourceIP}
	}
	if req.Caller.Region != "" {
		k["aws:requestedregion"] = []string{req.Caller.Region}
	}
	for key, v := range req.Keys {
		k[key] = v
	}
	return k
}

// requestKeys are the condition keys a handler passes on (AssumeRole's
// trust policy conditions).
func (a *authorizer) requestKeys(r *http.Request) map[string][]string {
	c, _ := awsapi.CallerFrom(r.Context())
	who, _ := a.iam.Resolve(r.Context(), c.PrincipalARN)
	return a.contextKeys(awsapi.AuthzRequest{Caller: c}, who)
}

// readOnly reports whether an action changes nothing, so its audit
// record need not be durable before the response.
func readOnly(action string) bool {
	_, op, _ := strings.Cut(action, ":")
	for _, p := range []string{"Get", "List", "Describe", "Head", "Filter"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return action == "lambda:InvokeFunction"
}

// auditWriter holds back the response of an allowed state-changing call
// until its audit record is durable, so that no change is acknowledged
// without its record. Reads and refusals pass straight through.
type auditWriter struct {
	http.ResponseWriter
	info    *auditInfo
	decided bool
	hold    bool
	status  int
	buf     bytes.Buffer
}

func (w *auditWriter) decide() {
	if w.decided {
		return
	}
	w.decided = true
	w.info.mu.Lock()
	w.hold = w.info.decision == "Allow" && !readOnly(w.info.action)
	w.info.mu.Unlock()
}

func (w *auditWriter) WriteHeader(code int) {
	w.decide()
	if w.status == 0 {
		w.status = code
	}
	if !w.hold {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *auditWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.hold {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes through when the response is not held.
func (w *auditWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.hold {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *auditWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// audited serves an authenticated request and appends its audit record:
// principal, action, resource, decision, request id, source address,
// time, outcome.
func (s *Server) audited(w http.ResponseWriter, r *http.Request, caller awsapi.Caller, serve func(http.ResponseWriter, *http.Request)) {
	if s.auditWriter == nil {
		serve(w, r)
		return
	}
	info := &auditInfo{}
	r = r.WithContext(context.WithValue(r.Context(), auditInfoKey{}, info))
	aw := &auditWriter{ResponseWriter: w, info: info}
	start := time.Now()
	serve(aw, r)
	aw.decide()
	if aw.status == 0 {
		aw.status = http.StatusOK
	}
	info.mu.Lock()
	action, resource, decision, breakGlass := info.action, info.resource, info.decision, info.breakGlass
	info.mu.Unlock()
	if action == "" {
		action, decision = "unknown", "None"
	}
	outcome := strconv.Itoa(aw.status)
	if code := w.Header().Get("X-Amzn-ErrorType"); code != "" {
		outcome += " " + code
	}
	// The wait for the record does not end when the client goes away (or
	// its body stops arriving, which cancels the request's context): the
	// record is queued either way, and the response depends on it.
	err := s.auditWriter.Append(context.WithoutCancel(r.Context()), audit.Event{Time: start, Principal: caller.PrincipalARN, AccessKey: caller.AccessKeyID, Action: action,
		Resource: resource, Decision: decision, RequestID: awsapi.RequestID(r.Context()), SourceIP: caller.SourceIP, Outcome: outcome, BreakGlass: breakGlass}, aw.hold)
	if aw.hold {
		if err != nil {
			s.log.ErrorContext(r.Context(), "a change could not be audited; its response is withheld", "request_id", awsapi.RequestID(r.Context()), "err", err)
			awsapi.WriteError(w, r, &awsapi.Error{Code: "ServiceException", Status: http.StatusInternalServerError,
				Message: "the change was made but its audit record could not be written; check the server log"})
			return
		}
		w.WriteHeader(aw.status)
		w.Write(aw.buf.Bytes())
	}
}

// auditKeySetting names the installation's audit checkpoint key.
const auditKeySetting = "audit_key_id"

// auditDatabaseFile holds the audit log, apart from the main database so
// that the commits of audit records and of the changes they record do not
// wait for each other.
const auditDatabaseFile = "audit.db"

// openAudit opens the audit database and starts the audit writer,
// creating the checkpoint key on first start.
func (s *Server) openAudit(ctx context.Context, ks keys.KeyStore) error {
	var err error
	if s.auditDB, err = store.OpenSQLite(ctx, filepath.Join(s.cfg.DataDir, auditDatabaseFile)); err != nil {
		return fmt.Errorf("audit database: %w", err)
	}
	if n, err := s.db.MoveAuditTo(ctx, s.auditDB); err != nil {
		return fmt.Errorf("moving the audit log to %s: %w", auditDatabaseFile, err)
	} else if n > 0 {
		s.log.InfoContext(ctx, "moved the audit log to its own database", "records", n, "file", auditDatabaseFile)
	}
	id, err := s.db.Setting(ctx, auditKeySetting)
	if errors.Is(err, store.ErrNotFound) || (err == nil && id == "") {
		id, _, err = ks.Create(ctx, keys.KeySpecEC384)
		if err != nil {
			return err
		}
		if _, err := s.db.AddSettings(ctx, []string{auditKeySetting}, map[string]string{auditKeySetting: id}); err != nil {
			return err
		}
		if id, err = s.db.Setting(ctx, auditKeySetting); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	signer, err := ks.Signer(ctx, id)
	if err != nil {
		return fmt.Errorf("audit checkpoint key: %w", err)
	}
	s.auditWriter = &audit.Writer{Store: s.auditDB, Log: s.log, Sign: func(ctx context.Context, digest []byte) (string, []byte, error) {
		sig, err := signer.Sign(rand.Reader, digest, crypto.SHA384)
		return id, sig, err
	}}
	s.auditKey, _ = signer.Public().(*ecdsa.PublicKey)
	// Records written after the last checkpoint of a server that did not
	// stop cleanly are signed now, before anything is appended.
	if err := s.auditWriter.Resume(ctx); err != nil {
		return fmt.Errorf("signing the audit log's unsigned records: %w", err)
	}
	return nil
}

// rateLimiter builds the limiter of the configuration (nil: no limits).
func rateLimiter(c config.RateLimits) *ratelimit.Limiter {
	if c.Rate == 0 && len(c.Actions) == 0 {
		return nil
	}
	burst := func(rate float64, b int) int {
		if b == 0 {
			b = max(int(2*rate), 1)
		}
		return b
	}
	l := &ratelimit.Limiter{Default: ratelimit.Limit{Rate: c.Rate, Burst: burst(c.Rate, c.Burst)}, ByAction: map[string]ratelimit.Limit{}}
	for a, al := range c.Actions {
		l.ByAction[a] = ratelimit.Limit{Rate: al.Rate, Burst: burst(al.Rate, al.Burst)}
	}
	return l
}

// iamKeys stores IAM's access keys with their secrets sealed.
type iamKeys struct{ s *Server }

func (k iamKeys) CreateKey(ctx context.Context, key iam.Key) error {
	return k.s.db.CreateAccessKey(ctx, store.AccessKey{ID: key.ID, SealedSecret: k.s.box.Seal([]byte(key.Secret), secretAD(key.ID)), SessionTokenHash: sessionTokenHash(key.Token),
		Expires: key.Expires, PrincipalARN: key.PrincipalARN, PrincipalID: key.PrincipalID, CreatedAt: time.Now()})
}

func (k iamKeys) DeleteKey(ctx context.Context, id, principalARN string) error {
	err := k.s.db.DeleteAccessKey(ctx, id, principalARN)
	k.s.creds.forget(id)
	return err
}

func (k iamKeys) KeysOf(ctx context.Context, principalARN string) ([]iam.KeyInfo, error) {
	return k.s.db.AccessKeysOf(ctx, principalARN)
}

// webIdentity adapts an oidc.Provider to iam.WebIdentityProvider.
type webIdentity struct{ p *oidc.Provider }

func (w webIdentity) Host() string { return w.p.Host() }

func (w webIdentity) Verify(ctx context.Context, token string, now time.Time) (iam.WebIdentity, error) {
	c, err := w.p.Verify(ctx, token, now)
	switch {
	case errors.Is(err, oidc.ErrExpired):
		return iam.WebIdentity{}, &errs.Error{Kind: iam.ErrExpiredToken, Msg: "Token expired: " + err.Error()}
	case errors.Is(err, oidc.ErrInvalidToken):
		return iam.WebIdentity{}, &errs.Error{Kind: iam.ErrInvalidIdentityToken, Msg: err.Error()}
	case err != nil:
		return iam.WebIdentity{}, &errs.Error{Kind: iam.ErrInvalidIdentityToken, Msg: "Couldn't retrieve verification key from your identity provider: " + err.Error()}
	}
	return iam.WebIdentity{Subject: c.Subject, Audience: c.Audience}, nil
}

func webIdentityProviders(cfg []config.WebIdentityProvider) []iam.WebIdentityProvider {
	var out []iam.WebIdentityProvider
	for _, p := range cfg {
		out = append(out, webIdentity{&oidc.Provider{Issuer: p.Issuer, JWKSURL: p.JWKSURL, Audiences: p.Audiences}})
	}
	return out
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
