package gateway

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/tracing"
)

// Tracing hooks. With tracing off (Deps.Tracer nil) none of this runs:
// stages are not wrapped, the transport is not wrapped, and ServeHTTP
// checks one nil pointer.

// startSpan starts the exchange's server span, continuing an incoming
// traceparent only when the trust policy allows it, and sets x.TraceID
// when the span is sampled. A new trace the sampler leaves out (99 in a
// hundred at 1%) gets no span at all: only x.Traceparent for the
// upstream, and span is nil.
func (g *Gateway) startSpan(ctx context.Context, r *http.Request, x *pipeline.Exchange) (context.Context, trace.Span) {
	t := g.deps.Tracer
	// Extract only when there is a header: Header.Get of "traceparent"
	// would canonicalize (allocate) the key on every request.
	continued := false
	if _, ok := r.Header["Traceparent"]; ok {
		switch {
		case t.Trust == tracing.TrustAlways, t.Trust == tracing.TrustTrustedProxies && x.TrustedPeer:
			ctx = t.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
			continued = trace.SpanContextFromContext(ctx).IsValid()
		}
	}
	var span trace.Span
	if continued {
		ctx, span = t.Tracer.Start(ctx, "portcullis "+r.Method, serverSpan)
	} else {
		root := t.NewRoot()
		if !root.Sampled {
			x.Traceparent = root.Traceparent()
			return ctx, nil
		}
		ctx, span = t.StartRoot(ctx, root, "portcullis "+r.Method, serverSpan)
	}
	if sc := span.SpanContext(); span.IsRecording() && sc.IsValid() {
		x.TraceID = sc.TraceID().String()
		span.SetAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.EscapedPath()),
			attribute.String("client.address", addrString(x.ClientIP)),
			attribute.String("portcullis.request_id", x.ID),
		)
	}
	return ctx, span
}

var serverSpan = trace.WithSpanKind(trace.SpanKindServer)

// endSpan finishes the server span with the outcome.
func (g *Gateway) endSpan(span trace.Span, x *pipeline.Exchange, out pipeline.Outcome, status int) {
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("portcullis.api", x.API),
			attribute.String("portcullis.decision", string(out.Decision)),
			attribute.Int("http.response.status_code", status),
		)
		if x.Operation != "" {
			span.SetName("portcullis " + x.Operation)
			span.SetAttributes(attribute.String("http.route", x.Operation))
		}
		if d := out.Denial; d != nil {
			span.SetAttributes(attribute.String("portcullis.stage", d.Stage), attribute.StringSlice("portcullis.rules", d.Rules))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
	span.End()
}

// traced wraps a stage so that each call is a child span named
// "stage <id>", when tracing is on; otherwise it returns st as it is.
// Unsampled requests skip the span entirely: x.TraceID is set exactly
// when the server span records, and reading it costs no context lookup.
func (g *Gateway) traced(st pipeline.Stage) pipeline.Stage {
	if g.deps.Tracer == nil {
		return st
	}
	ts := tracedStage{Stage: st, tracer: g.deps.Tracer.Tracer, name: "stage " + st.ID()}
	if rs, ok := st.(pipeline.ResponseStage); ok {
		return tracedResponseStage{tracedStage: ts, rs: rs}
	}
	return ts
}

// wrapTransport traces calls to the upstream (a client span, the W3C
// traceparent header) when tracing is on.
func (g *Gateway) wrapTransport() func(http.RoundTripper) http.RoundTripper {
	t := g.deps.Tracer
	if t == nil {
		return nil
	}
	return func(rt http.RoundTripper) http.RoundTripper {
		return sampledTransport{
			traced: otelhttp.NewTransport(rt,
				otelhttp.WithTracerProvider(t.Provider),
				otelhttp.WithPropagators(t.Propagator),
				otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "upstream " + r.Method }),
			),
			plain:      rt,
			propagator: t.Propagator,
		}
	}
}

// sampledTransport sends sampled requests through otelhttp (a client span)
// and the others straight to the transport with only the traceparent
// (flags 00: not sampled, so that the upstream does not sample either).
// otelhttp's work per request (attributes, body wrapper, metrics) is most
// of what tracing costs, and an unsampled request has no span to put it
// in: at 1% sampling it is paid once in a hundred requests. Whether the
// request is recorded is read from the exchange (x.TraceID), and a new
// trace left out brings its header ready-made (x.Traceparent): no
// context lookup for a span that was never started.
type sampledTransport struct {
	traced, plain http.RoundTripper
	propagator    propagation.TextMapPropagator
}

func (t sampledTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	x := pipeline.FromContext(ctx)
	switch {
	case x != nil && x.TraceID != "":
		return t.traced.RoundTrip(r)
	case x != nil && x.Traceparent != "":
		// The header is set in place, unlike RoundTrip's contract: the
		// request is httputil.ReverseProxy's outgoing copy, whose header
		// map it cloned from the client's for this exchange alone, and
		// setting traceparent again (a retry) writes the same value.
		// Cloning it again would cost more than the rest of this path.
		// The canonical key is written directly (Header.Set would
		// canonicalize it again), replacing whatever the client sent.
		r.Header["Traceparent"] = []string{x.Traceparent}
		delete(r.Header, "Tracestate")
	case x == nil && trace.SpanFromContext(ctx).IsRecording():
		return t.traced.RoundTrip(r)
	default:
		// An incoming trace continued but not recorded: its span
		// context (and tracestate) goes on, flagged not sampled.
		if trace.SpanContextFromContext(ctx).IsValid() {
			t.propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
		}
	}
	return t.plain.RoundTrip(r)
}

type tracedStage struct {
	pipeline.Stage
	tracer trace.Tracer
	name   string
}

func (s tracedStage) Request(ctx context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	if x.TraceID == "" {
		return s.Stage.Request(ctx, x)
	}
	ctx, span := s.tracer.Start(ctx, s.name, trace.WithAttributes(attribute.String("portcullis.stage", s.Stage.ID())))
	d, err := s.Stage.Request(ctx, x)
	finishStageSpan(span, d, err)
	return d, err
}

// Close closes the wrapped stage when it holds resources.
func (s tracedStage) Close() error {
	if c, ok := s.Stage.(pipeline.Closer); ok {
		return c.Close()
	}
	return nil
}

type tracedResponseStage struct {
	tracedStage
	rs pipeline.ResponseStage
}

func (s tracedResponseStage) Response(ctx context.Context, x *pipeline.Exchange, resp *http.Response) (*pipeline.Denial, error) {
	if x.TraceID == "" {
		return s.rs.Response(ctx, x, resp)
	}
	ctx, span := s.tracer.Start(ctx, s.name+" response", trace.WithAttributes(attribute.String("portcullis.stage", s.rs.ID())))
	d, err := s.rs.Response(ctx, x, resp)
	finishStageSpan(span, d, err)
	return d, err
}

func finishStageSpan(span trace.Span, d *pipeline.Denial, err error) {
	switch {
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, "stage failed")
	case d != nil:
		span.SetAttributes(attribute.Int("portcullis.denial.status", d.Status), attribute.StringSlice("portcullis.rules", d.Rules))
		span.SetStatus(codes.Error, d.Reason)
	}
	span.End()
}
