package listener

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// The HTTP/2 stream reset budget of one connection: a token bucket of
// ResetBurst resets, refilled at ResetRate a second. HTTP/2 lets a client
// open a stream and cancel it at once (RST_STREAM); the server has started
// the request by then (stages run, stores are called), the client pays
// nothing and can do it thousands of times a second on one connection
// ("rapid reset", CVE-2023-44487). A connection that spends its budget is
// closed and reported (Options.OnResetFlood). nghttp2 and Envoy keep a
// similar per-connection budget.
//
// Every RST_STREAM frame the client sends spends one token, counted where
// the frames are read, not where handlers end: the HTTP/2 server queues the
// streams past its concurrency limit and drops the ones reset before their
// turn without running a handler, so counting in handlers saw only the
// first few hundred of a flood; on a loaded machine they ended slowly
// enough for the refill to keep the budget from ever running out, while the
// server closed the connection itself ("too many early resets") with
// nothing reported.
const (
	ResetBurst = 200
	ResetRate  = 20.0
)

// connBudget is the reset budget of one connection.
type connBudget struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	resets int
	closed bool
}

func newConnBudget(now time.Time) *connBudget {
	return &connBudget{tokens: ResetBurst, last: now}
}

// spend counts one reset at now and reports whether the connection has
// just gone over its budget (true once).
func (b *connBudget) spend(now time.Time) (over bool, resets int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.resets++
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(ResetBurst, b.tokens+el*ResetRate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return false, b.resets
	}
	if b.closed {
		return false, b.resets
	}
	b.closed = true
	return true, b.resets
}

// frameHeaderLen is the size of an HTTP/2 frame header (RFC 9113 section
// 4.1): a 24-bit length, a type, flags and a stream identifier.
const frameHeaderLen = 9

// h2Conn is the connection the HTTP/2 server reads: it follows the frame
// boundaries of the bytes read (headers only, payloads are skipped) and
// spends the budget for every RST_STREAM frame. The HTTP/2 server reads a
// connection from one goroutine, so the frame state needs no lock.
type h2Conn struct {
	net.Conn
	r      io.Reader // what is read: the connection, or a buffer in front of it
	l      *Listener
	budget *connBudget

	skip   int // bytes of the client preface still to pass
	hdr    [frameHeaderLen]byte
	hn     int // bytes of hdr filled
	remain int // payload bytes of the current frame still to pass
}

// tlsH2Conn is an h2Conn over TLS; ConnectionState lets the HTTP/2 server
// apply its TLS checks and fill Request.TLS.
type tlsH2Conn struct {
	*h2Conn
	tc *tls.Conn
}

func (c *tlsH2Conn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

func (l *Listener) newH2Conn(c net.Conn, r io.Reader, preface int) *h2Conn {
	return &h2Conn{Conn: c, r: r, l: l, budget: newConnBudget(l.sniff.now()), skip: preface}
}

// Read implements net.Conn.
func (c *h2Conn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.follow(p[:n])
	return n, err
}

// follow moves the frame state over b.
func (c *h2Conn) follow(b []byte) {
	for len(b) > 0 {
		switch {
		case c.skip > 0:
			k := min(c.skip, len(b))
			c.skip -= k
			b = b[k:]
		case c.remain > 0:
			k := min(c.remain, len(b))
			c.remain -= k
			b = b[k:]
		default:
			k := copy(c.hdr[c.hn:], b)
			c.hn += k
			b = b[k:]
			if c.hn < frameHeaderLen {
				return
			}
			c.hn = 0
			c.remain = int(c.hdr[0])<<16 | int(c.hdr[1])<<8 | int(c.hdr[2])
			if http2.FrameType(c.hdr[3]) == http2.FrameRSTStream {
				c.reset()
			}
		}
	}
}

// reset spends one token and closes the connection that goes over.
func (c *h2Conn) reset() {
	over, n := c.budget.spend(c.l.sniff.now())
	if !over {
		return
	}
	if c.l.opts.OnResetFlood != nil {
		c.l.opts.OnResetFlood(peerAddr(c.Conn), n)
	}
	c.l.logger.Warn("closing an HTTP/2 connection over its stream reset budget",
		"peer", c.Conn.RemoteAddr().String(), "resets", n)
	_ = c.Conn.Close()
}

// serveTLSH2 is the listener's TLSNextProto for "h2": the HTTP/2 server
// reads the connection through an h2Conn.
func (l *Listener) serveTLSH2(h2s *http2.Server) func(*http.Server, *tls.Conn, http.Handler) {
	return func(hs *http.Server, tc *tls.Conn, h http.Handler) {
		// net/http passes the connection's base context (ConnContext's)
		// through an unadvertised method of h, as x/net/http2 expects.
		var ctx context.Context
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
		}
		c := &tlsH2Conn{h2Conn: l.newH2Conn(tc, tc, len(http2.ClientPreface)), tc: tc}
		h2s.ServeConn(c, &http2.ServeConnOpts{Context: ctx, Handler: h, BaseConfig: hs})
	}
}

// priorKnowledge serves the HTTP/2 prior-knowledge preface ("PRI *
// HTTP/2.0" then "SM") on an h2c listener: the connection is taken over and
// served by h2s through an h2Conn. Other requests go to next.
func (l *Listener) priorKnowledge(h2s *http2.Server, h, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "PRI" || r.URL.Path != "*" || r.Proto != "HTTP/2.0" || len(r.Header) != 0 {
			next.ServeHTTP(w, r)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		var sm [6]byte
		if _, err := io.ReadFull(rw, sm[:]); err != nil || string(sm[:]) != "SM\r\n\r\n" {
			return
		}
		c := l.newH2Conn(conn, bufferedReader(rw.Reader, conn), 0)
		h2s.ServeConn(c, &http2.ServeConnOpts{
			Context: r.Context(), Handler: h, BaseConfig: serverOf(r), SawClientPreface: true,
		})
	})
}

// bufferedReader reads what br holds, then conn.
func bufferedReader(br *bufio.Reader, conn net.Conn) io.Reader {
	if br.Buffered() == 0 {
		return conn
	}
	b, _ := br.Peek(br.Buffered())
	return io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn)
}

func serverOf(r *http.Request) *http.Server {
	if s, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok {
		return s
	}
	return new(http.Server)
}
