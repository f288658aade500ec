package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// TunnelStage is the stage id of the findings a WebSocket tunnel records
// when it closes a connection for a violation (the websocket stage granted
// the tunnel; the proxy enforces it).
const TunnelStage = "websocket"

// Rule ids of what the proxy refuses around protocol switches.
const (
	// RuleUpgradeRefused: a WebSocket handshake where no websocket block
	// allows one (403).
	RuleUpgradeRefused = "proxy.upgrade-refused"
	// RuleBadSwitch: the upstream answered 101 to a request that was not
	// allowed to switch, or with a handshake that does not match the
	// request's (502).
	RuleBadSwitch = "proxy.bad-switch"
	// RuleWSMessageSize: a message larger than the tunnel's limit (close
	// 1009).
	RuleWSMessageSize = "websocket.message-size"
	// RuleWSProtocol: a frame RFC 6455 forbids (unmasked from the client,
	// reserved bits or opcodes, a fragmented or oversized control frame, a
	// continuation out of place) (close 1002).
	RuleWSProtocol = "websocket.protocol"
	// RuleWSRate: the client sent messages faster than the tunnel's rate
	// (close 1008).
	RuleWSRate = "websocket.message-rate"
)

// WebSocket close codes (RFC 6455 section 7.4.1).
const (
	wsGoingAway     = 1001
	wsProtocolError = 1002
	wsPolicy        = 1008
	wsTooBig        = 1009
)

// closeWait is how long a close frame waits for a side's writer.
const closeWait = 200 * time.Millisecond

// frameLock serialises the frames written to one side; unlike a mutex, it
// can be waited for with a deadline.
type frameLock chan struct{}

func (l frameLock) lock()   { l <- struct{}{} }
func (l frameLock) unlock() { <-l }

