package telemetry

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func TestParseXRay(t *testing.T) {
	cases := map[string]struct {
		header  string
		ok      bool
		trace   string
		span    string
		sampled bool
	}{
		"ok":              {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", true, "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", true},
		"ok/unsampled":    {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", true, "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", false},
		"ok/other fields": {"Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Lineage=a87bd80c:1", true, "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", false},
		"fail/no parent":  {"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", false, "", "", false},
		"fail/version":    {"Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", false, "", "", false},
		"fail/short root": {"Root=1-5759e988-bd86;Parent=53995c3f42cd8ad8", false, "", "", false},
		"fail/not hex":    {"Root=1-5759e988-zz862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", false, "", "", false},
		"fail/zero":       {"Root=1-00000000-000000000000000000000000;Parent=0000000000000000", false, "", "", false},
		"fail/empty":      {"", false, "", "", false},
		"fail/too long":   {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;" + strings.Repeat("x", 300), false, "", "", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sc, ok := ParseXRay(tc.header)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if sc.TraceID().String() != tc.trace || sc.SpanID().String() != tc.span || sc.IsSampled() != tc.sampled || !sc.IsRemote() {
				t.Fatalf("got %s %s sampled=%v remote=%v", sc.TraceID(), sc.SpanID(), sc.IsSampled(), sc.IsRemote())
			}
		})
	}
}

func TestXRayRoundTrip(t *testing.T) {
	sc, ok := ParseXRay("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	if !ok {
		t.Fatal("parse")
	}
	carrier := propagation.MapCarrier{}
	XRay{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	if got := carrier.Get(XRayHeader); got != "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1" {
		t.Fatalf("injected %q", got)
	}
	ctx := XRay{}.Extract(context.Background(), carrier)
	if got := trace.SpanContextFromContext(ctx); !got.Equal(sc) {
		t.Fatalf("extracted %v, want %v", got, sc)
	}
}

// FuzzParseXRay: any header either parses into a valid span context
// that injects back to the same trace and span ids, or is refused.
func FuzzParseXRay(f *testing.F) {
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793")
	f.Add(";;=;Root=;Parent=")
	f.Fuzz(func(t *testing.T, h string) {
		sc, ok := ParseXRay(h)
		if !ok {
			return
		}
		if !sc.IsValid() {
			t.Fatal("ok with an invalid span context")
		}
		carrier := propagation.MapCarrier{}
		XRay{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
		again, ok := ParseXRay(carrier.Get(XRayHeader))
		if !ok || again.TraceID() != sc.TraceID() || again.SpanID() != sc.SpanID() || again.IsSampled() != sc.IsSampled() {
			t.Fatalf("%q → %q does not parse back", h, carrier.Get(XRayHeader))
		}
	})
}
