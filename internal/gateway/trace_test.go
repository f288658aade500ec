package gateway

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/tracing"
)

// otlpReceiver is an in-process OTLP collector: it takes real OTLP
// exports, over HTTP (protobuf on /v1/traces) or gRPC, and keeps the spans.
type otlpReceiver struct {
	collector.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) keep(req *collector.ExportTraceServiceRequest) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			o.spans = append(o.spans, ss.GetSpans()...)
		}
	}
}

func (o *otlpReceiver) Export(_ context.Context, req *collector.ExportTraceServiceRequest) (*collector.ExportTraceServiceResponse, error) {
	o.keep(req)
	return &collector.ExportTraceServiceResponse{}, nil
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want protobuf on /v1/traces", http.StatusBadRequest)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var req collector.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.keep(&req)
	out, _ := proto.Marshal(&collector.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (o *otlpReceiver) traces() map[string][]*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]*tracepb.Span{}
	for _, s := range o.spans {
		id := hex.EncodeToString(s.TraceId)
		out[id] = append(out[id], s)
	}
	return out
}

// startTraced starts a recording upstream and a gateway in front of it
// that traces as tr says, exporting to rcv: at tr.Endpoint, or, when that
// is empty, through an OTLP/HTTP collector started here. All of them stop
// with the test, the gateway first.
func startTraced(t *testing.T, tr tracing.Config, rcv *otlpReceiver) (*testGateway, *recorder) {
	t.Helper()
	if tr.Endpoint == "" {
		col := httptest.NewServer(rcv)
		t.Cleanup(col.Close)
		tr.Endpoint = col.URL + "/v1/traces"
	}
	up := &recorder{}
	ts := httptest.NewServer(up)
	t.Cleanup(ts.Close)
	cfg := baseConfig(ts.URL)
	cfg.Tracing = tr
	return start(t, cfg), up
}

// TestTracesToOTLP: with tracing on (sample ratio 1), an in-process OTLP
// receiver gets one trace per request, over HTTP and over gRPC: a server
// span, a span per stage under it, and the upstream call; the upstream
// gets a traceparent naming that trace and the upstream span; the access
// record and the denial event carry the trace id; a traceparent from an
// untrusted client starts a new trace instead of continuing its own.
func TestTracesToOTLP(t *testing.T) {
	for _, exporter := range []string{tracing.ExporterHTTP, tracing.ExporterGRPC} {
		t.Run(exporter, func(t *testing.T) {
			rcv := &otlpReceiver{}
			tr := tracing.Config{Exporter: exporter, Insecure: true, SampleRatio: 1}
			if exporter == tracing.ExporterGRPC {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				gs := grpc.NewServer()
				collector.RegisterTraceServiceServer(gs, rcv)
				go func() { _ = gs.Serve(ln) }()
				t.Cleanup(gs.Stop)
				tr.Endpoint = ln.Addr().String()
			}
			tg, up := startTraced(t, tr, rcv)

			const foreign = "4bf92f3577b34da6a3ce929d0e0e4736"
			var rids []string
			for i, path := range []string{"/a", "/b", "/c?a=1&b=2&c=3&d=4&e=5&f=6"} {
				req, _ := http.NewRequest("GET", tg.base+path, nil)
				if i == 1 {
					req.Header.Set("Traceparent", "00-"+foreign+"-00f067aa0ba902b7-01")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				rids = append(rids, resp.Header.Get("X-Request-Id"))
			}
			if err := tg.srv.Close(context.Background()); err != nil { // flushes the tracer
				t.Fatal(err)
			}

			traces := rcv.traces()
			if len(traces) != 3 {
				t.Fatalf("got %d traces, want 3 (one per request)", len(traces))
			}
			if _, ok := traces[foreign]; ok {
				t.Errorf("an untrusted client's traceparent was continued")
			}
			up.mu.Lock()
			upstreamSaw := map[string]string{} // trace id → parent span id
			for _, r := range up.reqs {
				tp := strings.Split(r.Header.Get("Traceparent"), "-")
				if len(tp) != 4 {
					t.Errorf("upstream got traceparent %q", r.Header.Get("Traceparent"))
					continue
				}
				upstreamSaw[tp[1]] = tp[2]
			}
			n := len(up.reqs)
			up.mu.Unlock()
			if n != 2 {
				t.Fatalf("upstream got %d requests, want 2", n)
			}
			allowed, denied := 0, 0
			for id, spans := range traces {
				var server *tracepb.Span
				names := map[string]*tracepb.Span{}
				for _, s := range spans {
					names[s.Name] = s
					if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
						server = s
					}
				}
				if server == nil {
					t.Errorf("trace %s has no server span: %v", id, spanNames(spans))
					continue
				}
				for _, st := range []string{"stage limits.normalize", "stage ipfilter", "stage limits.request"} {
					s := names[st]
					if s == nil {
						t.Errorf("trace %s lacks %q: %v", id, st, spanNames(spans))
						continue
					}
					if string(s.ParentSpanId) != string(server.SpanId) {
						t.Errorf("trace %s: %q is not a child of the server span", id, st)
					}
				}
				if upSpan := names["upstream GET"]; upSpan != nil {
					allowed++
					if upSpan.Kind != tracepb.Span_SPAN_KIND_CLIENT {
						t.Errorf("upstream span kind %v, want client", upSpan.Kind)
					}
					if p, ok := upstreamSaw[id]; !ok || p != hex.EncodeToString(upSpan.SpanId) {
						t.Errorf("trace %s: upstream saw parent %q, want the upstream span %x", id, p, upSpan.SpanId)
					}
				} else {
					denied++
					if names["stage limits.request"].GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
						t.Errorf("the denying stage's span is not an error")
					}
				}
			}
			if allowed != 2 || denied != 1 {
				t.Errorf("got %d traces with an upstream call and %d without, want 2 and 1", allowed, denied)
			}

			// The trace id is in the access records and the denial event.
			recs := tg.access.records(t)
			for _, rec := range recs {
				if id, _ := rec["trace_id"].(string); traces[id] == nil {
					t.Errorf("access record %v has trace_id %q, not an exported trace", rec["request_id"], id)
				}
			}
			var denial *events.Event
			for _, e := range tg.sink.all() {
				if e.Type == events.TypeDenial && e.RequestID == rids[2] {
					denial = &e
				}
			}
			if denial == nil || traces[denial.TraceID] == nil {
				t.Errorf("the denial event has no exported trace id: %+v", denial)
			}
		})
	}
}