func (l frameLock) lockWithin(d time.Duration) bool {
	select {
	case l <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case l <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

// closeGrace is how long a tunnel waits, once one side is done, for the
// other to finish its close handshake before both connections are closed.
const closeGrace = 2 * time.Second

// wsGUID is the RFC 6455 handshake constant.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// errTunnel tells the error handler that modifyResponse handled a 101
// itself (the tunnel ran, or a denial was recorded on the attempt).
var errTunnel = errors.New("protocol switch handled")

// prepareUpgrade decides what becomes of a request that asks to switch
// protocols, before anything is sent upstream:
//
//   - "websocket" is forwarded only when a stage granted it (the websocket
//     block allows the operation); otherwise the request is refused (403),
//     as Envoy refuses an upgrade its route does not enable. Extensions are
//     not offered upstream, so that every frame stays readable (no
//     permessage-deflate).
//   - anything else (h2c, TLS/1.0, several tokens) is ignored: the Upgrade
//     is removed and the request goes upstream as plain HTTP/1.1 (RFC 9110
//     section 7.8). h2c in particular would turn one checked request into
//     an HTTP/2 connection the gateway never sees into ("h2c smuggling").
//
// It returns the grant, or the denial to answer with.
func prepareUpgrade(r *http.Request, x *pipeline.Exchange) (*pipeline.Upgrade, *pipeline.Denial) {
	tok := upgradeToken(r.Header)
	if tok == "" {
		return nil, nil
	}
	if !strings.EqualFold(strings.TrimSpace(tok), "websocket") {
		dropUpgrade(r.Header)
		return nil, nil
	}
	if x == nil || x.Upgrade == nil || x.Upgrade.Protocol != "websocket" || r.Header.Get("Sec-WebSocket-Key") == "" || r.ProtoMajor != 1 {
		return nil, &pipeline.Denial{
			Status:   http.StatusForbidden,
			Reason:   "WebSocket connections are not allowed here",
			Stage:    StageID,
			Rules:    []string{RuleUpgradeRefused},
			Location: "header:upgrade",
			Detail:   "no websocket block allows this operation",
			Severity: events.SeverityLow,
		}
	}
	r.Header.Del("Sec-WebSocket-Extensions")
	return x.Upgrade, nil
}

// acceptKey is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(strings.TrimSpace(key) + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// checkSwitch reports what is wrong with an upstream's 101 to req, "" when
// it is the WebSocket handshake req asked for.
func checkSwitch(req *http.Request, resp *http.Response) string {
	switch {
	case !strings.EqualFold(strings.TrimSpace(upgradeToken(resp.Header)), "websocket"):
		return "the upstream switched to " + strconv.Quote(resp.Header.Get("Upgrade")) + ", not websocket"
	case resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(req.Header.Get("Sec-WebSocket-Key")):
		return "the upstream's Sec-WebSocket-Accept does not match the key"
	case resp.Header.Get("Sec-WebSocket-Extensions") != "":
		return "the upstream chose an extension that was not offered"
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		offered := false
		for _, v := range req.Header.Values("Sec-WebSocket-Protocol") {
			for _, o := range strings.Split(v, ",") {
				if strings.TrimSpace(o) == p {
					offered = true
				}
			}
		}
		if !offered {
			return "the upstream chose a subprotocol that was not offered"
		}
	}
	return ""
}

// switchProtocols handles the upstream's 101: it checks the switch was
// granted and is the handshake asked for, takes the client connection
// over, tells the listener's sniffer to stop reading HTTP, answers the
// client, and runs the tunnel until it closes. It always returns
// errTunnel; what happened is on the attempt.
func (u *Upstream) switchProtocols(resp *http.Response) error {
	a := attemptFrom(resp.Request.Context())
	if a == nil {
		return errors.New("101 outside of Serve")
	}
	bad := func(detail string) error {
		a.denial = &pipeline.Denial{
			Status: http.StatusBadGateway, Reason: "the upstream service answered with an unexpected protocol switch",
			Stage: StageID, Rules: []string{RuleBadSwitch}, Detail: detail, Severity: events.SeverityHigh,
		}
		return errTunnel
	}
	if a.grant == nil {
		return bad("101 to a request that was not allowed to switch protocols")
	}
	if why := checkSwitch(resp.Request, resp); why != "" {
		return bad(why)
	}
	upConn, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return bad("101 without a connection")
	}
	conn, brw, err := http.NewResponseController(a.w).Hijack()
	if err != nil {
		return bad("the client connection cannot be taken over: " + err.Error())
	}
	defer conn.Close()
	if s, ok := conn.(interface{ SwitchProtocols() }); ok {
		s.SwitchProtocols()
	}
	x := pipeline.FromContext(resp.Request.Context())
	if f, ok := a.w.(*informationalFilter); ok {
		f.restore()
	}
	h := a.w.Header().Clone()
	if x != nil {
		for k, vs := range x.ResponseHeader {
			h[k] = vs
		}
	}
	for k, vs := range resp.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Upgrade", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Te", "Trailer":
			continue
		}
		if isProxyHeader(k) {
			continue
		}
		h[k] = vs
	}
	h.Set("Connection", "Upgrade")
	h.Set("Upgrade", "websocket")
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = h.Write(brw)
	_, _ = brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		upConn.Close()
		a.tunnel = &pipeline.Tunnel{Protocol: "websocket", Close: "client"}
		return errTunnel
	}
	t := newWSTunnel(a.grant, x, conn, brw.Reader, upConn)
	u.tunnels.add(t)
	defer u.tunnels.remove(t)
	a.tunnel = t.run()
	return errTunnel
}

// tunnelSet holds an upstream's open tunnels, so that shutdown can close
// them (a hijacked connection is no longer the HTTP server's to close).
type tunnelSet struct {
	mu  sync.Mutex
	set map[*wsTunnel]struct{}
}

func (s *tunnelSet) add(t *wsTunnel) {
	s.mu.Lock()
	if s.set == nil {
		s.set = map[*wsTunnel]struct{}{}
	}
	s.set[t] = struct{}{}
	s.mu.Unlock()
}

func (s *tunnelSet) remove(t *wsTunnel) {
	s.mu.Lock()
	delete(s.set, t)
	s.mu.Unlock()
}

