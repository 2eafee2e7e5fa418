package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/signet/signet/internal/audit"
)

// Sessions: the cookie holds 32 random bytes; the database holds only
// their SHA-256, so that a copy of the database signs nobody in. The
// session's CSRF token is derived from the cookie's value (which pages
// cannot read: HttpOnly), and checked against its hash in the database.

func (c *Console) cookieName() string {
	if c.d.Secure {
		return "__Host-signet-console"
	}
	return "signet-console"
}

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// csrfToken is the CSRF token of the session whose cookie is id.
func csrfToken(id string) string {
	h := sha256.Sum256([]byte("signet console csrf\x00" + id))
	return hex.EncodeToString(h[:])
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// keyIDPattern is what an access key id looks like; anything else typed
// into the sign-in form is not recorded as typed.
var keyIDPattern = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	c.renderSignIn(w, http.StatusOK, "")
}

func (c *Console) renderSignIn(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	c.pages["sign-in.html"].ExecuteTemplate(w, "bare", map[string]any{"Error": msg, "Assets": c.assetPaths, "PlainHTTP": c.d.PlainHTTPWarning,
		"Title": "Sign in"})
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.renderSignIn(w, http.StatusBadRequest, "the form could not be read: "+err.Error())
		return
	}
	ctx := r.Context()
	ip := sourceIP(r)
	keyID := strings.TrimSpace(r.PostForm.Get("access_key_id"))
	recorded := keyID
	if !keyIDPattern.MatchString(keyID) {
		recorded = "(not an access key id)"
	}
	ev := audit.Event{Time: c.d.Now(), Principal: "anonymous", Action: "signet:ConsoleSignIn", Resource: "*", AccessKey: recorded,
		SourceIP: ip, RequestID: randomToken()[:22]}
	if c.d.Allow != nil && !c.d.Allow(ip) {
		// Counted, not audited: an audit record for each would let anyone
		// grow the log.
		if c.d.CountRefused != nil {
			c.d.CountRefused("ThrottlingException")
		}
		c.renderSignIn(w, http.StatusTooManyRequests, "Too many sign-in attempts. Wait a minute and try again.")
		return
	}
	p, err := c.d.Authenticate(ctx, keyID, r.PostForm.Get("secret_access_key"), strings.TrimSpace(r.PostForm.Get("session_token")))
	if err == nil && p.Root && !c.d.AllowRoot {
		err = errRootRefused
	}
	if err != nil {
		ev.Decision, ev.Outcome = "Deny", "401 InvalidClientTokenId"
		msg := ErrBadCredentials.Error() + "."
		if errors.Is(err, errRootRefused) {
			ev.Principal, ev.Detail, msg = p.ARN, "root keys may not sign in to the console (console.allow_root)", "This server does not let the root (break-glass) key sign in to the console: use an IAM user's key."
		} else if !errors.Is(err, ErrBadCredentials) {
			c.d.Log.ErrorContext(ctx, "console sign-in", "err", err)
		}
		c.audit(ctx, ev, false)
		c.renderSignIn(w, http.StatusUnauthorized, msg)
		return
	}
	id := randomToken() // a new id at every sign-in: no session fixation
	now := c.d.Now()
	exp := now.Add(c.d.SessionLifetime)
	if !p.Expires.IsZero() && p.Expires.Before(exp) {
		exp = p.Expires // a role session's console session ends with its credentials
	}
	s := Session{IDHash: hashHex(id), PrincipalARN: p.ARN, PrincipalID: p.ID, AccessKeyID: p.AccessKeyID, SourceIdentity: p.SourceIdentity,
		CSRFHash: hashHex(csrfToken(id)), Created: now, LastSeen: now, Expires: exp}
	ev.Principal, ev.AccessKey, ev.SourceIdentity, ev.BreakGlass = p.ARN, p.AccessKeyID, p.SourceIdentity, p.Root
	ev.Decision, ev.Outcome = "Allow", "200"
	// The record is durable before the session exists.
	if err := c.audit(ctx, ev, true); err != nil {
		c.renderSignIn(w, http.StatusInternalServerError, "the sign-in could not be audited; check the server log")
		return
	}
	if err := c.d.Sessions.CreateSession(ctx, s); err != nil {
		c.d.Log.ErrorContext(ctx, "console session", "err", err)
		c.renderSignIn(w, http.StatusInternalServerError, "the session could not be stored; check the server log")
		return
	}
	if n, err := c.d.Sessions.ExpireSessions(ctx, now); err == nil && n > 0 {
		c.d.Log.DebugContext(ctx, "expired console sessions", "count", n)
	}
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: id, Path: "/", Secure: c.d.Secure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

