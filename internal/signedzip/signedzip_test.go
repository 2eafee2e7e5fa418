package signedzip

import (
	"archive/zip"
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestRoundTrip embeds envelopes in zips made with archive/zip and checks
// that Open gives back the envelope and exactly U, that the signed file
// unzips like U, and that Embed follows the format (rawSign).
func TestRoundTrip(t *testing.T) {
	nested := functionZip(t, "inner")
	// A stored entry holding an end record whose comment length is fixed
	// below to reach exactly the end of the outer file: only the backward
	// scan from the end picks the real record.
	fake := append([]byte("PK\x05\x06"), make([]byte, 18)...)
	fakeSpec := func(n uint16) zipSpec {
		binary.LittleEndian.PutUint16(fake[20:], n)
		return zipSpec{entries: []entry{
			{name: "a.txt", body: text(100), method: zip.Deflate},
			{name: "fake-eocd.bin", body: fake, method: zip.Store},
		}}
	}
	fakeZip := makeZip(t, fakeSpec(0))
	at := bytes.Index(fakeZip, []byte(eocdSig))
	fakeZip = makeZip(t, fakeSpec(uint16(len(fakeZip)-at-eocdLen)))

	cases := map[string]struct {
		u        []byte
		envelope []byte
		typ      EnvelopeType
	}{
		"ok/no-comment-jws":   {functionZip(t, ""), jwsEnvelope(3000, 1), JWS},
		"ok/comment-cose":     {functionZip(t, "release 1.2.3"), coseEnvelope(9000, 2), COSE},
		"ok/envelope-16kb":    {functionZip(t, "c"), coseEnvelope(16<<10, 3), COSE},
		"ok/one-entry-stored": {makeZip(t, zipSpec{entries: []entry{{name: "f", body: []byte("x"), method: zip.Store}}}), jwsEnvelope(40, 4), JWS},
		"ok/only-directory":   {makeZip(t, zipSpec{entries: []entry{{name: "d/", method: zip.Store}}}), coseEnvelope(2, 5), COSE},
		"ok/empty-files":      {makeZip(t, zipSpec{entries: []entry{{name: "a", method: zip.Deflate}, {name: "b", method: zip.Store}}}), jwsEnvelope(100, 6), JWS},
		"ok/comment-with-other-zip-signatures": {
			functionZip(t, "PK\x03\x04 PK\x01\x02 PK\x05\x05 PK\x06\x06 PK\x06\x07 PK\x07\x08 PK\x05"), jwsEnvelope(500, 7), JWS},
		"ok/eocd-signature-in-file-data": {fakeZip, jwsEnvelope(500, 8), JWS},
		"ok/nested-zip-stored": {makeZip(t, zipSpec{entries: []entry{
			{name: "a.txt", body: text(10), method: zip.Deflate},
			{name: "layer.zip", body: nested, method: zip.Store},
		}}), coseEnvelope(700, 9), COSE},
		"ok/comment-at-limit": {functionZip(t, strings.Repeat("c", maxCommentLen-trailerLen-1000)), jwsEnvelope(1000, 10), JWS},
		"ok/zip64-70000-entries": {makeZip(t, zipSpec{extra: 70000, entries: []entry{
			{name: "bootstrap", body: text(2000), method: zip.Deflate},
		}}), jwsEnvelope(2000, 11), JWS},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			info, err := Check(bytes.NewReader(c.u), int64(len(c.u)))
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			eocd := info.CommentOffset - eocdLen
			isZip64 := binary.LittleEndian.Uint16(c.u[eocd+10:]) == 0xffff &&
				string(c.u[eocd-20:eocd-16]) == "PK\x06\x07" // zip64 end locator before the EOCD record
			if isZip64 != strings.Contains(name, "zip64") || isZip64 && info.Entries <= 65535 {
				t.Fatalf("zip64 %v with %d entries", isZip64, info.Entries)
			}
			s := embed(t, c.u, c.envelope, c.typ)
			if want := rawSign(t, c.u, c.envelope, c.typ, 1); !bytes.Equal(s, want) {
				t.Fatal("Embed differs from the format description (rawSign)")
			}
			if !IsSigned(bytes.NewReader(s), int64(len(s))) || IsSigned(bytes.NewReader(c.u), int64(len(c.u))) {
				t.Fatal("IsSigned wrong")
			}

			signed, err := Open(bytes.NewReader(s), int64(len(s)))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(signed.Envelope, c.envelope) || signed.Type != c.typ || signed.Info != info {
				t.Fatalf("Open = type %v, info %+v; want %v, %+v", signed.Type, signed.Info, c.typ, info)
			}
			if got, want := digest(t, signed.Unsigned), sha512.Sum384(c.u); got != want {
				t.Fatal("SHA-384 of the recovered unsigned package differs from U's")
			}
			all, err := io.ReadAll(io.NewSectionReader(signed.Unsigned, 0, signed.Unsigned.Size()))
			if err != nil || !bytes.Equal(all, c.u) {
				t.Fatalf("reading the unsigned view: %v, equal %v", err, bytes.Equal(all, c.u))
			}
			var exported bytes.Buffer
			if n, err := WriteUnsigned(&exported, bytes.NewReader(s), int64(len(s))); err != nil || n != int64(len(c.u)) || !bytes.Equal(exported.Bytes(), c.u) {
				t.Fatalf("WriteUnsigned = %d, %v", n, err)
			}
			if again := embed(t, all, signed.Envelope, signed.Type); !bytes.Equal(again, s) {
				t.Fatal("re-embedding the recovered package gives other bytes")
			}

			if got, want := zipContents(t, s), zipContents(t, c.u); !slices.Equal(got, want) {
				t.Fatalf("archive/zip reads %d entries from the signed file, %d from U, or other contents", len(got), len(want))
			}
			zr, _ := zip.NewReader(bytes.NewReader(s), int64(len(s)))
			if want := string(s[info.CommentOffset:]); zr.Comment != want {
				t.Fatal("archive/zip reads another comment than origComment || envelope || trailer")
			}

			needProgram(t, "/usr/bin/unzip")
			if out, err := unzipTest(t, s); err != nil {
				t.Fatalf("unzip -t on the signed file: %v\n%s", err, out)
			}
		})
	}
}

