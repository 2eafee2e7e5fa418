package console

import (
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTemplatesObeyCSP: the pages carry nothing the CSP would block or
// that would need eval — no style attributes or elements, no inline
// scripts or event handlers, none of htmx's evaluated attributes — so
// that the policy can stay strict.
func TestTemplatesObeyCSP(t *testing.T) {
	forbidden := regexp.MustCompile(`(?i)\sstyle=|<style|<script>|<script\s+(?:[^s>]|s[^r])*>|\son[a-z]+=|hx-on|hx-vars|hx-vals=['"]?js:|javascript:`)
	err := fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(templateFS, p)
		for _, m := range forbidden.FindAllString(string(b), -1) {
			t.Errorf("%s: %q is not allowed under the console's CSP", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if forbidden.FindString(`<a onclick="x()">`) == "" || forbidden.FindString(`<p style="color:red">`) == "" || forbidden.FindString(`<script>1</script>`) == "" {
		t.Error("the pattern misses what it is for")
	}
	if forbidden.FindString(`<script src="/console/assets/htmx.js" defer></script>`) != "" {
		t.Error("the pattern refuses the console's script element")
	}
}

// TestVendoredHTMX: the embedded htmx is the file VENDOR.md names.
func TestVendoredHTMX(t *testing.T) {
	b, err := fs.ReadFile(assetFS, "assets/htmx-2.0.11.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	notes, err := os.ReadFile("assets/VENDOR.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(notes), hex.EncodeToString(sum[:])) {
		t.Errorf("assets/htmx-2.0.11.min.js has SHA-256 %x, which VENDOR.md does not name: run scripts/vendor-htmx", sum)
	}
}

// TestBarChart: labels are escaped, bars stack, the axis is round.
func TestBarChart(t *testing.T) {
	svg := string(barChart(`Jobs <b>"per"</b> day`, []string{"Succeeded", "Failed"}, []bar{{Label: "12-01", Parts: []int{3, 1}}, {Label: `<img src=x onerror=alert(1)>`, Parts: []int{0, 0}}}))
	for _, want := range []string{`<title id="chart-`, "Jobs &lt;b&gt;&#34;per&#34;&lt;/b&gt; day", "&lt;img src=x onerror=alert(1)&gt;", `class="s0"`, `class="s1"`, "12-01: 3 Succeeded", "12-01: 1 Failed", ">4</text>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "<img") || strings.Contains(svg, "<b>") {
		t.Errorf("chart holds unescaped markup:\n%s", svg)
	}
	// 3+1 of a top of 4, in a plot 186 high: the bars fill it.
	if !strings.Contains(svg, `height="139"`) || !strings.Contains(svg, `height="46"`) {
		t.Errorf("bar heights:\n%s", svg)
	}
	for _, c := range []struct{ n, want int }{{0, 4}, {3, 4}, {5, 8}, {9, 20}, {20, 20}, {21, 40}, {199, 200}, {1001, 2000}, {10000, 20000}} {
		if got := niceMax(c.n); got != c.want {
			t.Errorf("niceMax(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	var _ template.HTML = barChart("empty", nil, nil)
}

// TestParseLocal: what a datetime-local field sends, read as UTC.
func TestParseLocal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-12-01T09:30", time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), true},
		{"2026-12-01T09:30:15", time.Date(2026, 12, 1, 9, 30, 15, 0, time.UTC), true},
		{"2026-12-01T09:30:00+09:00", time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC), true},
		{" 2026-12-01T09:30 ", time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"2026-13-01T09:30", time.Time{}, false},
	} {
		got, err := parseLocal(c.in)
		if (err == nil) != c.ok || !got.Equal(c.want) {
			t.Errorf("parseLocal(%q) = %v, %v", c.in, got, err)
		}
	}
}

func FuzzParseLocal(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseLocal(s)
		if err != nil {
			if !strings.Contains(err.Error(), "is not a date and time") {
				t.Errorf("error %q", err)
			}
			return
		}
		if got.IsZero() && !strings.Contains(s, "0001") {
			t.Errorf("parseLocal(%q) = the zero time without error", s)
		}
	})
}
