package awsapi

import (
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"github.com/signet/signet/internal/errs"
)

// Query is the AWS Query protocol (IAM, STS): form-encoded requests whose
// Action picks the operation, XML responses in the service's namespace.
type Query struct {
	Namespace string // e.g. https://iam.amazonaws.com/doc/2010-05-08/
}

// Select returns the form's Action.
func (Query) Select(r *http.Request) string {
	r.ParseForm()
	return r.Form.Get("Action")
}

// AuthError renames the verifier's codes to the Query protocol's.
func (Query) AuthError(e *Error) *Error {
	if c, ok := queryAuthCodes[e.Code]; ok {
		return &Error{Code: c, Status: e.Status, Message: e.Message, Reason: e.Reason}
	}
	return e
}

// WriteError writes an ErrorResponse document.
func (q Query) WriteError(w http.ResponseWriter, r *http.Request, e *Error, _ error) {
	writeQueryError(w, r, q.Namespace, e)
}

// Write writes ACTIONResponse { result, ResponseMetadata }.
func (q Query) Write(w http.ResponseWriter, r *http.Request, action string, result any) error {
	return writeQuery(w, r, q.Namespace, action, result)
}

// queryAuthCodes renames the SigV4 verifier's codes (the JSON protocols'
// names) to those IAM and STS answer an unauthenticated request with.
var queryAuthCodes = map[string]string{
	"UnrecognizedClientException":         "InvalidClientTokenId",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"ExpiredTokenException":               "ExpiredToken",
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"IncompleteSignatureException":        "IncompleteSignature",
	"InternalServiceErrorException":       "InternalFailure",
	"RequestEntityTooLargeException":      "RequestEntityTooLarge",
}

// queryCodes renames the JSON protocols' codes for the Query protocol.
var queryCodes = map[string]string{"AccessDeniedException": "AccessDenied", "ThrottlingException": "Throttling",
	"SerializationException": "MalformedInput", "ValidationException": "ValidationError", "UnknownOperationException": "InvalidAction"}

func writeQueryError(w http.ResponseWriter, r *http.Request, ns string, e *Error) {
	code := e.Code
	if c, ok := queryCodes[code]; ok {
		code = c
	}
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}{Xmlns: ns, Type: typ, Code: code, Message: e.Message, RequestID: RequestID(r.Context())})
}

// writeQuery writes ACTIONResponse { result, ResponseMetadata }.
func writeQuery(w http.ResponseWriter, r *http.Request, ns, action string, result any) error {
	w.Header().Set("Content-Type", "text/xml")
	return xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name
		Xmlns     string `xml:"xmlns,attr"`
		Result    any
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}{XMLName: xml.Name{Local: action + "Response"}, Xmlns: ns, Result: result, RequestID: RequestID(r.Context())})
}

// Required refuses a request whose form lacks one of names, as the
// Query services do (ValidationError, the field in lowerCamelCase).
func Required(r *http.Request, names ...string) error {
	for _, n := range names {
		if r.Form.Get(n) == "" {
			return Validation("ValidationError", http.StatusBadRequest, errs.Null(nil, strings.ToLower(n[:1])+n[1:]))
		}
	}
	return nil
}

// QueryTime is the Query protocol's timestamp format.
func QueryTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
