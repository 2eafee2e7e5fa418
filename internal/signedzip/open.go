package signedzip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Signed is a parsed signed package.
type Signed struct {
	// Envelope is the signature envelope, a copy of its bytes.
	Envelope []byte
	// Type is the envelope's type.
	Type EnvelopeType
	// Unsigned is a view of the unsigned package U.
	Unsigned *Unsigned
	// Info describes U, as [Check] reports it.
	Info Info
}

// Unsigned is a read-only view of the unsigned package inside a signed
// one: it reads through to the signed file, except for the 2 bytes of the
// comment-length field, which it patches. It holds no copy of the data.
// Use io.NewSectionReader(u, 0, u.Size()) for an io.Reader. It is safe for
// concurrent use when the signed file's ReaderAt is.
type Unsigned struct {
	r        io.ReaderAt
	size     int64
	fieldOff int64   // offset of the comment-length field
	field    [2]byte // its value in U
}

// Size returns the length of the unsigned package.
func (u *Unsigned) Size() int64 { return u.size }

// ReadAt implements io.ReaderAt over the unsigned package.
func (u *Unsigned) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= u.size {
		return 0, io.EOF
	}
	short := int64(len(p)) > u.size-off
	if short {
		p = p[:u.size-off]
	}
	n, err := u.r.ReadAt(p, off)
	for i := range int64(2) {
		if j := u.fieldOff + i - off; j >= 0 && j < int64(n) {
			p[j] = u.field[i]
		}
	}
	if n == len(p) {
		err = nil
		if short {
			err = io.EOF
		}
	} else if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// WriteTo writes the unsigned package to w, streaming it through a buffer,
// for example into a SHA-384 hash to compute the signed digest. It
// implements io.WriterTo, so io.Copy uses it.
func (u *Unsigned) WriteTo(w io.Writer) (int64, error) {
	return copyRange(w, u, 0, u.size)
}

// Open parses the signed package read from r (size bytes): the trailer,
// the end record where the trailer puts it, the envelope, and the unsigned
// package, which must pass [Check]. The returned view reads through to r,
// so r must stay readable while it is used. Open accepts exactly the files
// [Embed] writes.
func Open(r io.ReaderAt, size int64) (*Signed, error) {
	if size < eocdLen {
		return nil, fmt.Errorf("%w: the file is %d bytes, shorter than the %d-byte end of central directory record",
			ErrNotZip, size, eocdLen)
	}
	tb := make([]byte, trailerLen)
	if err := readFull(r, tb, size-trailerLen); err != nil {
		return nil, err
	}
	t, ok := decodeTrailer(tb)
	if !ok {
		return nil, fmt.Errorf("%w: the last %d bytes are not a signet trailer (no magic %q)", ErrNotSigned, trailerLen, magic)
	}
	if t.version != version1 {
		return nil, fmt.Errorf("%w: trailer version %d, this build reads version %d", ErrUnsupportedVersion, t.version, version1)
	}
	if !t.typ.valid() {
		return nil, fmt.Errorf("%w: unknown envelope type %d in the trailer", ErrMalformed, byte(t.typ))
	}
	commentLen := uint64(t.commentLen) + uint64(t.envelopeLen) + trailerLen
	if commentLen > maxCommentLen {
		return nil, fmt.Errorf("%w: the trailer declares original comment %d + envelope %d + trailer %d = %d bytes, over the zip comment limit of %d",
			ErrMalformed, t.commentLen, t.envelopeLen, trailerLen, commentLen, maxCommentLen)
	}
	if int64(commentLen)+eocdLen > size {
		return nil, fmt.Errorf("%w: truncated: the trailer declares a %d-byte comment after the %d-byte end record, but the file is %d bytes",
			ErrMalformed, commentLen, eocdLen, size)
	}
	eocd := size - int64(commentLen) - eocdLen
	rec := make([]byte, eocdLen+commentLen)
	if err := readFull(r, rec, eocd); err != nil {
		return nil, err
	}
	if string(rec[:4]) != eocdSig {
		return nil, fmt.Errorf("%w: no end of central directory record at offset %d, where the trailer puts it", ErrMalformed, eocd)
	}
	if got := binary.LittleEndian.Uint16(rec[eocdCommentLen:]); uint64(got) != commentLen {
		return nil, fmt.Errorf("%w: the end record's comment length is %d, the trailer implies %d", ErrMalformed, got, commentLen)
	}
	envelopeAt := eocdLen + int(t.commentLen)
	envelope := rec[envelopeAt : envelopeAt+int(t.envelopeLen)]
	if err := checkEnvelope(envelope, t.typ); err != nil {
		return nil, fmt.Errorf("%w: the trailer says %s: %w", ErrMalformed, t.typ, err)
	}
	if err := checkUnambiguous(rec, "the signed package", &envelopeAt); err != nil {
		return nil, err
	}

	u := &Unsigned{r: r, size: size - trailerLen - int64(t.envelopeLen), fieldOff: eocd + eocdCommentLen}
	binary.LittleEndian.PutUint16(u.field[:], uint16(t.commentLen))
	info, err := Check(u, u.size)
	if err != nil {
		return nil, fmt.Errorf("%w: the unsigned package: %w", ErrMalformed, err)
	}
	if info.CommentOffset != eocd+eocdLen {
		// Unreachable: with no signature after it, the record is the one
		// the backward scan finds.
		return nil, fmt.Errorf("%w: the unsigned package's end record is at offset %d, the trailer puts it at %d",
			ErrMalformed, info.CommentOffset-eocdLen, eocd)
	}
	return &Signed{
		Envelope: append([]byte(nil), envelope...),
		Type:     t.typ,
		Unsigned: u,
		Info:     info,
	}, nil
}

// WriteUnsigned opens the signed package read from r (size bytes) and
// streams the unsigned package to w, for exporting the original package.
func WriteUnsigned(w io.Writer, r io.ReaderAt, size int64) (int64, error) {
	s, err := Open(r, size)
	if err != nil {
		return 0, err
	}
	return s.Unsigned.WriteTo(w)
}
