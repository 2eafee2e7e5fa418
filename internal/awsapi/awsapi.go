// Package awsapi serves Signet's domain services over the AWS wire
// protocols: the Signer API (REST-JSON) and the S3 subset (REST-XML),
// each operation declared with its IAM action and resource, request
// decoding with AWS's error codes, and the registries that map domain
// errors to AWS error codes and HTTP statuses (errors.go for the JSON
// services, s3.go for S3).
//
// # Operations
//
// Each service is a list of [Operation]s. An operation names its HTTP
// method and path pattern, the IAM action it performs (for example
// "signer:PutSigningProfile") and how to compute the ARN of the resource it
// acts on, so that authorization is one middleware ([Authorizer]) over
// every operation.
package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// Caller is the authenticated principal of a request.
type Caller struct {
	PrincipalARN string
	// PrincipalID is the unique id of the user or role the access key
	// was issued to (AIDA…, AROA…), "" for keys that predate it; a key
	// whose principal was deleted and re-created under the same name is
	// refused.
	PrincipalID string
	AccessKeyID string
	SourceIP    string
	Region      string // the region the request was signed for
	Secure      bool   // it came over TLS
}

type callerKey struct{}

// WithCaller returns a context carrying the request's caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller stored by WithCaller.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

type actionKey struct{}

// ActionFrom returns the IAM action of the operation a request performs.
func ActionFrom(ctx context.Context) string {
	a, _ := ctx.Value(actionKey{}).(string)
	return a
}

type requestIDKey struct{}

// WithRequestID returns a context carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id stored by WithRequestID.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// AuthzRequest is what an Authorizer decides on.
type AuthzRequest struct {
	Caller    Caller
	Operation string // e.g. "PutSigningProfile"
	Action    string // e.g. "signer:PutSigningProfile"
	Resource  string // an ARN, or "*"
	// Keys are the operation's service condition keys (lowercased), such
	// as lambda:codesigningconfigarn.
	Keys map[string][]string
	// Public marks an operation that needs no credentials.
	Public bool
	// Also marks the check of a second resource that the operation reads
	// or writes for the caller (see [AuthorizeAlso]): the refusal names
	// Action and Resource, and rate limits do not count it again.
	Also bool
	// OrActions are actions any of which grants the request as well as
	// Action does (s3:GetObject for s3:GetObjectVersion); an explicit
	// Deny of any of them refuses it.
	OrActions []string
}

// Authorizer decides whether a caller may perform an action on a resource.
// Authorize returns nil to allow, or an error (normally *Error with code
// AccessDeniedException) to refuse.
type Authorizer interface {
	Authorize(ctx context.Context, req AuthzRequest) error
}

// AuthorizeAlso authorizes the caller of r for a second resource that
// the operation reads or writes on the caller's behalf (StartSigningJob's
// source and destination objects, CreateFunction's code object, layers
// and role): the operation's own authorization does not cover it, or a
// principal allowed only the operation could reach any resource through
// it. The caller needs action (or one of orActions) on resource; the
// refusal is AccessDeniedException naming both.
func AuthorizeAlso(a Authorizer, r *http.Request, resource, action string, orActions ...string) error {
	caller, _ := CallerFrom(r.Context())
	return a.Authorize(r.Context(), AuthzRequest{Caller: caller, Operation: ActionFrom(r.Context()), Action: action, Resource: resource,
		Also: true, OrActions: orActions})
}

// AllowAll is an Authorizer for tests of one API's wire format: every
// authenticated caller is the installation's administrator.
type AllowAll struct{}

// Authorize allows everything.
func (AllowAll) Authorize(context.Context, AuthzRequest) error { return nil }

// Operation is one API operation.
type Operation struct {
	Name     string                       // e.g. "GetSigningProfile"
	Pattern  string                       // ServeMux pattern, e.g. "GET /signing-profiles/{profileName}"
	Target   string                       // JSON 1.1 protocols: the X-Amz-Target that selects it
	Action   string                       // IAM action, e.g. "signer:GetSigningProfile"
	Resource func(r *http.Request) string // ARN acted on; nil means "*"
	// Conditions returns the operation's service condition keys.
	Conditions func(r *http.Request) map[string][]string
	// Public operations take unsigned requests (STS's
	// AssumeRoleWithWebIdentity); the Authorizer only records them.
	Public bool
	// MaxBody is the largest request body the operation takes; 0 means
	// DefaultMaxBody. The server reads no more (see Endpoint.BodyLimit).
	MaxBody int64
	// TooLarge is the error a larger body gets; nil means
	// RequestEntityTooLargeException.
	TooLarge *Error
	Handle   func(w http.ResponseWriter, r *http.Request) error
}

// DefaultMaxBody bounds the request body of an operation that sets no
// MaxBody: the JSON and form documents of the control-plane APIs.
const DefaultMaxBody = 1 << 20

// Service is a set of operations of one AWS service.
type Service struct {
	Name       string // SigV4 signing name, e.g. "signer"
	Operations []Operation
	Authorizer Authorizer
	Log        *slog.Logger
	// MapError maps errors of this service's domain; nil results fall
	// back to the common mapping.
	MapError func(op string, err error) *Error
	// WriteError writes an error in the service's shape; nil: WriteError.
	WriteError func(w http.ResponseWriter, r *http.Request, e *Error)
	// Selector returns what picks among operations that share a pattern
	// (their Target); nil: the X-Amz-Target header.
	Selector func(r *http.Request) string
	// AuthCodes renames the SigV4 verifier's error codes (the JSON
	// protocols' names) for this service's protocol; nil keeps them.
	AuthCodes map[string]string
}

