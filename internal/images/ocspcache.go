package images

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"

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
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	key := req.Method + " " + req.URL.String() + "\x00" + string(reqBody)
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok && !c.now().Before(e.expires) {
		delete(c.entries, key)
		ok = false
	}
	c.mu.Unlock()
	if ok {
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: e.header.Clone(), Body: io.NopCloser(bytes.NewReader(e.body)),
			ContentLength: int64(len(e.body)), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
	}
	next := c.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
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
	}
	return resp, nil
}
