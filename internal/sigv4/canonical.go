package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// queryPair is one name=value pair of a raw query string, decoded and
// re-encoded in the SigV4 canonical form.
type queryPair struct {
	key, value       string // decoded
	encKey, encValue string // RFC 3986 encoded
}

// parseQuery splits a raw query string into pairs, keeping repeated keys and
// their order. Components that are not valid percent-encoding are kept as
// sent. Unlike url.ParseQuery, semicolons are ordinary characters.
func parseQuery(raw string) []queryPair {
	if raw == "" {
		return nil
	}
	pairs := make([]queryPair, 0, strings.Count(raw, "&")+1)
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, dv := queryUnescape(k), queryUnescape(v)
		pairs = append(pairs, queryPair{key: dk, value: dv, encKey: uriEncode(dk, true), encValue: uriEncode(dv, true)})
	}
	return pairs
}

func queryUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// lookupQuery returns the first value of the decoded key.
func lookupQuery(pairs []queryPair, key string) (string, bool) {
	for _, p := range pairs {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// canonicalQuery sorts the encoded pairs by key, then value, and joins them.
// skip names a (decoded) key to leave out: X-Amz-Signature for presigned URLs.
func canonicalQuery(pairs []queryPair, skip string) string {
	sorted := make([]queryPair, 0, len(pairs))
	for _, p := range pairs {
		if skip != "" && p.key == skip {
			continue
		}
		sorted = append(sorted, p)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].encKey != sorted[j].encKey {
			return sorted[i].encKey < sorted[j].encKey
		}
		return sorted[i].encValue < sorted[j].encValue
	})
	var b strings.Builder
	for i, p := range sorted {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.encKey)
		b.WriteByte('=')
		b.WriteString(p.encValue)
	}
	return b.String()
}

// uriEncode percent-encodes every byte outside the RFC 3986 unreserved set
// (A-Z a-z 0-9 - _ . ~) with uppercase hex. '/' is kept when encodeSlash is
// false.
func uriEncode(s string, encodeSlash bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && (encodeSlash || s[i] != '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexUpper = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (!encodeSlash && c == '/') {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// wirePath returns the request path as the client sent it. The request line
// (RequestURI) is preferred when it still describes r.URL, because it is
// byte for byte what the client signed; r.URL.EscapedPath is the fallback
// (requests built in code, or a URL rewritten by a handler).
func wirePath(r *http.Request) string {
	if rp := r.RequestURI; strings.HasPrefix(rp, "/") && r.URL != nil {
		if i := strings.IndexByte(rp, '?'); i >= 0 {
			rp = rp[:i]
		}
		if p, err := url.PathUnescape(rp); err == nil && p == r.URL.Path {
			return rp
		}
	}
	p := ""
	if r.URL != nil {
		p = r.URL.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

// canonicalURIs returns the canonical URI candidates for the request, best
// first. S3 uses the path as sent. Every other service encodes the sent
// (already escaped) path once more; clients built on botocore (the AWS CLI)
// also remove dot segments and empty segments before doing so, which
// aws-sdk-go-v2 does not, so that form is a second candidate when it differs.
func canonicalURIs(r *http.Request, service string) []string {
	p := wirePath(r)
	if service == "s3" {
		return []string{p}
	}
	uris := []string{uriEncode(p, false)}
	if n := removeDotSegments(p); n != p {
		uris = append(uris, uriEncode(n, false))
	}
	return uris
}

// removeDotSegments normalises a path the way botocore does before signing:
// "." and empty segments are dropped, ".." removes the previous segment, and a
// trailing slash is kept.
func removeDotSegments(p string) string {
	if p == "" {
		return "/"
	}
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	if p[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if p[len(p)-1] == '/' && len(out) > 0 {
		b.WriteByte('/')
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// canonicalHeaders renders the headers named in the client's SignedHeaders
// list, in that order, as "name:value\n" lines. Values are trimmed, runs of
// spaces are collapsed, and repeated headers are joined with commas.
func canonicalHeaders(b *strings.Builder, r *http.Request, names []string, bodyLen int) {
	for _, name := range names {
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range signedHeaderValues(r, name, bodyLen) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimHeaderValue(v))
		}
		b.WriteByte('\n')
	}
}

// signedHeaderValues returns the values of one signed header. net/http moves
// Host (and Transfer-Encoding) out of the header map, and requests built in
// code have no Content-Length header, so those come from the request fields.
func signedHeaderValues(r *http.Request, name string, bodyLen int) []string {
	lname := strings.ToLower(name)
	switch lname {
	case "host":
		h := r.Host
		if h == "" && r.URL != nil {
			h = r.URL.Host
		}
		return []string{h}
	case "content-length":
		if vs := r.Header.Values("Content-Length"); len(vs) > 0 {
			return vs
		}
		return []string{strconv.Itoa(bodyLen)}
	case "transfer-encoding":
		if vs := r.Header.Values("Transfer-Encoding"); len(vs) > 0 {
			return vs
		}
		return []string{strings.Join(r.TransferEncoding, ",")}
	}
	if vs := r.Header.Values(name); len(vs) > 0 {
		return vs
	}
	// Header keys set directly in the map (not canonicalised) are still found.
	for k, vs := range r.Header {
		if strings.EqualFold(k, name) {
			return vs
		}
	}
	return nil
}

// trimHeaderValue trims surrounding whitespace and collapses runs of spaces.
func trimHeaderValue(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b = append(b, v[i])
	}
	return string(b)
}

// canonicalRequest assembles the SigV4 canonical request.
func canonicalRequest(r *http.Request, a *authInfo, uri, query, payloadHash string, bodyLen int) string {
	var b strings.Builder
	b.Grow(512)
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	canonicalHeaders(&b, r, a.signedHeaders, bodyLen)
	b.WriteByte('\n')
	b.WriteString(a.signedHeadersRaw)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// stringToSign builds the string to sign for a canonical request.
func stringToSign(a *authInfo, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return algorithm + "\n" + a.amzDate + "\n" + a.scope + "\n" + hex.EncodeToString(sum[:])
}

// signingKey derives the SigV4 signing key for the request's scope.
func signingKey(secret string, a *authInfo) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), a.date)
	k = hmacSHA256(k, a.region)
	k = hmacSHA256(k, a.service)
	return hmacSHA256(k, scopeTerm)
}

// signature computes the hex signature of a canonical request.
func signature(key []byte, a *authInfo, canonical string) string {
	return hex.EncodeToString(hmacSHA256(key, stringToSign(a, canonical)))
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// expectedSignatures computes the signature for every canonical URI candidate.
func expectedSignatures(r *http.Request, a *authInfo, secret, payloadHash string, bodyLen int) []string {
	var query string
	if a.presigned {
		query = canonicalQuery(a.query, querySignature)
	} else if r.URL != nil {
		query = canonicalQuery(parseQuery(r.URL.RawQuery), "")
	}
	key := signingKey(secret, a)
	uris := canonicalURIs(r, a.service)
	sigs := make([]string, 0, len(uris))
	for _, uri := range uris {
		sigs = append(sigs, signature(key, a, canonicalRequest(r, a, uri, query, payloadHash, bodyLen)))
	}
	return sigs
}
