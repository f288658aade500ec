package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/alert"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/stage/ipfilter"
	"github.com/portcullis/portcullis/internal/stage/limits"
	"github.com/portcullis/portcullis/internal/units"
)

// syncBuffer is a goroutine-safe bytes.Buffer for access records.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	// flush, when set, writes what the server holds back (the access
	// log's buffer) before the buffer is read.
	flush func()
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	if s.flush != nil {
		s.flush()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// records returns the access records written so far.
func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	if s.flush != nil {
		s.flush()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("access record is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// memSink records events in memory.
type memSink struct {
	mu  sync.Mutex
	evs []events.Event
}

func (m *memSink) Name() string { return "memory" }
func (m *memSink) Write(_ context.Context, b []events.Event) error {
	m.mu.Lock()
	m.evs = append(m.evs, b...)
	m.mu.Unlock()
	return nil
}
func (m *memSink) Close() error { return nil }
func (m *memSink) all() []events.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]events.Event(nil), m.evs...)
}

type testGateway struct {
	srv    *Server
	base   string
	addr   string
	access *syncBuffer
	sink   *memSink
	logs   *syncBuffer
}

// start runs a Server for cfg on free loopback ports.
func start(t *testing.T, cfg *config.Config, extra ...events.Sink) *testGateway {
	t.Helper()
	cfg.WithDefaults()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &testGateway{access: &syncBuffer{}, sink: &memSink{}, logs: &syncBuffer{}}
	srv, err := NewServer(cfg, Options{
		Logger:        slog.New(slog.NewJSONHandler(tg.logs, nil)),
		AccessWriter:  tg.access,
		Listeners:     []net.Listener{ln},
		AdminListener: adm,
		Sinks:         append([]events.Sink{tg.sink}, extra...),
	})
	if err != nil {
		t.Fatal(err)
	}
	tg.access.flush = srv.FlushAccess
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	tg.srv = srv
	tg.addr = ln.Addr().String()
	tg.base = "http://" + tg.addr
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return tg
}

// flush drains the event bus so every published event is in the sinks.
func (tg *testGateway) flush(t *testing.T) {
	t.Helper()
	if err := tg.srv.Bus().Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func baseConfig(upstream string) *config.Config {
	return &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Admin:     config.Admin{Addr: "127.0.0.1:0", Token: "t0ken"},
		Stages: config.Blocks{
			"ipfilter": &ipfilter.Config{Deny: []string{"203.0.113.0/24"}},
			"limits":   &limits.Config{MaxBodyBytes: units.Bytes(1024), MaxURLLength: 512, MaxQueryParams: 5, MaxJSONDepth: 8},
		},
		APIs: []config.API{{Name: "test", Upstream: config.Upstream{Targets: []string{upstream}}}},
	}
}

// recorder is an upstream that records what it receives.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r.Clone(context.Background()))
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

func (rc *recorder) last() *http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.reqs) == 0 {
		return nil
	}
	return rc.reqs[len(rc.reqs)-1]
}

// raw sends a raw HTTP/1.1 request and returns the parsed response.
func raw(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body
}

