package sigv4

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm      = "AWS4-HMAC-SHA256"
	scopeTerm      = "aws4_request"
	timeFormat     = "20060102T150405Z"
	dateFormat     = "20060102"
	maxPresignLife = 7 * 24 * time.Hour

	headerAuthorization = "Authorization"
	headerAmzDate       = "X-Amz-Date"
	headerDate          = "Date"
	headerSecurityToken = "X-Amz-Security-Token"
	headerContentSHA256 = "X-Amz-Content-Sha256"

	queryAlgorithm     = "X-Amz-Algorithm"
	queryCredential    = "X-Amz-Credential"
	queryDate          = "X-Amz-Date"
	querySignedHeaders = "X-Amz-SignedHeaders"
	querySignature     = "X-Amz-Signature"
	queryExpires       = "X-Amz-Expires"
	querySecurityToken = "X-Amz-Security-Token"
	queryContentSHA256 = "X-Amz-Content-Sha256"
)

// authInfo is what a request claims about its own signature.
type authInfo struct {
	accessKeyID string
	date        string // scope date, YYYYMMDD
	region      string
	service     string
	scope       string // date/region/service/aws4_request

	signedHeaders    []string
	signedHeadersRaw string
	signature        string

	time    time.Time // from X-Amz-Date (or Date)
	amzDate string    // time in ISO-8601 basic format, as used in the string to sign
	token   string    // X-Amz-Security-Token, header or query
	hasTok  bool

	presigned  bool
	expires    time.Duration // presigned only
	hasExpires bool
	query      []queryPair // parsed raw query
	contentSHA string      // X-Amz-Content-Sha256 from the query (presigned only)
}

// credentialScope is the parsed Credential=akid/date/region/service/aws4_request.
type credentialScope struct {
	accessKeyID, date, region, service, term string
}

// parseCredential splits a credential into its five parts.
func parseCredential(s string) (credentialScope, bool) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 {
		return credentialScope{}, false
	}
	return credentialScope{parts[0], parts[1], parts[2], parts[3], parts[4]}, true
}

// headerParams holds the key=value parameters of an Authorization header.
type headerParams struct {
	algorithm                            string
	credential, signedHeaders, signature string
	hasCred, hasSigned, hasSig           bool
}

// parseAuthorizationHeader parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
// Parameters may be separated by commas and/or whitespace, as AWS accepts.
// An algorithm other than AWS4-HMAC-SHA256 that does not look like SigV4 at
// all (e.g. "Bearer ...") yields no parameters, so that the caller reports
// every required parameter as missing, like AWS does.
func parseAuthorizationHeader(h string) (headerParams, *Error) {
	var p headerParams
	s := strings.TrimSpace(h)
	alg, rest := s, ""
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		alg, rest = s[:i], s[i+1:]
	}
	p.algorithm = alg
	if alg != algorithm {
		if strings.HasPrefix(alg, "AWS4-") {
			return p, errIncomplete("Unsupported AWS 'algorithm': '%s'.", alg)
		}
		return p, nil
	}
	fields := strings.FieldsFunc(rest, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t'
	})
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return p, errIncomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", f, h)
		}
		switch k {
		case "Credential":
			p.credential, p.hasCred = v, true
		case "SignedHeaders":
			p.signedHeaders, p.hasSigned = v, true
		case "Signature":
			p.signature, p.hasSig = v, true
		}
	}
	return p, nil
}

