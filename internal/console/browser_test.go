package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
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
}
