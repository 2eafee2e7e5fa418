// Package console serves Signet's web console under /console/: pages
// rendered on the server from html/template, with htmx (vendored,
// embedded) for the parts of a page that change in place.
//
// The console is a client of Signet's own APIs. A signed-in session is
// bound to an access key; every read and every change a page makes is
// an API request run in process as that key's principal (Deps.Transport),
// so it is authorized by the same policies and audited like the same
// call from the AWS CLI. The package holds no store, IAM or policy code
// of its own: it cannot reach around the authorizer.
package console

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/audit"
)

// Principal is who a session acts as: the principal of an access key.
type Principal struct {
	ARN, ID        string // the user's or role session's ARN, and the user's or role's unique id
	AccessKeyID    string
	SourceIdentity string
	Root           bool      // the installation's root (break-glass) principal
	Expires        time.Time // the key's expiry (temporary credentials); zero: none
}

// Session is a signed-in browser session as stored.
type Session struct {
	IDHash         string // hex SHA-256 of the cookie's value; the value itself is never stored
	PrincipalARN   string
	PrincipalID    string
	AccessKeyID    string
	SourceIdentity string
	CSRFHash       string
	Created        time.Time
	LastSeen       time.Time
	Expires        time.Time
}

// ErrNoSession is what a SessionStore answers for a session it does not
// hold.
var ErrNoSession = errors.New("no such console session")

// SessionStore keeps sessions (in the database, so that every node of an
// installation knows them).
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, idHash string) (Session, error) // ErrNoSession when missing
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	DeleteSession(ctx context.Context, idHash string) error
	ExpireSessions(ctx context.Context, now time.Time) (int, error)
}

// Deps is what the console needs from the server.
type Deps struct {
	Sessions SessionStore
	// Authenticate checks an access key id with its secret (and the
	// session token of temporary credentials) and returns its principal.
	// Any failure is ErrBadCredentials (wrapped), whatever the cause.
	Authenticate func(ctx context.Context, keyID, secret, token string) (Principal, error)
	// Principal returns the principal of a live session's key again, or
	// an error when the key or its principal no longer exists.
	Principal func(ctx context.Context, s Session) (Principal, error)
	// Transport runs API requests in process as p. The request's host
	// names the service: "signer.console.invalid", "iam.console.invalid".
	Transport func(p Principal, sourceIP string, secure bool) http.RoundTripper
	// May reports whether p may perform action on resource (a probe that
	// decides nothing and records nothing): it decides which controls a
	// page draws. The API still decides.
	May func(ctx context.Context, p Principal, sourceIP string, secure bool, action, resource string) bool
	// Audit appends a record of sign-in or sign-out; durable waits until
	// it is stored.
	Audit func(ctx context.Context, e audit.Event, durable bool) error
	// CountRefused counts a sign-in refused before any check (throttled),
	// which is not audited.
	CountRefused func(code string)
	// Allow limits sign-in attempts per source address.
	Allow func(sourceIP string) bool

	Account arn.Account // region, account id and partition of the installation
	// Secure makes the cookie __Host- and Secure: the console is served
	// over HTTPS.
	Secure           bool
	AllowRoot        bool
	IdleTimeout      time.Duration // default 15 minutes
	SessionLifetime  time.Duration // default 8 hours
	Now              func() time.Time
	Log              *slog.Logger
	PlainHTTPWarning bool // served over plain HTTP (loopback only): say so on every page
}

// ErrBadCredentials is the one answer to a failed sign-in.
var ErrBadCredentials = errors.New("the access key id, secret access key or session token is not valid")

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Console is the console's handler.
type Console struct {
	d     Deps
	pages map[string]*template.Template
	mux   *http.ServeMux
	h     http.Handler
	// assetPaths maps an asset's name to its URL (with its hash).
	assetPaths map[string]string
	assets     map[string]asset
}