// parseAuth extracts the signature information from r, from the
// Authorization header or, when there is none, from a presigned query string.
func parseAuth(r *http.Request) (*authInfo, *Error) {
	h := r.Header.Get(headerAuthorization)
	rawQuery := ""
	if r.URL != nil {
		rawQuery = r.URL.RawQuery
	}
	if h == "" {
		query := parseQuery(rawQuery)
		if _, ok := lookupQuery(query, querySignature); ok {
			return parsePresigned(r, query)
		}
		if _, ok := lookupQuery(query, queryAlgorithm); ok {
			return parsePresigned(r, query)
		}
		return nil, errMissingToken()
	}

	p, perr := parseAuthorizationHeader(h)
	if perr != nil {
		return nil, perr
	}
	amzDate := r.Header.Get(headerAmzDate)
	date := r.Header.Get(headerDate)

	var missing []string
	if !p.hasCred {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !p.hasSig {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if !p.hasSigned {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if amzDate == "" && date == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return nil, errIncomplete("%s Authorization=%s", strings.Join(missing, " "), h)
	}

	a := &authInfo{signature: p.signature}
	if err := a.setTime(amzDate, date); err != nil {
		return nil, err
	}
	if err := a.setSignedHeaders(p.signedHeaders); err != nil {
		return nil, err
	}
	if err := a.setCredential(p.credential); err != nil {
		return nil, err
	}
	if vs := r.Header.Values(headerSecurityToken); len(vs) > 0 {
		a.token, a.hasTok = vs[0], true
	}
	return a, nil
}

// parsePresigned extracts the signature information from a presigned URL.
func parsePresigned(r *http.Request, query []queryPair) (*authInfo, *Error) {
	get := func(k string) (string, bool) { return lookupQuery(query, k) }

	alg, hasAlg := get(queryAlgorithm)
	cred, hasCred := get(queryCredential)
	amzDate, hasDate := get(queryDate)
	signed, hasSigned := get(querySignedHeaders)
	sig, hasSig := get(querySignature)

	var missing []string
	if !hasAlg {
		missing = append(missing, "AWS query-string parameters must include 'X-Amz-Algorithm'.")
	}
	if !hasCred {
		missing = append(missing, "AWS query-string parameters must include 'X-Amz-Credential'.")
	}
	if !hasSig {
		missing = append(missing, "AWS query-string parameters must include 'X-Amz-Signature'.")
	}
	if !hasSigned {
		missing = append(missing, "AWS query-string parameters must include 'X-Amz-SignedHeaders'.")
	}
	if !hasDate {
		missing = append(missing, "AWS query-string parameters must include 'X-Amz-Date'.")
	}
	if len(missing) > 0 {
		return nil, errIncomplete("%s Re-examine the query-string parameters.", strings.Join(missing, " "))
	}
	if alg != algorithm {
		return nil, errIncomplete("X-Amz-Algorithm only supports \"%s\"", algorithm)
	}

	a := &authInfo{signature: sig, presigned: true, query: query}
	if err := a.setTime(amzDate, ""); err != nil {
		return nil, err
	}
	if err := a.setSignedHeaders(signed); err != nil {
		return nil, err
	}
	if err := a.setCredential(cred); err != nil {
		return nil, err
	}
	if v, ok := get(queryExpires); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, errIncomplete("X-Amz-Expires should be a number")
		}
		if n > int64(maxPresignLife/time.Second) {
			return nil, errIncomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800")
		}
		a.expires, a.hasExpires = time.Duration(n)*time.Second, true
	}
	a.token, a.hasTok = get(querySecurityToken)
	a.contentSHA, _ = get(queryContentSHA256)
	return a, nil
}

// setTime parses the request time from X-Amz-Date, or from Date when
// X-Amz-Date is absent.
func (a *authInfo) setTime(amzDate, date string) *Error {
	if amzDate != "" {
		t, err := time.Parse(timeFormat, amzDate)
		if err != nil || len(amzDate) != len(timeFormat) {
			return errIncomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", amzDate)
		}
		a.time = t
	} else {
		t, err := http.ParseTime(date)
		if err != nil {
			return errIncomplete("Date header must be in RFC 1123 format. Got '%s'.", date)
		}
		a.time = t.UTC()
	}
	a.amzDate = a.time.Format(timeFormat)
	return nil
}

// setSignedHeaders records the signed header list; host must be part of it.
// Names must be non-empty and unique (ignoring case): besides being
// meaningless, a repeated name would let a small header list make the
// canonical request arbitrarily large.
func (a *authInfo) setSignedHeaders(s string) *Error {
	a.signedHeadersRaw = s
	a.signedHeaders = strings.Split(s, ";")
	seen := make(map[string]struct{}, len(a.signedHeaders))
	host := false
	for _, name := range a.signedHeaders {
		lname := strings.ToLower(name)
		if _, dup := seen[lname]; dup || name == "" {
			return errIncomplete("SignedHeaders must be a list of unique, non-empty header names separated by ';', got '%s'.", s)
		}
		seen[lname] = struct{}{}
		host = host || lname == "host"
	}
	if !host {
		return errIncomplete("%s", msgHostNotSigned)
	}
	return nil
}

// setCredential validates and records the credential scope.
func (a *authInfo) setCredential(s string) *Error {
	c, ok := parseCredential(s)
	if !ok {
		return errIncomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", s)
	}
	if c.term != scopeTerm {
		return errIncomplete("Credential should be scoped with a valid terminator: '%s', not '%s'.", scopeTerm, c.term)
	}
	if c.region == "" {
		return errIncomplete("Credential should be scoped to a valid region, not '%s'.", c.region)
	}
	if c.service == "" {
		return errIncomplete("Credential should be scoped to a valid service, not '%s'.", c.service)
	}
	a.accessKeyID, a.date, a.region, a.service = c.accessKeyID, c.date, c.region, c.service
	a.scope = c.date + "/" + c.region + "/" + c.service + "/" + scopeTerm
	return nil
}

// Scope parses only the credential scope of the request's Authorization
// header (or, for a presigned URL, of its X-Amz-Credential query parameter),
// so that a server can route by service before reading the body. It does not
// authenticate anything: ok only means the scope is well formed.
func Scope(r *http.Request) (service, region string, ok bool) {
	if r == nil {
		return "", "", false
	}
	var cred string
	if h := r.Header.Get(headerAuthorization); h != "" {
		p, err := parseAuthorizationHeader(h)
		if err != nil || p.algorithm != algorithm || !p.hasCred {
			return "", "", false
		}
		cred = p.credential
	} else {
		if r.URL == nil {
			return "", "", false
		}
		v, found := lookupQuery(parseQuery(r.URL.RawQuery), queryCredential)
		if !found {
			return "", "", false
		}
		cred = v
	}
	c, ok := parseCredential(cred)
	if !ok || c.term != scopeTerm || c.service == "" || c.region == "" {
		return "", "", false
	}
	return c.service, c.region, true
}
