package secretscan_test

import (
	"context"
	"strings"
	"testing"

	"github.com/signet/signet/internal/secretscan"
)

// FuzzScanZip feeds arbitrary bytes to the nested-archive walker: it may
// refuse them, but must not panic, read past its budget, or report a
// finding without a path.
func FuzzScanZip(f *testing.F) {
	f.Add(zipOf(f, "a.txt", "hello\n"))
	f.Add(zipOf(f, "lib/x.jar", string(zipOf(f, "k.txt", "token\n"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := secretscan.ScanBytes(context.Background(), data, secretscan.Options{MaxTotal: 1 << 20})
		if err != nil {
			return
		}
		if res.Bytes > 1<<20 {
			t.Fatalf("read %d bytes, over the budget", res.Bytes)
		}
		for _, fd := range res.Findings {
			if fd.Path == "" || fd.Line < 1 || strings.Count(fd.Fingerprint, ":") < 2 {
				t.Fatalf("bad finding %+v", fd)
			}
		}
	})
}
