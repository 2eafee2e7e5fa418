package signedzip

import (
	"archive/zip"
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"testing"
)

// TestTamper changes every byte of signed packages: each byte of the end
// record and the trailer to all 255 other values, every other byte by
// three bit patterns. Each change must make Open fail, or change the
// recovered unsigned package's SHA-384 or the envelope: none may give back
// the same digest and envelope, so every byte is covered.
func TestTamper(t *testing.T) {
	u := functionZip(t, "release 1.2.3")
	cases := map[string]struct {
		envelope []byte
		typ      EnvelopeType
	}{
		"ok/jws":  {jwsEnvelope(1000, 1), JWS},
		"ok/cose": {coseEnvelope(1200, 2), COSE},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := embed(t, u, c.envelope, c.typ)
			labels := regions(t, u, len(s), len(c.envelope))
			wantDigest := sha512.Sum384(u)
			type tally struct{ positions, changes, openFailed, digestChanged, envelopeChanged int }
			tallies := map[string]*tally{}
			mut := bytes.Clone(s)
			for pos := range s {
				label := labels[pos]
				tl := tallies[label]
				if tl == nil {
					tl = &tally{}
					tallies[label] = tl
				}
				tl.positions++
				var values []byte
				if label == "end-record" || label == "trailer" {
					for v := range 256 {
						if byte(v) != s[pos] {
							values = append(values, byte(v))
						}
					}
				} else {
					values = []byte{s[pos] ^ 0x01, s[pos] ^ 0x80, s[pos] ^ 0xff}
				}
				for _, v := range values {
					mut[pos] = v
					tl.changes++
					signed, err := Open(bytes.NewReader(mut), int64(len(mut)))
					switch {
					case err != nil:
						tl.openFailed++
					case digest(t, signed.Unsigned) != wantDigest:
						tl.digestChanged++
					case !bytes.Equal(signed.Envelope, c.envelope):
						tl.envelopeChanged++
					default:
						t.Errorf("byte %d (%s) %#02x -> %#02x: Open gives the same digest and envelope (type %v)",
							pos, label, s[pos], v, signed.Type)
					}
				}
				mut[pos] = s[pos]
			}
			if len(s) < 1000 {
				t.Errorf("only %d positions", len(s))
			}
			for _, label := range []string{"local-header", "file-data", "central-directory", "end-record", "comment", "envelope", "trailer"} {
				tl := tallies[label]
				if tl == nil {
					t.Errorf("no byte of region %s changed", label)
					continue
				}
				t.Logf("%-17s %5d bytes %6d changes: Open failed %6d, digest changed %5d, envelope changed %5d",
					label, tl.positions, tl.changes, tl.openFailed, tl.digestChanged, tl.envelopeChanged)
			}
		})
	}
}

// regions labels each byte of the signed package made from u with an
// envelope of envelopeLen bytes.
func regions(t *testing.T, u []byte, size, envelopeLen int) []string {
	t.Helper()
	info, err := Check(bytes.NewReader(u), int64(len(u)))
	if err != nil {
		t.Fatal(err)
	}
	eocd := int(info.CommentOffset) - eocdLen
	cd := int(binary.LittleEndian.Uint32(u[eocd+16:]))
	labels := make([]string, size)
	for i := range labels {
		switch {
		case i < cd:
			labels[i] = "local-header"
		case i < eocd:
			labels[i] = "central-directory"
		case i < eocd+eocdLen:
			labels[i] = "end-record"
		case i < len(u):
			labels[i] = "comment"
		case i < len(u)+envelopeLen:
			labels[i] = "envelope"
		default:
			labels[i] = "trailer"
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(u), int64(len(u)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		for i := range int(f.CompressedSize64) {
			labels[int(off)+i] = "file-data"
		}
	}
	return labels
}
