package secretscan_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/signet/signet/internal/secretscan"
)

// randomString returns n characters drawn from alphabet.
func randomString(t testing.TB, alphabet string, n int) string {
	t.Helper()
	var b strings.Builder
	for range n {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}

// secrets are realistic generated secrets (gitleaks allowlists keys
// containing EXAMPLE, so none of these may).
type secrets struct {
	awsKey, githubToken, privateKey string
}

func newSecrets(t testing.TB) secrets {
	t.Helper()
	var s secrets
	for s.awsKey == "" || strings.Contains(s.awsKey, "EXAMPLE") {
		s.awsKey = "AKIA" + randomString(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	}
	s.githubToken = "ghp_" + randomString(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 36)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	s.privateKey = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	return s
}

// zipOf builds a zip of name → content, in order.
func zipOf(t testing.TB, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		f, err := w.Create(files[i])
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(files[i+1]))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (s secrets) files() []string {
	return []string{
		"index.py", "import os\n\ndef handler(event, context):\n    return 'ok'\n",
		"config.py", "# settings\nREGION = 'us-east-1'\nAWS_ACCESS_KEY_ID = '" + s.awsKey + "'\n",
		"deploy/key.pem", "\n" + s.privateKey,
		"src/gh.js", "const a = 1;\nconst b = 2;\nconst c = 3;\nconst token = \"" + s.githubToken + "\";\n",
	}
}

func scan(t *testing.T, pkg []byte, allow *secretscan.Allowlist) secretscan.Result {
	t.Helper()
	res, err := secretscan.ScanBytes(context.Background(), pkg, secretscan.Options{Allowlist: allow})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func keys(fs []secretscan.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.String())
	}
	return out
}

func TestScan(t *testing.T) {
	s := newSecrets(t)
	plain := zipOf(t, s.files()...)
	jar := zipOf(t, s.files()...)
	nested := zipOf(t, "handler.py", "print('hi')\n", "lib/app.jar", string(jar))
	want := []string{"config.py:3 aws-access-token", "deploy/key.pem:2 private-key", "src/gh.js:4 github-pat"}
	wantNested := []string{"lib/app.jar!config.py:3 aws-access-token", "lib/app.jar!deploy/key.pem:2 private-key", "lib/app.jar!src/gh.js:4 github-pat"}
	tests := []struct {
		name  string
		pkg   []byte
		allow *secretscan.Allowlist
		want  []string
	}{
		{"secrets", plain, nil, want},
		{"jar in zip", nested, nil, wantNested},
		{"clean", zipOf(t, "index.py", "def handler(e, c):\n    return 1\n", "README.md", "# hello\n"), nil, nil},
		{"allow path glob", plain, &secretscan.Allowlist{Paths: []string{"*.pem"}}, []string{want[0], want[2]}},
		{"allow path regex", nested, &secretscan.Allowlist{Paths: []string{`re:^lib/.*\.jar!src/`}}, wantNested[:2]},
		{"allow rule", plain, &secretscan.Allowlist{Rules: []string{"github-pat", "private-key"}}, want[:1]},
		{"allow fingerprint", plain, &secretscan.Allowlist{Fingerprints: []string{"config.py:aws-access-token:3"}}, want[1:]},
		{"binary skipped", zipOf(t, "blob.dat", "\x00\x01"+strings.Repeat("x", 1000)+s.awsKey), nil, nil},
		{"tiny binary scanned", zipOf(t, "t.dat", "\x00\nkey = '"+s.awsKey+"'\n"), nil, []string{"t.dat:2 aws-access-token"}},
		// gitleaks' global allowlist: dependencies, lock files, images.
		{"node_modules skipped", zipOf(t, "node_modules/lib/config.js", "key = '"+s.awsKey+"'\n", "lib/app.jar", string(zipOf(t, "node_modules/x.js", "key = '"+s.awsKey+"'\n"))), nil, nil},
		{"package-lock.json skipped", zipOf(t, "package-lock.json", "{\"token\": \""+s.githubToken+"\"}\n"), nil, nil},
		// A rule by name alone, on a binary file the scan does not read.
		{"key store by name", zipOf(t, "certs/client.p12", "\x00\x01"+strings.Repeat("\x02", 9000), "lib/app.jar", string(zipOf(t, "client.pfx", "\x00"))), nil, []string{"certs/client.p12:1 pkcs12-file", "lib/app.jar!client.pfx:1 pkcs12-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := scan(t, tt.pkg, tt.allow)
			if got := keys(res.Findings); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, f := range res.Findings {
				if wantFP := f.Path + ":" + f.RuleID + ":" + itoa(f.Line); f.Fingerprint != wantFP {
					t.Errorf("fingerprint %q, want %q", f.Fingerprint, wantFP)
				}
			}
			b, _ := json.Marshal(res)
			for _, secret := range []string{s.awsKey, s.githubToken, s.awsKey[4:12], s.githubToken[4:20], "PRIVATE KEY-----\nM", strings.Split(s.privateKey, "\n")[1][:20]} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("result JSON holds secret text %q: %s", secret, b)
				}
			}
		})
	}
	if res := scan(t, zipOf(t, "blob.dat", "\x00\x01"+strings.Repeat("x", 1000)), nil); res.Skipped != 1 || res.Files != 0 {
		t.Errorf("binary: files %d skipped %d, want 0 and 1", res.Files, res.Skipped)
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func TestScanLimits(t *testing.T) {
	// A zip bomb: 64 MB of zeros deflates to about 64 KB.
	var bomb bytes.Buffer
	w := zip.NewWriter(&bomb)
	f, _ := w.Create("zeros.txt")
	f.Write(make([]byte, 64<<20))
	w.Close()
	// Nested deeper than the depth bound: not recursed into, scanned as a
	// (binary) file.
	s := newSecrets(t)
	deep := zipOf(t, "a.txt", "key = '"+s.awsKey+"'\n")
	for range 3 {
		deep = zipOf(t, "inner.zip", string(deep))
	}
	// A stored entry with one byte changed: its CRC-32 does not match.
	var corrupt bytes.Buffer
	cw := zip.NewWriter(&corrupt)
	cf, _ := cw.CreateHeader(&zip.FileHeader{Name: "a.txt", Method: zip.Store})
	cf.Write([]byte(strings.Repeat("hello world\n", 10)))
	cw.Close()
	corrupted := bytes.Clone(corrupt.Bytes())
	corrupted[30+len("a.txt")+5] ^= 0xff
	tests := []struct {
		name    string
		pkg     []byte
		opt     secretscan.Options
		wantErr error
	}{
		{"corrupt entry", corrupted, secretscan.Options{}, secretscan.ErrMalformed},
		{"zip bomb ratio", bomb.Bytes(), secretscan.Options{}, secretscan.ErrTooLarge},
		{"total over budget", zipOf(t, "a.txt", strings.Repeat("a\n", 600), "b.txt", strings.Repeat("b\n", 600)), secretscan.Options{MaxTotal: 2000}, secretscan.ErrTooLarge},
		{"not a zip", []byte("hello"), secretscan.Options{}, secretscan.ErrNotZip},
		{"too deep", deep, secretscan.Options{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := secretscan.ScanBytes(context.Background(), tt.pkg, tt.opt)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				t.Logf("error: %v", err)
			}
			if len(res.Findings) != 0 {
				t.Errorf("findings %v", keys(res.Findings))
			}
		})
	}
}

func TestRules(t *testing.T) {
	n, err := secretscan.Rules()
	if err != nil || n < 200 {
		t.Fatalf("Rules() = %d, %v", n, err)
	}
}
