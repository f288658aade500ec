package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// echo is what the echo upstream reports about the request it received.
type echo struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	RawURI string      `json:"raw_uri"`
	Query  string      `json:"query"`
	Host   string      `json:"host"`
	Body   string      `json:"body"`
	Header http.Header `json:"header"`
}

func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{
			Method: r.Method, Path: r.URL.Path, RawURI: r.RequestURI, Query: r.URL.RawQuery,
			Host: r.Host, Body: string(b), Header: r.Header,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newUpstream(t *testing.T, cfg config.Upstream, opts Options) *Upstream {
	t.Helper()
	u, err := New("pets", cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// peer describes who sent the request to the gateway.
type peer struct {
	addr    string // RemoteAddr
	trusted bool
}

var untrusted = peer{addr: "203.0.113.7:5555"}

// serve sends r through u the way the gateway does (an exchange in the
// context) and returns the recorded response and the exchange.
// served is an exchange and the outcome Serve returned for it.
type served struct {
	*pipeline.Exchange
	out pipeline.Outcome
}

// serve runs r through u.Serve and renders a denial as the gateway does.
func serve(u *Upstream, r *http.Request, p peer) (*httptest.ResponseRecorder, *served) {
	r.RemoteAddr = p.addr
	x := pipeline.NewExchange(r, "req-42", time.Now())
	x.Peer = pipeline.PeerAddr(r)
	x.TrustedPeer = p.trusted
	tp := pipeline.TrustedProxies{}
	if p.trusted {
		tp, _ = pipeline.NewTrustedProxies([]string{x.Peer.String()})
	}
	x.ClientIP = tp.ClientIP(r, x.Peer)
	w := httptest.NewRecorder()
	r = r.WithContext(pipeline.WithExchange(r.Context(), x))
	out := u.Serve(w, r)
	if d := out.Denial; d != nil {
		if d.Status == StatusClientClosedRequest {
			w.WriteHeader(d.Status)
		} else {
			pipeline.WriteProblem(w, d, x.ID)
		}
	}
	return w, &served{x, out}
}

func decodeEcho(t *testing.T, w *httptest.ResponseRecorder) echo {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200 (body %s)", w.Code, w.Body)
	}
	var e echo
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("decoding echo: %v", err)
	}
	return e
}

func TestForwardKeepsMethodPathQueryBody(t *testing.T) {
	up := echoServer(t)
	tests := []struct {
		name                string
		target              string
		method, url, body   string
		wantPath, wantQuery string
	}{
		{name: "get with query", target: up.URL, method: "GET", url: "/pets?limit=10&tag=a%20b", wantPath: "/pets", wantQuery: "limit=10&tag=a%20b"},
		{name: "post body", target: up.URL, method: "POST", url: "/pets", body: `{"name":"rex"}`, wantPath: "/pets"},
		{name: "put escaped path", target: up.URL, method: "PUT", url: "/pets/a%2Fb", body: "x", wantPath: "/pets/a/b"},
		{name: "delete", target: up.URL, method: "DELETE", url: "/pets/1", wantPath: "/pets/1"},
		{name: "target base path", target: up.URL + "/v1", method: "GET", url: "/pets?x=1", wantPath: "/v1/pets", wantQuery: "x=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, config.Upstream{Targets: []string{tc.target}}, Options{})
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := httptest.NewRequest(tc.method, "http://api.example"+tc.url, body)
			w, _ := serve(u, r, untrusted)
			e := decodeEcho(t, w)
			if e.Method != tc.method {
				t.Errorf("method: got %q, want %q", e.Method, tc.method)
			}
			if e.Path != tc.wantPath {
				t.Errorf("path: got %q, want %q", e.Path, tc.wantPath)
			}
			if e.Query != tc.wantQuery {
				t.Errorf("query: got %q, want %q", e.Query, tc.wantQuery)
			}
			if e.Body != tc.body {
				t.Errorf("body: got %q, want %q", e.Body, tc.body)
			}
			if want := strings.TrimPrefix(up.URL, "http://"); e.Host != want {
				t.Errorf("host: got %q, want the target's %q", e.Host, want)
			}
			if got := e.Header.Get("X-Forwarded-Host"); got != "api.example" {
				t.Errorf("X-Forwarded-Host: got %q, want %q", got, "api.example")
			}
		})
	}
}