func spanNames(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// TestUnsampledPropagates: a request the sampler leaves out exports no
// span, and the upstream still gets a traceparent, flagged not sampled,
// so that it does not start sampling the request on its own.
func TestUnsampledPropagates(t *testing.T) {
	rcv := &otlpReceiver{}
	tg, up := startTraced(t, tracing.Config{Exporter: tracing.ExporterHTTP, SampleRatio: 1e-12}, rcv)
	resp, err := http.Get(tg.base + "/a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := tg.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.traces()); n != 0 {
		t.Errorf("got %d exported traces, want none", n)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.reqs) != 1 {
		t.Fatalf("upstream got %d requests", len(up.reqs))
	}
	if tp := up.reqs[0].Header.Get("Traceparent"); len(strings.Split(tp, "-")) != 4 || !strings.HasSuffix(tp, "-00") {
		t.Errorf("upstream got traceparent %q, want one flagged not sampled (-00)", tp)
	}
}

// TestUnsampledTraceparentFromClient: what the upstream gets for an
// unsampled request that came with trace headers. From a client whose
// traceparent is not continued (trust_incoming: never), a new trace's
// traceparent replaces the client's and the client's tracestate is
// dropped (it belongs to the trace it no longer joins). A continued
// parent flagged not sampled (trust_incoming: always) goes on: the same
// trace id, a new span id, flags 00, its tracestate kept.
func TestUnsampledTraceparentFromClient(t *testing.T) {
	const (
		parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentSpan  = "00f067aa0ba902b7"
	)
	for _, c := range []struct {
		trust, flags  string
		wantSameTrace bool
		wantState     string
	}{
		{trust: tracing.TrustNever, flags: "01", wantSameTrace: false, wantState: ""},
		{trust: tracing.TrustAlways, flags: "00", wantSameTrace: true, wantState: "vendor=opaque"},
	} {
		t.Run(c.trust, func(t *testing.T) {
			rcv := &otlpReceiver{}
			tg, up := startTraced(t, tracing.Config{Exporter: tracing.ExporterHTTP, SampleRatio: 1e-12, TrustIncoming: c.trust}, rcv)
			req, _ := http.NewRequest("GET", tg.base+"/a", nil)
			req.Header.Set("Traceparent", "00-"+parentTrace+"-"+parentSpan+"-"+c.flags)
			req.Header.Set("Tracestate", "vendor=opaque")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := up.last()
			if got == nil {
				t.Fatal("the upstream got no request")
			}
			tp := got.Header.Values("Traceparent")
			if len(tp) != 1 {
				t.Fatalf("upstream got traceparent %q, want one", tp)
			}
			parts := strings.Split(tp[0], "-")
			if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 || parts[3] != "00" {
				t.Fatalf("upstream got traceparent %q, want a W3C one flagged not sampled", tp[0])
			}
			if same := parts[1] == parentTrace; same != c.wantSameTrace {
				t.Errorf("upstream got trace id %s; continuing the client's: %v, want %v", parts[1], same, c.wantSameTrace)
			}
			if parts[2] == parentSpan {
				t.Errorf("upstream got the client's span id %s as its parent, want the gateway's", parts[2])
			}
			if st := got.Header.Get("Tracestate"); st != c.wantState {
				t.Errorf("upstream got tracestate %q, want %q", st, c.wantState)
			}
			if err := tg.srv.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := len(rcv.traces()); n != 0 {
				t.Errorf("got %d exported traces, want none", n)
			}
		})
	}
}

// BenchmarkServeTracing: one gateway request through the whole exchange
// to an upstream on loopback, tracing off and on at 1% sampling (spans to
// an in-process OTLP/HTTP collector). Run the two interleaved
// (-count, benchstat) to compare; bench/run.sh has the end-to-end rows.
func BenchmarkServeTracing(b *testing.B) {
	for _, name := range []string{"off", "on-1pct"} {
		b.Run(name, func(b *testing.B) {
			rcv := &otlpReceiver{}
			col := httptest.NewServer(rcv)
			defer col.Close()
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true}`)
			}))
			defer ts.Close()
			cfg := baseConfig(ts.URL)
			if name != "off" {
				cfg.Tracing = tracing.Config{Exporter: tracing.ExporterHTTP, Endpoint: col.URL + "/v1/traces", SampleRatio: 0.01}
			}
			tg, stop := startBench(b, cfg)
			defer stop() // before the collector closes: flushes the spans
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(tg + "/a")
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			// Teardown is not the request path: net/http's Shutdown
			// waits up to 5 s for a connection the client's transport
			// opened and never used (StateNew), which made runs of this
			// benchmark 50 ms/op now and then.
			b.StopTimer()
		})
	}
}

// startBench starts a server for a benchmark: access records discarded,
// events to no sink but the bus's own.
func startBench(b *testing.B, cfg *config.Config) (string, func()) {
	b.Helper()
	cfg.WithDefaults()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Admin.Disabled = true
	srv, err := NewServer(cfg, Options{Logger: slog.New(slog.DiscardHandler), AccessWriter: io.Discard, Listeners: []net.Listener{ln}})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	return "http://" + ln.Addr().String(), func() { _ = srv.Close(context.Background()) }
}
