// Package consoletest drives the web console in a real browser
// (Debian's chromium, headless, over the DevTools protocol with
// chromedp) and seeds a server with what its pages show.
package consoletest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/signet/signet/internal/server/servertest"
)

// Browser is one headless chromium with one tab, on a fresh profile.
type Browser struct {
	t    testing.TB
	ctx  context.Context
	base string // https://127.0.0.1:PORT

	mu       sync.Mutex
	messages []string // console errors and exceptions: CSP violations among them
	expected []string // errors a test provokes on purpose
}

// Expect declares console errors containing text as the test's own
// doing: they do not fail it.
func (b *Browser) Expect(text string) {
	b.mu.Lock()
	b.expected = append(b.expected, text)
	b.mu.Unlock()
}

// NewBrowser starts chromium for ts (served over HTTPS with its own TLS
// CA: the browser pins the listener's key). It skips the test when
// chromium is missing, unless SIGNET_REQUIRE_ALL=1.
func NewBrowser(t testing.TB, ts *servertest.Server) *Browser {
	t.Helper()
	path := cmp.Or(os.Getenv("SIGNET_CHROMIUM"), "/usr/bin/chromium")
	if _, err := exec.LookPath(path); err != nil {
		if servertest.RequireAll() {
			t.Fatalf("%s not found (%v): the console's browser tests need Debian's chromium (apt-get install chromium); SIGNET_REQUIRE_ALL=1 makes it mandatory", path, err)
		}
		t.Skipf("%s not found (%v); skipping the browser test (apt-get install chromium, or set SIGNET_REQUIRE_ALL=1 to make this a failure)", path, err)
	}
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("font-render-hinting", "none"), chromedp.Flag("hide-scrollbars", true))
	if u.Scheme == "https" {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", spki(t, u.Host)))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	b := &Browser{t: t, ctx: ctx, base: u.Scheme + "://" + u.Host}
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			// A page answered with an error status is logged as a failed
			// load: the tests check statuses themselves. Failed assets,
			// CSP violations and exceptions fail the test.
			if strings.HasPrefix(m.Text, "Failed to load resource: the server responded with a status of 4") && !strings.Contains(m.URL, "/console/assets/") {
				continue
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				if !slices.ContainsFunc(b.expected, func(x string) bool { return strings.Contains(m.Text, x) }) {
					b.messages = append(b.messages, string(m.Type)+": "+m.Text+" ("+m.URL+")")
				}
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
		<-done
		for _, m := range b.Errors() {
			t.Errorf("browser console: %s", m)
		}
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

// spki is the base64 SHA-256 of the public key of the certificate the
// server at host presents, for --ignore-certificate-errors-spki-list.
func spki(t testing.TB, host string) string {
	c, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true}) // only to read the key to pin
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sum := sha256.Sum256(c.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Errors returns the console errors and exceptions seen so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.messages...)
}

// Do runs actions, failing the test on an error.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v (at %s: %.2000s)", err, b.Location(), b.pageText())
	}
}

// Open navigates to a console path and waits for its main element.
func (b *Browser) Open(path string) {
	b.t.Helper()
	b.Do(chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// Location is the current URL.
func (b *Browser) Location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	l, _ := chromedp.Run(ctx, chromedp.Location())
	return l
}

// SignIn signs in with an access key and waits for the overview.
func (b *Browser) SignIn(keyID, secret string) {
	b.t.Helper()
	b.Open("/console/sign-in")
	b.Do(chromedp.SendKeys(chromedp.ID("access_key_id"), keyID), chromedp.SendKeys(chromedp.ID("secret_access_key"), secret),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitReady(chromedp.CSS("header.top")))
}

// step bounds one wait for an element: a page that lacks it fails the
// test with the page's text rather than hanging.
const step = 30 * time.Second

// Text is the text of the first element matching a CSS selector.
func (b *Browser) Text(css string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v (at %s: %.2000s)", css, err, b.Location(), b.pageText())
	}
	return s
}

// Count is how many elements match a CSS selector now.
func (b *Browser) Count(css string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(css)+`).length`))
	if err != nil {
		b.t.Fatalf("browser: count %s: %v", css, err)
	}
	return n
}

// Eval evaluates a JavaScript expression in the page (awaiting it when
// it is a promise).
func (b *Browser) Eval(expr string) any {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}

// pageText is the page's text, for a failure's message.
func (b *Browser) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// Body is the page's visible text.
func (b *Browser) Body() string {
	b.t.Helper()
	return b.Text("body")
}

// Screenshot writes a PNG of the viewport, or of the whole page when
// full, at a viewport size (and puts the desktop viewport back).
func (b *Browser) Screenshot(dir, name string, width, height int64, full bool) {
	b.t.Helper()
	b.Do(chromedp.EmulateViewport(width, height))
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(b.ctx, shot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.Do(chromedp.EmulateViewport(1280, 800))
}

// Context is the tab's context, for actions this package does not wrap.
func (b *Browser) Context() context.Context { return b.ctx }

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
