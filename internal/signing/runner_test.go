package signing

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"math/rand/v2"
	"testing"
)

func TestHashSource(t *testing.T) {
	data := make([]byte, 3<<20+123)
	rand.NewChaCha8([32]byte{1}).Read(data)
	for _, tc := range []struct {
		name string
		size int
		head int64
	}{
		{"empty", 0, 0},
		{"small whole", 1000, 1000},
		{"small head", 1000, 10},
		{"head at chunk end", 2 << 20, 1 << 20},
		{"head mid chunk", len(data), 2<<20 + 77},
		{"head at end", len(data), int64(len(data))},
		{"no head", len(data), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := data[:tc.size]
			sum, m, err := hashSource(bytes.NewReader(in), tc.head)
			if err != nil {
				t.Fatal(err)
			}
			if want := sha512.Sum384(in); !bytes.Equal(sum, want[:]) {
				t.Errorf("SHA-384 differs")
			}
			if want := md5.Sum(in[:tc.head]); !bytes.Equal(m.Sum(nil), want[:]) {
				t.Errorf("MD5 of the first %d bytes differs", tc.head)
			}
		})
	}
}
