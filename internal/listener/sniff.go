package listener

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/redact"
)

// SyntheticPath is the path of the clean request handed to the handler in
// place of a malformed one. The path alone proves nothing (a client may
// send it); only Malformed tells a synthetic request apart.
const SyntheticPath = "/.well-known/portcullis-malformed"

// nonceHeader carries the per-connection secret that ties a synthetic
// request to the anomaly recorded on its connection.
const nonceHeader = "Portcullis-Anomaly"

type sniffState uint8

const (
	stHead    sniffState = iota // collecting a request head
	stBody                      // passing a Content-Length body
	stChunked                   // passing a chunked body
	stPass                      // not sniffing any more: bytes pass untouched
	stDiscard                   // synthetic head sent: swallow the rest
)

// sniffConfig is shared by every connection of a listener.
type sniffConfig struct {
	maxHeader     int           // request line + headers, bytes
	headerTimeout time.Duration // per request head; 0 means none
	h2c           bool          // accept the HTTP/2 prior-knowledge preface
	redactor      *redact.Redactor
	now           func() time.Time
}

// record is an anomaly with the secret that identifies its synthetic
// request.
type record struct {
	a     Anomaly
	nonce string
}

// sniffConn follows the HTTP/1 framing of the bytes net/http reads from the
// connection. Request heads are held back until complete and checked; a
// valid head is released unchanged, a malformed one is replaced by a
// synthetic clean request and the rest of the stream is swallowed. Bodies
// are released as they arrive while the sniffer tracks where they end.
//
// net/http reads from one goroutine at a time (the request loop or its
// background reader), so the parse state needs no lock; deadlines are set
// from other goroutines and are guarded by dlMu.
type sniffConn struct {
	net.Conn
	cfg *sniffConfig

	buf     []byte // received, not yet released
	out     []byte // ready to release (checked or synthetic head)
	outBuf  []byte // backing array of checked heads, reused head after head
	pending error  // read error held back while buffered bytes remain
	state   sniffState
	remain  int64 // stBody: bytes left
	chunk   chunkParser
	scan    int // stHead: bytes of buf already scanned for the end
	line    int // stHead: start of the line being scanned (scan may be past it)
	start   int // stHead: start of the request line (after empty lines)
	gotLine bool

	dlMu         sync.Mutex
	userDeadline time.Time // what net/http asked for
	headDeadline time.Time // read_header_timeout of the current head

	rec atomic.Pointer[record]

	// switched is set once the server has answered 101 on this connection:
	// the bytes after the current head belong to the new protocol.
	switched atomic.Bool
}

// tlsSniffConn is a sniffConn over a TLS connection. Its ConnectionState
// method makes net/http fill Request.TLS for HTTP/1 requests.
type tlsSniffConn struct {
	*sniffConn
	tc *tls.Conn
}

// ConnectionState returns the TLS state of the underlying connection.
func (c *tlsSniffConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

func newSniffConn(c net.Conn, cfg *sniffConfig) *sniffConn {
	s := &sniffConn{Conn: c, cfg: cfg}
	if cfg.headerTimeout > 0 {
		s.setHeadDeadline(cfg.now().Add(cfg.headerTimeout))
	}
	return s
}

// SwitchProtocols tells the sniffer that the server is answering 101
// Switching Protocols on this connection: the bytes after the request head
// belong to the new protocol and pass untouched from then on. The handler
// calls it on the hijacked connection before it writes the 101; nothing
// else stops the sniffer (an Upgrade header alone does not).
func (c *sniffConn) SwitchProtocols() { c.switched.Store(true) }

// recorded returns the recorded anomaly, if any.
func (c *sniffConn) recorded() *record { return c.rec.Load() }

// SetDeadline sets both deadlines, keeping track of the read deadline.
func (c *sniffConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// SetReadDeadline records net/http's read deadline and applies it, or the
// current head's deadline when that is earlier. A keep-alive connection
// waits for its next request under the idle timeout; once the first byte
// of a head arrives, the head must complete within the header timeout.
func (c *sniffConn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.userDeadline = t
	return c.Conn.SetReadDeadline(earliest(t, c.headDeadline))
}

// CloseWrite half-closes the connection when the underlying one can, so
// net/http's lingering close works as on a plain TCP connection.
func (c *sniffConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case b.Before(a):
		return b
	}
	return a
}

// setHeadDeadline sets (or clears, with the zero time) the head deadline.
func (c *sniffConn) setHeadDeadline(t time.Time) {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.headDeadline = t
	_ = c.Conn.SetReadDeadline(earliest(c.userDeadline, t))
}

// Read implements net.Conn.
func (c *sniffConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		switch c.state {
		case stPass:
			if len(c.buf) > 0 {
				n := copy(p, c.buf)
				c.buf = c.buf[n:]
				return n, nil
			}
			if err := c.takePending(); err != nil {
				return 0, err
			}
			return c.Conn.Read(p)

		case stDiscard:
			c.buf = nil
			if err := c.takePending(); err != nil {
				return 0, err
			}
			if _, err := c.Conn.Read(p); err != nil {
				return 0, err
			}

		case stBody:
			if len(c.buf) == 0 {
				if err := c.takePending(); err != nil {
					return 0, err
				}
				q := p
				if int64(len(q)) > c.remain {
					q = q[:c.remain]
				}
				n, err := c.Conn.Read(q)
				c.remain -= int64(n)
				if c.remain == 0 {
					c.nextHead()
				}
				return n, err
			}
			n := min(len(p), len(c.buf))
			if int64(n) > c.remain {
				n = int(c.remain)
			}
			copy(p, c.buf[:n])
			c.buf = c.buf[n:]
			c.remain -= int64(n)
			if c.remain == 0 {
				c.nextHead()
			}
			return n, nil

		case stChunked:
			var src []byte
			fromConn := false
			if len(c.buf) > 0 {
				src = c.buf[:min(len(p), len(c.buf))]
			} else {
				if err := c.takePending(); err != nil {
					return 0, err
				}
				n, err := c.Conn.Read(p)
				if n == 0 {
					return 0, err
				}
				c.pending = err
				src, fromConn = p[:n], true
			}
			k, done, err := c.chunk.feed(src)
			if err != nil {
				// Lost track of the framing: net/http will refuse this
				// body; pass the rest through untouched.
				c.state, k = stPass, len(src)
			} else if done {
				c.nextHead()
			}
			if fromConn {
				// Bytes after the body belong to the next request.
				c.buf = append(c.buf, src[k:]...)
			} else {
				copy(p, src[:k])
				c.buf = c.buf[k:]
			}
			return k, nil

		case stHead:
			if c.switched.Load() {
				c.state = stPass
				c.setHeadDeadline(time.Time{})
				continue
			}
			if c.scanHead() {
				continue
			}
			if len(c.buf) >= c.cfg.maxHeader {
				c.flag(anomaly(431, RuleHeaderBytes, "request line and headers too large", firstLine(c.buf[c.start:])))
				continue
			}
			if err := c.takePending(); err != nil {
				return 0, err
			}
			if err := c.fill(); err != nil {
				return 0, err
			}
		}
	}
}

