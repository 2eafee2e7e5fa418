package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net/http"
	"sync"
	"time"

	corerevocation "github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/result"
	"golang.org/x/crypto/ocsp"
)

// OCSPCache is an http.RoundTripper for OCSP requests that keeps each
// successful answer in memory until its nextUpdate, as an OCSP client may
// (RFC 6960 §4.2.2.1): a long-lived verifier (repeated verifications in
// one process) then asks a responder once per certificate and period.
// Answers without a nextUpdate, and failures, are not kept.
type OCSPCache struct {
	Next http.RoundTripper // nil: http.DefaultTransport
	Now  func() time.Time  // nil: time.Now

	mu      sync.Mutex
	entries map[string]ocspEntry
}

type ocspEntry struct {
	body    []byte
	header  http.Header
	expires time.Time
}

func (c *OCSPCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// RoundTrip implements http.RoundTripper.
func (c *OCSPCache) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		// A RoundTripper must not change the caller's request.
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	key := req.Method + " " + req.URL.String() + "\x00" + string(reqBody)
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok && !c.now().Before(e.expires) {
		delete(c.entries, key)
		ok = false
	}
	c.mu.Unlock()
	use, _ := req.Context().Value(ocspUseKey{}).(*ocspUse)
	if ok {
		use.record(e.expires, true)
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: e.header.Clone(), Body: io.NopCloser(bytes.NewReader(e.body)),
			ContentLength: int64(len(e.body)), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
	}
	next := c.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		use.record(time.Time{}, false)
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if r, err := ocsp.ParseResponse(body, nil); err == nil && !r.NextUpdate.IsZero() && c.now().Before(r.NextUpdate) {
		c.mu.Lock()
		if c.entries == nil {
			c.entries = map[string]ocspEntry{}
		}
		c.entries[key] = ocspEntry{body: body, header: resp.Header.Clone(), expires: r.NextUpdate}
		c.mu.Unlock()
		use.record(r.NextUpdate, true)
	} else {
		use.record(time.Time{}, false)
	}
	return resp, nil
}

// ocspUse records, for one revocation check, the OCSP answers an
// OCSPCache served: whether all could be kept, and the earliest
// nextUpdate among them.
type ocspUse struct {
	mu       sync.Mutex
	n        int
	keepable bool
	expires  time.Time
}

type ocspUseKey struct{}

func (u *ocspUse) record(expires time.Time, keepable bool) {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n == 0 {
		u.keepable = true
	}
	u.n++
	u.keepable = u.keepable && keepable
	if keepable && (u.expires.IsZero() || expires.Before(u.expires)) {
		u.expires = expires
	}
}

// RevocationMemo is a revocation validator that keeps the results of a
// chain (and signing time) for as long as the OCSP answers they rest on
// stay fresh: until the earliest nextUpdate among them. It is the same
// answer the inner validator would give again from an OCSPCache's kept
// answers, without checking their signatures anew. The inner validator's
// OCSP requests must go through an OCSPCache; results that rest on CRLs,
// on an answer that could not be kept, or that are unknown, are not kept.
type RevocationMemo struct {
	Inner corerevocation.Validator
	Now   func() time.Time // nil: time.Now

	mu sync.Mutex
	m  map[[32]byte]memoEntry
}

type memoEntry struct {
	results []*result.CertRevocationResult
	expires time.Time
}

// ValidateContext implements revocation.Validator.
func (m *RevocationMemo) ValidateContext(ctx context.Context, opts corerevocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	h := sha256.New()
	for _, c := range opts.CertChain {
		sum := sha256.Sum256(c.Raw)
		h.Write(sum[:])
	}
	binary.Write(h, binary.BigEndian, opts.AuthenticSigningTime.UnixNano())
	var key [32]byte
	h.Sum(key[:0])
	m.mu.Lock()
	e, ok := m.m[key]
	m.mu.Unlock()
	if ok && now().Before(e.expires) {
		return e.results, nil
	}
	use := &ocspUse{}
	results, err := m.Inner.ValidateContext(context.WithValue(ctx, ocspUseKey{}, use), opts)
	if err != nil || use.n == 0 || !use.keepable || !now().Before(use.expires) {
		return results, err
	}
	for i, r := range results {
		last := i == len(results)-1
		switch {
		case r.RevocationMethod == result.RevocationMethodOCSP && (r.Result == result.ResultOK || r.Result == result.ResultRevoked):
		case last && r.Result == result.ResultNonRevokable:
		default:
			return results, err
		}
	}
	expires := use.expires
	for _, c := range opts.CertChain {
		if c.NotAfter.Before(expires) {
			expires = c.NotAfter
		}
	}
	m.mu.Lock()
	if m.m == nil || len(m.m) >= maxCached {
		m.m = map[[32]byte]memoEntry{}
	}
	m.m[key] = memoEntry{results, expires}
	m.mu.Unlock()
	return results, nil
}