// closeAll ends every open tunnel with 1001 (going away).
func (s *tunnelSet) closeAll() {
	s.mu.Lock()
	ts := make([]*wsTunnel, 0, len(s.set))
	for t := range s.set {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	for _, t := range ts {
		t.end("shutdown", wsGoingAway, "", "")
	}
}

// CloseTunnels closes every open WebSocket tunnel of the upstream with
// close code 1001 (going away). The gateway calls it on shutdown: the HTTP
// server neither waits for nor closes connections that switched protocols.
func (u *Upstream) CloseTunnels() { u.tunnels.closeAll() }

// wsTunnel relays one WebSocket connection frame by frame, enforcing the
// grant: RFC 6455 framing, the message size and rate limits, idle and
// maximum durations, and the grant's inspection of client messages. It
// never forwards a frame it has not read the header of, so a violation is
// caught before its payload reaches the other side.
type wsTunnel struct {
	grant  *pipeline.Upgrade
	x      *pipeline.Exchange
	client net.Conn
	cr     *bufio.Reader // the client side, with whatever net/http buffered
	up     io.ReadWriteCloser

	clientW, upW frameLock // one frame at a time per destination

	start      time.Time
	lastActive atomic.Int64 // unix nanoseconds of the last frame either way

	stats struct {
		clientMsgs, upMsgs, clientBytes, upBytes atomic.Int64
	}

	mu       sync.Mutex
	ended    bool
	reason   string // Tunnel.Close
	finished chan struct{}
	closers  sync.Once

	// rate state; only the client pump touches it
	tokens float64
	last   time.Time
}

func newWSTunnel(g *pipeline.Upgrade, x *pipeline.Exchange, client net.Conn, cr *bufio.Reader, up io.ReadWriteCloser) *wsTunnel {
	t := &wsTunnel{grant: g, x: x, client: client, cr: cr, up: up, start: time.Now(), finished: make(chan struct{}),
		clientW: make(frameLock, 1), upW: make(frameLock, 1)}
	t.lastActive.Store(t.start.UnixNano())
	t.tokens = float64(max(g.MessageBurst, 1))
	t.last = t.start
	return t
}

// run relays until both directions are done and returns what passed.
func (t *wsTunnel) run() *pipeline.Tunnel {
	done := make(chan string, 2)
	go func() { done <- t.pump(true) }()
	go func() { done <- t.pump(false) }()
	remaining := 2
	t.setReason(<-done)
	remaining--
	// One side is done: give the other a moment to finish its close
	// handshake, then close everything (which ends the other pump).
	timer := time.NewTimer(closeGrace)
	select {
	case <-done:
		remaining--
	case <-timer.C:
	case <-t.finished:
	}
	timer.Stop()
	t.closeConns()
	for ; remaining > 0; remaining-- {
		<-done
	}
	t.mu.Lock()
	reason := t.reason
	t.mu.Unlock()
	return &pipeline.Tunnel{
		Protocol:         "websocket",
		ClientMessages:   t.stats.clientMsgs.Load(),
		UpstreamMessages: t.stats.upMsgs.Load(),
		ClientBytes:      t.stats.clientBytes.Load(),
		UpstreamBytes:    t.stats.upBytes.Load(),
		Close:            reason,
	}
}

func (t *wsTunnel) setReason(r string) {
	t.mu.Lock()
	if t.reason == "" {
		t.reason = r
	}
	t.mu.Unlock()
}

func (t *wsTunnel) closeConns() {
	t.closers.Do(func() {
		_ = t.client.Close()
		_ = t.up.Close()
	})
}

// end closes the tunnel because of reason (a rule id, "idle",
// "max-duration", "shutdown"): a close frame with code to both sides when
// their writer is free, then both connections. A rule records a finding on
// the exchange.
func (t *wsTunnel) end(reason string, code int, rule, detail string) {
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return
	}
	t.ended = true
	if t.reason == "" {
		t.reason = reason
	}
	t.mu.Unlock()
	if rule != "" {
		t.addFinding(pipeline.Finding{Stage: TunnelStage, Rules: []string{rule}, Location: "websocket:client",
			Reason: detail, Mode: "block", Severity: events.SeverityMedium})
	}
	text := reason
	// A close frame goes between two frames: wait a little for the side's
	// writer (the other pump may be finishing a frame), never for long (it
	// may be stuck in the middle of one, waiting on its source).
	if t.clientW.lockWithin(closeWait) {
		_ = t.client.SetWriteDeadline(time.Now().Add(closeGrace))
		_, _ = t.client.Write(closeFrame(code, text, false))
		t.clientW.unlock()
	}
	if t.upW.lockWithin(closeWait) {
		_, _ = t.up.Write(closeFrame(wsGoingAway, "", true))
		t.upW.unlock()
	}
	close(t.finished)
	t.closeConns()
}

func (t *wsTunnel) addFinding(f pipeline.Finding) {
	if t.x != nil {
		t.x.AddFinding(f)
	}
}

