// Package telemetry holds Signet's metrics and traces: Prometheus
// collectors on a registry of the server's own (client_golang), and
// OpenTelemetry spans exported over OTLP when configured.
//
// Spans are started with [Start], which uses the tracer provider of the
// span already in the context: code below a request's span joins its
// trace, and code outside any (or with tracing off) costs a context
// lookup.
package telemetry

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation is the name spans are recorded under.
const instrumentation = "github.com/signet/signet"

// Start starts a span named name as a child of the span in ctx, with
// that span's tracer provider; without one it returns ctx and a span
// that records nothing.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(instrumentation).Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span, marking it failed when *errp is not nil: use as
// `defer telemetry.End(span, &err)`.
func End(span trace.Span, errp *error) {
	if errp != nil && *errp != nil {
		span.RecordError(*errp)
		span.SetStatus(codes.Error, (*errp).Error())
	}
	span.End()
}

// Request is what the layers serving a request learn of it for its
// metrics and its span: the API and operation once routed.
type Request struct {
	mu                       sync.Mutex
	service, operation, code string
}

type requestKey struct{}

// WithRequest returns a context carrying a new Request.
func WithRequest(ctx context.Context) (context.Context, *Request) {
	r := &Request{}
	return context.WithValue(ctx, requestKey{}, r), r
}

// SetOperation records the API and operation a request was routed to.
func SetOperation(ctx context.Context, service, operation string) {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		r.mu.Lock()
		r.service, r.operation = service, operation
		r.mu.Unlock()
	}
}

// Operation returns the API and operation recorded, or empty strings.
func (r *Request) Operation() (service, operation string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.service, r.operation
}

// SetErrorCode records the AWS error code a request was answered with.
func SetErrorCode(ctx context.Context, code string) {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		r.mu.Lock()
		r.code = code
		r.mu.Unlock()
	}
}

// ErrorCode returns the AWS error code recorded, or "".
func (r *Request) ErrorCode() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.code
}

// RequestFrom returns the Request of ctx.
func RequestFrom(ctx context.Context) (*Request, bool) {
	r, ok := ctx.Value(requestKey{}).(*Request)
	return r, ok
}
