package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Propagator reads and writes trace context in W3C Trace Context and AWS
// X-Ray headers. (Baggage is not read: nothing here uses it, and it
// would carry a caller's values into every span.)
var Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, XRay{})

// NewTracerProvider returns a tracer provider that exports spans over
// OTLP/HTTP (protobuf) to endpoint, a URL such as http://collector:4318
// (/v1/traces is added when it has no path), sampling ratio of the
// requests. A caller's trace is joined but its sampling flag is not
// obeyed (it comes before authentication: a caller could otherwise have
// every request recorded, flooding the exporter, or none of its own):
// requests are sampled by ratio whatever their headers say; spans under
// a local span follow it.
func NewTracerProvider(ctx context.Context, endpoint string, ratio float64, node string) (*sdktrace.TracerProvider, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing.otlp_endpoint: %q is not an http:// or https:// URL", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
	if err != nil {
		return nil, err
	}
	res := resource.NewSchemaless(semconv.ServiceName("signet"), semconv.ServiceInstanceID(node))
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio),
			sdktrace.WithRemoteParentSampled(sdktrace.TraceIDRatioBased(ratio)),
			sdktrace.WithRemoteParentNotSampled(sdktrace.TraceIDRatioBased(ratio)))),
	), nil
}

// LogHandler adds the trace and span ids of the context's span to every
// record logged with a context (InfoContext, ErrorContext…).
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }
