package awsapi

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/signet/signet/internal/sigv4"
)

// RestXML is the REST-XML protocol as S3 speaks it (path-style
// addressing): an error is an <Error> document naming the bucket, key,
// version or upload it concerns, with no body for HEAD, and the
// verifier's and the authorizer's codes in S3's words.
type RestXML struct {
	// ErrorHeaders sets headers an error carries besides its document
	// (S3's x-amz-delete-marker for a key whose latest version is a
	// delete marker).
	ErrorHeaders func(h http.Header, err error)
}

// Select returns "": the service's Router picks the operation.
func (RestXML) Select(*http.Request) string { return "" }

// AuthError keeps e; WriteError renames every error.
func (RestXML) AuthError(e *Error) *Error { return e }

// restXMLRenames renames the JSON protocols' codes (the SigV4 verifier's,
// the authorizer's) to S3's.
var restXMLRenames = map[string]struct {
	code    string
	status  int
	message string // "" keeps the error's
}{
	"MissingAuthenticationTokenException": {"AccessDenied", http.StatusForbidden, "Access Denied"},
	"IncompleteSignatureException":        {"AuthorizationHeaderMalformed", http.StatusBadRequest, ""},
	"InvalidSignatureException":           {"SignatureDoesNotMatch", http.StatusForbidden, ""},
	"UnrecognizedClientException":         {"InvalidAccessKeyId", http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records."},
	"ExpiredTokenException":               {"ExpiredToken", http.StatusBadRequest, "The provided token has expired."},
	"AccessDeniedException":               {"AccessDenied", http.StatusForbidden, ""},
	"InternalServiceErrorException":       {"InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again."},
}

// Rename returns e in S3's words; err, its cause, tells a request
// outside the clock skew (RequestTimeTooSkewed) from another signature
// mismatch.
func (RestXML) Rename(e *Error, err error) *Error {
	var ae *sigv4.Error
	if errors.As(err, &ae) && ae.Skewed {
		return &Error{Code: "RequestTimeTooSkewed", Status: http.StatusForbidden, Message: "The difference between the request time and the current time is too large. " + ae.Message}
	}
	if n, ok := restXMLRenames[e.Code]; ok {
		msg := e.Message
		if n.message != "" {
			msg = n.message
		}
		return &Error{Code: n.code, Status: n.status, Message: msg}
	}
	return e
}

// errorDocument is S3's error response body.
type errorDocument struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	VersionID  string   `xml:"VersionId,omitempty"`
	UploadID   string   `xml:"UploadId,omitempty"`
	RequestID  string   `xml:"RequestId"`
}

// WriteError writes e as S3 does: an <Error> document (no body for HEAD)
// with the bucket or key it concerns.
func (p RestXML) WriteError(w http.ResponseWriter, r *http.Request, e *Error, err error) {
	e = p.Rename(e, err)
	bucket, key := SplitPath(r.URL.Path)
	doc := errorDocument{Code: e.Code, Message: e.Message, RequestID: RequestID(r.Context())}
	switch e.Code {
	case "NoSuchBucket", "BucketNotEmpty", "BucketAlreadyOwnedByYou", "InvalidBucketName":
		doc.BucketName = bucket
	case "NoSuchKey", "KeyTooLongError":
		doc.Key = key
	case "NoSuchVersion", "MethodNotAllowed":
		doc.Key, doc.VersionID = key, r.URL.Query().Get("versionId")
	case "NoSuchUpload":
		doc.UploadID = r.URL.Query().Get("uploadId")
	}
	h := w.Header()
	if p.ErrorHeaders != nil && err != nil {
		p.ErrorHeaders(h, err)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	body, merr := MarshalXML(doc)
	if merr != nil {
		w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}

// SplitPath splits a path-style request path into bucket and key.
func SplitPath(p string) (bucket, key string) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

// MarshalXML renders v after the XML declaration.
func MarshalXML(v any) ([]byte, error) {
	b, err := xml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("failed to encode response: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}

// WriteXML writes a 200 response with v as an XML document.
func WriteXML(w http.ResponseWriter, v any) error {
	body, err := MarshalXML(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}
