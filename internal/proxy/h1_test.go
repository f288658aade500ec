package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// connCountingServer is a real upstream that counts the connections it
// accepted.
func connCountingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func newTestH1(fallback http.RoundTripper) *h1Transport {
	if fallback == nil {
		fallback = http.DefaultTransport
	}
	return newH1Transport(fallback, (&net.Dialer{Timeout: 5 * time.Second}).DialContext, 5*time.Second, time.Minute, 4)
}

func get(t *testing.T, rt http.RoundTripper, method, url string, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, string(b)
}

// TestH1ReusesConnections checks that sequential exchanges of every body
// shape (fixed length, chunked, empty, HEAD, 204, 304) share one
// connection and that each answer is its own, not a neighbour's bytes.
func TestH1ReusesConnections(t *testing.T) {
	srv, conns := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		case "/empty":
			w.Header().Set("Content-Length", "0")
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/notmodified":
			w.WriteHeader(http.StatusNotModified)
		case "/post":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "got %d bytes: %s", len(b), b)
		default:
			fmt.Fprintf(w, "path %s", r.URL.Path)
		}
	})
	rt := newTestH1(nil)
	cases := []struct{ method, path, body, want string }{
		{"GET", "/a", "", "path /a"},
		{"GET", "/chunked", "", "part one,part two"},
		{"GET", "/empty", "", ""},
		{"HEAD", "/b", "", ""},
		{"GET", "/nocontent", "", ""},
		{"GET", "/notmodified", "", ""},
		{"POST", "/post", `{"notes":"two drops twice a day"}`, `got 33 bytes: {"notes":"two drops twice a day"}`},
		{"GET", "/c", "", "path /c"},
	}
	for round := 0; round < 3; round++ {
		for _, c := range cases {
			_, got := get(t, rt, c.method, srv.URL+c.path, c.body)
			if got != c.want {
				t.Fatalf("%s %s: got %q, want %q", c.method, c.path, got, c.want)
			}
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("connections: got %d, want 1 for %d sequential exchanges", n, 3*len(cases))
	}
}

// TestH1ClosesWhatItCannotReuse checks that a connection is not reused
// when the answer's body was closed unread, or either side said close.
func TestH1ClosesWhatItCannotReuse(t *testing.T) {
	srv, conns := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		w.Write([]byte(strings.Repeat("x", 100<<10))) // more than the buffers hold
	})
	rt := newTestH1(nil)

	req, _ := http.NewRequest("GET", srv.URL+"/big", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // 100 KiB left unread
	if _, got := get(t, rt, "GET", srv.URL+"/next", ""); len(got) != 100<<10 || strings.Trim(got, "x") != "" {
		t.Fatalf("the next answer: got %d bytes, want 100 KiB of x", len(got))
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("after a body closed unread: got %d connections, want 2", n)
	}

	get(t, rt, "GET", srv.URL+"/close", "")
	get(t, rt, "GET", srv.URL+"/after-close", "")
	if n := conns.Load(); n != 3 {
		t.Errorf("after Connection: close from the target: got %d connections, want 3", n)
	}

	req, _ = http.NewRequest("GET", srv.URL+"/client-close", nil)
	req.Close = true
	if resp, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get(t, rt, "GET", srv.URL+"/after-client-close", "")
	if n := conns.Load(); n != 4 {
		t.Errorf("after a request with Connection: close: got %d connections, want 4", n)
	}
}

// rawTarget is an upstream written on a socket: it answers the first
// request of each connection and then closes the connection as soon as the
// next request arrives, without answering it. That is the race of a
// target's keep-alive timeout firing just as a request is sent, which no
// peek can see coming.
func rawTarget(t *testing.T) (string, *atomic.Int64, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var conns, dropped atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				if _, err := http.ReadRequest(br); err == nil {
					dropped.Add(1)
				}
			}(c)
		}
	}()
	return "http://" + l.Addr().String(), &conns, &dropped
}