func TestStripPrefix(t *testing.T) {
	up := echoServer(t)
	tests := []struct {
		name, prefix, url, wantURI string
	}{
		{name: "strips segment", prefix: "/api", url: "/api/pets?x=1", wantURI: "/pets?x=1"},
		{name: "exact prefix becomes root", prefix: "/api", url: "/api", wantURI: "/"},
		{name: "prefix with slash", prefix: "/api/", url: "/api/", wantURI: "/"},
		{name: "not on segment boundary", prefix: "/api", url: "/apix/pets", wantURI: "/apix/pets"},
		{name: "other path untouched", prefix: "/api", url: "/other", wantURI: "/other"},
		{name: "keeps escaping", prefix: "/api", url: "/api/a%2Fb", wantURI: "/a%2Fb"},
		{name: "empty prefix", prefix: "", url: "/api/pets", wantURI: "/api/pets"},
		{name: "root prefix", prefix: "/", url: "/api/pets", wantURI: "/api/pets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, config.Upstream{Targets: []string{up.URL}}, Options{StripPrefix: tc.prefix})
			w, _ := serve(u, httptest.NewRequest("GET", tc.url, nil), untrusted)
			if got := decodeEcho(t, w).RawURI; got != tc.wantURI {
				t.Errorf("upstream request URI: got %q, want %q", got, tc.wantURI)
			}
		})
	}
}

