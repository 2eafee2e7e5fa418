package signedzip

import (
	"archive/zip"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sentinels are the errors every failure must wrap (the inputs of the fuzz
// targets are in memory, so there are no I/O errors).
var sentinels = []error{ErrNotZip, ErrEmpty, ErrAlreadySigned, ErrNotSigned, ErrTooLarge,
	ErrMalformed, ErrUnsupportedVersion, ErrAmbiguous, ErrInvalidEnvelope}

func checkSentinel(t *testing.T, what string, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("%s: error %v wraps no sentinel", what, err)
}

// FuzzOpen feeds arbitrary bytes to Open. It must not panic and must fail
// with a sentinel; when it succeeds, re-embedding the recovered unsigned
// package and envelope must reproduce the input exactly.
func FuzzOpen(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, size := bytes.NewReader(data), int64(len(data))
		signed, err := Open(r, size)
		if err != nil {
			checkSentinel(t, "Open", err)
			return
		}
		if !IsSigned(r, size) {
			t.Fatal("Open succeeds but IsSigned is false")
		}
		u := new(bytes.Buffer)
		if _, err := signed.Unsigned.WriteTo(u); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
		field := int(signed.Info.CommentOffset) - 2
		if u.Len() != len(data)-trailerLen-len(signed.Envelope) ||
			!bytes.Equal(u.Bytes()[:field], data[:field]) || !bytes.Equal(u.Bytes()[field+2:], data[field+2:u.Len()]) {
			t.Fatal("the unsigned view differs from the signed file outside the comment-length field")
		}
		info, err := Check(bytes.NewReader(u.Bytes()), int64(u.Len()))
		if err != nil || info != signed.Info {
			t.Fatalf("Check on the unsigned package = %+v, %v; Open said %+v", info, err, signed.Info)
		}
		again := new(bytes.Buffer)
		if _, err := Embed(again, bytes.NewReader(u.Bytes()), int64(u.Len()), signed.Envelope, signed.Type); err != nil {
			t.Fatalf("re-embedding: %v", err)
		}
		if !bytes.Equal(again.Bytes(), data) {
			t.Fatal("re-embedding gives other bytes than the input")
		}
	})
}

// FuzzEmbed feeds arbitrary zip-ish bytes and envelopes to Embed. It must
// not panic, must write nothing when it fails, and must fail as Check does
// for a valid envelope; when it succeeds, Open must give back the envelope
// and the input exactly, and archive/zip must read the same entries.
func FuzzEmbed(f *testing.F) {
	f.Fuzz(func(t *testing.T, u, envelope []byte, typ byte) {
		r, size := bytes.NewReader(u), int64(len(u))
		var out bytes.Buffer
		n, err := Embed(&out, r, size, envelope, EnvelopeType(typ))
		if err != nil {
			checkSentinel(t, "Embed", err)
			if out.Len() != 0 || n != 0 {
				t.Fatalf("Embed failed after writing %d bytes (returned %d)", out.Len(), n)
			}
			if checkEnvelope(envelope, EnvelopeType(typ)) == nil {
				_, cerr := Check(r, size)
				if cerr != nil && cerr.Error() != err.Error() {
					t.Fatalf("Embed: %v; Check: %v", err, cerr)
				}
			}
			return
		}
		s := out.Bytes()
		if n != int64(len(s)) || len(s) != len(u)+len(envelope)+trailerLen {
			t.Fatalf("Embed returned %d, wrote %d bytes, for %d + %d + %d", n, len(s), len(u), len(envelope), trailerLen)
		}
		signed, err := Open(bytes.NewReader(s), int64(len(s)))
		if err != nil {
			t.Fatalf("Open(Embed(...)): %v", err)
		}
		if !bytes.Equal(signed.Envelope, envelope) || signed.Type != EnvelopeType(typ) {
			t.Fatal("Open gives another envelope or type")
		}
		var back bytes.Buffer
		if _, err := signed.Unsigned.WriteTo(&back); err != nil || !bytes.Equal(back.Bytes(), u) {
			t.Fatalf("the recovered unsigned package differs from the input (%v)", err)
		}
		zu, err := zip.NewReader(r, size)
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			t.Fatalf("archive/zip on the input: %v", err)
		}
		zs, err := zip.NewReader(bytes.NewReader(s), int64(len(s)))
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			t.Fatalf("archive/zip on the signed file: %v", err)
		}
		if len(zu.File) != len(zs.File) {
			t.Fatalf("archive/zip reads %d entries from the input, %d from the signed file", len(zu.File), len(zs.File))
		}
		for i := range zu.File {
			a, b := zu.File[i], zs.File[i]
			ao, _ := a.DataOffset()
			bo, _ := b.DataOffset()
			if a.FileHeader.Name != b.FileHeader.Name || a.CRC32 != b.CRC32 || a.CompressedSize64 != b.CompressedSize64 || ao != bo {
				t.Fatalf("entry %d differs: %q %q", i, a.Name, b.Name)
			}
		}
	})
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz")

