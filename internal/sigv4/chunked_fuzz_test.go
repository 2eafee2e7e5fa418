package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
)

// fuzzSigning is the chunk-signing context of the fuzz target (AWS's
// example key and scope with the example's seed).
func fuzzSigning() *ChunkSigning {
	key := hmacSHA256(hmacSHA256(hmacSHA256(hmacSHA256([]byte("AWS4"+awsExampleSecret), "20130524"), "us-east-1"), "s3"), scopeTerm)
	return &ChunkSigning{Key: key, AmzDate: awsExampleDate, Scope: awsExampleScope, Seed: awsExampleSeed}
}

// encodeChunked encodes data as aws-chunked in chunks of n bytes, signed
// when s is set, with a CRC32 trailer when crcTrailer is set.
func encodeChunked(data []byte, n int, s *ChunkSigning, crcTrailer bool) []byte {
	var b bytes.Buffer
	prev := ""
	if s != nil {
		prev = s.Seed
	}
	sign := func(chunk []byte) string {
		if s == nil {
			return ""
		}
		sum := sha256.Sum256(chunk)
		prev = hex.EncodeToString(hmacSHA256(s.Key, chunkAlgorithm+"\n"+s.AmzDate+"\n"+s.Scope+"\n"+prev+"\n"+emptySHA256+"\n"+hex.EncodeToString(sum[:])))
		return ";chunk-signature=" + prev
	}
	crc := crc32.ChecksumIEEE(data)
	for rest := data; len(rest) > 0; {
		c := rest[:min(n, len(rest))]
		rest = rest[len(c):]
		fmt.Fprintf(&b, "%x%s\r\n", len(c), sign(c))
		b.Write(c)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "0%s\r\n", sign(nil))
	if crcTrailer {
		fmt.Fprintf(&b, "x-amz-checksum-crc32:%s\r\n", base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)}))
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// FuzzChunkedReader decodes arbitrary bodies as unsigned and as signed
// aws-chunked (it must never panic, and must fail only with *Error), and
// round-trips (the first 4 KiB of) the input as a payload: encoded in chunks of 1 + chunk%97
// bytes, signed or not, it must decode to itself, and a flipped byte in a
// signed encoding must be refused.
func FuzzChunkedReader(f *testing.F) {
	f.Add([]byte("b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"), uint8(4))
	f.Add(encodeChunked([]byte("hello, signed world"), 8, fuzzSigning(), false), uint8(96))
	f.Add([]byte("0\r\n\r\n"), uint8(0))
	f.Add([]byte("ffffffffffffffff\r\n"), uint8(1))
	f.Add([]byte("5;chunk-signature=\r\nhello\r\n0;chunk-signature=x\r\n\r\n"), uint8(2))
	crc := []string{"x-amz-checksum-crc32"}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		for _, opts := range []ChunkedOptions{
			{DecodedLength: -1},
			{Trailers: crc, DecodedLength: -1},
			{Signing: fuzzSigning(), DecodedLength: -1},
		} {
			got, err := io.ReadAll(NewChunkedReader(bytes.NewReader(data), opts))
			var e *Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not *Error", err, err)
			}
			if err == nil && len(got) > len(data) {
				t.Fatalf("decoded %d bytes from %d", len(got), len(data))
			}
		}
		n := 1 + int(chunk)%97
		if len(data) > 4096 {
			data = data[:4096] // keep the signed round trip fast
		}
		for _, s := range []*ChunkSigning{nil, fuzzSigning()} {
			enc := encodeChunked(data, n, s, true)
			got, err := io.ReadAll(NewChunkedReader(bytes.NewReader(enc), ChunkedOptions{Signing: s, Trailers: crc, DecodedLength: int64(len(data))}))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("round trip (chunk %d, signed %v): %d bytes, %v; want %d", n, s != nil, len(got), err, len(data))
			}
			if s != nil && len(data) > 0 {
				i := bytes.Index(enc, []byte("\r\n")) + 2 // first data byte
				enc[i] ^= 0x01
				if _, err := io.ReadAll(NewChunkedReader(bytes.NewReader(enc), ChunkedOptions{Signing: s, Trailers: crc, DecodedLength: int64(len(data))})); err == nil {
					t.Fatal("a flipped data byte was accepted")
				}
			}
		}
	})
}
