package console_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/chromedp/chromedp"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/console/consoletest"
	"github.com/signet/signet/internal/server/servertest"
)

// startTLS starts a server that serves the console over HTTPS (its own
// TLS CA), as a deployment would.
func startTLS(t *testing.T) *servertest.Server {
	return servertest.StartWith(t, func(c *config.Config) { c.TLS.Mode = config.TLSSelf })
}

// TestConsoleAdminRevokesSignature: an administrator revokes a signature
// in two clicks; the function's next deployment of that package is
// refused, and the audit log page shows the revocation.
func TestConsoleAdminRevokesSignature(t *testing.T) {
	ts := startTLS(t)
	w := consoletest.Seed(t, ts)
	b := consoletest.NewBrowser(t, ts)
	b.SignIn(w.Admin.ID, w.Admin.Secret)
	if got := b.Text("main h1"); got != "Overview" {
		t.Fatalf("after sign-in: %q", got)
	}
	b.Open("/console/jobs/" + w.JobID)
	// First click: the confirmation, in place (htmx).
	b.Do(chromedp.Click(chromedp.ID("revoke-start")), chromedp.WaitVisible(chromedp.ID("revoke-confirm")))
	if !strings.Contains(b.Text("#revoke-panel"), "Revoke the signature of job "+w.JobID) {
		t.Errorf("confirmation: %q", b.Text("#revoke-panel"))
	}
	// Second click, with a reason.
	b.Do(chromedp.SendKeys(chromedp.ID("reason"), "key compromise "+consoletest.XSSImg), chromedp.Click(chromedp.ID("revoke-confirm")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if got := b.Text("p.notice"); !strings.Contains(got, "is revoked") {
		t.Errorf("after revoking: %q", got)
	}
	ctx := context.Background()
	d, err := w.Signer.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(w.JobID)})
	if err != nil || d.RevocationRecord == nil || !strings.HasSuffix(aws.ToString(d.RevocationRecord.RevokedBy), ":user/admin") {
		t.Fatalf("DescribeSigningJob after the console's revocation: %+v, %v", d, err)
	}
	_, err = w.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(w.Function), S3Bucket: aws.String(w.Bucket),
		S3Key: aws.String(w.SignedKey)})
	if consoletest.APICode(err) != "CodeVerificationFailedException" {
		t.Errorf("deploying the revoked package = %v, want CodeVerificationFailedException", err)
	}
	b.Open("/console/audit?category=revocation")
	rows := b.Text("#audit-table")
	if !strings.Contains(rows, "signer:RevokeSignature") || !strings.Contains(rows, "admin") || !strings.Contains(rows, "via console") {
		t.Errorf("audit page, revocations: %q", rows)
	}
	if v := b.Eval(`window.__xss === undefined`); v != true {
		t.Errorf("an XSS payload ran: window.__xss = %v", b.Eval(`window.__xss`))
	}

	// A secret's value: not on its page until asked for, then once.
	b.Open("/console/secrets/" + url.PathEscape(w.SecretARN))
	if strings.Contains(b.Body(), "s3cr3t-value-42") {
		t.Error("the secret's page shows its value before it is asked for")
	}
	b.Do(chromedp.Click(chromedp.ID("show-value")), chromedp.WaitVisible(chromedp.ID("secret-value")))
	if got := b.Text("#secret-value"); got != "s3cr3t-value-42" {
		t.Errorf("the secret's value: %q", got)
	}
	// The code signing config's policy, from Enforce to Warn.
	b.Open("/console/configs/" + w.ConfigID)
	b.Do(chromedp.SetValue(chromedp.ID("policy"), "Warn"), chromedp.Click(chromedp.CSS(`form.inline button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	c, err := w.Lambda.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: aws.String(w.ConfigARN)})
	if err != nil || c.CodeSigningConfig.CodeSigningPolicies.UntrustedArtifactOnDeployment != "Warn" {
		t.Errorf("after the console's change the config is %+v, %v", c, err)
	}
	for _, e := range ts.AuditEvents(t) {
		if strings.Contains(e.Detail+e.Outcome+e.Resource, "s3cr3t-value-42") {
			t.Errorf("an audit record holds the secret's value: %+v", e)
		}
	}
}

// pages are the console's pages for a seeded world.
func pages(w *consoletest.World) []string {
	return []string{"/console/", "/console/profiles", "/console/profiles/" + w.Profile, "/console/jobs", "/console/jobs/" + w.JobID,
		"/console/functions", "/console/functions/" + w.Function, "/console/configs", "/console/configs/" + w.ConfigID, "/console/admission",
		"/console/secrets", "/console/secrets/" + url.PathEscape(w.SecretARN), "/console/iam", "/console/iam/users/dev", "/console/iam/roles/" + w.Role,
		"/console/iam/simulate?action=signer%3AStartSigningJob", "/console/audit"}
}

// changeControls selects what changes something: every form that posts
// (but signing out) and the links that open a revocation.
const changeControls = `form[method=post]:not([action="/console/sign-out"]), #revoke-start, #revoke-profile-start, #show-value`

// checkPage checks what every page must be: no payload ran, every form
// field has a label, and nothing is wider than a narrow screen.
func checkPage(t *testing.T, b *consoletest.Browser, path string) {
	t.Helper()
	if v := b.Eval(`window.__xss === undefined`); v != true {
		t.Errorf("%s: an XSS payload ran: window.__xss = %v", path, b.Eval(`String(window.__xss)`))
	}
	unlabelled := b.Eval(`Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea")).filter(e => !(e.labels && e.labels.length)).map(e => e.name).join(",")`)
	if unlabelled != "" {
		t.Errorf("%s: form fields without a label: %v", path, unlabelled)
	}
}

// postFromPage posts a form from the open page, with the session's CSRF
// token, as a page's own script could (what the console would refuse to
// draw, posted anyway), and returns "STATUS BODY".
func postFromPage(b *consoletest.Browser, path, body string) string {
	res := b.Eval(`(async () => { const tok = JSON.parse(document.body.getAttribute("hx-headers"))["X-Signet-CSRF"];
		const r = await fetch(` + strconv.Quote(path) + `, {method: "POST", headers: {"X-Signet-CSRF": tok, "Content-Type": "application/x-www-form-urlencoded"}, body: ` + strconv.Quote(body) + `});
		return r.status + " " + (await r.text()); })()`)
	s, _ := res.(string)
	return s
}

// TestConsoleAuditor: a read-only auditor sees every page but no control
// that changes anything, and the APIs refuse the changes when posted
// anyway (with a valid CSRF token): nothing changes.
func TestConsoleAuditor(t *testing.T) {
	ts := startTLS(t)
	w := consoletest.Seed(t, ts)
	b := consoletest.NewBrowser(t, ts)
	b.SignIn(w.Auditor.ID, w.Auditor.Secret)
	for _, p := range pages(w) {
		b.Open(p)
		if h := b.Text("main h1"); strings.Contains(h, "Exception") || strings.Contains(h, "Error") {
			t.Errorf("%s: the auditor got %q: %s", p, h, b.Text("main"))
		}
		if n := b.Count(changeControls); n != 0 {
			t.Errorf("%s: the auditor is shown %d controls that change things", p, n)
		}
		checkPage(t, b, p)
	}
	if nav := b.Text("header nav"); !strings.Contains(nav, "Signing jobs") || !strings.Contains(nav, "Audit log") || !strings.Contains(nav, "IAM") {
		t.Errorf("the auditor's sections: %q", nav)
	}
	// Posted anyway, from the console's own page with its CSRF token.
	b.Open("/console/jobs/" + w.JobID)
	for _, c := range []struct{ path, body string }{
		{"/console/jobs/" + w.JobID + "/revoke", "reason=audit"},
		{"/console/profiles/" + w.Profile + "/revoke", "version=" + w.ProfileVersion + "&effective=2020-01-01T00:00&reason=audit"},
		{"/console/configs/" + w.ConfigID, "policy=Warn"},
		{"/console/secrets/" + url.PathEscape(w.SecretARN) + "/value", ""},
	} {
		s := postFromPage(b, c.path, c.body)
		if !strings.HasPrefix(s, "403 ") || !strings.Contains(s, "AccessDeniedException") || !strings.Contains(s, "auditor") {
			t.Errorf("auditor POST %s = %.300s, want 403 with the API's AccessDeniedException", c.path, s)
		}
		if strings.Contains(s, "s3cr3t-value-42") {
			t.Errorf("auditor POST %s revealed the secret's value", c.path)
		}
	}
	ctx := context.Background()
	if d, err := w.Signer.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(w.JobID)}); err != nil || d.RevocationRecord != nil {
		t.Errorf("after the auditor's attempt the job is %+v, %v", d.RevocationRecord, err)
	}
	if p, err := w.Signer.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String(w.Profile)}); err != nil || p.RevocationRecord != nil {
		t.Errorf("after the auditor's attempt the profile is %+v, %v", p.RevocationRecord, err)
	}
	if c, err := w.Lambda.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: aws.String(w.ConfigARN)}); err != nil ||
		c.CodeSigningConfig.CodeSigningPolicies.UntrustedArtifactOnDeployment != "Enforce" {
		t.Errorf("after the auditor's attempt the config is %+v, %v", c, err)
	}
}

