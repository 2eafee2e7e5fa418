// Package signedzip embeds a signature envelope in a zip package so that the
// signed package is one self-contained file that still unzips and deploys
// exactly like the original, and reads it back. Signing and envelope
// verification are done elsewhere: the envelope (a Notary Project JWS or
// COSE envelope) is opaque bytes here, and the digest that gets signed is
// SHA-384 over the original package, which callers compute from
// [Unsigned.WriteTo].
//
// # Format (version 1)
//
// The envelope goes into the zip's End Of Central Directory (EOCD) comment,
// after the original comment, followed by a fixed 16-byte trailer:
//
//	signed   = U[:c] || comment'
//	comment' = origComment || envelope || trailer
//	trailer  = "SIGNET" || 0x01 (version) || type || uint32le(len(envelope)) || uint32le(len(origComment))
//
// U is the unsigned package, the original zip byte for byte; c is the offset
// where U's EOCD comment begins (U's 22-byte EOCD record ends at c, its
// 2-byte little-endian comment-length field is at c-2); type is 0x01 for JWS
// (application/jose+json) or 0x02 for COSE (application/cose). In the signed
// file the comment-length field holds len(comment'), which must be at most
// 65535. The envelope is not empty and its first bytes agree with its type:
// '{' for a JWS envelope in JSON serialization, 0xd2 0x84 for a COSE
// envelope (a tagged COSE_Sign1 message), as the Notary Project libraries
// write them. Nothing else changes: the local headers, file data, central
// directory, zip64 records and the rest of the EOCD record are U's bytes.
//
// To recover U from a signed file S of size s: read the trailer from the
// last 16 bytes and check the magic and version; with n = len(envelope) and
// m = len(origComment) the envelope is S[s-16-n : s-16], and U is
// S[:s-16-n] with the comment-length field at s-16-n-m-2 set back to m.
//
// # Locating the end record
//
// The EOCD record of U is found by scanning backwards from the end, within
// the last 65535+22 bytes, for the signature PK\x05\x06 whose
// comment-length field equals exactly the number of bytes after the 22-byte
// record. In a signed file the trailer says where the record is (at
// s-16-n-m-22), and [Open] requires both the signature there and a
// comment-length field of m+n+16.
//
// Both packages must also be unambiguous: no further PK\x05\x06 may occur
// after the start of the EOCD record, neither in U nor in the signed file.
// Common zip readers (Go's archive/zip, Info-ZIP, Python's zipfile) take the
// last occurrence of the signature as the end record, so a signature inside
// the comment would make them read something other than U's directory once
// the envelope has been appended. With the rule, every reader and the
// backward scan agree on the one record. [Check] and [Embed] refuse such a
// package or envelope ([ErrAmbiguous]), and [Open] refuses such a signed
// file, so that bytes outside the signed digest (an envelope's unsigned
// header, say) can never redirect a reader to another directory. A JWS
// envelope is text and never contains the signature; for a COSE envelope
// the chance is about one in 2^32 per byte, and signing again gives
// different bytes.
//
// # Coverage
//
// [Open] accepts exactly the files that [Embed] produces: re-embedding the
// recovered U and envelope reproduces the signed file byte for byte. So any
// change to any byte of a signed file either makes [Open] fail or changes
// the recovered U (and with it its SHA-384 digest) or the envelope. This
// holds for the type byte too: the other type does not match the
// envelope's first bytes.
//
// # Limits
//
// The comment of a zip file is at most 65535 bytes, so the original comment
// and the envelope together may take at most 65535-16 bytes ([ErrTooLarge]);
// [Info.MaxEnvelopeLen] gives the room left by a package's comment.
//
// # Already signed
//
// A file whose last 16 bytes begin with the magic "SIGNET" is already
// signed, whatever its version byte: [Check] and [Embed] refuse it with
// [ErrAlreadySigned] rather than nesting a second signature. [IsSigned]
// reports whether a file ends with a version 1 trailer.
package signedzip

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Format constants.
const (
	magic      = "SIGNET"
	version1   = 1
	trailerLen = 16

	eocdSig        = "PK\x05\x06"
	eocdLen        = 22
	eocdCommentLen = 20 // offset of the comment-length field in the EOCD record
	maxCommentLen  = 65535
)

