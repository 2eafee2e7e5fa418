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
	info, err := Check(r, size)
	if err != nil {
		return 0, err
	}
	head, tail, err := Tail(r, info, envelope, typ)
	if err != nil {
		return 0, err
	}
	written, err = copyRange(w, r, 0, head)
	if err != nil {
		return written, err
	}
	n, err := w.Write(tail)
	written += int64(n)
	if err == nil && n != len(tail) {
		err = io.ErrShortWrite
	}
	return written, err
}

// Tail describes the signed package as two parts: U[:head], kept byte for
// byte, followed by tail (the new comment-length field, the original
// comment, the envelope and the trailer). info must come from [Check] on
// r. It validates the envelope and the comment limit as Embed does. A
// caller that hashes U[:head] while reading U for its digest can thus
// know the signed package's hash without reading it again.
func Tail(r io.ReaderAt, info Info, envelope []byte, typ EnvelopeType) (head int64, tail []byte, err error) {
	if err := checkEnvelope(envelope, typ); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrInvalidEnvelope, err)
	}
	commentLen := info.CommentLen + len(envelope) + trailerLen
	if commentLen > maxCommentLen {
		return 0, nil, fmt.Errorf("%w: original comment %d + envelope %d + trailer %d = %d bytes, over the zip comment limit of %d (the envelope may be at most %d bytes)",
			ErrTooLarge, info.CommentLen, len(envelope), trailerLen, commentLen, maxCommentLen, info.MaxEnvelopeLen)
	}

	// The signed end record and comment, in memory (at most 22+65535 bytes).
	eocd := info.CommentOffset - eocdLen
	rec := make([]byte, eocdLen+commentLen)
	if err := readFull(r, rec[:eocdLen+info.CommentLen], eocd); err != nil {
		return 0, nil, err
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
		return 0, nil, fmt.Errorf("%w (sign again: a new signature has different bytes)", err)
	}
	return info.Head(), rec[eocdCommentLen:], nil
}

// Head is the length of the prefix of U that the signed package keeps
// byte for byte (everything before the end record's comment-length
// field); see [Tail].
func (i Info) Head() int64 { return i.CommentOffset - eocdLen + eocdCommentLen }
