package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1Transport is the transport of plain-HTTP targets: HTTP/1.1 over pooled
// keep-alive connections, each request written and its answer read on the
// goroutine that asked. http.Transport gives every connection a reader and
// a writer goroutine and hands each request and answer between them, two
// wake-ups an exchange: ~10 µs of CPU a request on the bench's free-text
// GET (docs/waf.md, "The upstream transport"), which a reverse proxy that
// waits for the answer anyway does not need.
//
// What it does not take goes to the fallback (the upstream's http.Transport)
// unchanged: TLS targets (ALPN may choose HTTP/2), protocol upgrades, request
// bodies of unknown length or over h1MaxBody (written before the answer is
// read, a large one could wait on an upstream that answers early), and
// request trailers.
//
// Like http.Transport it refuses header fields a request must not carry
// (invalid names, CR/LF or NUL in values), retries a bodyless idempotent
// request once on a new connection when a reused one turns out closed
// before answering, bounds the wait for response headers, passes 1xx
// answers to httptrace's Got1xxResponse (ReverseProxy forwards them), and
// gives up when the request's context ends. It never adds Accept-Encoding:
// the upstream compresses only what the client asked compressed.
type h1Transport struct {
	fallback      http.RoundTripper
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	headerTimeout time.Duration // 0: none
	idleTimeout   time.Duration // 0: idle connections are kept until closed
	maxIdle       int           // per target address; at least 1

	mu    sync.Mutex
	idle  map[string][]*h1Conn // per "host:port", the newest last
	sweep *time.Timer          // armed while a connection is idle
}

// h1MaxBody is the largest request body the h1 transport writes; larger
// ones go to the fallback, which reads the answer while it writes.
const h1MaxBody = 64 << 10

// max1xx bounds the informational answers read before the final one.
const max1xx = 32

// maxResponseHead bounds the bytes of an answer's head (its 1xx answers
// included), http.Transport's default MaxResponseHeaderBytes: a target
// that sends header lines without end does not fill the gateway's memory.
const maxResponseHead = 10 << 20

func newH1Transport(fallback http.RoundTripper, dial func(ctx context.Context, network, addr string) (net.Conn, error), headerTimeout, idleTimeout time.Duration, maxIdle int) *h1Transport {
	return &h1Transport{
		fallback:      fallback,
		dial:          dial,
		headerTimeout: headerTimeout,
		idleTimeout:   idleTimeout,
		maxIdle:       max(maxIdle, 1),
		idle:          make(map[string][]*h1Conn),
	}
}

// takes reports whether req is one the h1 transport sends itself.
func (t *h1Transport) takes(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" || len(req.Trailer) > 0 {
		return false
	}
	if _, up := req.Header["Upgrade"]; up {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && (req.ContentLength <= 0 || req.ContentLength > h1MaxBody) {
		return false
	}
	return true
}

// RoundTrip implements http.RoundTripper.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.takes(req) {
		return t.fallback.RoundTrip(req)
	}
	if err := validHeader(req.Header); err != nil {
		closeBody(req)
		return nil, err
	}
	addr := hostPort(req.URL.Host)
	ctx := req.Context()
	for retried := false; ; retried = true {
		c, reused, err := t.conn(ctx, addr)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := c.exchange(ctx, req, t.headerTimeout)
		if err == nil {
			return resp, nil
		}
		c.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var nothing *nothingReadError
		if reused && !retried && errors.As(err, &nothing) && replayable(req) {
			continue
		}
		return nil, err
	}
}

// CloseIdleConnections closes the idle connections of both transports.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = make(map[string][]*h1Conn)
	if t.sweep != nil {
		t.sweep.Stop()
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// conn returns an idle connection to addr that is still open, or dials one.
func (t *h1Transport) conn(ctx context.Context, addr string) (*h1Conn, bool, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		cs := t.idle[addr]
		if len(cs) == 0 {
			t.mu.Unlock()
			break
		}
		c := cs[len(cs)-1]
		cs[len(cs)-1] = nil
		t.idle[addr] = cs[:len(cs)-1]
		t.mu.Unlock()
		if t.expired(c, now) || !c.open() {
			c.close()
			continue
		}
		return c, true, nil
	}
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return newH1Conn(t, addr, nc), false, nil
}

