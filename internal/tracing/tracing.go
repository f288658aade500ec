// Package tracing sets up OpenTelemetry tracing for the gateway: a tracer
// provider exporting over OTLP (gRPC or HTTP), a parent-based ratio
// sampler, and the W3C trace-context propagator. Tracing is off by
// default; off, nothing here is built and the gateway's hooks are nil
// checks.
package tracing

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/field"
)

// Exporters.
const (
	ExporterGRPC = "otlp-grpc"
	ExporterHTTP = "otlp-http"
)

// Trust policies for an incoming traceparent.
const (
	TrustTrustedProxies = "trusted_proxies"
	TrustAlways         = "always"
	TrustNever          = "never"
)

// Defaults of Config.
const (
	DefaultSampleRatio  = 0.01
	DefaultServiceName  = "portcullis"
	DefaultGRPCEndpoint = "127.0.0.1:4317"
	DefaultHTTPEndpoint = "127.0.0.1:4318"
	DefaultTimeout      = 10 * time.Second
)

// Config is the top-level `tracing` block.
type Config struct {
	// Exporter turns tracing on: "otlp-grpc" or "otlp-http". Default ""
	// (off: no tracer is built and requests pay nothing for it).
	Exporter string `yaml:"exporter,omitempty" json:"exporter,omitempty"`
	// Endpoint is the collector: host:port for otlp-grpc (default
	// 127.0.0.1:4317), host:port or a URL for otlp-http (default
	// 127.0.0.1:4318, path /v1/traces).
	Endpoint string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	// Insecure sends without TLS. Default false (TLS with the system
	// roots). An http:// endpoint URL is always plain.
	Insecure bool `yaml:"insecure,omitempty" json:"insecure,omitempty"`
	// Headers are sent with every export (an API key for a hosted
	// collector; use ${ENV}). Default none.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// SampleRatio is the share of new traces recorded, from 0 (exclusive)
	// to 1. A request whose trusted parent was sampled is always recorded
	// (parent-based). Default 0.01; zero means the default.
	SampleRatio float64 `yaml:"sample_ratio,omitempty" json:"sample_ratio,omitempty"`
	// TrustIncoming says whose traceparent header is continued:
	// "trusted_proxies" (default: only from server.trusted_proxies),
	// "always" or "never". An untrusted client could otherwise force every
	// one of its requests to be sampled and flood the collector.
	TrustIncoming string `yaml:"trust_incoming,omitempty" json:"trust_incoming,omitempty"`
	// ServiceName is the service.name resource attribute. Default
	// "portcullis".
	ServiceName string `yaml:"service_name,omitempty" json:"service_name,omitempty"`
	// Timeout bounds one export. Default 10s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Validate checks the block.
func (c *Config) Validate() field.List {
	var l field.List
	switch c.Exporter {
	case "", ExporterGRPC, ExporterHTTP:
	default:
		l = append(l, field.Errorf("exporter", "%q is not an exporter (expected \"otlp-grpc\" or \"otlp-http\")", c.Exporter))
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		l = append(l, field.Errorf("sample_ratio", "%v is not a ratio (expected a number above 0 and at most 1)", c.SampleRatio))
	}
	switch c.TrustIncoming {
	case "", TrustTrustedProxies, TrustAlways, TrustNever:
	default:
		l = append(l, field.Errorf("trust_incoming", "%q is not a policy (expected \"trusted_proxies\", \"always\" or \"never\")", c.TrustIncoming))
	}
	if c.Exporter == "" && c.Endpoint != "" {
		l = append(l, field.Errorf("endpoint", "an endpoint without an exporter does nothing (set exporter: otlp-grpc or otlp-http)"))
	}
	if c.Timeout < 0 {
		l = append(l, field.Errorf("timeout", "must not be negative"))
	}
	return l
}

// Enabled reports whether the block turns tracing on.
func (c *Config) Enabled() bool { return c.Exporter != "" }

// Tracer is a running tracer provider and what the gateway needs of it.
type Tracer struct {
	// Provider is the SDK provider (Shutdown flushes it).
	Provider *sdktrace.TracerProvider
	// Tracer starts the gateway's spans.
	Tracer trace.Tracer
	// Propagator is W3C trace context.
	Propagator propagation.TextMapPropagator
	// Trust is the TrustIncoming policy, defaults applied.
	Trust string

	// root is the provider's sampler for spans without a parent (the
	// ratio); NewRoot asks it before any span exists.
	root sdktrace.Sampler
}

// Options are what New needs beyond the config.
type Options struct {
	// Node is the service.instance.id resource attribute.
	Node string
	// Version is the service.version resource attribute.
	Version string
	// Exporter replaces the OTLP exporter (tests). Nil builds one from the
	// config.
	Exporter sdktrace.SpanExporter
}

// New builds the tracer of cfg, or returns nil when tracing is off.
func New(cfg Config, opts Options) (*Tracer, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	if l := cfg.Validate(); len(l) > 0 {
		return nil, fmt.Errorf("tracing: %w", l[0])
	}
	exp := opts.Exporter
	if exp == nil {
		var err error
		if exp, err = exporter(cfg); err != nil {
			return nil, err
		}
	}
	ratio := cfg.SampleRatio
	if ratio == 0 {
		ratio = DefaultSampleRatio
	}
	name := cfg.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if opts.Node != "" {
		attrs = append(attrs, attribute.String("service.instance.id", opts.Node))
	}
	if opts.Version != "" {
		attrs = append(attrs, attribute.String("service.version", opts.Version))
	}
	root := sdktrace.TraceIDRatioBased(ratio)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(root)),
		sdktrace.WithIDGenerator(presetIDs{}),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
	)
	trust := cfg.TrustIncoming
	if trust == "" {
		trust = TrustTrustedProxies
	}
	return &Tracer{
		Provider:   tp,
		Tracer:     tp.Tracer("github.com/portcullis/portcullis/internal/gateway"),
		Propagator: propagation.TraceContext{},
		Trust:      trust,
		root:       root,
	}, nil
}