// seedCorpus returns the committed seed corpus: file path (relative to
// testdata/fuzz) to its contents in the go test fuzz v1 format.
func seedCorpus(t *testing.T) map[string]string {
	tiny := makeZip(t, zipSpec{entries: []entry{{name: "f", body: []byte("x"), method: zip.Store}}})
	tinyComment := makeZip(t, zipSpec{comment: "c", entries: []entry{
		{name: "d/", method: zip.Store},
		{name: "d/a.js", body: text(60), method: zip.Deflate},
	}})
	empty := makeZip(t, zipSpec{})
	sigInComment := makeZip(t, zipSpec{comment: "PK\x05\x06", entries: []entry{{name: "f", method: zip.Store}}})
	jws := []byte(`{"payload":"e30","signature":"AA"}`)
	cose := []byte("\xd2\x84\x43\xa1\x01\x26\xa0\x41\x00\x41\x00")
	fn := functionZip(t, "release 1.2.3")

	signedTiny := embed(t, tiny, jws, JWS)
	signedComment := embed(t, tinyComment, cose, COSE)
	signedFn := embed(t, fn, jwsEnvelope(300, 1), JWS)

	bytesArg := func(b []byte) string { return fmt.Sprintf("[]byte(%q)", b) }
	file := func(args ...string) string { return "go test fuzz v1\n" + strings.Join(args, "\n") + "\n" }
	open := map[string][]byte{
		"signed-tiny-jws":          signedTiny,
		"signed-comment-cose":      signedComment,
		"signed-function-jws":      signedFn,
		"signed-version-2":         rawSign(t, tiny, jws, JWS, 2),
		"signed-truncated":         signedTiny[len(signedTiny)-40:],
		"signed-ambiguous":         rawSign(t, tiny, []byte(`{"PK`+"\x05\x06"+`"}`), JWS, 1),
		"signed-twice":             rawSign(t, signedTiny, jws, JWS, 1),
		"signed-empty-zip":         rawSign(t, empty, jws, JWS, 1),
		"unsigned-tiny":            tiny,
		"unsigned-empty-zip":       empty,
		"trailer-only":             signedTiny[len(signedTiny)-trailerLen:],
		"empty-input":              nil,
		"signed-comment-signature": rawSign(t, sigInComment, jws, JWS, 1),
	}
	embedSeeds := map[string][3]string{
		"tiny-jws":              {bytesArg(tiny), bytesArg(jws), "byte('\\x01')"},
		"comment-cose":          {bytesArg(tinyComment), bytesArg(cose), "byte('\\x02')"},
		"function-jws":          {bytesArg(fn), bytesArg(jws), "byte('\\x01')"},
		"already-signed":        {bytesArg(signedTiny), bytesArg(jws), "byte('\\x01')"},
		"empty-zip":             {bytesArg(empty), bytesArg(jws), "byte('\\x01')"},
		"signature-in-comment":  {bytesArg(sigInComment), bytesArg(jws), "byte('\\x01')"},
		"signature-in-envelope": {bytesArg(tiny), bytesArg([]byte("\xd2\x84PK\x05\x06")), "byte('\\x02')"},
		"type-mismatch":         {bytesArg(tiny), bytesArg(cose), "byte('\\x01')"},
		"unknown-type":          {bytesArg(tiny), bytesArg(jws), "byte('\\x03')"},
		"not-a-zip":             {bytesArg([]byte("PK\x03\x04 not a zip")), bytesArg(jws), "byte('\\x01')"},
	}
	corpus := map[string]string{}
	for name, b := range open {
		corpus[filepath.Join("FuzzOpen", name)] = file(bytesArg(b))
	}
	for name, args := range embedSeeds {
		corpus[filepath.Join("FuzzEmbed", name)] = file(args[:]...)
	}
	return corpus
}

// TestSeedCorpus checks that testdata/fuzz holds the seed corpus that
// seedCorpus describes; go test -run TestSeedCorpus -update-corpus
// rewrites it. Files found by fuzzing may be added next to it.
func TestSeedCorpus(t *testing.T) {
	corpus := seedCorpus(t)
	names := make([]string, 0, len(corpus))
	for name := range corpus {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := filepath.Join("testdata", "fuzz", name)
		if *updateCorpus {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(corpus[name]), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != corpus[name] {
			t.Errorf("%s is missing or out of date (%v); run go test -run TestSeedCorpus -update-corpus", path, err)
		}
	}
}
