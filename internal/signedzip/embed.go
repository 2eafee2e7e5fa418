package signedzip

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Embed writes to w the signed package made of the unsigned package read
// from r (size bytes) and envelope: U's bytes up to its comment, with the
// comment-length field set to the new length, then the original comment,
// the envelope and the trailer. It validates everything first (as [Check],
// plus the envelope and the comment limit) and writes nothing when that
// fails; U's bytes are streamed from r, never held in memory. It returns
// the number of bytes written.
func Embed(w io.Writer, r io.ReaderAt, size int64, envelope []byte, typ EnvelopeType) (written int64, err error) {
	if err := checkEnvelope(envelope, typ); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidEnvelope, err)
	}
	info, err := Check(r, size)
	if err != nil {
		return 0, err
	}
	commentLen := info.CommentLen + len(envelope) + trailerLen
	if commentLen > maxCommentLen {
		return 0, fmt.Errorf("%w: original comment %d + envelope %d + trailer %d = %d bytes, over the zip comment limit of %d (the envelope may be at most %d bytes)",
			ErrTooLarge, info.CommentLen, len(envelope), trailerLen, commentLen, maxCommentLen, info.MaxEnvelopeLen)
	}

	// The signed end record and comment, in memory (at most 22+65535 bytes).
	eocd := info.CommentOffset - eocdLen
	rec := make([]byte, eocdLen+commentLen)
	if err := readFull(r, rec[:eocdLen+info.CommentLen], eocd); err != nil {
		return 0, err
	}
	copy(rec[eocdLen+info.CommentLen:], envelope)
	copy(rec[eocdLen+info.CommentLen+len(envelope):], trailer{
		version:     version1,
		typ:         typ,
		envelopeLen: uint32(len(envelope)),
		commentLen:  uint32(info.CommentLen),
	}.encode())
	binary.LittleEndian.PutUint16(rec[eocdCommentLen:], uint16(commentLen))
	envelopeAt := eocdLen + info.CommentLen
	if err := checkUnambiguous(rec, "the signed package", &envelopeAt); err != nil {
		return 0, fmt.Errorf("%w (sign again: a new signature has different bytes)", err)
	}

	head := eocd + eocdCommentLen
	written, err = copyRange(w, r, 0, head)
	if err != nil {
		return written, err
	}
	n, err := w.Write(rec[eocdCommentLen:])
	written += int64(n)
	if err == nil && n != len(rec)-eocdCommentLen {
		err = io.ErrShortWrite
	}
	return written, err
}
