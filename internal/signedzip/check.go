package signedzip

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Info describes an unsigned package, as found by [Check].
type Info struct {
	// Entries is the number of entries (files and directories).
	Entries int
	// CommentOffset is the offset where the EOCD comment begins (c in the
	// format); the comment-length field is at CommentOffset-2.
	CommentOffset int64
	// CommentLen is the length of the original comment.
	CommentLen int
	// MaxEnvelopeLen is the largest envelope that fits in the zip comment
	// next to the original comment and the trailer.
	MaxEnvelopeLen int
}

// Check validates an unsigned package read from r (size bytes), as [Embed]
// does before writing anything, so that a signing job can fail early with a
// clear reason. The package must be a zip file that archive/zip opens, with
// at least one entry, a locatable and unambiguous end record, not already
// signed, and a comment that leaves room for an envelope.
func Check(r io.ReaderAt, size int64) (Info, error) {
	if size < eocdLen {
		return Info{}, fmt.Errorf("%w: the file is %d bytes, shorter than the %d-byte end of central directory record",
			ErrNotZip, size, eocdLen)
	}
	tail := make([]byte, min(size, eocdLen+maxCommentLen))
	if err := readFull(r, tail, size-int64(len(tail))); err != nil {
		return Info{}, err
	}
	if t, ok := decodeTrailer(tail[len(tail)-trailerLen:]); ok {
		return Info{}, fmt.Errorf("%w: the file ends with a signet trailer (version %d)", ErrAlreadySigned, t.version)
	}
	e := findEOCD(tail)
	if e < 0 {
		return Info{}, fmt.Errorf("%w: no end of central directory record (PK\\x05\\x06 with a comment length reaching the end of the file) in the last %d bytes",
			ErrNotZip, len(tail))
	}
	if err := checkUnambiguous(tail[e:], "the package", nil); err != nil {
		return Info{}, err
	}
	commentLen := len(tail) - e - eocdLen
	if room := maxCommentLen - trailerLen - commentLen; room < 1 {
		return Info{}, fmt.Errorf("%w: the original comment is %d bytes, which leaves no room for an envelope (comment limit %d, trailer %d)",
			ErrTooLarge, commentLen, maxCommentLen, trailerLen)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return Info{}, fmt.Errorf("%w: %w", ErrNotZip, err)
	}
	if len(zr.File) == 0 {
		return Info{}, fmt.Errorf("%w: the package has no entries", ErrEmpty)
	}
	return Info{
		Entries:        len(zr.File),
		CommentOffset:  size - int64(commentLen),
		CommentLen:     commentLen,
		MaxEnvelopeLen: maxCommentLen - trailerLen - commentLen,
	}, nil
}

// findEOCD returns the offset in tail (the end of a file) of the last EOCD
// signature whose comment-length field reaches exactly to the end, or -1.
func findEOCD(tail []byte) int {
	for i := len(tail) - eocdLen; i >= 0; i-- {
		if string(tail[i:i+4]) == eocdSig &&
			int(binary.LittleEndian.Uint16(tail[i+eocdCommentLen:])) == len(tail)-i-eocdLen {
			return i
		}
	}
	return -1
}

// checkUnambiguous returns an ErrAmbiguous error if the EOCD signature
// occurs in rec (an EOCD record and what follows it) after its first byte.
// what names the file; envelopeAt is the envelope's offset in rec, or nil
// when rec has no envelope.
func checkUnambiguous(rec []byte, what string, envelopeAt *int) error {
	i := bytes.Index(rec[1:], []byte(eocdSig))
	if i < 0 {
		return nil
	}
	i++
	where := fmt.Sprintf("at offset %d of the end record", i)
	switch {
	case envelopeAt != nil && i >= *envelopeAt:
		where = fmt.Sprintf("in the envelope at envelope offset %d", i-*envelopeAt)
	case i >= eocdLen:
		where = fmt.Sprintf("in the zip comment at comment offset %d", i-eocdLen)
	}
	return fmt.Errorf("%w: %s contains the signature PK\\x05\\x06 %s, after the start of the end record; zip readers would take it for the end record",
		ErrAmbiguous, what, where)
}

// IsSigned reports whether r (size bytes) ends with a version 1 trailer. It
// reads only the last 16 bytes and does not validate the rest: [Open] does.
func IsSigned(r io.ReaderAt, size int64) bool {
	if size < eocdLen+trailerLen {
		return false
	}
	b := make([]byte, trailerLen)
	if readFull(r, b, size-trailerLen) != nil {
		return false
	}
	t, ok := decodeTrailer(b)
	return ok && t.version == version1
}

// readFull reads len(p) bytes at off, accepting io.EOF with a full read.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at offset %d: %w", len(p), off, err)
}

// copyBufLen is the size of the buffer of copyRange: large enough to keep
// system calls rare, small enough to stay in cache while hashing.
const copyBufLen = 256 << 10

// copyRange writes the n bytes of r at off to w.
func copyRange(w io.Writer, r io.ReaderAt, off, n int64) (int64, error) {
	buf := make([]byte, min(n, copyBufLen))
	var written int64
	for written < n {
		p := buf[:min(int64(len(buf)), n-written)]
		k, err := r.ReadAt(p, off+written)
		if k > 0 {
			m, werr := w.Write(p[:k])
			written += int64(m)
			if werr != nil {
				return written, werr
			}
			if m != k {
				return written, io.ErrShortWrite
			}
		}
		if k < len(p) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return written, fmt.Errorf("read at offset %d: %w", off+written, err)
		}
	}
	return written, nil
}