// New returns the console.
func New(d Deps) (*Console, error) {
	if d.IdleTimeout == 0 {
		d.IdleTimeout = 15 * time.Minute
	}
	if d.SessionLifetime == 0 {
		d.SessionLifetime = 8 * time.Hour
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	c := &Console{d: d}
	if err := c.loadAssets(); err != nil {
		return nil, err
	}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.plainError(w, http.StatusForbidden, "cross-origin request refused: the console accepts changes only from its own pages")
	}))
	c.h = securityHeaders(d.Secure, cop.Handler(c.mux))
	return c, nil
}

// ServeHTTP serves /console/.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/console/sign-in" {
		c.h.ServeHTTP(w, r) // no timing: it would time the credential checks
		return
	}
	c.h.ServeHTTP(&timingWriter{ResponseWriter: w, start: time.Now()}, r)
}

// timingWriter adds Server-Timing (the server's time to the first byte)
// to every response.
type timingWriter struct {
	http.ResponseWriter
	start time.Time
	wrote bool
}

func (t *timingWriter) WriteHeader(code int) {
	if !t.wrote {
		t.wrote = true
		t.Header().Set("Server-Timing", "app;dur="+strconv.FormatFloat(float64(time.Since(t.start).Microseconds())/1000, 'f', 1, 64))
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *timingWriter) Write(b []byte) (int, error) {
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(b)
}

// csp is the Content-Security-Policy of every console response: only
// the console's own script and style, no inline code, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(secure bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// maxForm bounds a console form's body.
const maxForm = 64 << 10

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /console/assets/{file}", c.asset)
	m.HandleFunc("GET /console/sign-in", c.signInPage)
	m.HandleFunc("POST /console/sign-in", c.signIn)
	m.HandleFunc("POST /console/sign-out", c.session(c.signOut))
	m.HandleFunc("GET /console/{$}", c.session(c.overview))
	m.HandleFunc("GET /console/profiles", c.session(c.profiles))
	m.HandleFunc("GET /console/profiles/{name}", c.session(c.profile))
	m.HandleFunc("GET /console/profiles/{name}/revoke", c.session(c.profileRevokeForm))
	m.HandleFunc("POST /console/profiles/{name}/revoke", c.session(c.profileRevoke))
	m.HandleFunc("GET /console/jobs", c.session(c.jobs))
	m.HandleFunc("GET /console/jobs/{id}", c.session(c.job))
	m.HandleFunc("GET /console/jobs/{id}/revoke", c.session(c.jobRevokeForm))
	m.HandleFunc("POST /console/jobs/{id}/revoke", c.session(c.jobRevoke))
	m.HandleFunc("GET /console/functions", c.session(c.functions))
	m.HandleFunc("GET /console/functions/{name}", c.session(c.function))
	m.HandleFunc("GET /console/configs", c.session(c.configs))
	m.HandleFunc("GET /console/configs/{id}", c.session(c.config))
	m.HandleFunc("POST /console/configs/{id}", c.session(c.configUpdate))
	m.HandleFunc("GET /console/admission", c.session(c.admission))
	m.HandleFunc("GET /console/secrets", c.session(c.secrets))
	m.HandleFunc("GET /console/secrets/{id}", c.session(c.secret))
	m.HandleFunc("POST /console/secrets/{id}/value", c.session(c.secretValue))
	m.HandleFunc("GET /console/iam", c.session(c.iamPage))
	m.HandleFunc("GET /console/iam/users/{name}", c.session(c.iamUser))
	m.HandleFunc("GET /console/iam/roles/{name}", c.session(c.iamRole))
	m.HandleFunc("GET /console/iam/simulate", c.session(c.simulate))
	m.HandleFunc("GET /console/audit", c.session(c.auditPage))
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.plainError(w, http.StatusNotFound, "no such console page")
	})
	c.mux = m
}

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// plainError answers an error without the layout (no session is needed).
func (c *Console) plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	c.pages["error.html"].ExecuteTemplate(w, "bare", map[string]any{"Status": status, "StatusText": http.StatusText(status), "Message": msg, "Assets": c.assetPaths})
}

// parseTemplates parses each page with the layout.
func (c *Console) parseTemplates() error {
	c.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("console template %s: %w", base, err)
		}
		c.pages[base] = t
	}
	return nil
}
