package server

import "testing"

// TestAddressKey: sign-in limits count an IPv6 host by its /64, which it
// holds whole.
func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:192.0.2.7":     "::ffff:192.0.2.7",
		"not an address":       "not an address",
		"fe80::1":              "fe80::/64",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLoopbackListener: the console without TLS is served only where
// its cookie does not cross a network.
func TestLoopbackListener(t *testing.T) {
	for in, want := range map[string]bool{"127.0.0.1:9090": true, "[::1]:9090": true, "localhost:9090": true, "0.0.0.0:9090": false,
		"192.0.2.1:9090": false, ":9090": false, "junk": false} {
		if got := loopbackListener(in); got != want {
			t.Errorf("loopbackListener(%q) = %v, want %v", in, got, want)
		}
	}
}
