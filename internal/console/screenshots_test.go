package console_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/chromedp/chromedp"

	"github.com/signet/signet/internal/console/consoletest"
)

// TestConsoleScreenshots takes screenshots of the main pages at a
// desktop and a narrow width (into $SIGNET_CONSOLE_SCREENSHOTS when set:
// scripts/console-screenshots writes docs/console/ so), and checks that
// no page is wider than a narrow screen.
func TestConsoleScreenshots(t *testing.T) {
	dir := os.Getenv("SIGNET_CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ts := startTLS(t)
	w := consoletest.SeedPlain(t, ts)
	ctx := context.Background()
	// A little history: more signed versions, a refused and a warned
	// deployment.
	for i := 0; i < 3; i++ {
		w.SignPackage(t, uploadVersion(t, w, i))
	}
	if _, err := w.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(w.Function), ZipFile: w.Unsigned}); consoletest.APICode(err) != "CodeVerificationFailedException" {
		t.Fatalf("unsigned deployment: %v", err)
	}
	b := consoletest.NewBrowser(t, ts)
	b.SignIn(w.Admin.ID, w.Admin.Secret)
	shots := []struct {
		name, path string
		then       []chromedp.Action[chromedp.Void]
	}{
		{"overview", "/console/", nil},
		{"jobs", "/console/jobs", nil},
		{"job-revoke", "/console/jobs/" + w.JobID, []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.ID("revoke-start")), chromedp.WaitVisible(chromedp.ID("revoke-confirm"))}},
		{"function", "/console/functions/" + w.Function, nil},
		{"audit", "/console/audit", nil},
		{"simulator", "/console/iam/simulate?action=signer%3AStartSigningJob", nil},
		{"secrets", "/console/secrets", nil},
	}
	for _, s := range shots {
		for _, vp := range []struct {
			suffix string
			w, h   int64
		}{{"desktop", 1280, 800}, {"narrow", 390, 844}} {
			b.Do(chromedp.EmulateViewport(vp.w, vp.h))
			b.Open(s.path)
			if len(s.then) > 0 {
				b.Do(s.then...)
			}
			if vp.suffix == "narrow" {
				if wide := b.Eval(`document.documentElement.scrollWidth - window.innerWidth`); wide != float64(0) {
					t.Errorf("%s at 390 px is %v px wider than the screen", s.path, wide)
				}
			}
			b.Screenshot(dir, s.name+"-"+vp.suffix+".png", vp.w, vp.h, s.name == "job-revoke")
		}
	}
	if strings.Contains(b.Body(), "Exception") {
		t.Errorf("the last page shows an error: %s", b.Body())
	}
}

// uploadVersion puts another version of hello.zip and returns its id.
func uploadVersion(t *testing.T, w *consoletest.World, i int) string {
	t.Helper()
	return w.PutPackage(t, map[string]string{"lambda_function.py": "def lambda_handler(event, context):\n    return " + string(rune('1'+i)) + "\n"})
}