// closeFrame builds a close frame; masked for frames the gateway sends
// upstream (it is the client there).
func closeFrame(code int, reason string, masked bool) []byte {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	payload := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(payload, uint16(code))
	copy(payload[2:], reason)
	f := []byte{0x88, byte(len(payload))}
	if masked {
		var key [4]byte
		_, _ = rand.Read(key[:])
		f[1] |= 0x80
		f = append(f, key[:]...)
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return append(f, payload...)
}

// frame is a parsed frame header.
type frame struct {
	fin    bool
	rsv    byte
	op     byte
	masked bool
	key    [4]byte
	length int64
	hdr    []byte // the header as received
}

const (
	opCont  = 0x0
	opText  = 0x1
	opBin   = 0x2
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xa
)

var errBadLength = errors.New("frame length not minimally encoded or too large")

// readFrame reads one frame header from r into buf.
func readFrame(r io.Reader, buf *[14]byte) (frame, error) {
	var f frame
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return f, err
	}
	f.fin, f.rsv, f.op = buf[0]&0x80 != 0, buf[0]&0x70, buf[0]&0x0f
	f.masked = buf[1]&0x80 != 0
	n := 2
	switch l := buf[1] & 0x7f; l {
	case 126:
		if _, err := io.ReadFull(r, buf[2:4]); err != nil {
			return f, err
		}
		f.length = int64(binary.BigEndian.Uint16(buf[2:4]))
		n = 4
		if f.length < 126 {
			return f, errBadLength
		}
	case 127:
		if _, err := io.ReadFull(r, buf[2:10]); err != nil {
			return f, err
		}
		v := binary.BigEndian.Uint64(buf[2:10])
		n = 10
		if v>>63 != 0 || v <= 0xffff {
			return f, errBadLength
		}
		f.length = int64(v)
	default:
		f.length = int64(l)
	}
	if f.masked {
		if _, err := io.ReadFull(r, buf[n:n+4]); err != nil {
			return f, err
		}
		copy(f.key[:], buf[n:n+4])
		n += 4
	}
	f.hdr = buf[:n]
	return f, nil
}

// idleReader reads the client side under the tunnel's idle timeout and
// maximum duration (the client connection is the one with deadlines; a
// frame either way counts as activity).
type idleReader struct{ t *wsTunnel }

type expiredError struct{ reason string }

func (e expiredError) Error() string { return "tunnel " + e.reason }

func (r idleReader) Read(p []byte) (int, error) {
	t := r.t
	for {
		_ = t.client.SetReadDeadline(t.deadline())
		n, err := t.cr.Read(p)
		if n > 0 || err == nil {
			return n, err
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if reason := t.expired(time.Now()); reason != "" {
				return 0, expiredError{reason}
			}
			continue
		}
		return n, err
	}
}

// deadline is when the tunnel expires if nothing more passes.
func (t *wsTunnel) deadline() time.Time {
	var d time.Time
	if t.grant.IdleTimeout > 0 {
		d = time.Unix(0, t.lastActive.Load()).Add(t.grant.IdleTimeout)
	}
	if t.grant.MaxDuration > 0 {
		if m := t.start.Add(t.grant.MaxDuration); d.IsZero() || m.Before(d) {
			d = m
		}
	}
	return d
}

// expired says why the tunnel is over at now ("" when it is not).
func (t *wsTunnel) expired(now time.Time) string {
	if t.grant.MaxDuration > 0 && !now.Before(t.start.Add(t.grant.MaxDuration)) {
		return "max-duration"
	}
	if t.grant.IdleTimeout > 0 && !now.Before(time.Unix(0, t.lastActive.Load()).Add(t.grant.IdleTimeout)) {
		return "idle"
	}
	return ""
}

// allow takes one message from the client's rate budget.
func (t *wsTunnel) allow(now time.Time) bool {
	g := t.grant
	if g.MessageRate <= 0 {
		return true
	}
	burst := float64(max(g.MessageBurst, 1))
	t.tokens = min(burst, t.tokens+now.Sub(t.last).Seconds()*g.MessageRate)
	t.last = now
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}