func TestForwardingHeaders(t *testing.T) {
	up := echoServer(t)
	spoofed := http.Header{
		"X-Forwarded-For":   {"1.2.3.4, 5.6.7.8"},
		"X-Forwarded-Host":  {"evil.example"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=1.2.3.4;proto=https"},
		"X-Request-Id":      {"attacker-chosen"},
	}
	tests := []struct {
		name          string
		peer          peer
		in            http.Header
		isTLS         bool
		wantXFF       string
		wantHost      string
		wantProto     string
		wantForwarded string
	}{
		{
			name: "untrusted peer without headers", peer: untrusted, in: http.Header{},
			wantXFF: "203.0.113.7", wantHost: "api.example", wantProto: "http",
		},
		{
			name: "untrusted peer spoofing is replaced", peer: untrusted, in: spoofed,
			wantXFF: "203.0.113.7", wantHost: "api.example", wantProto: "http",
		},
		{
			name: "untrusted peer over tls", peer: untrusted, in: spoofed, isTLS: true,
			wantXFF: "203.0.113.7", wantHost: "api.example", wantProto: "https",
		},
		{
			name: "trusted peer chain is extended", peer: peer{addr: "10.0.0.2:4000", trusted: true}, in: spoofed,
			wantXFF: "1.2.3.4, 5.6.7.8, 10.0.0.2", wantHost: "evil.example", wantProto: "https",
			wantForwarded: `for=1.2.3.4;proto=https, for=10.0.0.2;host="api.example";proto=http`,
		},
		{
			name: "trusted ipv6 peer without chain", peer: peer{addr: "[2001:db8::2]:4000", trusted: true}, in: http.Header{"Forwarded": {"for=192.0.2.9"}},
			wantXFF: "2001:db8::2", wantHost: "api.example", wantProto: "http",
			wantForwarded: `for=192.0.2.9, for="[2001:db8::2]";host="api.example";proto=http`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, config.Upstream{Targets: []string{up.URL}}, Options{
				IsTLS: func(*http.Request) bool { return tc.isTLS },
			})
			r := httptest.NewRequest("GET", "http://api.example/pets", nil)
			for k, v := range tc.in {
				r.Header[k] = v
			}
			w, _ := serve(u, r, tc.peer)
			h := decodeEcho(t, w).Header
			checks := []struct{ name, got, want string }{
				{"X-Request-Id", strings.Join(h.Values("X-Request-Id"), ","), "req-42"},
				{"X-Forwarded-For", strings.Join(h.Values("X-Forwarded-For"), ","), tc.wantXFF},
				{"X-Forwarded-Host", h.Get("X-Forwarded-Host"), tc.wantHost},
				{"X-Forwarded-Proto", h.Get("X-Forwarded-Proto"), tc.wantProto},
				{"Forwarded", strings.Join(h.Values("Forwarded"), ","), tc.wantForwarded},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestNoExchangeIsUntrusted(t *testing.T) {
	up := echoServer(t)
	u := newUpstream(t, config.Upstream{Targets: []string{up.URL}}, Options{})
	r := httptest.NewRequest("GET", "/pets", nil)
	r.RemoteAddr = "198.51.100.1:1"
	r.Header.Set("X-Forwarded-For", "1.1.1.1")
	r.Header.Set("X-Request-Id", "forged")
	w := httptest.NewRecorder()
	u.ServeHTTP(w, r)
	h := decodeEcho(t, w).Header
	if got := h.Get("X-Forwarded-For"); got != "198.51.100.1" {
		t.Errorf("X-Forwarded-For: got %q, want %q", got, "198.51.100.1")
	}
	if got := h.Get("X-Request-Id"); got != "" {
		t.Errorf("X-Request-Id: got %q, want none", got)
	}
}

func TestHopByHopHeadersRemoved(t *testing.T) {
	up := echoServer(t)
	u := newUpstream(t, config.Upstream{Targets: []string{up.URL}}, Options{})
	r := httptest.NewRequest("GET", "/pets", nil)
	r.Header.Set("Connection", "keep-alive, X-Internal-Token")
	r.Header.Set("X-Internal-Token", "secret")
	r.Header.Set("Keep-Alive", "timeout=5")
	r.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
	r.Header.Set("Proxy-Connection", "keep-alive")
	r.Header.Set("Proxy", "http://evil.example:8080") // httpoxy
	r.Header.Set("Proxy-Custom", "x")
	r.Header.Set("Te", "gzip")
	r.Header.Set("Transfer-Encoding", "chunked")
	r.Header.Set("Upgrade", "h2c")
	r.Header.Set("X-Kept", "yes")
	w, _ := serve(u, r, untrusted)
	h := decodeEcho(t, w).Header
	for _, k := range []string{"Connection", "X-Internal-Token", "Keep-Alive", "Proxy-Authorization",
		"Proxy-Connection", "Proxy", "Proxy-Custom", "Te", "Upgrade"} {
		if v, ok := h[k]; ok {
			t.Errorf("header %s reached the upstream: got %q, want absent", k, v)
		}
	}
	if got := h.Get("X-Kept"); got != "yes" {
		t.Errorf("X-Kept: got %q, want %q", got, "yes")
	}
}

func TestRoundRobin(t *testing.T) {
	var (
		mu     sync.Mutex
		counts = map[string]int{}
	)
	var targets []string
	for _, name := range []string{"a", "b", "c"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			counts[name]++
			mu.Unlock()
		}))
		t.Cleanup(srv.Close)
		targets = append(targets, srv.URL)
	}
	u := newUpstream(t, config.Upstream{Targets: targets}, Options{})
	const n = 90
	for i := 0; i < n; i++ {
		w, _ := serve(u, httptest.NewRequest("GET", "/", nil), untrusted)
		if w.Code != http.StatusOK {
			t.Fatalf("request %d: got status %d, want 200", i, w.Code)
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		if got := counts[name]; got != n/3 {
			t.Errorf("target %s: got %d requests, want %d", name, got, n/3)
		}
	}
}

// closedURL returns an http URL on a loopback port nobody listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

// hangingServer never answers until the test ends.
func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first
	return srv
}

func checkProblem(t *testing.T, w *httptest.ResponseRecorder, x *served, status int, rule string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status: got %d, want %d", w.Code, status)
	}
	if got := w.Header().Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("content type: got %q, want application/problem+json", got)
	}
	var p pipeline.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("decoding problem: %v", err)
	}
	if p.Status != status || p.RequestID != "req-42" || p.Stage != StageID {
		t.Errorf("problem: got status %d id %q stage %q, want %d %q %q", p.Status, p.RequestID, p.Stage, status, "req-42", StageID)
	}
	for _, leak := range []string{"127.0.0.1", "dial", "refused", "awaiting", "deadline", "context", "boom", "http://"} {
		if strings.Contains(w.Body.String(), leak) {
			t.Errorf("problem body leaks %q: %s", leak, w.Body)
		}
	}
	d := x.out.Denial
	if d == nil || x.out.Decision == pipeline.Allow {
		t.Fatalf("outcome: got %+v, want a denial", x.out)
	}
	if d.Status != status || len(d.Rules) != 1 || d.Rules[0] != rule {
		t.Errorf("recorded denial: got %d %v, want %d [%s]", d.Status, d.Rules, status, rule)
	}
}

