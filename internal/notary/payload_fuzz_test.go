package notary

import (
	"maps"
	"testing"
)

// FuzzParsePayload checks that the payload parser never panics and that
// what it accepts survives a round trip through Payload.
func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"targetArtifact":{"mediaType":"application/zip","digest":"sha384:00","size":1}}`))
	f.Add([]byte(`{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:ab","size":0,"annotations":{"a":"b"}}}`))
	f.Add([]byte(`{"targetArtifact":{"mediaType":"x","digest":"y","size":-1}}`))
	f.Add([]byte(`{"targetArtifact":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParsePayload(b)
		if err != nil {
			return
		}
		if d.MediaType == "" || d.Digest == "" || d.Size < 0 {
			t.Fatalf("accepted %+v", d)
		}
		again, err := Payload(d)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := ParsePayload(again)
		if err != nil || d2.MediaType != d.MediaType || d2.Digest != d.Digest || d2.Size != d.Size || !maps.Equal(d2.Annotations, d.Annotations) {
			t.Fatalf("round trip of %+v = %+v, %v", d, d2, err)
		}
	})
}
