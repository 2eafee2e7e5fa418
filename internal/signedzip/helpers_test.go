package signedzip

import (
	"archive/zip"
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// entry is one entry of a test zip; a name ending in "/" is a directory.
type entry struct {
	name   string
	body   []byte
	method uint16 // zip.Store or zip.Deflate
}

// zipSpec describes a test zip.
type zipSpec struct {
	entries []entry
	comment string
	// extra adds that many empty stored entries; more than 65535 makes
	// archive/zip write a zip64 end record.
	extra int
}

var testTime = time.Date(2026, 11, 23, 3, 48, 22, 0, time.UTC)

// makeZip builds a zip with archive/zip. The result depends only on spec.
func makeZip(tb testing.TB, spec zipSpec) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range spec.entries {
		f, err := w.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method, Modified: testTime})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := f.Write(e.body); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range spec.extra {
		// Empty and stored: CreateRaw writes no data descriptor.
		if _, err := w.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf("x/%05d", i), Method: zip.Store}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.SetComment(spec.comment); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// randomBytes returns n pseudo-random bytes determined by seed.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 's', 'z'})
	_, _ = r.Read(b)
	return b
}

// text returns n bytes of compressible text.
func text(n int) []byte {
	return []byte(strings.Repeat("exports.handler = async (event) => ({ statusCode: 200 });\n", n/58+1)[:n])
}

// functionZip is a small function package: a directory, deflated and
// stored files, an empty file.
func functionZip(tb testing.TB, comment string) []byte {
	tb.Helper()
	return makeZip(tb, zipSpec{comment: comment, entries: []entry{
		{name: "bin/", method: zip.Store},
		{name: "bin/bootstrap", body: text(1500), method: zip.Deflate},
		{name: "empty.txt", method: zip.Deflate},
		{name: "data.bin", body: randomBytes(700, 1), method: zip.Store},
		{name: "lib/libx.so", body: randomBytes(300, 2), method: zip.Deflate},
	}})
}

// jwsEnvelope returns a JWS-like envelope of n bytes (n ≥ 40): JSON text,
// as the Notary Project writes it.
func jwsEnvelope(n int, seed uint64) []byte {
	b64 := base64.RawURLEncoding.EncodeToString(randomBytes(n, seed))
	s := `{"payload":"eyJ0YXJnZXRBcnRpZmFjdCI6e319","protected":"eyJhbGciOiJFUzM4NCJ9","signature":"` + b64
	return []byte(s[:n-2] + `"}`)
}

// coseEnvelope returns a COSE-like envelope of n bytes (n ≥ 2): the
// COSE_Sign1_Tagged prefix and pseudo-random bytes free of PK\x05\x06.
func coseEnvelope(n int, seed uint64) []byte {
	b := randomBytes(n, seed)
	copy(b, "\xd2\x84")
	for i := bytes.Index(b, []byte(eocdSig)); i >= 0; i = bytes.Index(b, []byte(eocdSig)) {
		b[i] = 0
	}
	return b
}

// rawSign builds a signed file from the format description alone, with no
// checks, as an independent reference for Embed and to build invalid
// files. U's end record is the last PK\x05\x06 whose comment-length field
// reaches the end.
func rawSign(tb testing.TB, u, envelope []byte, typ EnvelopeType, version byte) []byte {
	tb.Helper()
	c := -1
	for i := len(u) - 22; i >= 0 && c < 0; i-- {
		if string(u[i:i+4]) == "PK\x05\x06" && int(u[i+20])|int(u[i+21])<<8 == len(u)-i-22 {
			c = i + 22
		}
	}
	if c < 0 {
		tb.Fatal("rawSign: no end record")
	}
	m := len(u) - c
	s := append([]byte(nil), u...)
	s = append(s, envelope...)
	s = append(s, "SIGNET"...)
	s = append(s, version, byte(typ))
	s = binary.LittleEndian.AppendUint32(s, uint32(len(envelope)))
	s = binary.LittleEndian.AppendUint32(s, uint32(m))
	binary.LittleEndian.PutUint16(s[c-2:], uint16(m+len(envelope)+16))
	return s
}

// embed runs Embed on u and returns the signed bytes.
func embed(tb testing.TB, u, envelope []byte, typ EnvelopeType) []byte {
	tb.Helper()
	var buf bytes.Buffer
	n, err := Embed(&buf, bytes.NewReader(u), int64(len(u)), envelope, typ)
	if err != nil {
		tb.Fatalf("Embed: %v", err)
	}
	if n != int64(buf.Len()) {
		tb.Fatalf("Embed returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

// digest returns the SHA-384 of what u.WriteTo writes.
func digest(tb testing.TB, u *Unsigned) [48]byte {
	tb.Helper()
	h := sha512.New384()
	n, err := u.WriteTo(h)
	if err != nil || n != u.Size() {
		tb.Fatalf("WriteTo = %d, %v; want %d", n, err, u.Size())
	}
	return [48]byte(h.Sum(nil))
}

// zipContents returns the names and contents of a zip's entries, in order.
func zipContents(tb testing.TB, b []byte) []string {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatalf("archive/zip: %v", err)
	}
	var out []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatalf("open %s: %v", f.Name, err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatalf("read %s: %v", f.Name, err)
		}
		out = append(out, f.Name+"\x00"+string(body))
	}
	return out
}

// needProgram skips the test when path does not exist, or fails it when
// SIGNET_REQUIRE_ALL=1.
func needProgram(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	msg := path + " not found"
	if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
		t.Fatalf("%s; SIGNET_REQUIRE_ALL=1 makes every external program mandatory", msg)
	}
	t.Skipf("%s; skipping (set SIGNET_REQUIRE_ALL=1 to make this a failure)", msg)
}

// unzipTest runs /usr/bin/unzip -t on b and returns its combined output.
func unzipTest(t *testing.T, b []byte) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "package.zip")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/unzip", "-t", "-qq", path).CombinedOutput()
	return string(out), err
}