func TestUpstreamDown(t *testing.T) {
	u := newUpstream(t, config.Upstream{Targets: []string{closedURL(t)}}, Options{})
	w, x := serve(u, httptest.NewRequest("GET", "/pets", nil), untrusted)
	checkProblem(t, w, x, http.StatusBadGateway, RuleUpstreamUnavailable)
}

func TestUpstreamTimeout(t *testing.T) {
	up := hangingServer(t)
	u := newUpstream(t, config.Upstream{
		Targets:               []string{up.URL},
		ResponseHeaderTimeout: 200 * time.Millisecond,
	}, Options{})
	w, x := serve(u, httptest.NewRequest("GET", "/slow", nil), untrusted)
	checkProblem(t, w, x, http.StatusGatewayTimeout, RuleUpstreamTimeout)
}

func TestRequestDeadlineIs504(t *testing.T) {
	up := hangingServer(t)
	u := newUpstream(t, config.Upstream{Targets: []string{up.URL}}, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	w, x := serve(u, httptest.NewRequestWithContext(ctx, "GET", "/slow", nil), untrusted)
	checkProblem(t, w, x, http.StatusGatewayTimeout, RuleUpstreamTimeout)
}

func TestClientGone(t *testing.T) {
	up := hangingServer(t)
	u := newUpstream(t, config.Upstream{Targets: []string{up.URL}, CircuitBreaker: config.CircuitBreaker{Failures: 1}}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, x := serve(u, httptest.NewRequestWithContext(ctx, "GET", "/", nil), untrusted)
	if w.Code != StatusClientClosedRequest || w.Body.Len() != 0 {
		t.Errorf("response: got %d with %d body bytes, want %d and no body", w.Code, w.Body.Len(), StatusClientClosedRequest)
	}
	if d := x.out.Denial; d == nil || d.Status != StatusClientClosedRequest || !d.Quiet {
		t.Errorf("recorded denial: got %+v, want a quiet %d", d, StatusClientClosedRequest)
	}
	if got := u.Targets()[0].CircuitState; got != CircuitClosed {
		t.Errorf("circuit after a client went away: got %s, want %s", got, CircuitClosed)
	}
}

func TestModifyResponse(t *testing.T) {
	up := echoServer(t)
	tests := []struct {
		name     string
		err      error
		status   int
		rule     string
		decision pipeline.Decision
	}{
		{name: "denial", status: http.StatusForbidden, rule: "dlp.card-number", decision: pipeline.Deny,
			err: &DenialError{Denial: &pipeline.Denial{Status: 403, Stage: StageID, Reason: "no", Rules: []string{"dlp.card-number"}}}},
		{name: "other error", err: errors.New("boom at 127.0.0.1"), status: http.StatusBadGateway, rule: RuleResponseFailed, decision: pipeline.Error},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, config.Upstream{Targets: []string{up.URL}, CircuitBreaker: config.CircuitBreaker{Failures: 1}}, Options{
				ModifyResponse: func(*http.Response) error { return tc.err },
			})
			w, x := serve(u, httptest.NewRequest("GET", "/", nil), untrusted)
			checkProblem(t, w, x, tc.status, tc.rule)
			if x.out.Decision != tc.decision {
				t.Errorf("decision: got %s, want %s", x.out.Decision, tc.decision)
			}
			if got := u.Targets()[0].CircuitState; got != CircuitClosed {
				t.Errorf("circuit: got %s, want %s (the target answered fine)", got, CircuitClosed)
			}
		})
	}
}

