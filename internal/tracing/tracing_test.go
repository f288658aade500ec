package tracing

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func newTestTracer(t *testing.T, ratio float64) (*Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := New(Config{Exporter: ExporterHTTP, SampleRatio: ratio}, Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, exp
}

// TestNewRootAgreesWithSDK: NewRoot's decision is the provider's own: a
// root it samples is recorded by StartRoot with its ids, and the SDK,
// asked about a root NewRoot left out (the same ids), leaves it out too.
// At ratio 0.5 about half are sampled, so both cases are exercised.
func TestNewRootAgreesWithSDK(t *testing.T) {
	tr, exp := newTestTracer(t, 0.5)
	const n = 400
	sampled := 0
	for i := range n {
		root := tr.NewRoot()
		if !root.TraceID.IsValid() || !root.SpanID.IsValid() {
			t.Fatalf("root %d: invalid ids %v %v", i, root.TraceID, root.SpanID)
		}
		ctx, span := tr.StartRoot(context.Background(), root, "root")
		sc := span.SpanContext()
		if span.IsRecording() != root.Sampled || sc.IsSampled() != root.Sampled {
			t.Fatalf("root %d: NewRoot said sampled=%v, the SDK recording=%v sampled=%v", i, root.Sampled, span.IsRecording(), sc.IsSampled())
		}
		if sc.TraceID() != root.TraceID || sc.SpanID() != root.SpanID {
			t.Fatalf("root %d: span has ids %v %v, want NewRoot's %v %v", i, sc.TraceID(), sc.SpanID(), root.TraceID, root.SpanID)
		}
		// A child continues the trace with a fresh span id; a second root
		// under the same context gets new ids, not the preset again.
		_, child := tr.Tracer.Start(ctx, "child")
		if c := child.SpanContext(); c.TraceID() != root.TraceID || c.SpanID() == root.SpanID {
			t.Fatalf("root %d: child ids %v %v", i, c.TraceID(), c.SpanID())
		}
		_, again := tr.Tracer.Start(ctx, "again", trace.WithNewRoot())
		if a := again.SpanContext(); a.TraceID() == root.TraceID || a.SpanID() == root.SpanID {
			t.Fatalf("root %d: a second root reused the preset ids", i)
		}
		again.End()
		child.End()
		span.End()
		if root.Sampled {
			sampled++
		}
	}
	if sampled < n/4 || sampled > 3*n/4 {
		t.Errorf("sampled %d of %d at ratio 0.5", sampled, n)
	}
	if err := tr.Provider.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	roots := 0
	for _, s := range exp.GetSpans() {
		if s.Name == "root" {
			roots++
		}
	}
	if roots != sampled {
		t.Errorf("exported %d root spans, want the %d sampled", roots, sampled)
	}
}

// TestTraceparent: Root.Traceparent is what the W3C propagator injects
// for the same span context.
func TestTraceparent(t *testing.T) {
	tr, _ := newTestTracer(t, 1e-12)
	for _, sampled := range []bool{false, true} {
		root := tr.NewRoot()
		root.Sampled = sampled
		flags := trace.TraceFlags(0)
		if sampled {
			flags = trace.FlagsSampled
		}
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: root.TraceID, SpanID: root.SpanID, TraceFlags: flags})
		h := http.Header{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), propagation.HeaderCarrier(h))
		if got, want := root.Traceparent(), h.Get("Traceparent"); got != want {
			t.Errorf("sampled=%v: got %q, want %q", sampled, got, want)
		}
	}
}

// TestNewRootRatio: ratio 1 samples every root, a ratio of 1e-12 none of
// a thousand.
func TestNewRootRatio(t *testing.T) {
	for _, c := range []struct {
		ratio float64
		want  bool
	}{{1, true}, {1e-12, false}} {
		tr, _ := newTestTracer(t, c.ratio)
		for range 1000 {
			if got := tr.NewRoot().Sampled; got != c.want {
				t.Fatalf("ratio %v: got sampled=%v, want %v", c.ratio, got, c.want)
			}
		}
	}
}
