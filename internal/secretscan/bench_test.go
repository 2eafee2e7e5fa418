package secretscan_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/signet/signet/internal/secretscan"
	"github.com/signet/signet/internal/secretscan/scantest"
)

// sourceText returns about n bytes of code-like text: functions with
// random identifiers, strings and numbers (no secrets).
func sourceText(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		id := r.Uint32()
		fmt.Fprintf(&b, "def handle_%08x(event, context):\n    value = event.get(\"field_%x\", %d)\n    # compute the result for item %d\n    return {\"status\": %d, \"body\": \"done %x\"}\n\n",
			id, r.Uint32(), r.IntN(1000), r.IntN(100000), 200+r.IntN(300), r.Uint64())
	}
	return b.Bytes()
}

// textZip returns a stored (uncompressed) zip of about size bytes of
// text files of about 64 KB each, and the number of files.
func textZip(tb testing.TB, size int) ([]byte, int) {
	r := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	n := 0
	for ; buf.Len() < size; n++ {
		f, err := w.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("src/pkg%02d/module%04d.py", n%37, n), Method: zip.Store})
		if err != nil {
			tb.Fatal(err)
		}
		f.Write(sourceText(r, 64<<10))
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), n
}

// sourceZip returns a stored zip of about size bytes of Go's own source
// files, real code full of "key", "token" and "auth", and their number.
func sourceZip(tb testing.TB, size int) ([]byte, int) { return scantest.SourceZip(tb, size) }

// BenchmarkScan50MB scans a 50 MB zip of code-like text files (about
// 64 KB each), and one of real source code.
func BenchmarkScan50MB(b *testing.B) {
	b.Run("text", func(b *testing.B) { benchScan(b, textZip) })
	b.Run("source", func(b *testing.B) { benchScan(b, sourceZip) })
}

func benchScan(b *testing.B, gen func(testing.TB, int) ([]byte, int)) {
	pkg, files := gen(b, 50<<20)
	if _, err := secretscan.Rules(); err != nil { // load the rules first
		b.Fatal(err)
	}
	b.SetBytes(int64(len(pkg)))
	b.ResetTimer()
	for range b.N {
		res, err := secretscan.ScanBytes(context.Background(), pkg, secretscan.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Files != files {
			b.Fatalf("scanned %d files, want %d", res.Files, files)
		}
	}
	b.ReportMetric(float64(files*b.N)/b.Elapsed().Seconds(), "files/s")
}