// Sentinel errors. Every error of this package wraps one of them (or an I/O
// error of the underlying reader or writer), with a message that says what
// is wrong.
var (
	// ErrNotZip: the file is not a zip file (too short, no valid end of
	// central directory record, or archive/zip cannot read it).
	ErrNotZip = errors.New("not a zip file")
	// ErrEmpty: the zip file has no entries.
	ErrEmpty = errors.New("empty zip")
	// ErrAlreadySigned: the package to sign already ends with a signet
	// trailer.
	ErrAlreadySigned = errors.New("already signed")
	// ErrNotSigned: the file does not end with a signet trailer.
	ErrNotSigned = errors.New("not signed")
	// ErrTooLarge: the original comment, the envelope and the trailer do
	// not fit in the 65535 bytes of a zip comment.
	ErrTooLarge = errors.New("signed zip comment too large")
	// ErrMalformed: the file ends with a version 1 trailer that does not
	// describe it (truncated, inconsistent lengths, no end record where the
	// trailer puts it, an invalid unsigned package).
	ErrMalformed = errors.New("malformed signed package")
	// ErrUnsupportedVersion: the trailer has a version other than 1.
	ErrUnsupportedVersion = errors.New("unsupported signed package version")
	// ErrAmbiguous: the end of central directory signature PK\x05\x06
	// occurs after the start of the end record (in the comment or the
	// envelope), so zip readers would not agree on the end record.
	ErrAmbiguous = errors.New("ambiguous end of central directory")
	// ErrInvalidEnvelope: the envelope given to Embed is empty, has an
	// unknown type, or does not begin as an envelope of its type.
	ErrInvalidEnvelope = errors.New("invalid envelope")
)

// EnvelopeType is the kind of signature envelope, stored in the trailer.
type EnvelopeType byte

// Envelope types of format version 1.
const (
	// JWS is a Notary Project JWS envelope, application/jose+json.
	JWS EnvelopeType = 1
	// COSE is a Notary Project COSE envelope, application/cose.
	COSE EnvelopeType = 2
)

// MediaType returns the envelope's media type, "application/jose+json" or
// "application/cose", or "" for an unknown type.
func (t EnvelopeType) MediaType() string {
	switch t {
	case JWS:
		return "application/jose+json"
	case COSE:
		return "application/cose"
	}
	return ""
}

// String returns "JWS", "COSE" or "EnvelopeType(n)".
func (t EnvelopeType) String() string {
	switch t {
	case JWS:
		return "JWS"
	case COSE:
		return "COSE"
	}
	return fmt.Sprintf("EnvelopeType(%d)", byte(t))
}

// EnvelopeTypeFor returns the envelope type of a media type,
// "application/jose+json" or "application/cose".
func EnvelopeTypeFor(mediaType string) (EnvelopeType, bool) {
	switch mediaType {
	case JWS.MediaType():
		return JWS, true
	case COSE.MediaType():
		return COSE, true
	}
	return 0, false
}

func (t EnvelopeType) valid() bool { return t == JWS || t == COSE }

// checkEnvelope returns why envelope cannot be an envelope of type t, or
// nil. A JWS envelope in JSON serialization begins with '{' (as
// encoding/json writes it) and a COSE envelope, a COSE_Sign1_Tagged
// message, with 0xd2 0x84 (as go-cose requires), so the type byte agrees
// with the envelope's first bytes.
func checkEnvelope(envelope []byte, t EnvelopeType) error {
	switch {
	case !t.valid():
		return fmt.Errorf("unknown envelope type %d (want %d for JWS or %d for COSE)", byte(t), JWS, COSE)
	case len(envelope) == 0:
		return errors.New("empty envelope")
	case t == JWS && envelope[0] != '{':
		return fmt.Errorf("a JWS envelope begins with '{', this one with %#02x", envelope[0])
	case t == COSE && (len(envelope) < 2 || envelope[0] != 0xd2 || envelope[1] != 0x84):
		return fmt.Errorf("a COSE envelope (COSE_Sign1_Tagged) begins with 0xd2 0x84, this one with % x", envelope[:min(2, len(envelope))])
	}
	return nil
}

// trailer is the decoded 16-byte trailer.
type trailer struct {
	version     byte
	typ         EnvelopeType
	envelopeLen uint32
	commentLen  uint32 // length of the original comment
}

func (t trailer) encode() []byte {
	b := make([]byte, trailerLen)
	copy(b, magic)
	b[6] = t.version
	b[7] = byte(t.typ)
	binary.LittleEndian.PutUint32(b[8:], t.envelopeLen)
	binary.LittleEndian.PutUint32(b[12:], t.commentLen)
	return b
}

// decodeTrailer decodes b (16 bytes); ok is false if it lacks the magic.
func decodeTrailer(b []byte) (t trailer, ok bool) {
	if len(b) != trailerLen || string(b[:len(magic)]) != magic {
		return trailer{}, false
	}
	return trailer{
		version:     b[6],
		typ:         EnvelopeType(b[7]),
		envelopeLen: binary.LittleEndian.Uint32(b[8:]),
		commentLen:  binary.LittleEndian.Uint32(b[12:]),
	}, true
}
