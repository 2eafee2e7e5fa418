package telemetry

import (
	"context"
	"encoding/hex"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// XRayHeader is the trace header of AWS X-Ray.
const XRayHeader = "X-Amzn-Trace-Id"

// XRay propagates trace context in AWS X-Ray's header:
//
//	X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1
//
// The root's two parts (epoch seconds in 8 hex digits, then 24) are the
// 128-bit trace id; Parent is the 64-bit span id. Other fields (Lineage,
// Self) are ignored. (The OpenTelemetry contrib module that held such a
// propagator is deprecated; this one is small enough to keep.)
type XRay struct{}

var _ propagation.TextMapPropagator = XRay{}

// Inject writes the span context of ctx, when it has a valid one.
func (XRay) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	sc := trace.SpanFromContext(ctx).SpanContext()
	if !sc.IsValid() {
		return
	}
	tid := sc.TraceID().String()
	sampled := "0"
	if sc.IsSampled() {
		sampled = "1"
	}
	carrier.Set(XRayHeader, "Root=1-"+tid[:8]+"-"+tid[8:]+";Parent="+sc.SpanID().String()+";Sampled="+sampled)
}

// Extract reads a remote span context from the header; a header that
// does not parse is ignored.
func (XRay) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	sc, ok := ParseXRay(carrier.Get(XRayHeader))
	if !ok {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// Fields are the headers XRay reads and writes.
func (XRay) Fields() []string { return []string{XRayHeader} }

// maxXRayHeader bounds the header parsed.
const maxXRayHeader = 256

// ParseXRay parses an X-Amzn-Trace-Id value. A header without a Parent
// (a root that starts a trace) gives no span context: the trace id alone
// cannot be a parent.
func ParseXRay(h string) (trace.SpanContext, bool) {
	if h == "" || len(h) > maxXRayHeader {
		return trace.SpanContext{}, false
	}
	var root, parent, sampled string
	for _, part := range strings.Split(h, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "Root":
			root = v
		case "Parent":
			parent = v
		case "Sampled":
			sampled = v
		}
	}
	version, rest, ok := strings.Cut(root, "-")
	if !ok || version != "1" {
		return trace.SpanContext{}, false
	}
	epoch, random, ok := strings.Cut(rest, "-")
	if !ok || len(epoch) != 8 || len(random) != 24 {
		return trace.SpanContext{}, false
	}
	var tid trace.TraceID
	if _, err := hex.Decode(tid[:], []byte(epoch+random)); err != nil {
		return trace.SpanContext{}, false
	}
	var sid trace.SpanID
	if len(parent) != 16 {
		return trace.SpanContext{}, false
	}
	if _, err := hex.Decode(sid[:], []byte(parent)); err != nil {
		return trace.SpanContext{}, false
	}
	var flags trace.TraceFlags
	if sampled == "1" {
		flags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true})
	return sc, sc.IsValid()
}
