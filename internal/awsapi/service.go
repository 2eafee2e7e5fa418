package awsapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/signet/signet/internal/policy"
	"github.com/signet/signet/internal/telemetry"
)

// Operation is one API operation.
type Operation struct {
	Name    string // e.g. "GetSigningProfile"
	Pattern string // ServeMux pattern, e.g. "GET /signing-profiles/{profileName}"; "" under a Router
	// Target selects the operation among those that share a pattern: the
	// X-Amz-Target of the JSON protocol, the Action of the Query
	// protocol, or what the service's Router returns.
	Target   string
	Action   string                       // IAM action, e.g. "signer:GetSigningProfile"
	Resource func(r *http.Request) string // ARN acted on; nil means "*"
	// Conditions returns the operation's service condition keys.
	Conditions func(r *http.Request) map[string][]string
	// Public operations take unsigned requests (STS's
	// AssumeRoleWithWebIdentity); the Authorizer only records them.
	Public bool
	// Decode, when set, decodes the request once, before authorization;
	// Resource, Conditions and Handle read the result (see Typed).
	Decode func(r *http.Request) (any, error)
	// MaxBody is the largest request body the operation takes; 0 means
	// the service's MaxBody. The server reads no more (see
	// Endpoint.BodyLimit).
	MaxBody int64
	// TooLarge is the error a larger body gets; nil means
	// RequestEntityTooLargeException.
	TooLarge *Error
	// Smaller, when set, may lower the limit for a request by what its
	// headers say (an Event invocation takes less than a synchronous
	// one): it returns the limit and its error, or 0 to keep MaxBody.
	Smaller func(r *http.Request) (int64, *Error)
	Handle  func(w http.ResponseWriter, r *http.Request) error
}

// DefaultMaxBody bounds the request body of an operation that sets no
// MaxBody: the JSON and form documents of the control-plane APIs.
const DefaultMaxBody = 1 << 20

// Protocol is an AWS wire protocol: how a request picks among the
// operations that share a pattern, and the shape of an error response.
// RestJSON, JSON, Query and RestXML are the four Signet speaks.
type Protocol interface {
	// Select returns the Target of the operation r is for ("" for the
	// REST protocols, whose patterns alone decide).
	Select(r *http.Request) string
	// AuthError renames an error found before dispatch (authentication,
	// body size) into the protocol's vocabulary.
	AuthError(e *Error) *Error
	// WriteError writes e, caused by err (nil when the server found it
	// before dispatch), in the protocol's error shape.
	WriteError(w http.ResponseWriter, r *http.Request, e *Error, err error)
}

// Service is one AWS service: its SigV4 signing name, its protocol, its
// operations and the AWS codes of the errors they return.
type Service struct {
	Name       string // SigV4 signing name, e.g. "signer"
	Protocol   Protocol
	Operations []Operation
	// Errors maps this service's domain errors to AWS codes (see
	// MapError); an error no entry matches is Internal.
	Errors []ErrorCode
	// Internal is the error an unexpected failure is answered with; its
	// detail is only logged.
	Internal Error
	// Throttle is the error a rate-limited request gets (its message is
	// set per request).
	Throttle Error
	// MaxBody is the body limit of operations that declare none; 0
	// means DefaultMaxBody.
	MaxBody int64
	// Global services are signed for us-east-1 whatever the region (IAM).
	Global bool
	// Streaming services take bodies the handler reads as they arrive,
	// verified on the way (S3); the server buffers the others.
	Streaming bool
	// WrongRegion is the error of a request signed for another region;
	// nil: InvalidSignatureException.
	WrongRegion func(got, want string) *Error
	// RequestIDHeader is a header the service repeats the request id in
	// on every response of its handler (S3's x-amz-request-id).
	RequestIDHeader string
	// Router picks the operation (its Target) for services whose paths
	// a ServeMux cannot route (S3's keys are arbitrary, uncleaned paths).
	Router     func(r *http.Request) (string, error)
	Authorizer Authorizer
	Log        *slog.Logger
	// Policies returns the resource-based policies of a resource, for
	// the services that have them (see ResourcePolicies).
	Policies ResourcePolicies
	// Gated services' resource policies gate all access (KMS keys): a
	// request needs an Allow in the resource's policy that names the
	// caller, or one that names its account and an IAM Allow.
	Gated bool
}

// API is what a service package provides: its Service.
type API interface {
	Service() *Service
}

// ResourcePolicies is the capability of a service whose resources carry
// policies of their own (a signing profile's permissions, a function's
// policy, a role's trust policy). The authorizer reads them only when the
// caller's own policies do not allow a request.
type ResourcePolicies interface {
	ResourcePolicies(ctx context.Context, action, resource string) ([]*policy.Document, error)
}

// Endpoint is a service's HTTP handler, with what a server needs to know
// about a request before it reads the body and dispatches it.
type Endpoint struct {
	http.Handler
	svc    *Service
	limits *http.ServeMux // pattern → the largest body its operations take
}