// TestH1RetriesOnlyWhatIsReplayable checks the retry on a reused
// connection that the target closed without answering: a GET goes again on
// a new connection and succeeds; a POST is not sent twice (the target may
// have acted on it) and fails.
func TestH1RetriesOnlyWhatIsReplayable(t *testing.T) {
	url, conns, dropped := rawTarget(t)
	rt := newTestH1(nil)
	rt.maxIdle = 1
	get(t, rt, "GET", url+"/1", "")
	if _, got := get(t, rt, "GET", url+"/2", ""); got != "ok" {
		t.Fatalf("retried GET: got %q", got)
	}
	if conns.Load() != 2 {
		t.Errorf("connections after the retried GET: got %d, want 2", conns.Load())
	}

	req, _ := http.NewRequest("POST", url+"/3", strings.NewReader("pay 10"))
	if resp, err := rt.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatal("POST on a connection closed without an answer: got a response, want an error")
	} else if !strings.Contains(err.Error(), "closed the connection before answering") {
		t.Errorf("POST error: got %v", err)
	}
	if dropped.Load() != 2 || conns.Load() != 2 {
		t.Errorf("target saw %d unanswered requests on %d connections, want 2 on 2 (the POST sent once)", dropped.Load(), conns.Load())
	}

	// With an idempotency key the POST is replayable.
	get(t, rt, "GET", url+"/4", "") // a fresh connection to reuse
	req, _ = http.NewRequest("POST", url+"/5", nil)
	req.Header.Set("Idempotency-Key", "k1")
	if resp, err := rt.RoundTrip(req); err != nil {
		t.Errorf("POST with Idempotency-Key: %v, want it retried", err)
	} else {
		resp.Body.Close()
	}
}

// TestH1RefusesInvalidHeaders checks that a header value with CR/LF never
// reaches the target as a second header (request splitting), nor a bad
// field name.
func TestH1RefusesInvalidHeaders(t *testing.T) {
	var seen atomic.Int64
	srv, _ := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) { seen.Add(1) })
	rt := newTestH1(nil)
	for _, h := range []http.Header{
		{"X-Principal": {"alice\r\nX-Role: admin"}},
		{"X-Principal": {"alice\x00"}},
		{"Bad Name": {"v"}},
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header = h
		if resp, err := rt.RoundTrip(req); err == nil {
			resp.Body.Close()
			t.Errorf("header %q: sent, want refused", h)
		}
	}
	if seen.Load() != 0 {
		t.Errorf("the target saw %d requests, want 0", seen.Load())
	}
}

// TestH1Informational checks that 1xx answers reach httptrace's
// Got1xxResponse (ReverseProxy forwards them) and the final answer follows.
func TestH1Informational(t *testing.T) {
	srv, _ := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Write([]byte("final"))
	})
	rt := newTestH1(nil)
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "final" {
		t.Errorf("final answer: got %d %q", resp.StatusCode, b)
	}
	if len(got) != 1 || got[0] != "103 </a.css>; rel=preload" {
		t.Errorf("informational answers: got %q, want one 103 with its Link", got)
	}
}

// TestH1ContextEnds checks that a request whose context ends while the
// target is silent returns the context's error, and that the connection is
// not pooled.
func TestH1ContextEnds(t *testing.T) {
	arrived := make(chan struct{})
	up, _ := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // the gateway closed the connection
	})
	rt := newTestH1(nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", up.URL, nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := rt.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived // the request is at the target, the answer awaited
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, cs := range rt.idle {
		if len(cs) != 0 {
			t.Errorf("%d idle connections after a cancelled exchange, want 0", len(cs))
		}
	}
}

// TestH1HeaderTimeout checks response_header_timeout on the h1 transport:
// a net.Error that is a timeout (the proxy's 504).
func TestH1HeaderTimeout(t *testing.T) {
	up := hangingServer(t)
	rt := newTestH1(nil)
	rt.headerTimeout = 50 * time.Millisecond
	req, _ := http.NewRequest("GET", up.URL, nil)
	_, err := rt.RoundTrip(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("got %v, want a timeout", err)
	}
}

// TestH1PoolBounds checks that the pool keeps at most maxIdle connections
// per target and drops the expired ones instead of using them.
func TestH1PoolBounds(t *testing.T) {
	release := make(chan struct{})
	var arrived sync.WaitGroup
	srv, conns := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			arrived.Done()
			<-release
		}
		w.Write([]byte("ok"))
	})
	rt := newTestH1(nil)
	rt.maxIdle = 2
	const n = 5
	arrived.Add(n)
	var done sync.WaitGroup
	for i := 0; i < n; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			req, _ := http.NewRequest("GET", srv.URL+"/wait", nil)
			if resp, err := rt.RoundTrip(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	arrived.Wait() // five connections in use at once
	close(release)
	done.Wait()
	addr := hostPort(strings.TrimPrefix(srv.URL, "http://"))
	rt.mu.Lock()
	idle := len(rt.idle[addr])
	for _, c := range rt.idle[addr] {
		c.idleSince = c.idleSince.Add(-2 * rt.idleTimeout) // expired
	}
	rt.mu.Unlock()
	if conns.Load() != n || idle != 2 {
		t.Errorf("after %d concurrent exchanges: %d connections, %d idle; want %d and 2", n, conns.Load(), idle, n)
	}
	get(t, rt, "GET", srv.URL+"/after", "")
	if conns.Load() != n+1 {
		t.Errorf("an expired idle connection was used: %d connections, want %d", conns.Load(), n+1)
	}
	rt.CloseIdleConnections()
	rt.mu.Lock()
	left := len(rt.idle[addr])
	rt.mu.Unlock()
	if left != 0 {
		t.Errorf("CloseIdleConnections left %d idle", left)
	}
}

