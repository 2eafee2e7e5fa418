package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Payload hashes S3 clients declare in X-Amz-Content-Sha256.
const (
	streamingSigned        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsigned      = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

	headerDecodedLength = "X-Amz-Decoded-Content-Length"
	headerTrailer       = "X-Amz-Trailer"
	checksumPrefix      = "x-amz-checksum-"
)

// PayloadKind is how an S3 request's body is authenticated.
type PayloadKind int

const (
	// PayloadUnsigned: UNSIGNED-PAYLOAD (or a presigned URL); the body
	// is not covered by the signature.
	PayloadUnsigned PayloadKind = iota
	// PayloadSHA256: X-Amz-Content-Sha256 is the hex SHA-256 of the body.
	PayloadSHA256
	// PayloadChunkedSigned: STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER],
	// an aws-chunked body whose every chunk is signed.
	PayloadChunkedSigned
	// PayloadChunkedUnsigned: STREAMING-UNSIGNED-PAYLOAD-TRAILER, an
	// aws-chunked body with a checksum trailer and no chunk signatures.
	PayloadChunkedUnsigned
)

// PayloadCheck says what must be verified while a request body, not read
// by VerifyStreaming, streams through the handler. Reader applies it.
type PayloadCheck struct {
	Kind PayloadKind
	// SHA256 is the lowercase hex SHA-256 the body must have
	// (PayloadSHA256).
	SHA256 string
	// Signing verifies the chunk signatures (PayloadChunkedSigned).
	Signing *ChunkSigning
	// SignedTrailer is set when the trailer is signed too
	// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER).
	SignedTrailer bool
	// DecodedLength is X-Amz-Decoded-Content-Length for aws-chunked
	// bodies, -1 when absent; otherwise the request's Content-Length.
	DecodedLength int64
	// Trailers are the trailer names X-Amz-Trailer declares, lowercased.
	Trailers []string
	// Checksums are the x-amz-checksum-* request headers of a plain body,
	// by lowercase name, which the body must match.
	Checksums map[string]string
}

// Chunked reports whether the body is aws-chunked.
func (p *PayloadCheck) Chunked() bool {
	return p.Kind == PayloadChunkedSigned || p.Kind == PayloadChunkedUnsigned
}

// Reader wraps a request body so that reading it verifies it: the hex
// SHA-256, the chunk signatures and the checksums. An aws-chunked body is
// decoded, so the reader yields the object's bytes. A failed check is an
// *Error returned instead of io.EOF (or of the data of a bad chunk), so a
// consumer that stores what it reads must discard it on any error.
func (p *PayloadCheck) Reader(body io.Reader) io.Reader {
	switch p.Kind {
	case PayloadChunkedSigned, PayloadChunkedUnsigned:
		return NewChunkedReader(body, ChunkedOptions{Signing: p.Signing, SignedTrailer: p.SignedTrailer, Trailers: p.Trailers, DecodedLength: p.DecodedLength})
	}
	r := &verifyingReader{r: body}
	if p.Kind == PayloadSHA256 {
		r.sha, r.wantSHA = sha256.New(), p.SHA256
	}
	for name, want := range p.Checksums {
		h, ok := newChecksum(name)
		if !ok {
			r.err = &Error{Code: codeInvalidRequest, Status: http.StatusBadRequest, Message: "Unsupported checksum header " + name + "."}
			break
		}
		r.sums = append(r.sums, checksum{name: name, h: h, want: want})
	}
	if r.sha == nil && len(r.sums) == 0 && r.err == nil {
		return body
	}
	return r
}

// verifyingReader checks a plain body's SHA-256 and checksums at EOF.
type verifyingReader struct {
	r       io.Reader
	sha     hash.Hash
	wantSHA string
	sums    []checksum
	err     error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	if v.sha != nil {
		v.sha.Write(p[:n])
	}
	for _, c := range v.sums {
		c.h.Write(p[:n])
	}
	if err == io.EOF {
		if v.sha != nil && hex.EncodeToString(v.sha.Sum(nil)) != v.wantSHA {
			v.err = &Error{Code: codeContentSHA256Mismatch, Status: http.StatusBadRequest, Message: msgContentSHA256}
			return n, v.err
		}
		for _, c := range v.sums {
			if err := c.verify(); err != nil {
				v.err = err
				return n, err
			}
		}
	}
	return n, err
}

// VerifyStreaming authenticates an S3 request without reading its body:
// the signature covers the payload hash the client declared in
// X-Amz-Content-Sha256, and the returned PayloadCheck says how to verify
// the body against it while it streams (see PayloadCheck.Reader).
// Failures are *Error values, as Verify's are.
func (v *Verifier) VerifyStreaming(r *http.Request) (*Result, *PayloadCheck, error) {
	a, cred, err := v.authenticate(r)
	if err != nil {
		return nil, nil, err
	}
	hash, check, perr := streamingPayload(r, a)
	if perr != nil {
		return nil, nil, perr
	}
	bodyLen := max(r.ContentLength, 0)
	if err := checkSignature(r, a, cred, hash, int(bodyLen)); err != nil {
		return nil, nil, err
	}
	if check == nil {
		return nil, nil, errNotImplemented("Streaming payloads (x-amz-content-sha256: " + hash + ") are not supported.")
	}
	if check.Kind == PayloadChunkedSigned {
		check.Signing = &ChunkSigning{Key: signingKey(cred.SecretAccessKey, a), AmzDate: a.amzDate, Scope: a.scope, Seed: a.signature}
	}
	return &Result{Credential: cred, Service: a.service, Region: a.region, Time: a.time}, check, nil
}

// streamingPayload returns the payload hash to sign with and how to check
// the body; a nil check with no error means an unsupported STREAMING-*
// value, refused once the seed signature is verified.
func streamingPayload(r *http.Request, a *authInfo) (string, *PayloadCheck, *Error) {
	v := r.Header.Get(headerContentSHA256)
	if v == "" && a.presigned {
		v = a.contentSHA
	}
	check := &PayloadCheck{DecodedLength: r.ContentLength}
	switch {
	case v == "" && a.presigned:
		return unsignedPayload, check, nil
	case v == "":
		return "", nil, &Error{Code: codeInvalidRequest, Status: http.StatusBadRequest, Message: "Missing required header for this request: x-amz-content-sha256"}
	case v == unsignedPayload:
	case isHexSHA256(v):
		check.Kind, check.SHA256 = PayloadSHA256, strings.ToLower(v)
	case v == streamingSigned, v == streamingSignedTrailer, v == streamingUnsigned:
		check.Kind = PayloadChunkedSigned
		if v == streamingUnsigned {
			check.Kind = PayloadChunkedUnsigned
		}
		check.SignedTrailer = v == streamingSignedTrailer
		check.DecodedLength = -1
		if s := r.Header.Get(headerDecodedLength); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return "", nil, &Error{Code: codeInvalidArgument, Status: http.StatusBadRequest, Message: "x-amz-decoded-content-length must be a non-negative integer, got '" + s + "'."}
			}
			check.DecodedLength = n
		}
		for _, t := range strings.Split(r.Header.Get(headerTrailer), ",") {
			if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
				check.Trailers = append(check.Trailers, t)
			}
		}
		return v, check, nil
	case strings.HasPrefix(v, streamingPrefix):
		return v, nil, nil
	default:
		return "", nil, &Error{Code: codeInvalidArgument, Status: http.StatusBadRequest, Message: msgBadContentSHA256}
	}
	for name, vals := range r.Header {
		lname := strings.ToLower(name)
		if _, known := newChecksum(lname); known && len(vals) > 0 {
			if check.Checksums == nil {
				check.Checksums = map[string]string{}
			}
			check.Checksums[lname] = vals[0]
		}
	}
	return v, check, nil
}