func TestBadInputIsRefusedWithProblemRecordAndEvent(t *testing.T) {
	up := &recorder{}
	ts := httptest.NewServer(up)
	defer ts.Close()
	tg := start(t, baseConfig(ts.URL))

	deep := strings.Repeat("[", 20) + strings.Repeat("]", 20)
	cases := []struct {
		name   string
		req    string
		status int
		rule   string
	}{
		{"content-length and transfer-encoding", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "limits.ambiguous-length"},
		{"duplicate host", "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "limits.duplicate-host"},
		{"invalid percent-encoding", "GET /x%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400, "limits.bad-encoding"},
		{"encoded NUL", "GET /x%00y HTTP/1.1\r\nHost: a\r\n\r\n", 400, "limits.control-char"},
		{"raw control byte", "GET /x\x01y HTTP/1.1\r\nHost: a\r\n\r\n", 400, "limits.control-char"},
		{"dot-dot", "GET /a/../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", 400, "limits.path-traversal"},
		{"encoded dot-dot", "GET /a/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", 400, "limits.path-traversal"},
		{"double-encoded dot-dot", "GET /a/%252e%252e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", 400, "limits.path-traversal"},
		{"tomcat dot-dot-semicolon", "GET /a/..;/admin HTTP/1.1\r\nHost: a\r\n\r\n", 400, "limits.path-traversal"},
		{"backslash", "GET /a/..%5c..%5cwin.ini HTTP/1.1\r\nHost: a\r\n\r\n", 400, "limits.path-traversal"},
		{"overlong utf-8 dot", "GET /a/%c0%ae%c0%ae/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", 400, "limits.path-traversal"},
		{"url too long", "GET /" + strings.Repeat("a", 600) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, "limits.url-length"},
		{"too many query params", "GET /x?a=1&b=2&c=3&d=4&e=5&f=6 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "limits.query-params"},
		{"body too large", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n" + strings.Repeat("a", 2000), 413, "limits.body-size"},
		{"chunked body too large", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + strings.Repeat("a", 2000) + "\r\n0\r\n\r\n", 413, "limits.body-size"},
		{"json too deep", fmt.Sprintf("POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(deep), deep), 400, "limits.json-depth"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := raw(t, tg.addr, tc.req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status: got %d, want %d (body %s)", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type: got %q, want application/problem+json", ct)
			}
			var p struct {
				Status    int    `json:"status"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("problem body: %v: %s", err, body)
			}
			if p.Status != tc.status || p.RequestID == "" {
				t.Fatalf("problem: got status %d id %q, want status %d and an id", p.Status, p.RequestID, tc.status)
			}
			if strings.Contains(string(body), "passwd") || strings.Contains(string(body), "aaaa") {
				t.Fatalf("problem echoes the payload: %s", body)
			}
			// The access record for this request id names the rule.
			var rec map[string]any
			for _, r := range tg.access.records(t) {
				if r["request_id"] == p.RequestID {
					rec = r
				}
			}
			if rec == nil {
				t.Fatalf("no access record with request id %s", p.RequestID)
			}
			if got := fmt.Sprint(rec["rules"]); !strings.Contains(got, tc.rule) {
				t.Fatalf("access record rules: got %s, want %s", got, tc.rule)
			}
			if int(rec["status"].(float64)) != tc.status {
				t.Fatalf("access record status: got %v, want %d", rec["status"], tc.status)
			}
		})
	}
	// The gateway keeps serving.
	resp, err := http.Get(tg.base + "/still-alive")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after bad input: got %d, want 200", resp.StatusCode)
	}
	if up.count() != 1 {
		t.Fatalf("upstream saw %d requests, want only the good one", up.count())
	}
	// One security event per refused request, naming the rule.
	tg.flush(t)
	got := map[string]int{}
	for _, e := range tg.sink.all() {
		for _, r := range e.Rules {
			got[r]++
		}
	}
	for _, tc := range cases {
		if got[tc.rule] == 0 {
			t.Errorf("no security event with rule %s", tc.rule)
		}
	}
	if n := len(tg.sink.all()); n != len(cases) {
		t.Errorf("events: got %d, want %d (one per refused request)", n, len(cases))
	}
}

func TestForwardedHeadersAndRequestID(t *testing.T) {
	up := &recorder{}
	ts := httptest.NewServer(up)
	defer ts.Close()
	tg := start(t, baseConfig(ts.URL))

	req, _ := http.NewRequest("GET", tg.base+"/pets", nil)
	req.Header.Set("X-Forwarded-For", "1.2.3.4")
	req.Header.Set("X-Request-Id", "spoofed-id")
	req.Header.Set("Forwarded", "for=5.6.7.8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := up.last()
	if got == nil {
		t.Fatal("upstream received nothing")
	}
	if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("X-Forwarded-For upstream: got %q, want 127.0.0.1 (spoofed value from an untrusted peer must not pass)", xff)
	}
	if fw := got.Header.Get("Forwarded"); fw != "" {
		t.Errorf("Forwarded upstream: got %q, want none", fw)
	}
	id := got.Header.Get("X-Request-Id")
	if id == "" || id == "spoofed-id" {
		t.Errorf("X-Request-Id upstream: got %q, want a generated id", id)
	}
	if resp.Header.Get("X-Request-Id") != id {
		t.Errorf("X-Request-Id to client: got %q, want %q", resp.Header.Get("X-Request-Id"), id)
	}
}

func TestTrustedProxyForwardsClientIP(t *testing.T) {
	up := &recorder{}
	ts := httptest.NewServer(up)
	defer ts.Close()
	cfg := baseConfig(ts.URL)
	cfg.Server.TrustedProxies = []string{"127.0.0.1"}
	tg := start(t, cfg)

	req, _ := http.NewRequest("GET", tg.base+"/pets", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9") // in the denied range
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("denied client through a trusted proxy: got %d, want 403", resp.StatusCode)
	}
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	req.Header.Set("X-Request-Id", "from-trusted-proxy")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := up.last()
	if xff := got.Header.Get("X-Forwarded-For"); xff != "198.51.100.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For: got %q, want the trusted chain extended", xff)
	}
	if id := got.Header.Get("X-Request-Id"); id != "from-trusted-proxy" {
		t.Errorf("X-Request-Id: got %q, want the trusted peer's id", id)
	}
}

func TestUpstreamDownAndHanging(t *testing.T) {
	// A closed port: nothing listens there.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()

	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)

	cfg := baseConfig(dead)
	cfg.APIs[0].PathPrefix = "/down"
	cfg.APIs = append(cfg.APIs, config.API{Name: "hang", PathPrefix: "/hang", Upstream: config.Upstream{
		Targets: []string{hang.URL}, ResponseHeaderTimeout: 300 * time.Millisecond,
	}})
	tg := start(t, cfg)
	for _, tc := range []struct {
		path string
		want int
	}{{"/down/x", 502}, {"/hang/x", 504}} {
		resp, err := http.Get(tg.base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: got %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
		if resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: content type %q, want problem+json", tc.path, resp.Header.Get("Content-Type"))
		}
		if strings.Contains(string(body), "127.0.0.1") || strings.Contains(string(body), "dial") {
			t.Errorf("%s: problem leaks internals: %s", tc.path, body)
		}
	}
}

func TestEventsStoredEqualDenials(t *testing.T) {
	up := &recorder{}
	ts := httptest.NewServer(up)
	defer ts.Close()
	tg := start(t, baseConfig(ts.URL))
	client := &http.Client{}
	denials := 0
	for i := 0; i < 60; i++ {
		path := "/ok"
		switch i % 3 {
		case 1:
			path = "/a/%2e%2e/b"
		case 2:
			path = "/x?a=1&b=2&c=3&d=4&e=5&f=6"
		}
		req, _ := http.NewRequest("GET", tg.base+"/", nil)
		req.URL.Opaque = path
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			denials++
		}
	}
	tg.flush(t)
	if got := len(tg.sink.all()); got != denials || denials != 40 {
		t.Fatalf("events stored: got %d, denials %d, want both 40", got, denials)
	}
}

// blockingSink blocks every write until released.
type blockingSink struct{ release chan struct{} }

func (b *blockingSink) Name() string { return "blocking" }
func (b *blockingSink) Write(ctx context.Context, _ []events.Event) error {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil
}
func (b *blockingSink) Close() error { return nil }

func TestEventFloodDropsAreCountedAndNeverSlowRequests(t *testing.T) {
	up := &recorder{}
	ts := httptest.NewServer(up)
	defer ts.Close()
	cfg := baseConfig(ts.URL)
	cfg.Events.QueueSize = 8
	// 200 denials would fire the denial-spike alert, one more event than
	// the requests; this test counts the requests' events exactly.
	cfg.Alerts.Builtin.Disabled = []string{alert.BuiltinDenialSpike}
	blk := &blockingSink{release: make(chan struct{})}
	tg := start(t, cfg, blk)
	defer close(blk.release)

	client := &http.Client{Timeout: 5 * time.Second}
	const n = 200
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("GET", tg.base+"/", nil)
		req.URL.Opaque = "/a/%2e%2e/b"
		resp, err := client.Do(req) // a blocked sink must not block this
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("request %d: got %d, want 400", i, resp.StatusCode)
		}
	}
	var blocked events.SinkStats
	for _, s := range tg.srv.Bus().Stats() {
		if s.Name == "blocking" {
			blocked = s
		}
	}
	if blocked.Dropped == 0 {
		t.Fatalf("blocking sink: dropped %d, want > 0 (stats %+v)", blocked.Dropped, blocked)
	}
	// The drop counter is exported on the admin listener.
	resp, err := http.Get("http://" + tg.srv.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`portcullis_events_dropped_total{sink="blocking"} %d`, blocked.Dropped)
	if !strings.Contains(string(body), `portcullis_events_dropped_total{sink="blocking"}`) {
		t.Fatalf("metrics lack the drop counter; want a line like %s", want)
	}
	// Nothing is lost silently: every event the blocked sink did not queue
	// is counted as dropped (its queue holds 8, plus the batch it is stuck
	// writing), and the other sink accounts for every event too.
	if blocked.Published != n || blocked.Dropped+uint64(blocked.QueueLen) != n {
		t.Errorf("blocking sink: published %d, dropped %d, queued %d; want %d = dropped + queued",
			blocked.Published, blocked.Dropped, blocked.QueueLen, n)
	}
	for _, s := range tg.srv.Bus().Stats() {
		if s.Name == "memory" && s.Published != s.Written+s.Dropped+s.Errors+uint64(s.QueueLen) {
			t.Errorf("memory sink loses events silently: %+v", s)
		}
	}
}

func TestAdminPlane(t *testing.T) {
	up := &recorder{}
	ts := httptest.NewServer(up)
	defer ts.Close()
	tg := start(t, baseConfig(ts.URL))
	admin := "http://" + tg.srv.AdminAddr()
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/metrics", "", 200},
		{"/api/v1/status", "", 401},
		{"/api/v1/status", "wrong", 401},
		{"/api/v1/status", "t0ken", 200},
	} {
		req, _ := http.NewRequest("GET", admin+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s with token %q: got %d, want %d", tc.path, tc.token, resp.StatusCode, tc.want)
		}
	}
}

func TestRouting(t *testing.T) {
	mk := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", name, r.URL.Path)
		}))
	}
	a, b, c := mk("a"), mk("b"), mk("c")
	defer a.Close()
	defer b.Close()
	defer c.Close()
	cfg := &config.Config{APIs: []config.API{
		{Name: "a", Upstream: config.Upstream{Targets: []string{a.URL}}},
		{Name: "b", PathPrefix: "/b", StripPrefix: true, Upstream: config.Upstream{Targets: []string{b.URL}}},
		{Name: "c", Hosts: []string{"*.example.com"}, PathPrefix: "/b", Upstream: config.Upstream{Targets: []string{c.URL}}},
	}}
	tg := start(t, cfg)
	for _, tc := range []struct{ host, path, want string }{
		{"x", "/pets", "a /pets"},
		{"x", "/b/pets", "b /pets"},
		{"x", "/bpets", "a /bpets"},
		{"api.example.com", "/b/pets", "c /b/pets"},
		{"example.com", "/b/pets", "b /pets"},
	} {
		req, _ := http.NewRequest("GET", tg.base+tc.path, nil)
		req.Host = tc.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != tc.want {
			t.Errorf("%s%s: got %q, want %q", tc.host, tc.path, body, tc.want)
		}
	}
}