func TestStreamingIsNotBuffered(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "data: two\n\n")
	}))
	defer up.Close()
	defer close(release)
	u := newUpstream(t, config.Upstream{Targets: []string{up.URL}}, Options{})
	front := httptest.NewServer(u)
	defer front.Close()
	resp, err := http.Get(front.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first event arrives while the upstream is still blocked.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if line != "data: one\n" {
		t.Errorf("first line: got %q, want %q", line, "data: one\n")
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name     string
		cfg      config.Upstream
		opts     Options
		wantPath string // field path in the error; "" means New must succeed
	}{
		{name: "ok", cfg: config.Upstream{Targets: []string{"http://10.0.0.5:8080", "HTTPS://svc:8443/base"}}},
		{name: "no targets", cfg: config.Upstream{}, wantPath: "targets"},
		{name: "relative", cfg: config.Upstream{Targets: []string{"svc:8080/x"}}, wantPath: "targets[0]"},
		{name: "no scheme", cfg: config.Upstream{Targets: []string{"//svc:8080"}}, wantPath: "targets[0]"},
		{name: "ftp", cfg: config.Upstream{Targets: []string{"http://ok", "ftp://svc"}}, wantPath: "targets[1]"},
		{name: "no host", cfg: config.Upstream{Targets: []string{"http:///path"}}, wantPath: "targets[0]"},
		{name: "user info", cfg: config.Upstream{Targets: []string{"http://u:p@svc"}}, wantPath: "targets[0]"},
		{name: "bad url", cfg: config.Upstream{Targets: []string{"http://svc:port"}}, wantPath: "targets[0]"},
		{name: "negative timeout", cfg: config.Upstream{Targets: []string{"http://svc"}, ConnectTimeout: -1}, wantPath: "connect_timeout"},
		{name: "negative failures", cfg: config.Upstream{Targets: []string{"http://svc"}, CircuitBreaker: config.CircuitBreaker{Failures: -1}}, wantPath: "circuit_breaker.failures"},
		{name: "health path", cfg: config.Upstream{Targets: []string{"http://svc"}, HealthCheck: &config.HealthCheck{Path: "healthz"}}, wantPath: "health_check.path"},
		{name: "strip prefix", cfg: config.Upstream{Targets: []string{"http://svc"}}, opts: Options{StripPrefix: "api"}, wantPath: "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := New("pets", tc.cfg, tc.opts)
			if tc.wantPath == "" {
				if err != nil {
					t.Fatalf("New: got %v, want no error", err)
				}
				_ = u.Close()
				return
			}
			if err == nil {
				_ = u.Close()
				t.Fatalf("New: got no error, want one about %q", tc.wantPath)
			}
			if !strings.Contains(err.Error(), `"pets"`) {
				t.Errorf("error %q does not name the api", err)
			}
			if tc.wantPath == "-" {
				return
			}
			var fe *field.Error
			if !errors.As(err, &fe) || fe.Path != tc.wantPath {
				t.Errorf("field error: got %v, want path %q", fe, tc.wantPath)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	u := newUpstream(t, config.Upstream{Targets: []string{"https://svc"}, HealthCheck: &config.HealthCheck{}}, Options{})
	tr := u.transport
	checks := []struct {
		name      string
		got, want any
	}{
		{"dial/tls timeout", tr.TLSHandshakeTimeout, config.DefaultConnectTimeout},
		{"response header timeout", tr.ResponseHeaderTimeout, config.DefaultResponseHeaderTimeout},
		{"idle timeout", tr.IdleConnTimeout, config.DefaultIdleConnTimeout},
		{"max idle per host", tr.MaxIdleConnsPerHost, config.DefaultMaxIdleConnsPerHost},
		{"http2", tr.ForceAttemptHTTP2, true},
		{"breaker failures", u.breaker.failures, config.DefaultBreakerFailures},
		{"breaker open for", u.breaker.openFor, config.DefaultBreakerOpenFor},
		{"health path", u.health.Path, config.DefaultHealthPath},
		{"health interval", u.health.Interval, config.DefaultHealthInterval},
		{"health timeout", u.health.Timeout, config.DefaultHealthTimeout},
		{"healthy threshold", u.health.HealthyThreshold, config.DefaultHealthyThreshold},
		{"unhealthy threshold", u.health.UnhealthyThreshold, config.DefaultUnhealthyThreshold},
		{"health url", u.targets[0].healthURL, "https://svc/healthz"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// eventLog records published events.
type eventLog struct {
	mu  sync.Mutex
	evs []events.Event
}

func (l *eventLog) Publish(e events.Event) bool {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
	return true
}

// states returns the "state" attribute of every event so far, in order.
func (l *eventLog) states() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		out = append(out, e.Attrs["state"].(string))
	}
	return out
}

func (l *eventLog) last() events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evs[len(l.evs)-1]
}

// clock is a manual clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestHTTPSTarget(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	trusting := up.Client().Transport.(*http.Transport).TLSClientConfig

	tests := []struct {
		name      string
		opts      Options
		status    int
		wantProto string
	}{
		{name: "trusted ca speaks http2", opts: Options{TLS: trusting}, status: http.StatusOK, wantProto: "HTTP/2.0"},
		{name: "unknown ca is refused", opts: Options{}, status: http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, config.Upstream{Targets: []string{up.URL}}, tc.opts)
			w, _ := serve(u, httptest.NewRequest("GET", "/", nil), untrusted)
			if w.Code != tc.status {
				t.Fatalf("status: got %d, want %d", w.Code, tc.status)
			}
			if tc.wantProto != "" && w.Body.String() != tc.wantProto {
				t.Errorf("upstream protocol: got %q, want %q", w.Body.String(), tc.wantProto)
			}
		})
	}
}

func FuzzStripPrefix(f *testing.F) {
	for _, s := range [][2]string{{"/api", "/api/pets"}, {"/api", "/api"}, {"/a/b", "/a/b/c%2Fd"}, {"/api", "/apix"}, {"/x", "//x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, prefix, rawPath string) {
		if !strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") {
			return
		}
		u, err := url.Parse(rawPath)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return
		}
		before := u.Path
		stripPrefix(u, prefix)
		if !strings.HasPrefix(u.Path, "/") {
			t.Errorf("stripPrefix(%q, %q): got path %q, want a leading /", prefix, before, u.Path)
		}
		if u.Path != before && !strings.HasPrefix(before, prefix) {
			t.Errorf("stripPrefix(%q, %q): changed a path without the prefix to %q", prefix, before, u.Path)
		}
		if u.RawPath != "" {
			if p, err := url.PathUnescape(u.RawPath); err != nil || p != u.Path {
				t.Errorf("stripPrefix(%q, %q): raw path %q does not decode to path %q", prefix, before, u.RawPath, u.Path)
			}
		}
	})
}