var errRootRefused = errors.New("root keys may not sign in to the console")

func (c *Console) audit(ctx context.Context, e audit.Event, durable bool) error {
	if c.d.Audit == nil {
		return nil
	}
	err := c.d.Audit(context.WithoutCancel(ctx), e, durable)
	if err != nil {
		c.d.Log.ErrorContext(ctx, "console audit record", "action", e.Action, "err", err)
	}
	return err
}

func (c *Console) signOut(v *view) error {
	if err := c.d.Sessions.DeleteSession(v.r.Context(), v.s.IDHash); err != nil {
		return err
	}
	c.audit(v.r.Context(), audit.Event{Time: c.d.Now(), Principal: v.p.ARN, Action: "signet:ConsoleSignOut", Resource: "*", Decision: "Allow",
		AccessKey: v.p.AccessKeyID, SourceIP: v.ip, SourceIdentity: v.p.SourceIdentity, Outcome: "200", BreakGlass: v.p.Root, RequestID: randomToken()[:22]}, true)
	http.SetCookie(v.w, &http.Cookie{Name: c.cookieName(), Value: "", Path: "/", Secure: c.d.Secure, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(v.w, v.r, "/console/sign-in", http.StatusSeeOther)
	return nil
}

// toSignIn sends the browser to the sign-in page (htmx requests by
// HX-Redirect, so that the whole page goes).
func (c *Console) toSignIn(w http.ResponseWriter, r *http.Request, why string) {
	u := "/console/sign-in"
	if why != "" {
		u += "?why=" + why
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", u)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// session serves h for a signed-in session: it checks the cookie, the
// session's idle and absolute expiry, that its key and principal still
// exist, and on a POST the CSRF token, before h runs.
func (c *Console) session(h func(*view) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ctx := r.Context()
		ck, err := r.Cookie(c.cookieName())
		if err != nil || ck.Value == "" || len(ck.Value) > 64 {
			c.toSignIn(w, r, "")
			return
		}
		s, err := c.d.Sessions.Session(ctx, hashHex(ck.Value))
		if errors.Is(err, ErrNoSession) {
			c.toSignIn(w, r, "")
			return
		}
		if err != nil {
			c.d.Log.ErrorContext(ctx, "console session", "err", err)
			c.plainError(w, http.StatusInternalServerError, "the session could not be read; check the server log")
			return
		}
		now := c.d.Now()
		if !now.Before(s.Expires) || now.Sub(s.LastSeen) >= c.d.IdleTimeout {
			c.d.Sessions.DeleteSession(ctx, s.IDHash)
			c.toSignIn(w, r, "expired")
			return
		}
		p, err := c.d.Principal(ctx, s)
		if err != nil {
			// The key was deleted, its role session expired, or its
			// principal is gone: every console session on it ends.
			c.d.Sessions.DeleteSession(ctx, s.IDHash)
			c.toSignIn(w, r, "ended")
			return
		}
		if now.Sub(s.LastSeen) >= c.d.IdleTimeout/15 {
			c.d.Sessions.TouchSession(ctx, s.IDHash, now)
		}
		v := &view{c: c, w: w, r: r, p: p, s: s, csrf: csrfToken(ck.Value), ip: sourceIP(r), secure: r.TLS != nil}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				c.plainError(w, http.StatusBadRequest, "the form could not be read: "+err.Error())
				return
			}
			tok := r.Header.Get("X-Signet-CSRF")
			if tok == "" {
				tok = r.PostForm.Get("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(hashHex(tok)), []byte(s.CSRFHash)) != 1 {
				c.plainError(w, http.StatusForbidden, "the form's CSRF token is missing or not this session's: reload the page and try again")
				return
			}
		}
		if err := h(v); err != nil {
			v.fail(err)
		}
	}
}
