package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ChunkSigning is what verifying the chunk signatures of an aws-chunked
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD body takes.
type ChunkSigning struct {
	// Key is the request's SigV4 signing key.
	Key []byte
	// AmzDate is the request time in ISO-8601 basic format (X-Amz-Date).
	AmzDate string
	// Scope is the credential scope, date/region/service/aws4_request.
	Scope string
	// Seed is the request's own (seed) signature, which the first chunk's
	// signature chains from.
	Seed string
}

// ChunkedOptions configures NewChunkedReader.
type ChunkedOptions struct {
	// Signing verifies chunk signatures; nil means the chunks are not
	// signed (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
	Signing *ChunkSigning
	// SignedTrailer requires and verifies x-amz-trailer-signature.
	SignedTrailer bool
	// Trailers are the declared trailer names (X-Amz-Trailer), lowercase.
	// Declared x-amz-checksum-* trailers are computed and checked.
	Trailers []string
	// DecodedLength is the decoded length the body must have; -1 means
	// unknown.
	DecodedLength int64
}

const (
	maxChunkLine    = 4096      // a chunk header or trailer line
	maxTrailerBytes = 16 << 10  // all trailer lines together
	maxChunkSize    = 1<<40 - 1 // far above any real chunk; bounds the hex size
	chunkAlgorithm  = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerAlg      = "AWS4-HMAC-SHA256-TRAILER"
	trailerSigName  = "x-amz-trailer-signature"
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// chunkedReader decodes an aws-chunked body: chunks of
// "hex-size[;chunk-signature=sig]\r\n" + data + "\r\n", a final chunk of
// size 0, then optional trailer lines "name:value\r\n" and "\r\n".
type chunkedReader struct {
	br   *bufio.Reader
	opts ChunkedOptions

	remaining int64  // data left in the current chunk
	inChunk   bool   // the current chunk's data (and CRLF) is being read
	chunkSig  string // the current chunk's declared signature
	prevSig   string
	chunkHash hash.Hash // SHA-256 of the current chunk (signed only)
	decoded   int64
	sums      []checksum
	err       error // sticky: io.EOF once verified, or the failure
}

// NewChunkedReader returns a reader of the decoded content of the
// aws-chunked body r. With opts.Signing it verifies every chunk's
// signature as the chunk ends, and the trailer's when opts.SignedTrailer;
// it checks declared x-amz-checksum-* trailers and the decoded length at
// the end. Failures are *Error values (S3 codes: SignatureDoesNotMatch is
// reported as InvalidSignatureException, IncompleteBody, BadDigest,
// MalformedTrailerError, InvalidRequest). Data of a chunk is returned
// before its signature is checked, so a consumer must discard everything
// it read when Read fails.
func NewChunkedReader(r io.Reader, opts ChunkedOptions) io.Reader {
	c := &chunkedReader{br: bufio.NewReaderSize(r, maxChunkLine), opts: opts}
	if opts.Signing != nil {
		c.prevSig = opts.Signing.Seed
		c.chunkHash = sha256.New()
	}
	for _, t := range opts.Trailers {
		if !strings.HasPrefix(t, checksumPrefix) {
			continue
		}
		h, ok := newChecksum(t)
		if !ok {
			c.err = &Error{Code: codeInvalidRequest, Status: http.StatusBadRequest, Message: "Unsupported trailer " + t + "; the checksum algorithms are CRC32, CRC32C, CRC64NVME, SHA1 and SHA256."}
			break
		}
		c.sums = append(c.sums, checksum{name: t, h: h})
	}
	return c
}

func errMalformedChunk(detail string) *Error {
	return &Error{Code: codeInvalidRequest, Status: http.StatusBadRequest, Message: "The aws-chunked request body is malformed: " + detail}
}

func errIncompleteBody() *Error {
	return &Error{Code: codeIncompleteBody, Status: http.StatusBadRequest, Message: "The request body ended before the aws-chunked encoding did."}
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for !c.inChunk || c.remaining == 0 {
		if c.inChunk {
			if err := c.endChunk(); err != nil {
				c.err = err
				return 0, err
			}
		}
		if err := c.startChunk(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	c.remaining -= int64(n)
	c.decoded += int64(n)
	if c.chunkHash != nil {
		c.chunkHash.Write(p[:n])
	}
	for _, s := range c.sums {
		s.h.Write(p[:n])
	}
	if c.opts.DecodedLength >= 0 && c.decoded > c.opts.DecodedLength {
		c.err = &Error{Code: codeIncompleteBody, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("The decoded body is longer than x-amz-decoded-content-length (%d).", c.opts.DecodedLength)}
		return n, c.err
	}
	if err == io.EOF {
		c.err = errIncompleteBody()
		return n, c.err
	}
	return n, err
}

// readLine reads one CRLF- (or LF-) terminated line without its ending.
func (c *chunkedReader) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, errMalformedChunk("a chunk header or trailer line is too long")
	case err == io.EOF && len(line) == 0:
		return nil, io.EOF
	case err == io.EOF:
		return nil, errIncompleteBody()
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// startChunk reads a chunk header; the final chunk also ends the body.
func (c *chunkedReader) startChunk() error {
	line, err := c.readLine()
	if err == io.EOF {
		return errIncompleteBody()
	}
	if err != nil {
		return err
	}
	sizeHex, exts, _ := strings.Cut(string(line), ";")
	size, perr := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
	if perr != nil || size < 0 || size > maxChunkSize || strings.ContainsAny(sizeHex, "+-") {
		return errMalformedChunk(fmt.Sprintf("invalid chunk size %q", sizeHex))
	}
	c.chunkSig = ""
	for ext := range strings.SplitSeq(exts, ";") {
		if k, v, ok := strings.Cut(ext, "="); ok && strings.TrimSpace(k) == "chunk-signature" {
			c.chunkSig = strings.TrimSpace(v)
		}
	}
	if c.opts.Signing != nil && c.chunkSig == "" {
		return errMalformedChunk("a chunk has no chunk-signature")
	}
	if c.chunkHash != nil {
		c.chunkHash.Reset()
	}
	if size == 0 {
		if err := c.verifyChunk(); err != nil {
			return err
		}
		if err := c.finish(); err != nil {
			return err
		}
		return io.EOF
	}
	c.inChunk, c.remaining = true, size
	return nil
}

// endChunk reads the CRLF after a chunk's data and verifies the chunk.
func (c *chunkedReader) endChunk() error {
	line, err := c.readLine()
	if err == io.EOF {
		return errIncompleteBody()
	}
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return errMalformedChunk("chunk data is longer than its declared size")
	}
	c.inChunk = false
	return c.verifyChunk()
}

// verifyChunk checks the signature of the chunk just read.
func (c *chunkedReader) verifyChunk() error {
	s := c.opts.Signing
	if s == nil {
		return nil
	}
	sts := chunkAlgorithm + "\n" + s.AmzDate + "\n" + s.Scope + "\n" + c.prevSig + "\n" + emptySHA256 + "\n" + hex.EncodeToString(c.chunkHash.Sum(nil))
	want := hex.EncodeToString(hmacSHA256(s.Key, sts))
	if !hmac.Equal([]byte(want), []byte(c.chunkSig)) {
		return errSignatureMismatch()
	}
	c.prevSig = c.chunkSig
	return nil
}

// finish reads the trailer after the final chunk and checks it, the
// checksums and the decoded length.
func (c *chunkedReader) finish() error {
	trailers := map[string]string{}
	var order []string
	total := 0
	for {
		line, err := c.readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			if e, ok := err.(*Error); ok && e.Code == codeIncompleteBody {
				return &Error{Code: codeMalformedTrailer, Status: http.StatusBadRequest, Message: "The request contained trailing data that was not well-formed."}
			}
			return err
		}
		if total += len(line); total > maxTrailerBytes {
			return &Error{Code: codeMalformedTrailer, Status: http.StatusBadRequest, Message: "The request trailer is too large."}
		}
		if len(line) == 0 {
			if len(trailers) > 0 || len(c.opts.Trailers) == 0 {
				break // the blank line that ends the trailer
			}
			continue // blank line before the trailer lines
		}
		k, v, ok := strings.Cut(string(line), ":")
		if !ok {
			return &Error{Code: codeMalformedTrailer, Status: http.StatusBadRequest, Message: "The request contained trailing data that was not well-formed."}
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := trailers[k]; dup {
			return &Error{Code: codeMalformedTrailer, Status: http.StatusBadRequest, Message: "The trailer " + k + " is repeated."}
		}
		trailers[k] = strings.TrimSpace(v)
		order = append(order, k)
	}
	if c.opts.SignedTrailer {
		if err := c.verifyTrailer(trailers, order); err != nil {
			return err
		}
	}
	for k := range trailers {
		if k != trailerSigName && !slices.Contains(c.opts.Trailers, k) {
			return &Error{Code: codeMalformedTrailer, Status: http.StatusBadRequest, Message: "The trailer " + k + " was not declared in x-amz-trailer."}
		}
	}
	for i := range c.sums {
		v, ok := trailers[c.sums[i].name]
		if !ok {
			return &Error{Code: codeMalformedTrailer, Status: http.StatusBadRequest, Message: "The declared trailer " + c.sums[i].name + " is missing."}
		}
		c.sums[i].want = v
		if err := c.sums[i].verify(); err != nil {
			return err
		}
	}
	if c.opts.DecodedLength >= 0 && c.decoded != c.opts.DecodedLength {
		return &Error{Code: codeIncompleteBody, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("The decoded body has %d bytes; x-amz-decoded-content-length says %d.", c.decoded, c.opts.DecodedLength)}
	}
	return nil
}

// verifyTrailer checks x-amz-trailer-signature, which chains from the
// final chunk's signature over "name:value\n" of every other trailer.
func (c *chunkedReader) verifyTrailer(trailers map[string]string, order []string) error {
	s := c.opts.Signing
	got, ok := trailers[trailerSigName]
	if s == nil || !ok {
		return &Error{Code: codeMalformedTrailer, Status: http.StatusBadRequest, Message: "The trailer has no x-amz-trailer-signature."}
	}
	var b strings.Builder
	for _, k := range order {
		if k != trailerSigName {
			b.WriteString(k + ":" + trailers[k] + "\n")
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	sts := trailerAlg + "\n" + s.AmzDate + "\n" + s.Scope + "\n" + c.prevSig + "\n" + hex.EncodeToString(sum[:])
	want := hex.EncodeToString(hmacSHA256(s.Key, sts))
	if !hmac.Equal([]byte(want), []byte(got)) {
		return errSignatureMismatch()
	}
	return nil
}

// checksum is one x-amz-checksum-* value being verified.
type checksum struct {
	name string // e.g. x-amz-checksum-crc32
	h    hash.Hash
	want string // base64
}

// crc64NVME is the CRC-64/NVME table (reversed polynomial).
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// newChecksum returns the hash for a checksum header or trailer name.
func newChecksum(name string) (hash.Hash, bool) {
	switch strings.TrimPrefix(strings.ToLower(name), checksumPrefix) {
	case "crc32":
		return crc32.NewIEEE(), true
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)), true
	case "crc64nvme":
		return crc64.New(crc64NVME), true
	case "sha1":
		return sha1.New(), true
	case "sha256":
		return sha256.New(), true
	}
	return nil, false
}

func (c checksum) verify() error {
	got := base64.StdEncoding.EncodeToString(c.h.Sum(nil))
	if got != c.want {
		alg := strings.ToUpper(strings.TrimPrefix(c.name, checksumPrefix))
		return &Error{Code: codeBadDigest, Status: http.StatusBadRequest, Message: "The " + alg + " you specified did not match the calculated checksum."}
	}
	return nil
}
