package secretscan_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/signet/signet/internal/secretscan"
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

// BenchmarkScan50MB scans a 50 MB zip of text files (about 64 KB each).
func BenchmarkScan50MB(b *testing.B) {
	pkg, files := textZip(b, 50<<20)
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
