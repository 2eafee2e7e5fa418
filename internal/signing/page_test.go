package signing

import "testing"

func FuzzDecodeToken(f *testing.F) {
	f.Add(encodeToken("signing_profile"))
	f.Add("")
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, tok string) {
		after, err := decodeToken(tok)
		if err != nil {
			return
		}
		if tok != "" && encodeToken(after) != tok {
			t.Fatalf("token %q decodes to %q which encodes to %q", tok, after, encodeToken(after))
		}
	})
}
