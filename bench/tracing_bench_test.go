package bench

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/tracing"
)

// traceSink is an in-process OTLP/HTTP collector. It decodes the first
// export it gets (protobuf on /v1/traces, which must hold spans) and
// counts the others without decoding them, as bench/upstream's receiver
// does: what the rows measure is the gateway and its exporter, not a
// collector's decoding.
type traceSink struct {
	mu      sync.Mutex
	exports int
	spans   int // in the first export
	err     error
}

func (s *traceSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	first := s.exports == 0
	s.exports++
	s.mu.Unlock()
	if !first {
		_, _ = io.Copy(io.Discard, r.Body)
	} else {
		b, err := io.ReadAll(r.Body)
		var req collector.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &req)
		}
		if err == nil && r.Header.Get("Content-Type") != "application/x-protobuf" {
			err = errors.New("content type " + r.Header.Get("Content-Type"))
		}
		s.mu.Lock()
		s.err = err
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				s.spans += len(ss.GetSpans())
			}
		}
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse is zero bytes
}

// benchUpstream answers as bench/upstream does: GET /bench a small fixed
// JSON document, POST /bench the length of what it read, POST /v1/traces
// the collector. It counts requests by their traceparent: none, flagged
// sampled (one per recorded trace) or not.
type benchUpstream struct {
	sink                     *traceSink
	none, sampled, unsampled atomic.Int64
}

// unsampledTraceparent is what the bare-tp row's client sends.
var unsampledTraceparent = []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}

var upstreamGetBody = []byte(`{"ok":true,"service":"bench-upstream","items":[1,2,3,4,5],"message":"hello from the benchmark upstream"}`)

func (u *benchUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/traces" {
		u.sink.ServeHTTP(w, r)
		return
	}
	switch tp := r.Header.Get("Traceparent"); {
	case tp == "":
		u.none.Add(1)
	case strings.HasSuffix(tp, "-01"):
		u.sampled.Add(1)
	default:
		u.unsampled.Add(1)
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
//   - bare-tp: the same with an unsampled traceparent header from the
//     client (what one such header costs the HTTP/1.1 client that writes
//     it and the server that parses it, with no tracing code at all);
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
		for _, row := range []string{"bare", "bare-tp", "none", "off", "unsampled", "1pct", "all"} {
			b.Run(sc.name+"/"+row, func(b *testing.B) {
				up := &benchUpstream{sink: &traceSink{}}
				us := httptest.NewServer(up)
				defer us.Close()
				url := us.URL + "/bench"
				var stop func()
				if !strings.HasPrefix(row, "bare") {
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
					if row == "bare-tp" {
						req.Header["Traceparent"] = unsampledTraceparent
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
				checkTracingRow(b, row, up, b.N+1)
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
	return startServer(b, cfg)
}

// checkTracingRow fails the row when what reached the upstream and the
// collector is not what its configuration promises: a row that measured
// the wrong thing is worse than none. n is the number of requests sent.
func checkTracingRow(b *testing.B, row string, up *benchUpstream, n int) {
	b.Helper()
	none, sampled, unsampled := up.none.Load(), up.sampled.Load(), up.unsampled.Load()
	up.sink.mu.Lock()
	exports, spans, err := up.sink.exports, up.sink.spans, up.sink.err
	up.sink.mu.Unlock()
	if err != nil {
		b.Fatalf("%s: the collector got a bad export: %v", row, err)
	}
	want := map[string][3]int64{ // none, sampled, unsampled
		"bare": {int64(n), 0, 0}, "none": {int64(n), 0, 0}, "off": {int64(n), 0, 0},
		"bare-tp": {0, 0, int64(n)}, "unsampled": {0, 0, int64(n)}, "all": {0, int64(n), 0},
	}
	if w, ok := want[row]; ok && (none != w[0] || sampled != w[1] || unsampled != w[2]) {
		b.Fatalf("%s: the upstream got %d requests without a traceparent, %d sampled, %d not; want %v", row, none, sampled, unsampled, w)
	}
	if row == "1pct" && (none != 0 || sampled+unsampled != int64(n) || unsampled == 0) {
		b.Fatalf("1pct: the upstream got %d requests without a traceparent, %d sampled, %d not", none, sampled, unsampled)
	}
	if (sampled > 0) != (exports > 0) || (exports > 0 && spans == 0) {
		b.Fatalf("%s: %d sampled requests, %d exports (%d spans in the first)", row, sampled, exports, spans)
	}
	b.ReportMetric(float64(sampled), "traces")
}