func (t *h1Transport) expired(c *h1Conn, now time.Time) bool {
	return t.idleTimeout > 0 && now.Sub(c.idleSince) >= t.idleTimeout
}

// put makes c idle again, or closes it when its target's pool is full.
func (t *h1Transport) put(c *h1Conn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	cs := t.idle[c.addr]
	if len(cs) >= t.maxIdle {
		t.mu.Unlock()
		c.close()
		return
	}
	t.idle[c.addr] = append(cs, c)
	if t.sweep == nil && t.idleTimeout > 0 {
		t.sweep = time.AfterFunc(t.idleTimeout, t.sweepIdle)
	}
	t.mu.Unlock()
}

// sweepIdle closes the connections idle for idleTimeout, and comes back
// when the oldest one left expires. (A connection the target closed waits
// for the sweep or its next use: nothing reads an idle connection.)
func (t *h1Transport) sweepIdle() {
	now := time.Now()
	var old []*h1Conn
	t.mu.Lock()
	var oldest time.Time // of the connections left
	for addr, cs := range t.idle {
		kept := cs[:0]
		for _, c := range cs {
			if t.expired(c, now) {
				old = append(old, c)
				continue
			}
			kept = append(kept, c)
			if oldest.IsZero() || c.idleSince.Before(oldest) {
				oldest = c.idleSince
			}
		}
		clear(cs[len(kept):])
		t.idle[addr] = kept
	}
	t.sweep = nil
	if !oldest.IsZero() {
		t.sweep = time.AfterFunc(oldest.Add(t.idleTimeout).Sub(now), t.sweepIdle)
	}
	t.mu.Unlock()
	for _, c := range old {
		c.close()
	}
}

// h1Conn is one keep-alive connection to a target.
type h1Conn struct {
	t         *h1Transport
	addr      string
	nc        net.Conn
	lr        io.LimitedReader // nc, limited to maxResponseHead while a head is read
	br        *bufio.Reader    // reads lr
	bw        *bufio.Writer
	idleSince time.Time
	peer      peerCheck
}

func newH1Conn(t *h1Transport, addr string, nc net.Conn) *h1Conn {
	c := &h1Conn{t: t, addr: addr, nc: nc, bw: bufio.NewWriterSize(nc, 4096)}
	c.lr = io.LimitedReader{R: nc, N: math.MaxInt64}
	c.br = bufio.NewReaderSize(&c.lr, 4096)
	c.peer.init(nc)
	return c
}

func (c *h1Conn) close() { _ = c.nc.Close() }

// open reports whether an idle connection can carry a request: nothing
// unread is waiting on it and the target has not closed it.
func (c *h1Conn) open() bool {
	return c.br.Buffered() == 0 && c.peer.open()
}

// nothingReadError is a failure on a connection before any byte of an
// answer came back: the target had closed it (or reset it) while it was
// idle.
type nothingReadError struct{ err error }

func (e *nothingReadError) Error() string {
	return "the target closed the connection before answering: " + e.err.Error()
}

func (e *nothingReadError) Unwrap() error { return e.err }

// aLongTimeAgo is the deadline that makes blocked reads and writes return.
var aLongTimeAgo = time.Unix(1, 0)

// exchange writes req on c and reads the answer's head. On error the
// caller closes c.
func (c *h1Conn) exchange(ctx context.Context, req *http.Request, headerTimeout time.Duration) (*http.Response, error) {
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	}
	resp, err := c.send(ctx, req, headerTimeout)
	if err != nil {
		if stop != nil {
			stop()
		}
		return nil, err
	}
	b := &h1Body{c: c, ctx: ctx, stop: stop, keep: !resp.Close && !req.Close}
	if resp.Body == http.NoBody || resp.Body == nil {
		b.finish(true)
		resp.Body = http.NoBody
		return resp, nil
	}
	b.body = resp.Body
	resp.Body = b
	return resp, nil
}