// TestConsoleDeveloper: a developer under seed 001's permissions boundary
// sees no signing sections and cannot reach them by URL, and may not
// change a code signing config (no control; the API refuses).
func TestConsoleDeveloper(t *testing.T) {
	ts := startTLS(t)
	w := consoletest.Seed(t, ts)
	b := consoletest.NewBrowser(t, ts)
	b.SignIn(w.Dev.ID, w.Dev.Secret)
	nav := b.Text("header nav")
	for _, hidden := range []string{"Signing profiles", "Signing jobs"} {
		if strings.Contains(nav, hidden) {
			t.Errorf("the developer's sections include %q: %q", hidden, nav)
		}
	}
	if !strings.Contains(nav, "Functions") {
		t.Errorf("the developer's sections lack Functions: %q", nav)
	}
	for _, p := range []string{"/console/jobs", "/console/jobs/" + w.JobID, "/console/profiles", "/console/profiles/" + w.Profile, "/console/jobs/" + w.JobID + "/revoke"} {
		b.Open(p)
		if h, body := b.Text("main h1"), b.Text("main"); h != "AccessDeniedException" || !strings.Contains(body, "explicit deny") && !strings.Contains(body, "signer:") {
			t.Errorf("developer at %s: %q %q, want the API's AccessDeniedException", p, h, body)
		}
	}
	b.Open("/console/configs/" + w.ConfigID)
	if n := b.Count(changeControls); n != 0 {
		t.Errorf("the developer is shown %d controls on a code signing config", n)
	}
	if s := postFromPage(b, "/console/configs/"+w.ConfigID, "policy=Warn"); !strings.HasPrefix(s, "403 ") || !strings.Contains(s, "lambda:UpdateCodeSigningConfig") {
		t.Errorf("developer POST config = %.300s, want 403 naming lambda:UpdateCodeSigningConfig", s)
	}
	b.Open("/console/functions/" + w.Function)
	checkPage(t, b, "/console/functions/"+w.Function)
}

