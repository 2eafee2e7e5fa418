package sigv4

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestCanonicalURIs(t *testing.T) {
	cases := []struct {
		name, target, service string
		rewrite               string // replaces r.URL.Path after parsing (a handler rewriting the URL)
		want                  []string
	}{
		{name: "ok/arn-escaped-double-encoded", target: arnPath, service: "signer",
			want: []string{"/tags/arn%253Aaws%253Asigner%253Aus-east-1%253A123456789012%253A%252Fsigning-profiles%252Fname"}},
		{name: "ok/arn-raw-colons-encoded", target: rawARN, service: "signer",
			want: []string{"/tags/arn%3Aaws%3Asigner%3Aus-east-1%3A123456789012%3A/signing-profiles/name"}},
		{name: "ok/s3-as-sent", target: "/bucket/a%2Bb%20c:d", service: "s3", want: []string{"/bucket/a%2Bb%20c:d"}},
		{name: "ok/s3-no-normalisation", target: "/bucket//a/./b", service: "s3", want: []string{"/bucket//a/./b"}},
		{name: "ok/root", target: "/", service: "signer", want: []string{"/"}},
		{name: "ok/lowercase-escape-kept", target: "/a%3ab", service: "signer", want: []string{"/a%253ab"}},
		{name: "ok/dot-segments-second-candidate", target: "/a//b/./c/../d/", service: "signer",
			want: []string{"/a//b/./c/../d/", "/a/b/d/"}},
		{name: "ok/rewritten-url-falls-back", target: "/signing-profiles/x", rewrite: "/y:z", service: "signer",
			want: []string{"/y%3Az"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if tc.rewrite != "" {
				r.URL.Path, r.URL.RawPath = tc.rewrite, ""
			}
			if got := canonicalURIs(r, tc.service); !slices.Equal(got, tc.want) {
				t.Errorf("canonicalURIs = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	cases := []struct{ name, raw, want string }{
		{"ok/empty", "", ""},
		{"ok/repeated-keys-sorted-by-value", "statuses=Canceled&statuses=Active&maxResults=10", "maxResults=10&statuses=Active&statuses=Canceled"},
		{"ok/case-sensitive-order", "b=2&a=1&A=0", "A=0&a=1&b=2"},
		{"ok/no-value", "includeCanceled&x=", "includeCanceled=&x="},
		{"ok/plus-is-space", "x=a+b", "x=a%20b"},
		{"ok/reencoded-uppercase", "y=%7e&z=%2a&s=%2f", "s=%2F&y=~&z=%2A"},
		{"ok/sorted-after-encoding", "k=a-b&k=a/b", "k=a%2Fb&k=a-b"},
		{"ok/empty-pairs-skipped", "b=1&&a=2&", "a=2&b=1"},
		{"ok/semicolon-literal", "k;x=1", "k%3Bx=1"},
		{"ok/bad-escape-kept", "a=%zz", "a=%25zz"},
		{"ok/unicode", "n=%E2%82%AC", "n=%E2%82%AC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := canonicalQuery(parseQuery(tc.raw), ""); got != tc.want {
				t.Errorf("canonicalQuery(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

func TestRemoveDotSegments(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"ok/empty", "", "/"},
		{"ok/root", "/", "/"},
		{"ok/plain", "/a/b", "/a/b"},
		{"ok/double-slash", "/a//b", "/a/b"},
		{"ok/dot", "/a/./b", "/a/b"},
		{"ok/dot-dot", "/a/../b", "/b"},
		{"ok/dot-dot-above-root", "/../../a", "/a"},
		{"ok/trailing-slash", "/a/b/", "/a/b/"},
		{"ok/only-dots", "/./../", "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := removeDotSegments(tc.in); got != tc.want {
				t.Errorf("removeDotSegments(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTrimHeaderValue(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"ok/plain", "a b", "a b"},
		{"ok/surrounding", " \t a b \t ", "a b"},
		{"ok/runs-of-spaces", "a   b    c", "a b c"},
		{"ok/tab-kept-inside", "a \t  b", "a \t b"},
		{"ok/empty", "   ", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := trimHeaderValue(tc.in); got != tc.want {
				t.Errorf("trimHeaderValue(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestURIEncode(t *testing.T) {
	cases := []struct {
		name, in    string
		encodeSlash bool
		want        string
	}{
		{"ok/unreserved", "AZaz09-_.~", true, "AZaz09-_.~"},
		{"ok/reserved", "a b/c:d+e=f%", true, "a%20b%2Fc%3Ad%2Be%3Df%25"},
		{"ok/keep-slash", "/a b/c", false, "/a%20b/c"},
		{"ok/utf8", "€", true, "%E2%82%AC"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := uriEncode(tc.in, tc.encodeSlash); got != tc.want {
				t.Errorf("uriEncode(%q, %v) = %q, want %q", tc.in, tc.encodeSlash, got, tc.want)
			}
		})
	}
}
