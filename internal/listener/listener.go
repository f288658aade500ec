// Package listener serves one configured listener (plain, TLS, h2c or
// redirect-to-HTTPS) with the gateway's http.Handler, and makes sure that
// every malformed or ambiguous HTTP/1 request reaches the gateway instead
// of being answered by net/http's canned text/plain errors.
//
// # Why more than http.Server
//
// net/http refuses some malformed requests itself, before any handler runs
// (several Host headers, bad percent-encoding or control bytes in the
// target, oversized headers, bad header lines), and it silently accepts a
// request with both Content-Length and Transfer-Encoding. A security gateway
// must instead answer each of them with a problem+json response, an access
// record and a security event. So every HTTP/1 connection is wrapped in a
// sniffer that follows the stream's framing (heads, Content-Length and
// chunked bodies, keep-alive, pipelining). A malformed head is replaced by a
// synthetic clean request for SyntheticPath followed by the end of the
// connection; the handler asks Malformed whether the request it got is such
// a stand-in and for the Anomaly behind it. When the sniffer cannot follow a
// stream (CONNECT, Upgrade, h2c, broken chunked framing) it lets the bytes
// pass untouched from then on.
//
// # TLS
//
// net/http only negotiates TLS and HTTP/2 itself when it owns the
// *tls.Conn, which would put the sniffer below TLS where it cannot read.
// So the listener completes handshakes itself (bounded by
// read_header_timeout), reports failed ones through
// Options.OnHandshakeError, hands connections that negotiated "h2" to
// the HTTP/2 server (reading frames through an h2Conn that keeps the
// connection's reset budget, see ResetBurst), and wraps the others in the sniffer.
// Request.TLS is set on both paths; ConnState works whatever the path and is
// what the gateway should use.
//
// HTTP/2 requests are not sniffed: their framing is binary and the HTTP/2
// server already refuses malformed header blocks (invalid names or values,
// connection-specific headers, bad pseudo-headers, content-length
// mismatches) with a stream error (RST_STREAM PROTOCOL_ERROR) before any
// handler runs. Such refusals do not produce problem+json bodies.
package listener

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/redact"
	"github.com/portcullis/portcullis/internal/tlsconf"
)

// Zero fields of config.Server take the defaults config declares
// (config.DefaultReadHeaderTimeout, ...), here as in config.WithDefaults.

// Options are the optional hooks of a Listener. The zero value is valid.
type Options struct {
	// Logger receives the listener's own log lines and net/http's error
	// log (at warn level). Nil discards them.
	Logger *slog.Logger
	// OnHandshakeError is called once for every failed TLS handshake (old
	// protocol version, missing or untrusted client certificate, plain HTTP
	// on the TLS port, timeout), with the peer's address. A connection
	// closed by the peer before sending anything (io.EOF) is not reported.
	// Nil ignores failures. It runs on the connection's goroutine.
	OnHandshakeError func(peer netip.Addr, err error)
	// HTTPSPort is the port redirects point to in redirect mode. Zero or
	// 443 leave the port out of the Location.
	HTTPSPort int
	// Redactor masks secret header values and query parameters in anomaly
	// excerpts. Nil uses redact.New(nil, nil): the built-in secret names.
	Redactor *redact.Redactor
	// OnResetFlood is called once for every HTTP/2 connection closed for
	// resetting more streams than its budget allows (ResetBurst,
	// ResetRate: rapid reset), with the peer's address and the number of
	// resets. Nil only logs it. It runs on a request's goroutine.
	OnResetFlood func(peer netip.Addr, resets int)
}

// Listener serves one config.Listener.
type Listener struct {
	lc     config.Listener
	opts   Options
	logger *slog.Logger
	srv    *http.Server
	tlsCfg *tls.Config // nil for plain listeners
	sniff  *sniffConfig
	hsTO   time.Duration

	mu       sync.Mutex
	ln       net.Listener
	conns    *chanListener
	pending  map[net.Conn]struct{} // connections in a TLS handshake
	shutdown bool
	wg       sync.WaitGroup // handshake goroutines
}

// connKey is the context key of the connection a request arrived on.
type connKey struct{}

