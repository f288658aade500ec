// Package wstest is a minimal RFC 6455 client and a test upstream that
// answers 101 Switching Protocols, for tests of the gateway's protocol
// switches. The upstream is deliberately permissive (it switches to
// whatever it is asked, h2c included, and can be told to switch when
// nobody asked): it stands for the upstream that turns a gateway's
// mistake into a tunnel.
package wstest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Opcodes.
const (
	OpText  = 0x1
	OpBin   = 0x2
	OpClose = 0x8
	OpPing  = 0x9
	OpPong  = 0xa
)

const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Accept is the Sec-WebSocket-Accept for key.
func Accept(key string) string {
	h := sha1.Sum([]byte(key + guid))
	return base64.StdEncoding.EncodeToString(h[:])
}

// Conn is a client connection after the handshake.
type Conn struct {
	net.Conn
	R *bufio.Reader
	// Response is the handshake's answer.
	Response *http.Response
}

// Key is the Sec-WebSocket-Key every Dial sends.
const Key = "dGhlIHNhbXBsZSBub25jZQ=="

// Dial sends a WebSocket handshake for path to addr with the extra header
// lines (already formatted "Name: value"), and reads the answer. The
// returned Conn is usable for frames only when the status is 101.
func Dial(addr, path string, header ...string) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + Key + "\r\n"
	for _, h := range header {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return &Conn{Conn: c, R: br, Response: resp}, nil
}

// WriteFrame writes one frame; masked frames get a random key.
func WriteFrame(w io.Writer, fin bool, op byte, payload []byte, masked bool) error {
	var hdr []byte
	b0 := op
	if fin {
		b0 |= 0x80
	}
	hdr = append(hdr, b0)
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, m|byte(n))
	case n <= 0xffff:
		hdr = append(hdr, m|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, m|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	body := payload
	if masked {
		var key [4]byte
		_, _ = rand.Read(key[:])
		hdr = append(hdr, key[:]...)
		body = make([]byte, len(payload))
		for i, c := range payload {
			body[i] = c ^ key[i%4]
		}
	}
	_, err := w.Write(append(hdr, body...))
	return err
}

// Send writes one whole masked message (a client frame).
func (c *Conn) Send(op byte, payload []byte) error {
	return WriteFrame(c.Conn, true, op, payload, true)
}

// ReadFrame reads one frame and returns its opcode, FIN bit and unmasked
// payload.
func ReadFrame(r io.Reader) (op byte, fin bool, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	op, fin = h[0]&0x0f, h[0]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return 0, false, nil, errors.New("frame too large for a test")
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err = io.ReadFull(r, key[:]); err != nil {
			return
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return op, fin, payload, nil
}

// Read reads the next frame from the server.
func (c *Conn) Read() (byte, []byte, error) {
	op, _, p, err := ReadFrame(c.R)
	return op, p, err
}

// CloseCode returns the code of a close frame's payload (1005 when it has
// none).
func CloseCode(p []byte) int {
	if len(p) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(p))
}

// Upstream is a test upstream that answers 101 and then records what
// arrives through the tunnel.
type Upstream struct {
	*httptest.Server
	// AlwaysSwitch answers 101 "Upgrade: h2c" to requests that did not ask
	// to switch at all (a broken or hostile upstream).
	AlwaysSwitch bool

	mu       sync.Mutex
	requests []*http.Request // heads as received
	messages []string        // WebSocket messages from the gateway
	raw      []byte          // bytes after a non-WebSocket switch
	switched chan struct{}
}

// NewUpstream starts the test upstream. For a WebSocket handshake it
// answers with the matching accept key and echoes every message; for any
// other Upgrade (h2c) it answers 101 with that token and records the bytes
// that follow. Everything else gets 200 with the request's method, path
// and headers as text.
func NewUpstream() *Upstream {
	u := &Upstream{switched: make(chan struct{}, 64)}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	return u
}

// Requests returns the request heads the upstream received.
func (u *Upstream) Requests() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.requests...)
}

// Messages returns the WebSocket messages the upstream received.
func (u *Upstream) Messages() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.messages...)
}

// Raw returns the bytes received after a non-WebSocket switch.
func (u *Upstream) Raw() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return string(u.raw)
}

// Switched is sent on after every 101 the upstream answers.
func (u *Upstream) Switched() <-chan struct{} { return u.switched }

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.requests = append(u.requests, r)
	u.mu.Unlock()
	upgrade := r.Header.Get("Upgrade")
	if upgrade == "" && !u.AlwaysSwitch {
		fmt.Fprintf(w, "%s %s\n", r.Method, r.URL.RequestURI())
		_ = r.Header.Write(w)
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	u.switched <- struct{}{}
	if strings.EqualFold(upgrade, "websocket") {
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			Accept(r.Header.Get("Sec-WebSocket-Key")))
		_ = brw.Flush()
		u.echo(c, brw.Reader)
		return
	}
	if upgrade == "" {
		upgrade = "h2c"
	}
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", upgrade)
	_ = brw.Flush()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, err := brw.Read(buf)
		u.mu.Lock()
		u.raw = append(u.raw, buf[:n]...)
		u.mu.Unlock()
		if err != nil {
			return
		}
		// Answer like an HTTP/1 server would, so a client sending
		// requests through the tunnel gets answers.
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ntunneled")
	}
}

// echo answers every message with the same message, a ping with a pong
// and a close with a close.
func (u *Upstream) echo(c net.Conn, r *bufio.Reader) {
	var msg []byte
	var msgOp byte
	for {
		op, fin, p, err := ReadFrame(r)
		if err != nil {
			return
		}
		switch op {
		case OpClose:
			_ = WriteFrame(c, true, OpClose, p, false)
			return
		case OpPing:
			_ = WriteFrame(c, true, OpPong, p, false)
			continue
		case OpPong:
			continue
		}
		if op != 0 {
			msgOp = op
		}
		msg = append(msg, p...)
		if !fin {
			continue
		}
		u.mu.Lock()
		u.messages = append(u.messages, string(msg))
		u.mu.Unlock()
		if err := WriteFrame(c, true, msgOp, msg, false); err != nil {
			return
		}
		msg = nil
	}
}