// Service returns the service the endpoint serves.
func (e *Endpoint) Service() *Service { return e.svc }

// BodyLimit returns the largest body the operation r is for takes, and
// the error (in AWS's words) a larger body gets. A request that matches
// no operation gets the service's limit.
func (e *Endpoint) BodyLimit(r *http.Request) (int64, *Error) {
	limit, tooLarge := e.svc.maxBody(), (*Error)(nil)
	if e.limits != nil {
		if h, pattern := e.limits.Handler(r); pattern != "" {
			l := h.(bodyLimit)
			limit, tooLarge = l.max, l.tooLarge
			if l.smaller != nil {
				if n, e := l.smaller(r); n > 0 && n < limit {
					limit, tooLarge = n, e
				}
			}
		}
	}
	if tooLarge == nil {
		tooLarge = &Error{Code: "RequestEntityTooLargeException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request must be smaller than %d bytes, the %s API's limit for this operation", limit, e.svc.Name)}
	}
	return limit, tooLarge
}

// WriteError writes ae, an error the server found before dispatching
// (authentication, body size, throttling of bodies), in the service's
// protocol.
func (e *Endpoint) WriteError(w http.ResponseWriter, r *http.Request, ae *Error) {
	e.svc.setRequestID(w, r)
	telemetry.SetErrorCode(r.Context(), ae.Code)
	e.svc.Protocol.WriteError(w, r, e.svc.Protocol.AuthError(ae), nil)
}

// WriteFailure writes err, a failure of authentication found before
// dispatch, in the service's protocol, logging it.
func (e *Endpoint) WriteFailure(w http.ResponseWriter, r *http.Request, err error) {
	e.svc.setRequestID(w, r)
	ae := e.svc.mapAuth(err)
	if ae.Status >= 500 {
		e.svc.log().ErrorContext(r.Context(), "authentication failed", "request_id", RequestID(r.Context()), "err", err)
	} else {
		e.svc.log().InfoContext(r.Context(), "request not authenticated", "request_id", RequestID(r.Context()), "code", ae.Code, "remote", r.RemoteAddr)
	}
	telemetry.SetErrorCode(r.Context(), ae.Code)
	e.svc.Protocol.WriteError(w, r, e.svc.Protocol.AuthError(ae), err)
}

func (s *Service) maxBody() int64 {
	if s.MaxBody > 0 {
		return s.MaxBody
	}
	return DefaultMaxBody
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// bodyLimit is an operation's body limit, kept in Endpoint.limits.
type bodyLimit struct {
	max      int64
	tooLarge *Error
	smaller  func(r *http.Request) (int64, *Error)
}

func (bodyLimit) ServeHTTP(http.ResponseWriter, *http.Request) {}

// Handler returns the service's HTTP handler. Requests reaching it must
// already be authenticated (see WithCaller).
func (s *Service) Handler() *Endpoint {
	e := &Endpoint{svc: s}
	if s.Router != nil {
		e.Handler = s.withRequestID(s.routed())
		return e
	}
	limits := map[string]bodyLimit{}
	for _, op := range s.Operations {
		l := bodyLimit{max: op.MaxBody, tooLarge: op.TooLarge, smaller: op.Smaller}
		if l.max == 0 {
			l.max = s.maxBody()
		}
		if cur, ok := limits[op.Pattern]; !ok || l.max > cur.max {
			limits[op.Pattern] = l
		}
	}
	e.limits = http.NewServeMux()
	for pattern, l := range limits {
		e.limits.Handle(pattern, l)
	}
	e.Handler = s.withRequestID(s.mux())
	return e
}

func (s *Service) withRequestID(h http.Handler) http.Handler {
	if s.RequestIDHeader == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.setRequestID(w, r)
		h.ServeHTTP(w, r)
	})
}

// setRequestID repeats the request id in the service's own header, on
// every response, errors found before dispatch included.
func (s *Service) setRequestID(w http.ResponseWriter, r *http.Request) {
	if s.RequestIDHeader != "" {
		w.Header().Set(s.RequestIDHeader, RequestID(r.Context()))
	}
}

func (s *Service) mux() http.Handler {
	mux := http.NewServeMux()
	targets := map[string]map[string]http.Handler{} // pattern → target → handler
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
			t := s.Protocol.Select(r)
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

// routed dispatches by the service's Router.
func (s *Service) routed() http.Handler {
	byTarget := map[string]http.Handler{}
	for _, op := range s.Operations {
		byTarget[op.Target] = s.wrap(op)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := s.Router(r)
		if err == nil && byTarget[t] == nil {
			err = &Error{Code: "UnknownOperationException", Status: http.StatusNotFound,
				Message: fmt.Sprintf("%s %s is not an operation of the %s API", r.Method, r.URL.EscapedPath(), s.Name)}
		}
		if err != nil {
			s.writeError(w, r, "", err)
			return
		}
		byTarget[t].ServeHTTP(w, r)
	})
}

