// Package tracing sets up OpenTelemetry tracing for the gateway: a tracer
// provider exporting over OTLP (gRPC or HTTP), a parent-based ratio
// sampler, and the W3C trace-context propagator. Tracing is off by
// default; off, nothing here is built and the gateway's hooks are nil
// checks.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
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
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
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