// TestFailures checks every sentinel error.
func TestFailures(t *testing.T) {
	u := functionZip(t, "release 1.2.3")
	env := jwsEnvelope(1000, 1)
	s := embed(t, u, env, JWS)
	info, err := Check(bytes.NewReader(u), int64(len(u)))
	if err != nil {
		t.Fatal(err)
	}
	eocd := int(info.CommentOffset) - eocdLen
	sTrailer := len(s) - trailerLen

	// patch returns a copy of b with v written at off (negative: from the end).
	patch := func(b []byte, off int, v ...byte) []byte {
		b = slices.Clone(b)
		if off < 0 {
			off += len(b)
		}
		copy(b[off:], v)
		return b
	}
	le16 := func(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
	le32 := func(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
	cd := int(binary.LittleEndian.Uint32(u[eocd+16:]))

	emptyZip := makeZip(t, zipSpec{})
	sigInComment := functionZip(t, "see PK\x05\x06")
	bigComment := functionZip(t, strings.Repeat("c", maxCommentLen-trailerLen))

	type op int
	const (
		check op = iota
		embedOp
		open
	)
	cases := map[string]struct {
		op       op
		in       []byte
		envelope []byte
		typ      EnvelopeType
		want     error
		also     error // a second sentinel the error wraps
	}{
		"fail/too-short":             {op: check, in: u[len(u)-21:], want: ErrNotZip},
		"fail/too-short-open":        {op: open, in: s[len(s)-21:], want: ErrNotZip},
		"fail/no-end-record":         {op: check, in: randomBytes(1000, 3), want: ErrNotZip},
		"fail/trailing-garbage":      {op: check, in: append(slices.Clone(u), 'x'), want: ErrNotZip},
		"fail/comment-length-short":  {op: check, in: patch(u, eocd+20, le16(info.CommentLen-1)...), want: ErrNotZip},
		"fail/bad-central-directory": {op: check, in: patch(u, cd, 'X'), want: ErrNotZip},
		"fail/empty-zip":             {op: check, in: emptyZip, want: ErrEmpty},
		"fail/empty-zip-embed":       {op: embedOp, in: emptyZip, envelope: env, typ: JWS, want: ErrEmpty},
		"fail/already-signed":        {op: embedOp, in: s, envelope: env, typ: JWS, want: ErrAlreadySigned},
		"fail/already-signed-check":  {op: check, in: s, want: ErrAlreadySigned},
		"fail/already-signed-future-version": {op: embedOp, in: rawSign(t, u, env, JWS, 2), envelope: env, typ: JWS,
			want: ErrAlreadySigned},
		"fail/not-signed":         {op: open, in: u, want: ErrNotSigned},
		"fail/not-signed-garbage": {op: open, in: randomBytes(100, 4), want: ErrNotSigned},
		"fail/envelope-too-large": {op: embedOp, in: u, envelope: jwsEnvelope(maxCommentLen-trailerLen-info.CommentLen+1, 5), typ: JWS,
			want: ErrTooLarge},
		"fail/comment-too-large": {op: check, in: bigComment, want: ErrTooLarge},
		"fail/comment-too-large-embed": {op: embedOp, in: bigComment, envelope: []byte("{"), typ: JWS,
			want: ErrTooLarge},
		"fail/unsupported-version":      {op: open, in: patch(s, sTrailer+6, 2), want: ErrUnsupportedVersion},
		"fail/unsupported-version-0":    {op: open, in: patch(s, sTrailer+6, 0), want: ErrUnsupportedVersion},
		"fail/malformed-type":           {op: open, in: patch(s, sTrailer+7, 3), want: ErrMalformed},
		"fail/malformed-type-mismatch":  {op: open, in: patch(s, sTrailer+7, byte(COSE)), want: ErrMalformed},
		"fail/malformed-truncated":      {op: open, in: s[len(s)-500:], want: ErrMalformed},
		"fail/malformed-envelope-len":   {op: open, in: patch(s, sTrailer+8, le32(len(env)+1)...), want: ErrMalformed},
		"fail/malformed-comment-len":    {op: open, in: patch(s, sTrailer+12, le32(info.CommentLen-1)...), want: ErrMalformed},
		"fail/malformed-over-limit":     {op: open, in: patch(s, sTrailer+8, le32(maxCommentLen)...), want: ErrMalformed},
		"fail/malformed-empty-envelope": {op: open, in: rawSign(t, u, nil, JWS, 1), want: ErrMalformed},
		"fail/malformed-length-field": {op: open, in: patch(s, eocd+20, le16(info.CommentLen+len(env)+trailerLen-1)...),
			want: ErrMalformed},
		"fail/malformed-end-record-signature": {op: open, in: patch(s, eocd, 'Q'), want: ErrMalformed},
		"fail/malformed-unsigned-not-zip":     {op: open, in: patch(s, cd, 'X'), want: ErrMalformed, also: ErrNotZip},
		"fail/malformed-unsigned-empty": {op: open, in: rawSign(t, emptyZip, env, JWS, 1), want: ErrMalformed,
			also: ErrEmpty},
		"fail/malformed-unsigned-signed": {op: open, in: rawSign(t, s, env, JWS, 1), want: ErrMalformed,
			also: ErrAlreadySigned},
		"fail/ambiguous-comment":       {op: check, in: sigInComment, want: ErrAmbiguous},
		"fail/ambiguous-comment-embed": {op: embedOp, in: sigInComment, envelope: env, typ: JWS, want: ErrAmbiguous},
		"fail/ambiguous-envelope": {op: embedOp, in: u, envelope: []byte(`{"x":"PK` + "\x05\x06" + `"}`), typ: JWS,
			want: ErrAmbiguous},
		"fail/ambiguous-envelope-open": {op: open, in: rawSign(t, u, []byte("\xd2\x84PK\x05\x06"), COSE, 1),
			want: ErrAmbiguous},
		"fail/ambiguous-comment-open":  {op: open, in: rawSign(t, sigInComment, env, JWS, 1), want: ErrAmbiguous},
		"fail/invalid-envelope-type":   {op: embedOp, in: u, envelope: env, typ: 0, want: ErrInvalidEnvelope},
		"fail/invalid-envelope-type-3": {op: embedOp, in: u, envelope: env, typ: 3, want: ErrInvalidEnvelope},
		"fail/invalid-envelope-empty":  {op: embedOp, in: u, envelope: nil, typ: JWS, want: ErrInvalidEnvelope},
		"fail/invalid-envelope-jws":    {op: embedOp, in: u, envelope: []byte(` {"payload":""}`), typ: JWS, want: ErrInvalidEnvelope},
		"fail/invalid-envelope-cose":   {op: embedOp, in: u, envelope: []byte("\xd2\x83"), typ: COSE, want: ErrInvalidEnvelope},
		"fail/invalid-envelope-cose-as-jws": {op: embedOp, in: u, envelope: coseEnvelope(100, 6), typ: JWS,
			want: ErrInvalidEnvelope},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r, size := bytes.NewReader(c.in), int64(len(c.in))
			var err error
			switch c.op {
			case check:
				_, err = Check(r, size)
			case embedOp:
				var buf bytes.Buffer
				_, err = Embed(&buf, r, size, c.envelope, c.typ)
				if buf.Len() != 0 {
					t.Errorf("Embed wrote %d bytes before failing", buf.Len())
				}
			case open:
				_, err = Open(r, size)
				if _, err2 := WriteUnsigned(io.Discard, r, size); !errors.Is(err2, c.want) {
					t.Errorf("WriteUnsigned = %v, want %v", err2, c.want)
				}
			}
			if !errors.Is(err, c.want) || (c.also != nil && !errors.Is(err, c.also)) {
				t.Fatalf("got %v, want %v (and %v)", err, c.want, c.also)
			}
			if msg := err.Error(); msg == c.want.Error() || msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("message %q: want lowercase, with a reason after the sentinel", msg)
			}
			t.Log(err)
		})
	}
}

// TestAmbiguityBreaksReaders shows why ErrAmbiguous exists: a signed file
// whose comment or envelope contains PK\x05\x06, built by hand following
// the format, is misread by archive/zip (and unzip), even though U itself
// opens.
func TestAmbiguityBreaksReaders(t *testing.T) {
	cases := map[string]struct {
		u        []byte
		envelope []byte
	}{
		"fail/signature-in-comment":  {functionZip(t, "see PK\x05\x06"), jwsEnvelope(1000, 1)},
		"fail/signature-in-envelope": {functionZip(t, ""), []byte(`{"x":"PK` + "\x05\x06" + strings.Repeat("x", 100) + `"}`)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := zip.NewReader(bytes.NewReader(c.u), int64(len(c.u))); err != nil {
				t.Fatalf("U does not open: %v", err)
			}
			s := rawSign(t, c.u, c.envelope, JWS, 1)
			zr, err := zip.NewReader(bytes.NewReader(s), int64(len(s)))
			if err == nil && len(zr.File) == 5 {
				t.Fatal("archive/zip reads the ambiguous signed file like U: the rule is not needed")
			}
			t.Logf("archive/zip on the hand-built signed file: %v", err)
			if _, err := Open(bytes.NewReader(s), int64(len(s))); !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("Open = %v, want ErrAmbiguous", err)
			}
			needProgram(t, "/usr/bin/unzip")
			out, err := unzipTest(t, s)
			if err == nil {
				t.Fatal("unzip -t accepts the ambiguous signed file")
			}
			t.Logf("unzip -t: %v\n%s", err, out)
		})
	}
}

// TestUnsignedReadAt reads the unsigned view at every offset and length
// around the patched comment-length field and at the end.
func TestUnsignedReadAt(t *testing.T) {
	u := functionZip(t, "comment")
	s := embed(t, u, jwsEnvelope(200, 1), JWS)
	signed, err := Open(bytes.NewReader(s), int64(len(s)))
	if err != nil {
		t.Fatal(err)
	}
	view := signed.Unsigned
	field := int(signed.Info.CommentOffset) - 2
	var offs []int
	for d := -6; d <= 4; d++ {
		offs = append(offs, field+d, len(u)+d)
	}
	offs = append(offs, 0)
	for _, off := range offs {
		for n := 0; n <= 10; n++ {
			p := make([]byte, n)
			got, err := view.ReadAt(p, int64(off))
			want := u[min(off, len(u)):]
			want = want[:min(n, len(want))]
			if !bytes.Equal(p[:got], want) {
				t.Fatalf("ReadAt(%d bytes, %d) = %q; want %q", n, off, p[:got], want)
			}
			if got < n && err != io.EOF || got == n && n > 0 && err != nil && err != io.EOF {
				t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", n, off, got, err)
			}
		}
	}
	if _, err := view.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("negative offset accepted")
	}
}

// TestEnvelopeType checks media types and names.
func TestEnvelopeType(t *testing.T) {
	cases := map[string]struct {
		typ       EnvelopeType
		mediaType string
		name      string
	}{
		"ok/jws":          {JWS, "application/jose+json", "JWS"},
		"ok/cose":         {COSE, "application/cose", "COSE"},
		"fail/unknown-0":  {0, "", "EnvelopeType(0)"},
		"fail/unknown-99": {99, "", "EnvelopeType(99)"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := c.typ.MediaType(); got != c.mediaType {
				t.Errorf("MediaType = %q", got)
			}
			if got := c.typ.String(); got != c.name {
				t.Errorf("String = %q", got)
			}
			got, ok := EnvelopeTypeFor(c.mediaType)
			if ok != (c.mediaType != "") || (ok && got != c.typ) {
				t.Errorf("EnvelopeTypeFor(%q) = %v, %v", c.mediaType, got, ok)
			}
		})
	}
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

// TestWriteErrors checks that write errors reach the caller with the
// count of bytes written.
func TestWriteErrors(t *testing.T) {
	u := makeZip(t, zipSpec{entries: []entry{{name: "big", body: randomBytes(600<<10, 1), method: zip.Store}}})
	env := jwsEnvelope(100, 2)
	s := embed(t, u, env, JWS)
	cases := map[string]int{
		"fail/first-byte":       0,
		"fail/mid-stream":       300 << 10,
		"fail/in-comment":       len(s) - 50,
		"fail/before-last-byte": len(s) - 1,
	}
	for name, limit := range cases {
		t.Run(name, func(t *testing.T) {
			n, err := Embed(&failingWriter{limit}, bytes.NewReader(u), int64(len(u)), env, JWS)
			if err == nil || n != int64(limit) {
				t.Fatalf("Embed = %d, %v; want %d, disk full", n, err, limit)
			}
			if limit >= len(u) {
				return
			}
			n, err = WriteUnsigned(&failingWriter{limit}, bytes.NewReader(s), int64(len(s)))
			if err == nil || n != int64(limit) {
				t.Fatalf("WriteUnsigned = %d, %v; want %d, disk full", n, err, limit)
			}
		})
	}
}