// pump relays frames from one side to the other until that side is done,
// and returns how it ended ("client", "upstream", or a rule id).
func (t *wsTunnel) pump(fromClient bool) string {
	var (
		src             io.Reader
		dst             io.Writer
		dstMu           frameLock
		side            = "upstream"
		msgs, bytesSeen *atomic.Int64
	)
	if fromClient {
		src, dst, dstMu, side = idleReader{t}, t.up, t.upW, "client"
		msgs, bytesSeen = &t.stats.clientMsgs, &t.stats.clientBytes
	} else {
		src, dst, dstMu = t.up, t.client, t.clientW
		msgs, bytesSeen = &t.stats.upMsgs, &t.stats.upBytes
	}
	var (
		hbuf      [14]byte
		inMessage bool
		text      bool
		size      int64
		held      []byte // client message frames held for inspection
		plain     []byte // their unmasked payload
	)
	inspect := fromClient && t.grant.Inspect != nil && t.grant.MaxMessageBytes > 0
	protocol := func(detail string) string {
		t.end(RuleWSProtocol, wsProtocolError, RuleWSProtocol, side+": "+detail)
		return RuleWSProtocol
	}
	for {
		f, err := readFrame(src, &hbuf)
		if err != nil {
			var ee expiredError
			switch {
			case errors.As(err, &ee):
				t.end(ee.reason, wsGoingAway, "", "")
				return ee.reason
			case errors.Is(err, errBadLength):
				return protocol(err.Error())
			}
			return side
		}
		t.lastActive.Store(time.Now().UnixNano())
		bytesSeen.Add(int64(len(f.hdr)) + f.length)
		switch {
		case f.rsv != 0:
			return protocol("reserved bits set (no extension was negotiated)")
		case fromClient && !f.masked:
			return protocol("unmasked client frame")
		case !fromClient && f.masked:
			return protocol("masked server frame")
		}
		switch f.op {
		case opClose, opPing, opPong:
			if !f.fin || f.length > 125 {
				return protocol("fragmented or oversized control frame")
			}
			var payload [125]byte
			if _, err := io.ReadFull(src, payload[:f.length]); err != nil {
				return side
			}
			if f.op == opClose {
				t.setReason(side) // who started the closing handshake
			}
			dstMu.lock()
			_, werr := dst.Write(append(append([]byte(nil), f.hdr...), payload[:f.length]...))
			dstMu.unlock()
			if werr != nil {
				return side
			}
			continue
		case opCont:
			if !inMessage {
				return protocol("continuation without a message")
			}
		case opText, opBin:
			if inMessage {
				return protocol("new message inside a fragmented one")
			}
			inMessage, text, size = true, f.op == opText, 0
			if fromClient && !t.allow(time.Now()) {
				t.end(RuleWSRate, wsPolicy, RuleWSRate, "the client sent messages faster than the tunnel's rate")
				return RuleWSRate
			}
		default:
			return protocol("reserved opcode " + strconv.Itoa(int(f.op)))
		}
		size += f.length
		if m := t.grant.MaxMessageBytes; m > 0 && size > m {
			t.end(RuleWSMessageSize, wsTooBig, RuleWSMessageSize,
				side+" message over "+strconv.FormatInt(m, 10)+" bytes")
			return RuleWSMessageSize
		}
		if inspect {
			start := len(held)
			held = append(held, f.hdr...)
			held = append(held, make([]byte, f.length)...)
			if _, err := io.ReadFull(src, held[start+len(f.hdr):]); err != nil {
				return side
			}
			for i, c := range held[start+len(f.hdr):] {
				plain = append(plain, c^f.key[i%4])
			}
		} else {
			dstMu.lock()
			_, werr := dst.Write(f.hdr)
			if werr == nil {
				_, werr = io.CopyN(dst, src, f.length)
			}
			dstMu.unlock()
			if werr != nil {
				return side
			}
		}
		if !f.fin {
			continue
		}
		inMessage = false
		msgs.Add(1)
		if inspect {
			if fd := t.grant.Inspect(context.Background(), text, plain); fd != nil {
				if fd.Stage == "" {
					fd.Stage = TunnelStage
				}
				if fd.Location == "" {
					fd.Location = "websocket:client"
				}
				if fd.Mode == "block" {
					rule := RuleWSProtocol
					if len(fd.Rules) > 0 {
						rule = fd.Rules[0]
					}
					t.addFinding(*fd)
					t.end(rule, wsPolicy, "", "")
					return rule
				}
				t.addFinding(*fd)
			}
			dstMu.lock()
			_, werr := dst.Write(held)
			dstMu.unlock()
			held, plain = held[:0], plain[:0]
			if werr != nil {
				return side
			}
		}
	}
}
