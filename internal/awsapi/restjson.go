package awsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// RestJSON is the REST-JSON protocol (Signer, Lambda): the method and
// path pick the operation; an error is its code in X-Amzn-ErrorType and
// a JSON body.
type RestJSON struct {
	// ErrorBody, when set, sets the error's extra headers and returns
	// its body (Lambda's {"Type","message","Reason"}); nil:
	// {"__type","code","message"}.
	ErrorBody func(h http.Header, e *Error) any
}

// Select returns "": the patterns alone pick the operation.
func (RestJSON) Select(*http.Request) string { return "" }

// AuthError keeps e: the JSON protocols name the verifier's errors.
func (RestJSON) AuthError(e *Error) *Error { return e }

// WriteError writes e in the REST-JSON shape.
func (p RestJSON) WriteError(w http.ResponseWriter, r *http.Request, e *Error, _ error) {
	if p.ErrorBody == nil {
		WriteError(w, r, e)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Code)
	body := p.ErrorBody(h, e)
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(body)
}

// JSON is the JSON 1.1 protocol (CloudWatch Logs; KMS, SSM and Secrets
// Manager speak it too): every request is a POST to /, and its
// X-Amz-Target (SERVICE_VERSION.Operation) picks the operation.
type JSON struct{}

// Select returns the X-Amz-Target header.
func (JSON) Select(r *http.Request) string { return r.Header.Get("X-Amz-Target") }

// AuthError keeps e.
func (JSON) AuthError(e *Error) *Error { return e }

// jsonContentType is the JSON 1.1 protocol's media type.
const jsonContentType = "application/x-amz-json-1.1"

// WriteError writes e as {"__type","code","message"}.
func (JSON) WriteError(w http.ResponseWriter, r *http.Request, e *Error, _ error) {
	w.Header().Set("Content-Type", jsonContentType)
	writeError(w, e)
}

// Write writes a 200 response with v as a JSON 1.1 document.
func (JSON) Write(w http.ResponseWriter, v any) error {
	return writeJSON(w, http.StatusOK, jsonContentType, v)
}

// WriteError writes e as a REST-JSON / JSON 1.1 AWS error response.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	writeError(w, e)
}

func writeError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(struct {
		Type    string `json:"__type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{e.Code, e.Code, e.Message})
}

// WriteJSON writes a 200 response with v as JSON.
func WriteJSON(w http.ResponseWriter, v any) error {
	return WriteJSONStatus(w, http.StatusOK, v)
}

// WriteJSONStatus writes v as JSON with the given status.
func WriteJSONStatus(w http.ResponseWriter, status int, v any) error {
	return writeJSON(w, status, "application/json", v)
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("failed to encode response: %w", err)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// DecodeJSON decodes a JSON request body into v. An empty body decodes as
// {}. Malformed JSON and values of the wrong type give
// SerializationException with the offending position or field.
func DecodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return &Error{Code: "SerializationException", Status: 400, Message: "failed to read the request body: " + err.Error()}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return &Error{Code: "SerializationException", Status: 400, Message: fmt.Sprintf("the request body is not valid JSON: %v (at byte %d)", syn, syn.Offset)}
		case errors.As(err, &typ):
			return &Error{Code: "SerializationException", Status: 400, Message: fmt.Sprintf("field %q must be a JSON %s, got %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)}
		default:
			return &Error{Code: "SerializationException", Status: 400, Message: "the request body is not valid JSON: " + err.Error()}
		}
	}
	if dec.More() {
		return &Error{Code: "SerializationException", Status: 400, Message: "the request body holds more than one JSON value"}
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int32", "int64", "float64":
		return "number"
	case "map", "struct":
		return "object"
	case "slice":
		return "array"
	case "bool":
		return "boolean"
	}
	return goKind
}

// Empty answers an operation that returns no body: status, unless err,
// which is returned to be written as the operation's error.
func Empty(w http.ResponseWriter, status int, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(status)
	return nil
}
