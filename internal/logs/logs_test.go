package logs

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, message string
		want             bool
	}{
		{"", "anything", true},
		{"ERROR", "[ERROR] boom", true},
		{"ERROR", "[INFO] fine", false},
		{"ERROR boom", "[ERROR] boom", true},
		{"ERROR boom", "[ERROR] bang", false},
		{`"Task timed out"`, "2026 id Task timed out after 3.00 seconds", true},
		{`"Task timed out"`, "Task was timed out", false},
		{"REPORT -Init", "REPORT RequestId: x\tDuration: 1 ms", true},
		{"REPORT -Init", "REPORT RequestId: x\tInit Duration: 1 ms", false},
		{`"unterminated`, `"unterminated quote`, true},
	}
	for _, tc := range tests {
		if got := Match(tc.pattern, tc.message); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.message, got, tc.want)
		}
	}
}

// FuzzMatch: any pattern is accepted, an empty one matches everything,
// and a message always matches the pattern made of its own unquoted
// words.
func FuzzMatch(f *testing.F) {
	f.Add(`"a b" -c d`, "a b d")
	f.Add(`"`, `"`)
	f.Fuzz(func(t *testing.T, pattern, message string) {
		Match(pattern, message)
		if !Match("", message) {
			t.Fatal("the empty pattern refused a message")
		}
		var words []string
		for _, w := range strings.Fields(message) {
			if !strings.Contains(w, `"`) {
				words = append(words, strings.TrimLeft(w, "-"))
			}
		}
		if !Match(strings.Join(words, " "), message) {
			t.Fatalf("%q does not match its own words", message)
		}
	})
}
