package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/tracing"
)

// traceSink is an in-process OTLP/HTTP collector: it decodes each export
// (protobuf on /v1/traces) and counts the traces and spans in it.
type traceSink struct {
	mu     sync.Mutex
	traces map[string]bool
	spans  int
}

func (s *traceSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	var req collector.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want protobuf on /v1/traces", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s.traces[string(sp.TraceId)] = true
				s.spans++
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse is zero bytes
}

// benchUpstream answers as bench/upstream does: GET /bench a small fixed
// JSON document, POST /bench the length of what it read, POST /v1/traces
// the collector. It records whether requests carried a traceparent.
type benchUpstream struct {
	sink        *traceSink
	traceparent sync.Map // "sampled" / "unsampled" / "none" → true
}

var upstreamGetBody = []byte(`{"ok":true,"service":"bench-upstream","items":[1,2,3,4,5],"message":"hello from the benchmark upstream"}`)

func (u *benchUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/traces" {
		u.sink.ServeHTTP(w, r)
		return
	}
	switch tp := r.Header.Get("Traceparent"); {
	case tp == "":
		u.traceparent.Store("none", true)
	case strings.HasSuffix(tp, "-01"):
		u.traceparent.Store("sampled", true)
	default:
		u.traceparent.Store("unsampled", true)
	}
	w.Header()["Content-Type"] = []string{"application/json"}
	if r.Method == http.MethodPost {
		n, _ := io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte(`{"received":` + strconv.FormatInt(n, 10) + `}`))
		return
	}
	_, _ = w.Write(upstreamGetBody)
}

// BenchmarkTracing sends the same request (bench/run.sh's GET /bench and
// POST 1 KB JSON) through one in-process gateway built from
// bench/portcullis.yaml in several ways, one request at a time over
// loopback, for instruction counts under cachegrind (docs/monitoring.md,
// "What tracing costs"):
//
//   - bare: the client straight to the upstream, no gateway (subtract it
//     from a row to get the gateway's own share);
//   - none: portcullis.yaml, no tracing block;
//   - off: the same with a tracing block that names no exporter
//     (service name, ratio, trust policy set): tracing off as configured;
//   - unsampled: tracing on with the OTLP/HTTP exporter and a ratio so
//     small that no request is sampled (the cost every unsampled request
//     pays);
//   - 1pct: bench/portcullis-tracing.yaml as it is (OTLP/HTTP to the
//     in-process collector, 1% sampling), the bench/run.sh row;
//   - all: the same at ratio 1 (the cost of one sampled request).
func BenchmarkTracing(b *testing.B) {
	body := []byte(`{"data":"` + strings.Repeat("x", 1013) + `"}`) // run.sh's body-1k.json
	for _, sc := range []struct {
		name, method string
		body         []byte
	}{{"GET", http.MethodGet, nil}, {"POST1K", http.MethodPost, body}} {
		for _, row := range []string{"bare", "none", "off", "unsampled", "1pct", "all"} {
			b.Run(sc.name+"/"+row, func(b *testing.B) {
				up := &benchUpstream{sink: &traceSink{traces: map[string]bool{}}}
				us := httptest.NewServer(up)
				defer us.Close()
				url := us.URL + "/bench"
				var stop func()
				if row != "bare" {
					var addr string
					addr, stop = startTracingRow(b, row, us.URL)
					url = "http://" + addr + "/bench"
				}
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
				send := func() {
					var rd io.Reader
					if sc.body != nil {
						rd = bytes.NewReader(sc.body)
					}
					req, _ := http.NewRequest(sc.method, url, rd)
					if sc.body != nil {
						req.Header.Set("Content-Type", "application/json")
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
				send() // the connections are open before the loop
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					send()
				}
				b.StopTimer()
				client.CloseIdleConnections()
				if stop != nil {
					stop() // flushes the spans to the collector
				}
				checkTracingRow(b, row, up)
			})
		}
	}
}

// startTracingRow starts the gateway of a BenchmarkTracing row in front of
// upstream and returns its address and how to stop it.
func startTracingRow(b *testing.B, row, upstream string) (string, func()) {
	b.Helper()
	b.Setenv("PORTCULLIS_ADDR", "127.0.0.1:0")
	b.Setenv("PORTCULLIS_UPSTREAM", upstream)
	file := "portcullis.yaml"
	if row == "1pct" || row == "unsampled" || row == "all" {
		file = "portcullis-tracing.yaml"
	}
	cfg, err := config.Load(file)
	if err != nil {
		b.Fatal(err)
	}
	switch row {
	case "off":
		cfg.Tracing = tracing.Config{SampleRatio: 0.01, ServiceName: "portcullis-bench", TrustIncoming: tracing.TrustNever}
	case "unsampled":
		cfg.Tracing.SampleRatio = 1e-12 // one trace id in 10^12
	case "all":
		cfg.Tracing.SampleRatio = 1
	}
	if probs := cfg.Validate(); len(probs) > 0 {
		b.Fatal(probs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := gateway.NewServer(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), AccessWriter: io.Discard,
		Listeners: []net.Listener{ln}})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	return ln.Addr().String(), func() { _ = srv.Close(context.Background()) }
}

// checkTracingRow fails the row when what reached the upstream and the
// collector is not what its configuration promises: a row that measured
// the wrong thing is worse than none.
func checkTracingRow(b *testing.B, row string, up *benchUpstream) {
	b.Helper()
	seen := func(k string) bool { _, ok := up.traceparent.Load(k); return ok }
	up.sink.mu.Lock()
	traces := len(up.sink.traces)
	up.sink.mu.Unlock()
	switch row {
	case "bare", "none", "off":
		if seen("sampled") || seen("unsampled") || traces != 0 {
			b.Fatalf("%s: traceparent sent or %d traces exported, want neither", row, traces)
		}
	case "unsampled":
		if !seen("unsampled") || seen("sampled") || traces != 0 {
			b.Fatalf("unsampled: want every request with an unsampled traceparent and no trace exported (%d)", traces)
		}
	case "all":
		if !seen("sampled") || seen("unsampled") || traces != b.N+1 {
			b.Fatalf("all: got %d traces for %d requests, want one each, all sampled", traces, b.N+1)
		}
	case "1pct":
		if !seen("unsampled") {
			b.Fatalf("1pct: no unsampled traceparent reached the upstream")
		}
		b.ReportMetric(float64(traces), "traces")
	}
	if os.Getenv("BENCH_TRACING_VERBOSE") != "" {
		b.Logf("%s: %d traces exported for %d requests", row, traces, b.N+1)
	}
}