// TestConsoleRevokesProfileVersion: an administrator revokes the profile
// version from a time before the job (from the job's page, two
// clicks); the package it signed no longer deploys, and the audit log
// page shows the revocation.
func TestConsoleRevokesProfileVersion(t *testing.T) {
	ts := startTLS(t)
	w := consoletest.Seed(t, ts)
	b := consoletest.NewBrowser(t, ts)
	b.SignIn(w.Admin.ID, w.Admin.Secret)
	// By keyboard alone: the skip link comes first, then the controls.
	b.Open("/console/jobs/" + w.JobID)
	b.Do(chromedp.KeyEvent("\t"))
	if got := b.Eval(`document.activeElement.textContent`); got != "Skip to content" {
		t.Errorf("the first Tab reaches %q, want the skip link", got)
	}
	b.Do(chromedp.KeyEvent("\r"))
	if got := b.Eval(`document.activeElement.id`); got != "main" {
		t.Errorf("the skip link leads to %q, want main", got)
	}
	b.Do(chromedp.Focus(chromedp.ID("revoke-profile-start")), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("effective")))
	if got := b.Text("#revoke-panel h2"); !strings.Contains(got, w.ProfileVersion) {
		t.Errorf("confirmation: %q", got)
	}
	b.Do(chromedp.SendKeys(chromedp.ID("reason"), "signing key exposed"), chromedp.Click(chromedp.ID("revoke-confirm")), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	ctx := context.Background()
	p, err := w.Signer.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String(w.Profile)})
	if err != nil || p.RevocationRecord == nil || !aws.ToTime(p.RevocationRecord.RevocationEffectiveFrom).Before(w.JobCreated) {
		t.Fatalf("profile after the console's revocation: %+v, %v (job created %v)", p.RevocationRecord, err, w.JobCreated)
	}
	_, err = w.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(w.Function), S3Bucket: aws.String(w.Bucket), S3Key: aws.String(w.SignedKey)})
	if consoletest.APICode(err) != "CodeVerificationFailedException" {
		t.Errorf("deploying a package signed after the effective time = %v, want CodeVerificationFailedException", err)
	}
	b.Open("/console/audit?category=revocation")
	if rows := b.Text("#audit-table"); !strings.Contains(rows, "signer:RevokeSigningProfile") || !strings.Contains(rows, "admin") {
		t.Errorf("audit page, revocations: %q", rows)
	}
	b.Open("/console/")
	if got := b.Text("main"); !strings.Contains(got, "Revocations") {
		t.Errorf("overview: %q", got)
	}
}

// TestConsoleXSS: payloads seeded into names, descriptions, tags, log
// lines, a revocation's reason and the audit log render as text on every
// page an administrator (who sees the most) opens.
func TestConsoleXSS(t *testing.T) {
	ts := startTLS(t)
	w := consoletest.Seed(t, ts)
	ctx := context.Background()
	if _, err := w.Signer.RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(w.JobID), Reason: aws.String("bad " + consoletest.XSSScript)}); err != nil {
		t.Fatal(err)
	}
	b := consoletest.NewBrowser(t, ts)
	b.SignIn(w.Admin.ID, w.Admin.Secret)
	seen := map[string]bool{}
	for _, p := range append(pages(w), "/console/audit?action=signer%3ARevokeSignature") {
		b.Open(p)
		checkPage(t, b, p)
		body := b.Body()
		for _, x := range []string{consoletest.XSSImg, consoletest.XSSSvg, consoletest.XSSScript} {
			if strings.Contains(body, x) {
				seen[x] = true
			}
		}
	}
	for _, x := range []string{consoletest.XSSImg, consoletest.XSSSvg, consoletest.XSSScript} {
		if !seen[x] {
			t.Errorf("payload %q was not shown as text on any page: the test did not reach it", x)
		}
	}
}

// TestConsoleSameOriginContent: an HTML object in S3, opened in the
// browser of a signed-in administrator (from the same origin as the
// console), runs no script: it cannot read the console's pages nor post
// with its CSRF token.
func TestConsoleSameOriginContent(t *testing.T) {
	ts := startTLS(t)
	w := consoletest.Seed(t, ts)
	ctx := context.Background()
	page := `<!doctype html><title>upload</title><p id=p>uploaded</p><script>
fetch("/console/secrets").then(r => r.text()).then(t => { document.title = t.includes("prod/db-password") ? "stolen" : "ran"; });
document.getElementById("p").textContent = "script ran";
</script>`
	if _, err := ts.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(w.Bucket), Key: aws.String("page.html"), Body: strings.NewReader(page),
		ContentType: aws.String("text/html")}); err != nil {
		t.Fatal(err)
	}
	pre, err := s3.NewPresignClient(ts.S3()).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(w.Bucket), Key: aws.String("page.html")})
	if err != nil {
		t.Fatal(err)
	}
	// The same page in a bucket named "console", whose objects' paths
	// (path-style) start as the console's do.
	if _, err := ts.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("console")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("console"), Key: aws.String("page.html"), Body: strings.NewReader(page),
		ContentType: aws.String("text/html")}); err != nil {
		t.Fatal(err)
	}
	inConsole, err := s3.NewPresignClient(ts.S3()).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("console"), Key: aws.String("page.html")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inConsole.URL, "/console/page.html") {
		t.Fatalf("the presigned URL %s is not path-style", inConsole.URL)
	}
	b := consoletest.NewBrowser(t, ts)
	b.Expect("Blocked script execution") // the sandbox at work
	b.SignIn(w.Admin.ID, w.Admin.Secret)
	for _, u := range []string{pre.URL, inConsole.URL} {
		b.Do(chromedp.Navigate(u), chromedp.WaitReady(chromedp.ID("p")))
		if got := b.Text("#p"); got != "uploaded" {
			t.Errorf("%s: the uploaded page's script ran: %q", u, got)
		}
		if title := b.Eval(`document.title`); title != "upload" {
			t.Errorf("%s: the uploaded page's script ran: title %q", u, title)
		}
	}
}