func (c *sniffConn) takePending() error {
	err := c.pending
	c.pending = nil
	return err
}

// fill reads more of a head from the connection.
func (c *sniffConn) fill() error {
	if cap(c.buf)-len(c.buf) < 1024 {
		nb := make([]byte, len(c.buf), len(c.buf)+4096)
		copy(nb, c.buf)
		c.buf = nb
	}
	n, err := c.Conn.Read(c.buf[len(c.buf):cap(c.buf)])
	if n > 0 {
		if len(c.buf) == 0 && c.cfg.headerTimeout > 0 {
			c.dlMu.Lock()
			noHead := c.headDeadline.IsZero()
			c.dlMu.Unlock()
			if noHead {
				c.setHeadDeadline(c.cfg.now().Add(c.cfg.headerTimeout))
			}
		}
		c.buf = c.buf[:len(c.buf)+n]
		c.pending = err
		return nil
	}
	return err
}

// scanHead looks for the end of the head in buf and handles a complete
// head. It reports whether it did.
func (c *sniffConn) scanHead() bool {
	for {
		i := indexLF(c.buf[c.scan:])
		if i < 0 {
			c.scan = len(c.buf)
			return false
		}
		// The line started where the previous one ended, not where the
		// last scan stopped: a line can arrive in several reads.
		lineStart := c.line
		c.scan += i + 1
		c.line = c.scan
		line := c.buf[lineStart : c.scan-1]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) > 0 {
			c.gotLine = true
			continue
		}
		if !c.gotLine {
			// Empty lines before a request line are skipped (RFC 9112
			// section 2.2) and not passed on.
			c.start = c.scan
			continue
		}
		end := c.scan
		if end > c.cfg.maxHeader {
			c.flag(anomaly(431, RuleHeaderBytes, "request line and headers too large", firstLine(c.buf[c.start:])))
			return true
		}
		h, a := parseHead(c.buf[c.start:end], c.cfg.h2c)
		if a != nil {
			c.flag(a)
			return true
		}
		// A copy (buf's array is refilled), into the connection's own
		// buffer: out is empty whenever a head is parsed (Read releases out
		// before reading on). Only usual-sized heads reuse it, so an idle
		// keep-alive connection never holds on to a large one.
		if head := c.buf[c.start:end]; len(head) <= maxKeptHead {
			c.outBuf = append(c.outBuf[:0], head...)
			c.out = c.outBuf
		} else {
			c.out = append([]byte(nil), head...)
		}
		c.buf = c.buf[end:]
		c.setHeadDeadline(time.Time{})
		switch {
		case h.passthrough:
			c.state = stPass
		case h.chunked:
			c.state, c.chunk = stChunked, chunkParser{}
		case h.length > 0:
			c.state, c.remain = stBody, h.length
		default:
			c.nextHead()
		}
		return true
	}
}

// nextHead prepares for the next request head on the connection.
func (c *sniffConn) nextHead() {
	c.state = stHead
	c.scan, c.line, c.start, c.gotLine = 0, 0, 0, false
	c.setHeadDeadline(time.Time{})
	if len(c.buf) > 0 && c.cfg.headerTimeout > 0 {
		// The next head has already started arriving.
		c.setHeadDeadline(c.cfg.now().Add(c.cfg.headerTimeout))
	}
}

// flag records a and replaces the request with a synthetic one.
func (c *sniffConn) flag(a *Anomaly) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	rec := &record{a: *a, nonce: nonce}
	rec.a.Excerpt = redactedExcerpt(c.cfg.redactor, a.line, a.request)
	rec.a.line = nil
	c.rec.Store(rec)
	c.out = []byte("GET " + SyntheticPath + " HTTP/1.1\r\nHost: malformed\r\n" +
		nonceHeader + ": " + nonce + "\r\nConnection: close\r\n\r\n")
	c.buf = nil
	c.state = stDiscard
	c.setHeadDeadline(time.Time{})
}

// maxKeptHead is the largest request head whose copy's buffer a
// connection keeps for the next head.
const maxKeptHead = 4096

func indexLF(b []byte) int { return bytes.IndexByte(b, '\n') }

func firstLine(b []byte) []byte {
	if i := indexLF(b); i >= 0 {
		b = b[:i]
	}
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}