func (c *h1Conn) send(ctx context.Context, req *http.Request, headerTimeout time.Duration) (*http.Response, error) {
	// Request.Write closes the request body, as RoundTrip must. The
	// client's own body errors are told apart from the connection's: a
	// client that resets its upload is no target closing the connection.
	orig := req
	var body *clientBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &clientBody{rc: req.Body}
		out := *req // shallow: only the body differs
		out.Body = body
		req = &out
	}
	err := req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		if body != nil && body.err != nil {
			return nil, fmt.Errorf("reading the request body: %w", body.err)
		}
		if isConnGone(err) {
			return nil, &nothingReadError{err}
		}
		return nil, err
	}
	// Like http.Transport's, the bound starts once the request is written:
	// a slow client's upload is the server's read timeout's business.
	if headerTimeout > 0 {
		c.setReadDeadline(ctx, time.Now().Add(headerTimeout))
	}
	c.lr.N = maxResponseHead
	defer func() { c.lr.N = math.MaxInt64 }()
	// ReadResponse reports a connection closed before the first byte as
	// io.ErrUnexpectedEOF, like one closed halfway: peek to tell them apart.
	if _, err := c.br.Peek(1); err != nil {
		if err == io.EOF || isConnGone(err) {
			return nil, &nothingReadError{err}
		}
		return nil, fmt.Errorf("reading the target's answer: %w", err)
	}
	trace := httptrace.ContextClientTrace(ctx)
	for n := 0; ; n++ {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			if c.lr.N <= 0 {
				return nil, fmt.Errorf("the target's answer has more than %d bytes of header", maxResponseHead)
			}
			return nil, fmt.Errorf("reading the target's answer: %w", err)
		}
		resp.Request = orig
		code := resp.StatusCode
		if code < 100 || code > 199 {
			if headerTimeout > 0 {
				c.setReadDeadline(ctx, time.Time{})
			}
			return resp, nil
		}
		if code == http.StatusSwitchingProtocols {
			return nil, errors.New("the target switched protocols unasked")
		}
		if n >= max1xx {
			return nil, fmt.Errorf("the target sent more than %d informational answers", max1xx)
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
		}
	}
}

// setReadDeadline sets the read deadline without undoing the context
// watch's: when the context ended before it (the watch may have set its
// deadline already), the connection is stopped again. A context that ends
// after the check runs the watch after this call.
func (c *h1Conn) setReadDeadline(ctx context.Context, d time.Time) {
	_ = c.nc.SetReadDeadline(d)
	if ctx.Err() != nil {
		_ = c.nc.SetDeadline(aLongTimeAgo)
	}
}

// isConnGone reports an error of a connection the other side closed.
func isConnGone(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// h1Body is an answer's body: when it has been read to its end the
// connection goes back to the pool; closed before, the connection is closed.
type h1Body struct {
	c      *h1Conn
	ctx    context.Context
	body   io.ReadCloser
	stop   func() bool // stops the context watch; nil: none
	keep   bool
	done   atomic.Bool
	closed atomic.Bool
}

// errReadOnClosedBody is http.Transport's answer to a read after Close.
var errReadOnClosedBody = errors.New("http: read on closed response body")

func (b *h1Body) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errReadOnClosedBody
	}
	n, err := b.body.Read(p)
	if err != nil {
		b.finish(err == io.EOF)
		if err != io.EOF && b.ctx.Err() != nil {
			// The context watch's deadline, which is the context's end
			// (ReverseProxy logs nothing for a client that went away).
			err = b.ctx.Err()
		}
	}
	return n, err
}

func (b *h1Body) Close() error {
	b.closed.Store(true)
	b.finish(false)
	return nil
}

// clientBody is the request's body as Request.Write reads it, keeping the
// body's own error.
type clientBody struct {
	rc  io.ReadCloser
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }

// finish ends the exchange once: the connection is kept when the body
// was read to its end, both sides keep it alive, and the context watch
// had not fired (its deadline is on the connection).
func (b *h1Body) finish(eof bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	watched := b.stop == nil || b.stop()
	if eof && b.keep && watched {
		b.c.t.put(b.c)
		return
	}
	b.c.close()
}

// validHeader refuses header fields no request may carry; http.Transport
// does the same before writing.
func validHeader(h http.Header) error {
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// replayable reports whether req may be sent again after a connection
// failed before answering: no body to resend, and a method that means the
// same when repeated (or an idempotency key), as http.Transport decides.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// hostPort gives a URL host its port (80 when it has none).
func hostPort(host string) string {
	if h, port, err := net.SplitHostPort(host); err == nil {
		if port == "" { // "host:", which http.Transport reads as port 80
			return net.JoinHostPort(h, "80")
		}
		return host
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		return host + ":80"
	}
	return net.JoinHostPort(host, "80")
}
