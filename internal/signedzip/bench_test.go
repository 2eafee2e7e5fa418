package signedzip

import (
	"archive/zip"
	"bytes"
	"crypto/sha512"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// bench50MB returns a 50 MB function package: mostly a stored binary, plus
// deflated text.
func bench50MB(b *testing.B) []byte {
	b.Helper()
	return makeZip(b, zipSpec{comment: "release 1.2.3", entries: []entry{
		{name: "bin/", method: zip.Store},
		{name: "bin/bootstrap", body: randomBytes(48<<20, 1), method: zip.Store},
		{name: "lib/index.js", body: text(8 << 20), method: zip.Deflate},
		{name: "lib/data.bin", body: randomBytes(2<<20, 2), method: zip.Deflate},
	}})
}

// BenchmarkEmbed50MB signs (embeds an envelope in) a 50 MB package, from an
// io.ReaderAt to an io.Writer.
func BenchmarkEmbed50MB(b *testing.B) {
	u := bench50MB(b)
	env := coseEnvelope(16<<10, 1)
	b.SetBytes(int64(len(u)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Embed(io.Discard, bytes.NewReader(u), int64(len(u)), env, COSE); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDigestUnsigned50MB opens a signed 50 MB package and computes the
// SHA-384 of the unsigned package, as a verifier does.
func BenchmarkDigestUnsigned50MB(b *testing.B) {
	u := bench50MB(b)
	s := embed(b, u, coseEnvelope(16<<10, 1), COSE)
	want := sha512.Sum384(u)
	b.SetBytes(int64(len(u)))
	b.ReportAllocs()
	for b.Loop() {
		signed, err := Open(bytes.NewReader(s), int64(len(s)))
		if err != nil {
			b.Fatal(err)
		}
		h := sha512.New384()
		if _, err := signed.Unsigned.WriteTo(h); err != nil {
			b.Fatal(err)
		}
		if [48]byte(h.Sum(nil)) != want {
			b.Fatal("wrong digest")
		}
	}
}

// BenchmarkSHA384_50MB is the reference: SHA-384 of the same 50 MB in one
// Write.
func BenchmarkSHA384_50MB(b *testing.B) {
	u := bench50MB(b)
	b.SetBytes(int64(len(u)))
	b.ReportAllocs()
	for b.Loop() {
		h := sha512.New384()
		h.Write(u)
		h.Sum(nil)
	}
}

// TestStreamingMemory signs and verifies a 32 MB package from file to file
// and checks that neither holds the package in memory.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MB of files")
	}
	dir := t.TempDir()
	u := makeZip(t, zipSpec{entries: []entry{{name: "bootstrap", body: randomBytes(32<<20, 1), method: zip.Store}}})
	want := sha512.Sum384(u)
	if err := os.WriteFile(filepath.Join(dir, "u.zip"), u, 0o600); err != nil {
		t.Fatal(err)
	}
	size := int64(len(u))
	u = nil
	in, err := os.Open(filepath.Join(dir, "u.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(dir, "s.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := Embed(out, in, size, coseEnvelope(16<<10, 1), COSE)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Open(out, n)
	if err != nil {
		t.Fatal(err)
	}
	h := sha512.New384()
	if _, err := signed.Unsigned.WriteTo(h); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if [48]byte(h.Sum(nil)) != want {
		t.Fatal("digest of the unsigned package read back from the file differs")
	}
	const limit = 2 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit {
		t.Fatalf("Embed, Open and digest of a %d MB package allocated %d bytes, over %d", size>>20, alloc, limit)
	} else {
		t.Logf("Embed, Open and digest of a %d MB package from files allocated %d KB", size>>20, alloc>>10)
	}
}