// fallbackCounter records the requests handed to the fallback transport.
type fallbackCounter struct {
	n  atomic.Int64
	rt http.RoundTripper
}

func (f *fallbackCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	f.n.Add(1)
	return f.rt.RoundTrip(r)
}

// TestH1Fallback checks which requests go to http.Transport: TLS targets,
// upgrades, bodies of unknown length or larger than h1MaxBody, trailers;
// and that they still arrive whole.
func TestH1Fallback(t *testing.T) {
	srv, _ := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d", len(b))
	})
	fb := &fallbackCounter{rt: &http.Transport{}}
	rt := newTestH1(fb)
	big := strings.Repeat("b", h1MaxBody+1)
	cases := []struct {
		name     string
		req      func() *http.Request
		fallback bool
	}{
		{"GET", func() *http.Request { r, _ := http.NewRequest("GET", srv.URL, nil); return r }, false},
		{"small body", func() *http.Request { r, _ := http.NewRequest("POST", srv.URL, strings.NewReader("abc")); return r }, false},
		{"body of h1MaxBody", func() *http.Request {
			r, _ := http.NewRequest("POST", srv.URL, strings.NewReader(big[1:]))
			return r
		}, false},
		{"larger body", func() *http.Request { r, _ := http.NewRequest("POST", srv.URL, strings.NewReader(big)); return r }, true},
		{"unknown length", func() *http.Request {
			r, _ := http.NewRequest("POST", srv.URL, io.NopCloser(strings.NewReader("abc")))
			r.ContentLength = -1
			return r
		}, true},
		{"upgrade", func() *http.Request {
			r, _ := http.NewRequest("GET", srv.URL, nil)
			r.Header.Set("Upgrade", "websocket")
			r.Header.Set("Connection", "Upgrade")
			return r
		}, true},
		{"trailer", func() *http.Request {
			r, _ := http.NewRequest("POST", srv.URL, strings.NewReader("abc"))
			r.Trailer = http.Header{"X-Sum": {"1"}}
			return r
		}, true},
	}
	for _, c := range cases {
		before := fb.n.Load()
		req := c.req()
		want := fmt.Sprint(req.ContentLength)
		if req.ContentLength < 0 {
			want = "3"
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("%s: target read %s body bytes, want %s", c.name, b, want)
		}
		if got := fb.n.Load() > before; got != c.fallback {
			t.Errorf("%s: fallback %v, want %v", c.name, got, c.fallback)
		}
	}
	req, _ := http.NewRequest("GET", "https://127.0.0.1:1/", nil)
	if rt.takes(req) {
		t.Error("an https target is taken, want the fallback (ALPN, HTTP/2)")
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":      "example.com:80",
		"example.com:8080": "example.com:8080",
		"example.com:":     "example.com:80",
		"127.0.0.1":        "127.0.0.1:80",
		"[::1]":            "[::1]:80",
		"[::1]:81":         "[::1]:81",
	} {
		if got := hostPort(in); got != want {
			t.Errorf("hostPort(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStandardTransportOption checks which transport an Upstream sends
// through: by default the h1 transport, which adds nothing to the request;
// with standard_transport Go's http.Transport, which asks the target for
// gzip when the client did not (and decompresses behind it).
func TestStandardTransportOption(t *testing.T) {
	up := echoServer(t)
	for _, std := range []bool{false, true} {
		u := newUpstream(t, config.Upstream{Targets: []string{up.URL}, StandardTransport: std}, Options{})
		w, _ := serve(u, httptest.NewRequest("GET", "/pets?q=1", nil), untrusted)
		e := decodeEcho(t, w)
		got := e.Header.Get("Accept-Encoding")
		want := ""
		if std {
			want = "gzip"
		}
		if got != want || e.RawURI != "/pets?q=1" {
			t.Errorf("standard_transport %v: target saw %s with Accept-Encoding %q, want /pets?q=1 with %q", std, e.RawURI, got, want)
		}
	}
}

// slowBody is a client's upload that takes its time before its bytes.
type slowBody struct {
	wait <-chan time.Time
	r    io.Reader
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.wait != nil {
		<-b.wait
		b.wait = nil
	}
	return b.r.Read(p)
}

// TestH1HeaderTimeoutAfterUpload checks that response_header_timeout
// starts when the request is written, as http.Transport's does: a client
// whose upload takes longer than the timeout is no slow target.
func TestH1HeaderTimeoutAfterUpload(t *testing.T) {
	srv, _ := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d", len(b))
	})
	rt := newTestH1(nil)
	rt.headerTimeout = 50 * time.Millisecond
	req, _ := http.NewRequest("POST", srv.URL, &slowBody{wait: time.After(150 * time.Millisecond), r: strings.NewReader("late bytes")})
	req.ContentLength = 10
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("an upload slower than the header timeout: %v, want the answer", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "10" {
		t.Errorf("target read %s bytes, want 10", b)
	}
	if resp.Request != req {
		t.Error("resp.Request is not the request given to RoundTrip")
	}
}

// failingBody is a client upload that breaks off.
type failingBody struct{ err error }

func (b failingBody) Read([]byte) (int, error) { return 0, b.err }
func (b failingBody) Close() error             { return nil }

// TestH1ClientBodyErrorIsNotTheTarget checks that a client's broken
// upload is reported as the body's error, not as the target closing the
// connection (no retry either).
func TestH1ClientBodyErrorIsNotTheTarget(t *testing.T) {
	srv, _ := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	rt := newTestH1(nil)
	boom := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	req, _ := http.NewRequest("POST", srv.URL, nil)
	req.Body, req.ContentLength = failingBody{boom}, 100
	_, err := rt.RoundTrip(req)
	var nothing *nothingReadError
	if !errors.Is(err, boom) || errors.As(err, &nothing) || !strings.Contains(err.Error(), "request body") {
		t.Errorf("got %v, want the request body's own error", err)
	}
}

// TestH1HeadLimit checks that a target sending header lines without end
// gets an error once maxResponseHead bytes are read.
func TestH1HeadLimit(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		http.ReadRequest(bufio.NewReader(c))
		line := []byte("X-Filler: " + strings.Repeat("a", 1000) + "\r\n")
		c.Write([]byte("HTTP/1.1 200 OK\r\n"))
		for i := 0; i < 2*maxResponseHead/len(line); i++ {
			if _, err := c.Write(line); err != nil {
				return // the gateway gave up
			}
		}
		c.Write([]byte("\r\n"))
	}()
	rt := newTestH1(nil)
	req, _ := http.NewRequest("GET", "http://"+l.Addr().String(), nil)
	resp, err := rt.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a 20 MiB header: got an answer, want an error")
	}
	if !strings.Contains(err.Error(), "bytes of header") {
		t.Errorf("got %v, want the header limit", err)
	}
}

