package kms

import (
	"bytes"
	"testing"
)

// FuzzParseBlob: any bytes either parse into a blob whose parts tile the
// input, or are refused; nothing panics.
func FuzzParseBlob(f *testing.F) {
	h, _ := header("11111111-1111-4111-8111-111111111111", 1)
	valid := append(append(bytes.Clone(h), make([]byte, nonceSize)...), make([]byte, tagSize+5)...)
	f.Add(valid)
	f.Add([]byte("SKC1"))
	f.Add(append([]byte("SKC2"), valid[4:]...))
	f.Add(bytes.Repeat([]byte{0xff}, MaxCiphertext+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseBlob(b)
		if err != nil {
			return
		}
		if p.Version == 0 || len(p.Nonce) != nonceSize || len(p.Sealed) < tagSize {
			t.Fatalf("parsed %+v", p)
		}
		if !bytes.Equal(append(append(bytes.Clone(p.Header), p.Nonce...), p.Sealed...), b) {
			t.Fatal("the parts do not tile the blob")
		}
		h, err := header(p.KeyID, p.Version)
		if err != nil || !bytes.Equal(h, p.Header) {
			t.Fatalf("header round trip: %v", err)
		}
	})
}
