package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/console"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/ratelimit"
	"github.com/signet/signet/internal/store"
)

// The web console (package console) acts through the APIs: a session's
// every read and change is an API request run here, in process, as the
// session's access key would run it signed — authorized by the same
// authorizer, audited by the same audited, counted by the same rate
// limits. The console itself holds no key, policy or store.

// openConsole builds the console, unless it is disabled or would be
// served over plain HTTP on a non-loopback address without
// console.allow_plain_http.
func (s *Server) openConsole() error {
	cc := s.cfg.Console
	off := func(why string) error {
		s.public.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "signet: the web console is off on this server: "+why, http.StatusNotFound)
		})
		return nil
	}
	if cc.Disabled {
		return off("console.disabled is set in its configuration")
	}
	secure := s.cfg.TLS.Enabled()
	if !secure && !cc.AllowPlainHTTP && !loopbackListener(s.cfg.Listen) {
		s.log.Warn("the web console is off: it is served over HTTPS (tls), on a loopback listener, or with console.allow_plain_http", "listen", s.cfg.Listen)
		return off("it is served over HTTPS (tls: self, or tls_cert_file), on a loopback listener, or with console.allow_plain_http")
	}
	c, err := console.New(console.Deps{
		Sessions:     consoleSessions{s.db.Console},
		Authenticate: s.consoleAuthenticate,
		Principal:    s.consolePrincipal,
		Transport:    s.consoleTransport,
		May:          s.consoleMay,
		Audit: func(ctx context.Context, e audit.Event, durable bool) error {
			return s.auditWriter.Append(ctx, e, durable)
		},
		CountRefused:     func(code string) { s.metrics.AuthFailures.WithLabelValues("console", code).Inc() },
		Allow:            consoleSignInLimit(s.now),
		Account:          s.inst.Account,
		Secure:           secure,
		AllowRoot:        cc.AllowRoot,
		IdleTimeout:      cc.IdleTimeoutDuration(),
		SessionLifetime:  cc.SessionLifetimeDuration(),
		Now:              s.now,
		Log:              s.log,
		PlainHTTPWarning: !secure,
	})
	if err != nil {
		return err
	}
	s.console = c
	s.public.Handle("/console/", c)
	s.public.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
	})
	return nil
}

