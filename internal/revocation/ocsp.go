package revocation

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/signet/signet/internal/signing"
)

// Responder answers OCSP requests; signing.Service implements it.
type Responder interface {
	// OCSP answers the DER request der sent to the responder at path (the
	// URL path after "/ocsp/"): a DER response, or a *signing.OCSPError
	// whose Response is sent instead.
	OCSP(ctx context.Context, path string, der []byte) ([]byte, error)
}

var _ Responder = (*signing.Service)(nil)

// OCSPHandler serves RFC 6960 OCSP over http for the responders under
// /ocsp/ (see signing.Service.OCSP):
//
//	POST /ocsp/KIND/NAME/VERSION            body: application/ocsp-request
//	GET  /ocsp/KIND/NAME/VERSION/BASE64REQ  the request, base64, URL-escaped
//
// Requests larger than signing.MaxOCSPRequest, and requests that do not
// parse, are answered 200 with the malformedRequest status; the detail
// goes only to log.
func OCSPHandler(r Responder, log *slog.Logger) http.Handler {
	h := ocspHandler{r, log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ocsp/{kind}/{name}/{version}", h.post)
	mux.HandleFunc("GET /ocsp/{kind}/{name}/{version}/{req...}", h.get)
	return mux
}

type ocspHandler struct {
	r   Responder
	log *slog.Logger
}

func (h ocspHandler) post(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.EqualFold(strings.TrimSpace(strings.Split(ct, ";")[0]), "application/ocsp-request") {
		h.answer(w, r, nil, &signing.OCSPError{Status: ocsp.Malformed, Err: errors.New("content type " + ct + " is not application/ocsp-request")})
		return
	}
	der, err := io.ReadAll(io.LimitReader(r.Body, signing.MaxOCSPRequest+1))
	if err != nil {
		h.answer(w, r, nil, &signing.OCSPError{Status: ocsp.Malformed, Err: err})
		return
	}
	h.serve(w, r, der)
}

func (h ocspHandler) get(w http.ResponseWriter, r *http.Request) {
	// PathValue is unescaped; base64's '+' and '/' arrive escaped or not.
	enc := r.PathValue("req")
	if base64.StdEncoding.DecodedLen(len(enc)) > signing.MaxOCSPRequest+3 {
		h.answer(w, r, nil, &signing.OCSPError{Status: ocsp.Malformed, Err: errors.New("request too large")})
		return
	}
	der, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		h.answer(w, r, nil, &signing.OCSPError{Status: ocsp.Malformed, Err: err})
		return
	}
	h.serve(w, r, der)
}

func (h ocspHandler) serve(w http.ResponseWriter, r *http.Request, der []byte) {
	path := r.PathValue("kind") + "/" + r.PathValue("name") + "/" + r.PathValue("version")
	resp, err := h.r.OCSP(r.Context(), path, der)
	h.answer(w, r, resp, err)
}

func (h ocspHandler) answer(w http.ResponseWriter, r *http.Request, resp []byte, err error) {
	if err != nil {
		var oe *signing.OCSPError
		if !errors.As(err, &oe) {
			oe = &signing.OCSPError{Status: ocsp.InternalError, Err: err} // internalError
		}
		level := slog.LevelDebug
		if oe.Status == ocsp.InternalError {
			level = slog.LevelError
		}
		if h.log != nil {
			h.log.Log(r.Context(), level, "OCSP request refused", "path", r.URL.Path, "status", oe.Status.String(), "err", oe.Err)
		}
		resp = oe.Response()
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	// No http cache may answer for the responder: a revocation must be
	// seen on the next request. The server's own cache is cleared by it.
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(resp)
}

// LocalOCSP is an http.RoundTripper that answers OCSP requests with h in
// process (for a server checking its own signatures without a network
// round trip to its public URL). Requests whose path does not start
// with /ocsp/ fail.
type LocalOCSP struct{ Handler http.Handler }

// RoundTrip implements http.RoundTripper.
func (l LocalOCSP) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	if !strings.HasPrefix(r.URL.Path, "/ocsp/") {
		return nil, errors.New("not an OCSP responder of this server: " + r.URL.String())
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	l.Handler.ServeHTTP(rec, r)
	return &http.Response{
		Status: http.StatusText(rec.code), StatusCode: rec.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), ContentLength: int64(rec.body.Len()), Request: r,
	}, nil
}

// recorder is the minimal http.ResponseWriter LocalOCSP needs.
type recorder struct {
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}

// ocspTimeout bounds one OCSP request over the network, as notation does.
const ocspTimeout = 2 * time.Second