// New builds a Listener for lc with the connection settings sc. tlsSrv is
// required when lc.TLS is set and ignored otherwise. h is the gateway's
// handler; in redirect mode it only receives synthetic requests for
// malformed heads (see Malformed) and may be nil.
func New(lc config.Listener, sc config.Server, tlsSrv *tlsconf.Server, h http.Handler, opts Options) (*Listener, error) {
	if lc.TLS != nil && tlsSrv == nil {
		return nil, fmt.Errorf("listener %s: tls configured but no tls server", lc.Addr)
	}
	if lc.TLS != nil && (lc.RedirectHTTPS || lc.H2C) {
		return nil, fmt.Errorf("listener %s: redirect_https and h2c need a plain listener", lc.Addr)
	}
	if h == nil && !lc.RedirectHTTPS {
		return nil, fmt.Errorf("listener %s: nil handler", lc.Addr)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Redactor == nil {
		opts.Redactor = redact.New(nil, nil)
	}
	sc = withDefaults(sc)
	l := &Listener{lc: lc, opts: opts, logger: logger, pending: map[net.Conn]struct{}{}, hsTO: sc.ReadHeaderTimeout}
	l.sniff = &sniffConfig{
		maxHeader:     int(sc.MaxHeaderBytes),
		headerTimeout: sc.ReadHeaderTimeout,
		h2c:           lc.H2C,
		redactor:      opts.Redactor,
		now:           time.Now,
	}

	handler := h
	if lc.RedirectHTTPS {
		handler = redirect(h, opts.HTTPSPort)
	}
	l.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: sc.ReadHeaderTimeout,
		ReadTimeout:       sc.ReadTimeout,
		WriteTimeout:      sc.WriteTimeout,
		IdleTimeout:       sc.IdleTimeout,
		MaxHeaderBytes:    int(sc.MaxHeaderBytes),
		// "OPTIONS *" goes to the gateway like any other request.
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	switch {
	case lc.TLS != nil:
		l.tlsCfg = tlsSrv.Config().Clone()
		if lc.DisableHTTP2 {
			l.tlsCfg.NextProtos = []string{"http/1.1"}
			l.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
			break
		}
		h2s := &http2.Server{}
		// Registers h2s for graceful shutdown (GOAWAY) with l.srv.
		if err := http2.ConfigureServer(l.srv, h2s); err != nil {
			return nil, fmt.Errorf("listener %s: http2: %w", lc.Addr, err)
		}
		l.srv.TLSNextProto[http2.NextProtoTLS] = l.serveTLSH2(h2s)
	case lc.H2C:
		h2s := &http2.Server{}
		// Registers h2s for graceful shutdown (GOAWAY) with l.srv.
		if err := http2.ConfigureServer(l.srv, h2s); err != nil {
			return nil, fmt.Errorf("listener %s: h2c: %w", lc.Addr, err)
		}
		l.srv.Handler = l.priorKnowledge(h2s, handler, refuseH2CUpgrade(handler))
	}
	return l, nil
}

// refuseH2CUpgrade removes an "Upgrade: h2c" request's upgrade before the
// gateway sees it (so it is neither taken up nor passed upstream), so the request is answered over HTTP/1.1 as if it
// had asked for nothing (RFC 9110 section 7.8 lets a server ignore
// Upgrade). Prior-knowledge HTTP/2 (the preface) is still served.
//
// Security: the h2c upgrade is deprecated (RFC 9113 section 3.1) and is the
// "h2c smuggling" vector: a request the gateway checks as HTTP/1 turns the
// connection into one whose streams a proxy in between never sees. The
// gateway's own h2c server would check those streams, but an upgrade it
// does not need is one more way to confuse whatever sits in front of it.
func refuseH2CUpgrade(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && httpguts.HeaderValuesContainsToken(r.Header["Upgrade"], "h2c") {
			r.Header.Del("Upgrade")
			r.Header.Del("Http2-Settings")
		}
		h.ServeHTTP(w, r)
	})
}

func withDefaults(sc config.Server) config.Server {
	if sc.ReadHeaderTimeout <= 0 {
		sc.ReadHeaderTimeout = config.DefaultReadHeaderTimeout
	}
	if sc.ReadTimeout <= 0 {
		sc.ReadTimeout = config.DefaultReadTimeout
	}
	if sc.WriteTimeout < 0 {
		sc.WriteTimeout = 0
	}
	if sc.IdleTimeout <= 0 {
		sc.IdleTimeout = config.DefaultIdleTimeout
	}
	if sc.MaxHeaderBytes <= 0 {
		sc.MaxHeaderBytes = config.DefaultMaxHeaderBytes
	}
	return sc
}