func loopbackListener(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// consoleSignInLimit allows each source address (an IPv6 one by its
// /64) 10 sign-in attempts at once, then one every 6 seconds, and all
// addresses together 100 at once, then 5 a second: sign-ins are audited,
// and nobody unauthenticated may grow the audit log faster than that.
func consoleSignInLimit(now func() time.Time) func(string) bool {
	per := &ratelimit.Limiter{Default: ratelimit.Limit{Rate: 1.0 / 6, Burst: 10}, Now: now}
	all := &ratelimit.Limiter{Default: ratelimit.Limit{Rate: 5, Burst: 100}, Now: now}
	return func(ip string) bool {
		return per.Allow(addressKey(ip), "signet:ConsoleSignIn") && all.Allow("", "signet:ConsoleSignIn")
	}
}

// addressKey is what a rate limit counts an address as: an IPv4 address,
// or the /64 an IPv6 address is in (one host holds a whole /64).
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() || a.Is4In6() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// consoleAuthenticate checks a sign-in's access key: the same key, secret
// and session token a signed request would need, and a principal that
// still exists. Every failure is the same ErrBadCredentials.
func (s *Server) consoleAuthenticate(ctx context.Context, keyID, secret, token string) (console.Principal, error) {
	c, err := s.keyring.Lookup(ctx, keyID)
	if errors.Is(err, iam.ErrNotFound) {
		return console.Principal{}, console.ErrBadCredentials
	}
	if err != nil {
		return console.Principal{}, err
	}
	ok := subtle.ConstantTimeCompare([]byte(secret), []byte(c.SecretAccessKey)) == 1
	if c.SessionTokenSHA256 != ([sha256.Size]byte{}) {
		h := sha256.Sum256([]byte(token))
		ok = ok && subtle.ConstantTimeCompare(h[:], c.SessionTokenSHA256[:]) == 1
	} else if token != "" {
		ok = false
	}
	if !ok {
		return console.Principal{}, console.ErrBadCredentials
	}
	return s.consoleKeyPrincipal(ctx, c)
}

// consolePrincipal checks a live session's key again: deleting a key, or
// the expiry of a role session's credentials, ends the console sessions
// on it.
func (s *Server) consolePrincipal(ctx context.Context, sess console.Session) (console.Principal, error) {
	c, err := s.keyring.Lookup(ctx, sess.AccessKeyID)
	if errors.Is(err, iam.ErrNotFound) {
		// Every session of a deleted key ends, not only this one.
		s.db.Console.DeleteSessionsOfKey(ctx, sess.AccessKeyID)
	}
	if err != nil {
		return console.Principal{}, err
	}
	if c.PrincipalARN != sess.PrincipalARN || c.PrincipalID != sess.PrincipalID {
		return console.Principal{}, errors.New("the session's access key now belongs to another principal")
	}
	return s.consoleKeyPrincipal(ctx, c)
}

func (s *Server) consoleKeyPrincipal(ctx context.Context, c iam.Credential) (console.Principal, error) {
	if !c.Expires.IsZero() && !s.now().Before(c.Expires) {
		return console.Principal{}, console.ErrBadCredentials
	}
	who, err := s.IAM.Resolve(ctx, c.PrincipalARN)
	if errors.Is(err, iam.ErrNotFound) || (err == nil && c.PrincipalID != "" && who.ID != c.PrincipalID) {
		return console.Principal{}, console.ErrBadCredentials
	}
	if err != nil {
		return console.Principal{}, err
	}
	return console.Principal{ARN: c.PrincipalARN, ID: c.PrincipalID, AccessKeyID: c.AccessKeyID, SourceIdentity: c.SourceIdentity,
		Root: who.Root, Expires: c.Expires}, nil
}

func consoleCaller(p console.Principal, sourceIP, region string, secure bool) awsapi.Caller {
	return awsapi.Caller{PrincipalARN: p.ARN, PrincipalID: p.ID, SourceIdentity: p.SourceIdentity, AccessKeyID: p.AccessKeyID,
		SourceIP: sourceIP, Region: region, Secure: secure}
}

// consoleMay asks the authorizer, as a probe that records nothing,
// whether the principal may perform action on resource.
func (s *Server) consoleMay(ctx context.Context, p console.Principal, sourceIP string, secure bool, action, resource string) bool {
	return s.authz.May(ctx, consoleCaller(p, sourceIP, s.inst.Account.Region, secure), action, resource)
}

// viaConsoleKey marks the context of an API request a console page made.
type viaConsoleKey struct{}

func viaConsole(ctx context.Context) bool { v, _ := ctx.Value(viaConsoleKey{}).(bool); return v }

// maxConsoleRequest and maxConsoleResponse bound what a console page
// sends to one API call and what the answer may hold.
const (
	maxConsoleRequest  = 8 << 20
	maxConsoleResponse = 32 << 20
)

// consoleTransport runs a console page's API requests in process as the
// session's principal. The request's host names the service
// ("lambda.console.invalid").
func (s *Server) consoleTransport(p console.Principal, sourceIP string, secure bool) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		service, _, _ := strings.Cut(req.URL.Hostname(), ".")
		h, ok := s.services[service]
		if !ok {
			return nil, fmt.Errorf("console: Signet serves no %q API", service)
		}
		var body []byte
		if req.Body != nil {
			b, err := io.ReadAll(io.LimitReader(req.Body, maxConsoleRequest+1))
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			if len(b) > maxConsoleRequest {
				return nil, fmt.Errorf("console: a %s request larger than %d bytes", service, maxConsoleRequest)
			}
			body = b
		}
		id := uuid.NewString()
		caller := consoleCaller(p, sourceIP, s.inst.Account.Region, secure)
		ctx := awsapi.WithCaller(awsapi.WithRequestID(req.Context(), id), caller)
		ctx = context.WithValue(ctx, viaConsoleKey{}, true)
		r := req.Clone(ctx)
		r.RequestURI = req.URL.RequestURI()
		r.Host = req.URL.Host
		r.RemoteAddr = net.JoinHostPort(sourceIP, "0")
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rec := newRecorder(maxConsoleResponse)
		rec.header.Set("X-Amzn-RequestId", id)
		s.audited(rec, r, caller, h.ServeHTTP)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if rec.overflow {
			return nil, fmt.Errorf("console: the %s API's answer is larger than %d bytes", service, maxConsoleResponse)
		}
		return &http.Response{StatusCode: rec.status, Status: fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)), Header: rec.header,
			Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), ContentLength: int64(rec.body.Len()), Request: req,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// consoleSessions keeps console sessions in the database.
type consoleSessions struct{ db *store.Console }

func (c consoleSessions) CreateSession(ctx context.Context, s console.Session) error {
	return c.db.CreateSession(ctx, store.ConsoleSession(s))
}

func (c consoleSessions) Session(ctx context.Context, idHash string) (console.Session, error) {
	s, err := c.db.Session(ctx, idHash)
	if errors.Is(err, store.ErrNotFound) {
		return console.Session{}, console.ErrNoSession
	}
	return console.Session(s), err
}

func (c consoleSessions) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	err := c.db.TouchSession(ctx, idHash, at)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func (c consoleSessions) DeleteSession(ctx context.Context, idHash string) error {
	return c.db.DeleteSession(ctx, idHash)
}

func (c consoleSessions) ExpireSessions(ctx context.Context, now time.Time) (int, error) {
	return c.db.ExpireSessions(ctx, now)
}