// TestH1CancelDuringBody checks that a context ending while the answer's
// body is read gives the context's error (ReverseProxy logs nothing for a
// client that went away) and that a read after Close fails.
func TestH1CancelDuringBody(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv, _ := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first part"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	rt := newTestH1(nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "first part") {
		t.Fatalf("first read: %q %v", buf[:n], err)
	}
	cancel()
	for err == nil {
		_, err = resp.Body.Read(buf)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("read after the context ended: got %v, want context.Canceled", err)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(buf); err != errReadOnClosedBody {
		t.Errorf("read after Close: got %v, want %v", err, errReadOnClosedBody)
	}
}

// TestH1Sweep checks the idle sweep: expired connections are closed and
// the sweep comes back for the ones left, at the oldest one's expiry.
func TestH1Sweep(t *testing.T) {
	srv, conns := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	rt := newTestH1(nil)
	release := make(chan struct{})
	var arrived, done sync.WaitGroup
	slow, _ := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release
	})
	// One idle connection to each target, slow's first.
	arrived.Add(1)
	done.Add(1)
	go func() { // not get: t.Fatal belongs to the test's goroutine
		defer done.Done()
		req, _ := http.NewRequest("GET", slow.URL, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Errorf("GET %s: %v", slow.URL, err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	arrived.Wait()
	get(t, rt, "GET", srv.URL, "")
	close(release)
	done.Wait()
	rt.mu.Lock()
	var expired *h1Conn
	for _, cs := range rt.idle {
		if len(cs) != 1 {
			t.Fatalf("idle per target: got %d, want 1", len(cs))
		}
	}
	expired = rt.idle[hostPort(strings.TrimPrefix(srv.URL, "http://"))][0]
	expired.idleSince = expired.idleSince.Add(-2 * rt.idleTimeout)
	rt.mu.Unlock()
	rt.sweepIdle()
	rt.mu.Lock()
	left, armed := 0, rt.sweep != nil
	for _, cs := range rt.idle {
		left += len(cs)
	}
	rt.mu.Unlock()
	if left != 1 || !armed {
		t.Errorf("after the sweep: %d idle (want 1, the fresh one), sweep armed %v (want true)", left, armed)
	}
	if _, err := expired.nc.Read(make([]byte, 1)); err == nil {
		t.Error("the expired connection is still open")
	}
	get(t, rt, "GET", srv.URL, "")
	if conns.Load() != 2 {
		t.Errorf("connections to the target: got %d, want 2 (the expired one replaced)", conns.Load())
	}
	rt.CloseIdleConnections()
}