func (s *Service) wrap(op Operation) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, _ := CallerFrom(r.Context())
		if op.Decode != nil {
			in, err := op.Decode(r)
			r = r.WithContext(context.WithValue(r.Context(), inputKey{}, decoded{in, err}))
		}
		res := "*"
		if op.Resource != nil {
			res = op.Resource(r)
		}
		req := AuthzRequest{Caller: caller, Operation: op.Name, Action: op.Action, Resource: res, Public: op.Public, Service: s.Name}
		if op.Conditions != nil {
			req.Keys = op.Conditions(r)
		}
		if s.Policies != nil {
			req.Policies, req.Gated = s.Policies.ResourcePolicies, s.Gated
		}
		telemetry.SetOperation(r.Context(), s.Name, op.Name)
		ctx, span := telemetry.Start(r.Context(), s.Name+"."+op.Name)
		defer span.End()
		r = r.WithContext(context.WithValue(ctx, opKey{}, opInfo{name: op.Name, action: op.Action, svc: s}))
		actx, aspan := telemetry.Start(r.Context(), "authorize", attribute.String("iam.action", op.Action), attribute.String("iam.resource", res))
		err := s.Authorizer.Authorize(actx, req)
		aspan.End()
		if err != nil {
			s.writeError(w, r, op.Name, err)
			return
		}
		if err := op.Handle(w, r); err != nil {
			s.writeError(w, r, op.Name, err)
			return
		}
		s.log().DebugContext(r.Context(), "request served", "op", op.Name, "request_id", RequestID(r.Context()), "principal", caller.PrincipalARN)
	})
}

// opInfo is what a handler may need of the operation it serves.
type opInfo struct {
	name, action string
	svc          *Service
}

type opKey struct{}

// ActionFrom returns the IAM action of the operation a request performs.
func ActionFrom(ctx context.Context) string {
	o, _ := ctx.Value(opKey{}).(opInfo)
	return o.action
}

// OperationFrom returns the name of the operation a request performs.
func OperationFrom(ctx context.Context) string {
	o, _ := ctx.Value(opKey{}).(opInfo)
	return o.name
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	e := s.MapError(op, err)
	if e.Status >= 500 {
		s.log().ErrorContext(r.Context(), "request failed", "op", op, "request_id", RequestID(r.Context()), "err", err)
	} else {
		s.log().InfoContext(r.Context(), "request refused", "op", op, "request_id", RequestID(r.Context()), "code", e.Code, "err", err)
	}
	telemetry.SetErrorCode(r.Context(), e.Code)
	trace.SpanFromContext(r.Context()).SetStatus(codes.Error, e.Code)
	s.Protocol.WriteError(w, r, e, err)
}

// Names lists services' signing names, in order, for messages.
func Names(svcs []*Service) string {
	var names []string
	for _, s := range svcs {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// AllResources is the resource of an operation that acts on no one
// resource (a List, or the Create of a resource whose ARN is not known
// yet): "*", as in AWS.
func AllResources(*http.Request) string { return "*" }

// decoded is an operation's decoded request, or why it did not decode.
type decoded struct {
	in  any
	err error
}

type inputKey struct{}

// Typed returns op with a request decoded once into an In by decode (for
// the JSON protocols, DecodeJSON): resource and conditions (either may be
// nil) compute the ARN and the condition keys from it, and handle serves
// it. A request that does not decode is authorized on "*" and refused
// with the decoding error, before its handler runs. It replaces decoding
// the body once for authorization and again in the handler (a 70 MB
// CreateFunction body was parsed three times).
func Typed[In any](op Operation, decode func(r *http.Request, v any) error,
	resource func(r *http.Request, in *In) string, conditions func(in *In) map[string][]string,
	handle func(w http.ResponseWriter, r *http.Request, in *In) error) Operation {
	input := func(r *http.Request) (*In, error) {
		d, _ := r.Context().Value(inputKey{}).(decoded)
		in, _ := d.in.(*In)
		if in == nil && d.err == nil {
			return nil, fmt.Errorf("operation %s: the request was not decoded", op.Name)
		}
		return in, d.err
	}
	op.Decode = func(r *http.Request) (any, error) {
		in := new(In)
		if err := decode(r, in); err != nil {
			return nil, err
		}
		return in, nil
	}
	op.Resource = AllResources
	if resource != nil {
		op.Resource = func(r *http.Request) string {
			in, err := input(r)
			if err != nil {
				return "*"
			}
			return resource(r, in)
		}
	}
	op.Conditions = nil
	if conditions != nil {
		op.Conditions = func(r *http.Request) map[string][]string {
			in, err := input(r)
			if err != nil {
				return nil
			}
			return conditions(in)
		}
	}
	op.Handle = func(w http.ResponseWriter, r *http.Request) error {
		in, err := input(r)
		if err != nil {
			return err
		}
		return handle(w, r, in)
	}
	return op
}
