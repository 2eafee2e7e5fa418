package console_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/console/consoletest"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// These tests drive the console with a plain HTTP client (cookies, no
// browser): sessions, CSRF, headers, and that a page's API calls are
// authorized and audited as the session's principal.

type client struct {
	t    *testing.T
	ts   *servertest.Server
	hc   *http.Client
	base string
}

func newClient(t *testing.T, ts *servertest.Server) *client {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Transport: ts.HTTPClient().Transport, Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &client{t: t, ts: ts, hc: hc, base: ts.URL}
}

func (c *client) do(method, path string, form url.Values, header map[string]string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	return c.do(http.MethodGet, path, nil, nil)
}

func (c *client) signIn(id, secret, token string) (*http.Response, string) {
	return c.do(http.MethodPost, "/console/sign-in", url.Values{"access_key_id": {id}, "secret_access_key": {secret}, "session_token": {token}}, nil)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the session's CSRF token from a page.
func (c *client) csrf() string {
	c.t.Helper()
	_, body := c.get("/console/")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token on the overview: %.500s", body)
	}
	return m[1]
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func startTLSWithClock(t *testing.T, clk *clock) *servertest.Server {
	return servertest.StartWithConfigAndClock(t, func(c *config.Config) { c.TLS.Mode = config.TLSSelf }, clk.Now)
}

func newUser(t *testing.T, ts *servertest.Server, name, policy string) (id, secret string) {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.IAM.CreateUser(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindUser, name, "p", policy); err != nil {
		t.Fatal(err)
	}
	id, secret, err := ts.IAM.CreateAccessKey(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return id, secret
}

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// auditRecords waits until the audit log holds records matching keep
// (read-only calls are recorded just after their response) and returns
// them.
func auditRecords(t *testing.T, ts *servertest.Server, want int, keep func(audit.Event) bool) []audit.Event {
	t.Helper()
	var out []audit.Event
	consoletest.Poll(30*time.Second, func() bool {
		out = nil
		for _, e := range ts.AuditEvents(t) {
			if keep(e) {
				out = append(out, e)
			}
		}
		return len(out) >= want
	})
	return out
}

// TestConsoleSignIn: a bad key or secret gets one answer, audited; a
// good one a new __Host- session cookie (Secure, HttpOnly,
// SameSite=Strict) whose value the database does not hold; every
// console response carries the CSP and the other headers.
func TestConsoleSignIn(t *testing.T) {
	ts := startTLS(t)
	id, secret := newUser(t, ts, "alice", allowAll)
	c := newClient(t, ts)
	if resp, _ := c.get("/console/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in" {
		t.Errorf("without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page := c.get("/console/sign-in")
	wantHeaders := map[string]string{
		"Content-Security-Policy":   "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "no-referrer",
		"Cache-Control":             "no-store",
		"Strict-Transport-Security": "max-age=31536000",
	}
	for k, v := range wantHeaders {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("sign-in page %s = %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(page, `name="secret_access_key" type="password"`) {
		t.Errorf("sign-in page: %.400s", page)
	}
	var msgs []string
	for _, bad := range []struct{ id, secret string }{{"AKIAUNKNOWNKEY000000", secret}, {id, secret + "x"}, {id, ""}, {`<script>`, "x"}} {
		resp, body := c.signIn(bad.id, bad.secret, "")
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Errorf("sign-in with %q: %d, cookies %v", bad.id, resp.StatusCode, resp.Cookies())
		}
		m := regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("refused sign-in without a message: %.500s", body)
		}
		msgs = append(msgs, m[1])
	}
	for _, m := range msgs[1:] {
		if m != msgs[0] {
			t.Errorf("refusals differ (they must not tell a missing key from a wrong secret): %q vs %q", m, msgs[0])
		}
	}
	resp, _ = c.signIn(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the root key signed in: %d (console.allow_root is off by default)", resp.StatusCode)
	}
	resp, _ = c.signIn(id, secret, "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	setCookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-signet-console=", "Path=/", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, want)
		}
	}
	if strings.Contains(setCookie, "Domain=") || strings.Contains(setCookie, "Max-Age") || strings.Contains(setCookie, "Expires") {
		t.Errorf("Set-Cookie %q: a session cookie has no domain and no lifetime of its own", setCookie)
	}
	cookie := resp.Cookies()[0].Value
	if resp, body := c.get("/console/"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "alice") {
		t.Errorf("overview after sign-in: %d %.300s", resp.StatusCode, body)
	}
	for name, b := range ts.DatabaseContent(t) {
		if bytes.Contains(b, []byte(cookie)) {
			t.Errorf("%s holds the session cookie's value", name)
		}
	}
	// A second sign-in gets a new session; the first goes on until it
	// ends or is signed out.
	c2 := newClient(t, ts)
	resp, _ = c2.signIn(id, secret, "")
	if resp.Cookies()[0].Value == cookie {
		t.Error("two sign-ins got the same session")
	}
	evs := auditRecords(t, ts, 6, func(e audit.Event) bool { return e.Action == "signet:ConsoleSignIn" })
	var allowed, denied int
	for _, e := range evs {
		switch e.Decision {
		case "Allow":
			allowed++
			if e.Principal != "arn:aws:iam::"+ts.AccountID()+":user/alice" || e.AccessKey != id || e.SourceIP != "127.0.0.1" {
				t.Errorf("sign-in record: %+v", e)
			}
		case "Deny":
			denied++
		}
		if strings.Contains(e.Detail+e.Outcome+e.AccessKey, secret) {
			t.Errorf("a sign-in record holds the secret: %+v", e)
		}
	}
	if allowed != 2 || denied != 5 {
		t.Errorf("sign-in records: %d allowed, %d denied, want 2 and 5: %+v", allowed, denied, evs)
	}
	// Sign-out ends the session.
	tok := c.csrf()
	if resp, _ := c.do(http.MethodPost, "/console/sign-out", url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-out: %d", resp.StatusCode)
	}
	old := &http.Cookie{Name: "__Host-signet-console", Value: cookie}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/console/", nil)
	req.AddCookie(old)
	if resp, err := c.hc.Transport.RoundTrip(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the signed-out cookie, replayed: %v %v", resp.StatusCode, err)
	}
}

// TestConsoleSessionEnds: a session ends when idle, at its lifetime
// however busy, when its key is deleted, and with the temporary
// credentials it signed in with (which need their session token).
func TestConsoleSessionEnds(t *testing.T) {
	clk := &clock{t: time.Now()}
	ts := startTLSWithClock(t, clk)
	id, secret := newUser(t, ts, "alice", allowAll)
	signedIn := func(c *client) bool {
		resp, _ := c.get("/console/")
		return resp.StatusCode == http.StatusOK
	}

	// Temporary credentials: the session token is required, and the
	// session ends when they expire.
	ctx := context.Background()
	if _, err := ts.IAM.CreateRole(ctx, "auditor", "/", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+
		ts.AccountID()+`:user/alice"},"Action":"sts:AssumeRole"}}`, 3600); err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, "auditor", "read", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"signer:List*","Resource":"*"}}`); err != nil {
		t.Fatal(err)
	}
	sc := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), HTTPClient: ts.HTTPClient(),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	out, err := sc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + ts.AccountID() + ":role/auditor"), RoleSessionName: aws.String("review"),
		DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	role := newClient(t, ts)
	if resp, _ := role.signIn(aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("temporary credentials without their session token: %d", resp.StatusCode)
	}
	if resp, _ := role.signIn(aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), "x"+aws.ToString(cr.SessionToken)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("temporary credentials with another session token: %d", resp.StatusCode)
	}
	if resp, _ := role.signIn(aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken)); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("temporary credentials with their token: %d", resp.StatusCode)
	}
	if _, body := role.get("/console/"); !strings.Contains(body, "assumed-role/auditor/review") {
		t.Errorf("the role session's overview does not name it: %.300s", body)
	}
	clk.Add(10 * time.Minute)
	if !signedIn(role) {
		t.Fatal("the role session ended before its credentials")
	}
	clk.Add(6 * time.Minute)
	if signedIn(role) {
		t.Error("a console session outlived its temporary credentials")
	}

	idle := newClient(t, ts)
	idle.signIn(id, secret, "")
	clk.Add(14 * time.Minute)
	if !signedIn(idle) {
		t.Fatal("a session used 14 minutes after sign-in ended")
	}
	clk.Add(15 * time.Minute)
	if resp, _ := idle.get("/console/"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "expired") {
		t.Errorf("after 15 idle minutes: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	busy := newClient(t, ts)
	busy.signIn(id, secret, "")
	for i := 0; i < 47; i++ { // 7h50m of use, every 10 minutes
		clk.Add(10 * time.Minute)
		if !signedIn(busy) {
			t.Fatalf("a busy session ended after %d minutes", (i+1)*10)
		}
	}
	clk.Add(10 * time.Minute)
	if signedIn(busy) {
		t.Error("a session outlived its 8 hours")
	}

	deleted := newClient(t, ts)
	id2, secret2, err := ts.IAM.CreateAccessKey(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	deleted.signIn(id2, secret2, "")
	if !signedIn(deleted) {
		t.Fatal("sign-in with a second key")
	}
	if err := ts.IAM.DeleteAccessKey(context.Background(), "alice", id2); err != nil {
		t.Fatal(err)
	}
	if signedIn(deleted) {
		t.Error("a session outlived its deleted key")
	}

}

// TestConsoleCSRF: a change needs the session's CSRF token and a
// same-origin request; sign-in refuses cross-origin posts (login CSRF).
func TestConsoleCSRF(t *testing.T) {
	ts := startTLS(t)
	id, secret := newUser(t, ts, "alice", allowAll)
	c := newClient(t, ts)
	if resp, _ := c.do(http.MethodPost, "/console/sign-in", url.Values{"access_key_id": {id}, "secret_access_key": {secret}},
		map[string]string{"Sec-Fetch-Site": "cross-site"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site sign-in: %d", resp.StatusCode)
	}
	if resp, _ := c.do(http.MethodPost, "/console/sign-in", url.Values{"access_key_id": {id}, "secret_access_key": {secret}},
		map[string]string{"Origin": "https://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in from another origin: %d", resp.StatusCode)
	}
	c.signIn(id, secret, "")
	tok := c.csrf()
	other := newClient(t, ts)
	other.signIn(id, secret, "")
	otherTok := other.csrf()
	for _, tc := range []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"no token", url.Values{"policy": {"Warn"}}, nil},
		{"another session's token", url.Values{"policy": {"Warn"}, "csrf": {otherTok}}, nil},
		{"token, cross-site", url.Values{"policy": {"Warn"}, "csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"token, another origin", url.Values{"policy": {"Warn"}, "csrf": {tok}}, map[string]string{"Origin": "https://evil.example"}},
	} {
		resp, body := c.do(http.MethodPost, "/console/configs/csc-0123456789abcdefg", tc.form, tc.header)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "ResourceNotFoundException") {
			t.Errorf("%s: %d %.200s, want 403 before any API call", tc.name, resp.StatusCode, body)
		}
	}
	// With the token in the header (htmx) or the form, the request
	// reaches the API (which finds no such config).
	if resp, body := c.do(http.MethodPost, "/console/configs/csc-0123456789abcdefg", url.Values{"policy": {"Warn"}}, map[string]string{"X-Signet-CSRF": tok}); resp.StatusCode != http.StatusNotFound ||
		!strings.Contains(body, "ResourceNotFoundException") {
		t.Errorf("with the token: %d %.300s", resp.StatusCode, body)
	}
	if resp, _ := c.get("/console/assets/htmx-2.0.11.min.js?v=0"); resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("an asset with a stale hash: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}

// TestConsoleActsAsPrincipal: a page's API call is one audit record of
// the session's principal and key, noted "via console", and is refused
// by the principal's policies exactly as the signed call would be.
func TestConsoleActsAsPrincipal(t *testing.T) {
	ts := startTLS(t)
	id, secret := newUser(t, ts, "reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["signer:List*","signer:Get*","lambda:List*"],"Resource":"*"}]}`)
	c := newClient(t, ts)
	c.signIn(id, secret, "")
	if resp, _ := c.get("/console/jobs"); resp.StatusCode != http.StatusOK {
		t.Fatalf("jobs: %d", resp.StatusCode)
	}
	principal := "arn:aws:iam::" + ts.AccountID() + ":user/reader"
	evs := auditRecords(t, ts, 1, func(e audit.Event) bool { return e.Action == "signer:ListSigningJobs" })
	if len(evs) != 1 || evs[0].Principal != principal || evs[0].AccessKey != id || evs[0].Decision != "Allow" || evs[0].Detail != "via console" ||
		evs[0].SourceIP != "127.0.0.1" || evs[0].RequestID == "" {
		t.Errorf("ListSigningJobs records: %+v", evs)
	}
	tok := c.csrf()
	resp, body := c.do(http.MethodPost, "/console/jobs/0a1b2c3d-0000-4000-8000-000000000000/revoke", url.Values{"csrf": {tok}, "reason": {"r"}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "AccessDeniedException") ||
		!strings.Contains(body, "User: "+principal+" is not authorized to perform: signer:RevokeSignature") {
		t.Errorf("revoke without the permission: %d %s", resp.StatusCode, body[strings.Index(body, "<main"):])
	}
	evs = auditRecords(t, ts, 1, func(e audit.Event) bool { return e.Action == "signer:RevokeSignature" })
	if len(evs) != 1 || evs[0].Decision != "Deny" || evs[0].Principal != principal || evs[0].Detail != "via console" {
		t.Errorf("RevokeSignature records: %+v", evs)
	}
	// The navigation shows what the policies allow: no IAM, no audit log.
	_, page := c.get("/console/")
	if !strings.Contains(page, `href="/console/jobs"`) || strings.Contains(page, `href="/console/iam"`) || strings.Contains(page, `href="/console/audit"`) {
		t.Errorf("navigation of a signer reader: %.1500s", page)
	}
	// Probing for the navigation recorded nothing. The audit log keeps
	// its records in order: once a later call's record is there, any of
	// the overview's would be too.
	c.get("/console/jobs")
	if evs := auditRecords(t, ts, 2, func(e audit.Event) bool { return e.Action == "signer:ListSigningJobs" }); len(evs) != 2 {
		t.Fatalf("ListSigningJobs records: %+v", evs)
	}
	if evs := auditRecords(t, ts, 0, func(e audit.Event) bool {
		return e.Action == "iam:ListUsers" || e.Action == "signet:ListAuditEvents" && e.Decision == "Deny"
	}); len(evs) != 0 {
		t.Errorf("the navigation's probes were audited: %+v", evs)
	}
}

