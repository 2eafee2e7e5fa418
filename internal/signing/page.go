package signing

import (
	"encoding/base64"
	"fmt"
)

// MaxPageSize is the largest maxResults the Signer API accepts.
const MaxPageSize = 25

func pageSize(n int) (int, error) {
	switch {
	case n == 0:
		return MaxPageSize, nil
	case n < 1 || n > MaxPageSize:
		return 0, validationError("maxResults", fmt.Sprint(n), fmt.Sprintf("must be between 1 and %d", MaxPageSize))
	}
	return n, nil
}

// Page tokens are opaque to clients: the base64url of "v1:" + the last key.
func encodeToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + last))
}

func decodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	// Base64 decoding skips CR and LF; a token must be exactly what
	// encodeToken produced.
	if err != nil || len(b) < 3 || string(b[:3]) != "v1:" || base64.RawURLEncoding.EncodeToString(b) != tok {
		return "", newError(ErrInvalid, "nextToken is not valid; pass the nextToken of the previous page unchanged")
	}
	return string(b[3:]), nil
}