func exporter(cfg Config) (sdktrace.SpanExporter, error) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx := context.Background()
	switch cfg.Exporter {
	case ExporterGRPC:
		ep := cfg.Endpoint
		if ep == "" {
			ep = DefaultGRPCEndpoint
		}
		o := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(ep), otlptracegrpc.WithTimeout(timeout)}
		if cfg.Insecure {
			o = append(o, otlptracegrpc.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			o = append(o, otlptracegrpc.WithHeaders(cfg.Headers))
		}
		return otlptrace.New(ctx, otlptracegrpc.NewClient(o...))
	case ExporterHTTP:
		ep := cfg.Endpoint
		if ep == "" {
			ep = DefaultHTTPEndpoint
		}
		o := []otlptracehttp.Option{otlptracehttp.WithTimeout(timeout)}
		if strings.Contains(ep, "://") {
			u, err := url.Parse(ep)
			if err != nil {
				return nil, fmt.Errorf("tracing.endpoint: %w", err)
			}
			o = append(o, otlptracehttp.WithEndpointURL(ep))
			if u.Scheme == "http" {
				o = append(o, otlptracehttp.WithInsecure())
			}
		} else {
			o = append(o, otlptracehttp.WithEndpoint(ep))
			if cfg.Insecure {
				o = append(o, otlptracehttp.WithInsecure())
			}
		}
		if len(cfg.Headers) > 0 {
			o = append(o, otlptracehttp.WithHeaders(cfg.Headers))
		}
		return otlptrace.New(ctx, otlptracehttp.NewClient(o...))
	}
	return nil, errors.New("tracing: no exporter")
}

// Shutdown flushes and stops the provider.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.Provider.Shutdown(ctx)
}

// Root is a new trace decided before its first span: its ids and whether
// the sampler records it. See Tracer.NewRoot.
type Root struct {
	TraceID trace.TraceID
	SpanID  trace.SpanID
	Sampled bool
}

// NewRoot picks the ids of a new trace (one with no parent to continue)
// and asks the provider's root sampler about it, without starting a span.
// An unsampled root needs nothing more than its Traceparent for the
// upstream: no span, no context value, none of the SDK's work per span,
// which is what tracing at 1% costs on the 99% of requests it does not
// record. A sampled one is started with StartRoot, which gives its
// server span these ids, so the SDK's sampler (the same ratio on the same
// trace id) decides as NewRoot did.
func (t *Tracer) NewRoot() Root {
	var r Root
	for !r.TraceID.IsValid() {
		binary.NativeEndian.PutUint64(r.TraceID[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(r.TraceID[8:], rand.Uint64())
	}
	r.SpanID = newSpanID()
	res := t.root.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: r.TraceID})
	r.Sampled = res.Decision == sdktrace.RecordAndSample
	return r
}

// StartRoot starts the span of root, a sampled Root from NewRoot, as a
// new root span with root's ids.
func (t *Tracer) StartRoot(ctx context.Context, root Root, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	p := &preset{root: root}
	ctx = context.WithValue(ctx, presetKey{}, p)
	return t.Tracer.Start(ctx, name, append(opts, trace.WithNewRoot())...)
}

// Traceparent is the W3C traceparent header of a span: version 00, the
// trace and span ids, and flags 01 when sampled, 00 when not. It is what
// propagation.TraceContext injects, built in one allocation.
func (r Root) Traceparent() string {
	var b [55]byte
	copy(b[:], "00-")
	hex.Encode(b[3:35], r.TraceID[:])
	b[35] = '-'
	hex.Encode(b[36:52], r.SpanID[:])
	copy(b[52:], "-00")
	if r.Sampled {
		b[54] = '1'
	}
	return string(b[:])
}

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}

// presetIDs is the provider's id generator: random ids like the SDK's
// own, except for the root span StartRoot starts, which gets the ids
// NewRoot chose (they travel in the context, used once).
type presetIDs struct{}

type presetKey struct{}

type preset struct {
	root Root
	used atomic.Bool
}

// NewIDs returns the ids of a new root span.
func (presetIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	// Only StartRoot's own Start finds an unused preset: a root started
	// later under the same context (WithNewRoot, maybe on another
	// goroutine) gets fresh ids, not a second copy of these.
	if p, ok := ctx.Value(presetKey{}).(*preset); ok && p.used.CompareAndSwap(false, true) {
		return p.root.TraceID, p.root.SpanID
	}
	var tid trace.TraceID
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid, newSpanID()
}

// NewSpanID returns the id of a span in an existing trace.
func (presetIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }
