package seal

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	sealed := b.Seal([]byte("secret"), []byte("ad-1"))
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("plaintext visible in the sealed value")
	}
	cases := map[string]struct {
		box    *Box
		sealed []byte
		ad     string
		ok     bool
	}{
		"ok":             {b, sealed, "ad-1", true},
		"fail/other-ad":  {b, sealed, "ad-2", false},
		"fail/other-key": {other, sealed, "ad-1", false},
		"fail/truncated": {b, sealed[:10], "ad-1", false},
		"fail/version":   {b, append([]byte{2}, sealed[1:]...), "ad-1", false},
		"fail/tampered":  {b, append(append([]byte{}, sealed[:20]...), append([]byte{sealed[20] ^ 1}, sealed[21:]...)...), "ad-1", false},
		"fail/empty":     {b, nil, "ad-1", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			pt, err := c.box.Open(c.sealed, []byte(c.ad))
			if c.ok {
				if err != nil || string(pt) != "secret" {
					t.Fatalf("Open = %q, %v", pt, err)
				}
				return
			}
			if !errors.Is(err, ErrOpen) {
				t.Errorf("Open = %v, want ErrOpen", err)
			}
		})
	}
	if _, err := New(make([]byte, 16)); err == nil {
		t.Error("16-byte key accepted")
	}
	if bytes.Equal(b.Seal([]byte("x"), nil), b.Seal([]byte("x"), nil)) {
		t.Error("two seals of the same value are equal: nonce reuse")
	}
}