// ListenAndServe listens on the configured address and serves.
func (l *Listener) ListenAndServe() error {
	ln, err := net.Listen("tcp", l.lc.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", l.lc.Addr, err)
	}
	return l.Serve(ln)
}

// Serve accepts connections on ln until Shutdown. It always returns a
// non-nil error; after Shutdown it is http.ErrServerClosed.
func (l *Listener) Serve(ln net.Listener) error {
	l.mu.Lock()
	if l.shutdown {
		l.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	if l.ln != nil {
		l.mu.Unlock()
		return errors.New("listener: Serve called twice")
	}
	l.ln = ln
	if l.tlsCfg != nil {
		l.conns = newChanListener(ln.Addr())
	}
	l.mu.Unlock()

	if l.tlsCfg == nil {
		return l.srv.Serve(&sniffListener{Listener: ln, cfg: l.sniff})
	}

	served := make(chan error, 1)
	go func() { served <- l.srv.Serve(l.conns) }()
	err := l.acceptTLS(ln)
	l.conns.Close()
	if serr := <-served; err == nil {
		err = serr
	}
	return err
}

// acceptTLS accepts raw connections and starts their handshakes.
func (l *Listener) acceptTLS(ln net.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if l.isShutdown() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Temporary (e.g. too many open files): back off like net/http.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				l.logger.Warn("accept error; retrying", "addr", l.lc.Addr, "error", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accepting on %s: %w", l.lc.Addr, err)
		}
		delay = 0
		l.mu.Lock()
		if l.shutdown {
			l.mu.Unlock()
			c.Close()
			return http.ErrServerClosed
		}
		l.pending[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.handshake(c)
	}
}

func (l *Listener) isShutdown() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shutdown
}

// handshake completes the TLS handshake of c within the header timeout and
// hands the connection to the HTTP server.
func (l *Listener) handshake(c net.Conn) {
	defer l.wg.Done()
	done := func() {
		l.mu.Lock()
		delete(l.pending, c)
		l.mu.Unlock()
	}
	tc := tls.Server(c, l.tlsCfg)
	_ = c.SetDeadline(time.Now().Add(l.hsTO))
	ctx, cancel := context.WithTimeout(context.Background(), l.hsTO)
	err := tc.HandshakeContext(ctx)
	cancel()
	done()
	if err != nil {
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) && rhe.Conn != nil && looksLikeHTTP(rhe.RecordHeader) {
			// Plain HTTP on the TLS port: answer in plain HTTP, once.
			_, _ = io.WriteString(rhe.Conn, plainOnTLS)
		}
		if !errors.Is(err, io.EOF) && l.opts.OnHandshakeError != nil {
			l.opts.OnHandshakeError(peerAddr(c), err)
		}
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	var hc net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		hc = &tlsSniffConn{sniffConn: newSniffConn(tc, l.sniff), tc: tc}
	}
	l.conns.push(hc)
}

const plainOnTLSBody = `{"type":"` + pipeline.ProblemTypeBase + `bad-request","title":"Bad Request","status":400,"detail":"this port speaks HTTPS"}`

var plainOnTLS = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: " +
	strconv.Itoa(len(plainOnTLSBody)) + "\r\nConnection: close\r\n\r\n" + plainOnTLSBody

func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE", "TRACE":
		return true
	}
	return false
}

func peerAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// Addr returns the address being served, or nil before Serve.
func (l *Listener) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return nil
	}
	return l.ln.Addr()
}