// Endpoint is a service's HTTP handler, with what a server needs to know
// about a request before it reads the body and dispatches it.
type Endpoint struct {
	http.Handler
	svc    *Service
	limits *http.ServeMux // pattern → the largest body its operations take
}

// BodyLimit returns the largest body the operation r is for takes, and
// the error (in AWS's words) a larger body gets. A request that matches
// no operation gets DefaultMaxBody.
func (e *Endpoint) BodyLimit(r *http.Request) (int64, *Error) {
	limit, tooLarge := int64(DefaultMaxBody), (*Error)(nil)
	if h, pattern := e.limits.Handler(r); pattern != "" {
		l := h.(bodyLimit)
		limit, tooLarge = l.max, l.tooLarge
	}
	if tooLarge == nil {
		tooLarge = &Error{Code: "RequestEntityTooLargeException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request must be smaller than %d bytes, the %s API's limit for this operation", limit, e.svc.Name)}
	}
	return limit, tooLarge
}

// WriteError writes e, an error the server found before dispatching
// (authentication, body size), in the service's protocol: codes renamed
// by AuthCodes, the service's error shape.
func (e *Endpoint) WriteError(w http.ResponseWriter, r *http.Request, ae *Error) {
	if c, ok := e.svc.AuthCodes[ae.Code]; ok {
		ae = &Error{Code: c, Status: ae.Status, Message: ae.Message, Reason: ae.Reason}
	}
	if e.svc.WriteError != nil {
		e.svc.WriteError(w, r, ae)
		return
	}
	WriteError(w, r, ae)
}

// bodyLimit is an operation's body limit, kept in Endpoint.limits.
type bodyLimit struct {
	max      int64
	tooLarge *Error
}

func (bodyLimit) ServeHTTP(http.ResponseWriter, *http.Request) {}

// Handler returns the service's HTTP handler. Requests reaching it must
// already be authenticated (see WithCaller).
func (s *Service) Handler() *Endpoint {
	limits := map[string]bodyLimit{}
	for _, op := range s.Operations {
		l := bodyLimit{max: op.MaxBody, tooLarge: op.TooLarge}
		if l.max == 0 {
			l.max = DefaultMaxBody
		}
		if cur, ok := limits[op.Pattern]; !ok || l.max > cur.max {
			limits[op.Pattern] = l
		}
	}
	e := &Endpoint{svc: s, limits: http.NewServeMux()}
	for pattern, l := range limits {
		e.limits.Handle(pattern, l)
	}
	e.Handler = s.mux()
	return e
}

func (s *Service) mux() http.Handler {
	mux := http.NewServeMux()
	targets := map[string]map[string]http.Handler{} // pattern → X-Amz-Target → handler
	for _, op := range s.Operations {
		if op.Target == "" {
			mux.Handle(op.Pattern, s.wrap(op))
			continue
		}
		if targets[op.Pattern] == nil {
			targets[op.Pattern] = map[string]http.Handler{}
		}
		targets[op.Pattern][op.Target] = s.wrap(op)
	}
	for pattern, byTarget := range targets {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			t := r.Header.Get("X-Amz-Target")
			if s.Selector != nil {
				t = s.Selector(r)
			}
			if h := byTarget[t]; h != nil {
				h.ServeHTTP(w, r)
				return
			}
			s.writeError(w, r, "", &Error{Code: "UnknownOperationException", Status: http.StatusBadRequest,
				Message: fmt.Sprintf("%q is not an operation of the %s API", t, s.Name)})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, "", &Error{Code: "UnknownOperationException", Status: http.StatusNotFound,
			Message: fmt.Sprintf("%s %s is not an operation of the %s API", r.Method, r.URL.EscapedPath(), s.Name)})
	})
	return mux
}

func (s *Service) wrap(op Operation) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, _ := CallerFrom(r.Context())
		res := "*"
		if op.Resource != nil {
			res = op.Resource(r)
		}
		req := AuthzRequest{Caller: caller, Operation: op.Name, Action: op.Action, Resource: res, Public: op.Public}
		if op.Conditions != nil {
			req.Keys = op.Conditions(r)
		}
		r = r.WithContext(context.WithValue(r.Context(), actionKey{}, op.Action))
		if err := s.Authorizer.Authorize(r.Context(), req); err != nil {
			s.writeError(w, r, op.Name, err)
			return
		}
		if err := op.Handle(w, r); err != nil {
			s.writeError(w, r, op.Name, err)
			return
		}
		s.Log.DebugContext(r.Context(), "request served", "op", op.Name, "request_id", RequestID(r.Context()), "principal", caller.PrincipalARN)
	})
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	var e *Error
	if s.MapError != nil {
		e = s.MapError(op, err)
	}
	if e == nil {
		e = MapError(err)
	}
	if e.Status >= 500 {
		s.Log.ErrorContext(r.Context(), "request failed", "op", op, "request_id", RequestID(r.Context()), "err", err)
	} else {
		s.Log.InfoContext(r.Context(), "request refused", "op", op, "request_id", RequestID(r.Context()), "code", e.Code, "err", err)
	}
	if s.WriteError != nil {
		s.WriteError(w, r, e)
		return
	}
	WriteError(w, r, e)
}

func jsonEncode(w io.Writer, v any) { json.NewEncoder(w).Encode(v) }

// Error is an AWS error: its code (the X-Amzn-ErrorType / __type), HTTP
// status and a message that says what to fix.
type Error struct {
	Code    string
	Status  int
	Message string
	Reason  string // Lambda's TooManyRequestsException reason
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// WriteError writes e as a REST-JSON / JSON 1.1 AWS error response.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
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
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("failed to encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
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