// TestConsoleSignInThrottled: sign-in attempts from one address are
// limited (10 at once, then one every 6 seconds).
func TestConsoleSignInThrottled(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	ts := startTLSWithClock(t, clk)
	id, secret := newUser(t, ts, "alice", allowAll)
	c := newClient(t, ts)
	for i := 0; i < 10; i++ {
		if resp, _ := c.signIn(id, "wrong", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
		}
	}
	if resp, _ := c.signIn(id, secret, ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the 11th attempt at once: %d, want 429", resp.StatusCode)
	}
	for i := 0; i < 20; i++ {
		if resp, _ := c.signIn(id, "wrong", ""); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("throttled attempt %d: %d", i+1, resp.StatusCode)
		}
	}
	clk.Add(6 * time.Second)
	if resp, _ := c.signIn(id, secret, ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("an attempt 6 s later: %d", resp.StatusCode)
	}
	// The refused attempts are audited, the throttled ones only counted:
	// nobody unauthenticated grows the audit log faster than the limit.
	evs := auditRecords(t, ts, 11, func(e audit.Event) bool { return e.Action == "signet:ConsoleSignIn" })
	if len(evs) != 11 {
		t.Errorf("%d sign-in records, want 11 (10 refused, 1 allowed; the 21 throttled ones are not recorded)", len(evs))
	}
}

// TestConsoleOverPlainHTTP: with TLS on, the console over plain HTTP on
// the same port is a redirect to HTTPS, and a session cookie is never
// accepted there.
func TestConsoleOverPlainHTTP(t *testing.T) {
	ts := startTLS(t)
	u, _ := url.Parse(ts.URL)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get("http://" + u.Host + "/console/jobs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || !strings.HasPrefix(resp.Header.Get("Location"), "https://") ||
		!strings.HasSuffix(resp.Header.Get("Location"), "/console/jobs") {
		t.Errorf("plain HTTP: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = hc.PostForm("http://"+u.Host+"/console/sign-in", url.Values{"access_key_id": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a sign-in over plain HTTP: %d", resp.StatusCode)
	}
}

// TestConsoleOff: a console turned off says so (404), for every path
// under /console/.
func TestConsoleOff(t *testing.T) {
	ts := servertest.StartWith(t, func(c *config.Config) { c.Console.Disabled = true })
	for _, p := range []string{"/console/", "/console/sign-in", "/console/assets/console.css"} {
		resp, err := ts.HTTPClient().Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "console.disabled") {
			t.Errorf("GET %s with the console off: %d %s", p, resp.StatusCode, body)
		}
	}
}