// Shutdown stops accepting connections, closes connections still in a TLS
// handshake and idle keep-alive connections, tells HTTP/2 clients to go
// away, and waits until in-flight requests finish or ctx ends. When ctx
// ends first it returns ctx's error and leaves the remaining connections
// open; call Close to drop them.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	l.shutdown = true
	ln := l.ln
	for c := range l.pending {
		c.Close()
	}
	l.mu.Unlock()
	if ln != nil && l.tlsCfg != nil {
		ln.Close()
	}
	err := l.srv.Shutdown(ctx)
	waited := make(chan struct{})
	go func() { l.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Close closes the listener and every connection at once.
func (l *Listener) Close() error {
	l.mu.Lock()
	l.shutdown = true
	ln := l.ln
	for c := range l.pending {
		c.Close()
	}
	l.mu.Unlock()
	if ln != nil && l.tlsCfg != nil {
		ln.Close()
	}
	return l.srv.Close()
}

// Malformed reports whether r is the synthetic request standing in for a
// malformed request head, and returns the anomaly found. The handler must
// answer it (with a problem+json of a.Status) and must not route or proxy
// it. The check relies on the connection the request arrived on (and a
// per-connection secret), never on the path alone: a client can send
// SyntheticPath itself.
func Malformed(r *http.Request) (*Anomaly, bool) {
	sc := sniffOf(r)
	if sc == nil {
		return nil, false
	}
	rec := sc.recorded()
	if rec == nil || r.URL == nil || r.URL.Path != SyntheticPath || r.ProtoMajor != 1 {
		return nil, false
	}
	got := r.Header.Get(nonceHeader)
	if subtle.ConstantTimeCompare([]byte(got), []byte(rec.nonce)) != 1 {
		return nil, false
	}
	a := rec.a
	return &a, true
}

func sniffOf(r *http.Request) *sniffConn {
	switch c := r.Context().Value(connKey{}).(type) {
	case *sniffConn:
		return c
	case *tlsSniffConn:
		return c.sniffConn
	}
	return nil
}

// ConnState returns the TLS state of the connection r arrived on, or nil
// for plain connections. It works for HTTP/1 (sniffed) and HTTP/2
// connections alike; the gateway should use it rather than reading r.TLS
// directly.
func ConnState(r *http.Request) *tls.ConnectionState {
	if r.TLS != nil {
		return r.TLS
	}
	switch c := r.Context().Value(connKey{}).(type) {
	case *tlsSniffConn:
		st := c.ConnectionState()
		return &st
	case *tls.Conn:
		st := c.ConnectionState()
		return &st
	}
	return nil
}

// sniffListener wraps every accepted plain connection in a sniffer.
type sniffListener struct {
	net.Listener
	cfg *sniffConfig
}

func (s *sniffListener) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newSniffConn(c, s.cfg), nil
}

// chanListener is a net.Listener fed with connections whose TLS handshake
// the Listener completed.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// redirect answers every request with a permanent redirect to HTTPS on the
// same host. Malformed requests go to h so that the gateway answers and
// records them like on any other listener.
func redirect(h http.Handler, port int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := Malformed(r); ok {
			if h != nil {
				h.ServeHTTP(w, r)
				return
			}
			pipeline.WriteProblem(w, &pipeline.Denial{Status: a.Status, Reason: a.Reason, Stage: "listener", Rules: []string{a.Rule}}, "")
			return
		}
		host, ok := redirectHost(r.Host)
		if !ok {
			// The Host goes into the Location header: refuse anything that
			// is not a plain host name or IP literal (header injection,
			// userinfo tricks, open redirects through odd syntax).
			pipeline.WriteProblem(w, &pipeline.Denial{Status: http.StatusBadRequest, Reason: "invalid Host header", Stage: "listener", Rules: []string{"listener.bad-host"}}, "")
			return
		}
		if port != 0 && port != 443 {
			host = net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
		}
		uri := r.URL.RequestURI()
		if !strings.HasPrefix(uri, "/") { // "*" (OPTIONS) or an authority
			uri = "/"
		}
		w.Header().Set("Location", "https://"+host+uri)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusPermanentRedirect)
		_, _ = io.WriteString(w, "Use HTTPS.\n")
	})
}

// redirectHost returns the host of a Host header without its port,
// lowercased, IPv6 literals in brackets, when it is safe to put in a URL.
func redirectHost(h string) (string, bool) {
	if h == "" || len(h) > 255 {
		return "", false
	}
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", false
		}
		addr, err := netip.ParseAddr(h[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", false
		}
		if rest := h[end+1:]; rest != "" && !validPort(strings.TrimPrefix(rest, ":"), rest) {
			return "", false
		}
		return "[" + addr.String() + "]", true
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !validPort(h[i+1:], h[i:]) {
			return "", false
		}
		h = h[:i]
	}
	if h == "" {
		return "", false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", false
		}
	}
	return strings.ToLower(h), true
}

// validPort checks the digits after a ':' (withColon must start with it).
func validPort(p, withColon string) bool {
	if !strings.HasPrefix(withColon, ":") || len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}
