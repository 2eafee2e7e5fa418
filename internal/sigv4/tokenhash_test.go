package sigv4

import (
	"crypto/sha256"
	"testing"
)

// TestSessionTokenHash: a credential that carries only the SHA-256 of
// its session token accepts the token and nothing else.
func TestSessionTokenHash(t *testing.T) {
	cred := Credential{AccessKeyID: "ASIA", SessionTokenSHA256: sha256.Sum256([]byte("FwoGZXIvYXdzEBYaDH+session/token=="))}
	cases := map[string]struct {
		token  string
		hasTok bool
		ok     bool
	}{
		"ok":            {"FwoGZXIvYXdzEBYaDH+session/token==", true, true},
		"fail/other":    {"FwoGZXIvYXdzEBYaDH+other/token==", true, false},
		"fail/missing":  {"", false, false},
		"fail/empty":    {"", true, false},
		"fail/the-hash": {string(cred.SessionTokenSHA256[:]), true, false},
	}
	for name, c := range cases {
		err := checkToken(&authInfo{token: c.token, hasTok: c.hasTok}, cred, testNow)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", name, err, c.ok)
		}
	}
}
