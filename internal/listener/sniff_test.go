package listener

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/redact"
)

func TestParseHeadAccepts(t *testing.T) {
	tests := []struct {
		name string
		head string
		h2c  bool
		want head
	}{
		{"simple get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, head{}},
		{"bare lf", "GET / HTTP/1.1\nHost: a\n\n", false, head{}},
		{"http/1.0 without host", "GET / HTTP/1.0\r\n\r\n", false, head{}},
		{"content-length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", false, head{length: 12}},
		{"same content-length twice", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n", false, head{length: 3}},
		{"chunked any case", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n", false, head{chunked: true}},
		{"expect continue", "POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", false, head{length: 1}},
		{"absolute form", "GET http://a.example/x?y=%20 HTTP/1.1\r\nHost: a.example\r\n\r\n", false, head{}},
		{"options star", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", false, head{}},
		{"utf-8 value", "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n", false, head{}},
		{"tab in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A:\tb\tc\r\n\r\n", false, head{}},
		{"connect keeps sniffing", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", false, head{}},
		{"upgrade keeps sniffing", "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false, head{}},
		{"h2 preface with h2c", "PRI * HTTP/2.0\r\n\r\n", true, head{passthrough: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, a := parseHead([]byte(tt.head), tt.h2c)
			if a != nil {
				t.Fatalf("got anomaly %+v, want none", a)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestChunkParser(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		n       int
		done    bool
		wantErr bool
	}{
		{"simple", "5\r\nhello\r\n0\r\n\r\nNEXT", 15, true, false},
		{"extension and ws", "5 ;a=b\r\nhello\r\n0;x\r\n\r\n", 22, true, false},
		{"trailers", "1\r\nx\r\n0\r\nA: b\r\nC: d\r\n\r\nGET", 23, true, false},
		{"upper hex", "A\r\n0123456789\r\n0\r\n\r\n", 20, true, false},
		{"incomplete", "5\r\nhel", 6, false, false},
		{"bare lf size line", "5\nhello\r\n", 2, false, true},
		{"missing crlf after data", "2\r\nabX\r\n", 5, false, true},
		{"not hex", "g\r\n", 3, false, true},
		{"empty size", "\r\n", 2, false, true},
		{"too many digits", "00000000000000001\r\n", 19, false, true},
		{"cr inside line", "5\r;\r\n", 5, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p chunkParser
			n, done, err := p.feed([]byte(tt.in))
			if n != tt.n || done != tt.done || (err != nil) != tt.wantErr {
				t.Fatalf("got n=%v done=%v err=%v, want n=%v done=%v err=%v", n, done, err, tt.n, tt.done, tt.wantErr)
			}
		})
	}
}

// TestUpgradePassesThrough checks that the sniffer stops once the handler
// switches protocols (101) and the upgraded stream reaches the handler byte
// for byte, even when it looks like a malformed HTTP request.
func TestUpgradePassesThrough(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, bad := Malformed(r); bad {
			http.Error(w, "flagged", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		c.(interface{ SwitchProtocols() }).SwitchProtocols()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		io.Copy(c, io.LimitReader(brw, 28))
	})
	_, addr := start(t, config.Listener{Addr: "x"}, config.Server{}, nil, h, Options{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 {
		t.Fatalf("got %v, want 101", res.StatusCode)
	}
	payload := "GET /a%zz HTTP/1.1\r\nHost: \x00\r\n"[:28]
	io.WriteString(c, payload)
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != payload {
		t.Fatalf("got %q, want %q", got, payload)
	}
}

// TestUpgradeWithoutSwitchKeepsChecking is the regression test for
// finding 6 of issue 11: an Upgrade header (or a CONNECT) the server does
// not answer with 101 must not switch the framing checks off for the rest
// of the connection. Each case sends the switch request, then on the same
// connection a head the sniffer must flag.
func TestUpgradeWithoutSwitchKeepsChecking(t *testing.T) {
	rc, addr := plain(t, config.Server{})
	opens := map[string]string{
		"websocket": "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		"h2c":       "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
		"bare":      "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: anything\r\n\r\n",
		"connect":   "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
	}
	follows := []struct {
		name, req, rule string
	}{
		{"cl and te", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", RuleAmbiguousLength},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n", RuleBadHeader},
		{"te on http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", RuleBadTransferEncoding},
	}
	for oname, open := range opens {
		for _, f := range follows {
			t.Run(oname+"/"+f.name, func(t *testing.T) {
				res, _, c, br := raw(t, addr, open)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("switch request: got %d, want the recorder's 200", res.StatusCode)
				}
				if _, err := io.WriteString(c, f.req); err != nil {
					t.Fatal(err)
				}
				res, _ = readResponse(t, br)
				if res.StatusCode != http.StatusBadRequest {
					t.Fatalf("after %s: got %d, want 400 from the sniffer", oname, res.StatusCode)
				}
				select {
				case a := <-rc.anomalies:
					if a.Rule != f.rule {
						t.Fatalf("got rule %s, want %s", a.Rule, f.rule)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no anomaly recorded")
				}
			})
		}
	}
}

// TestH2CUpgradeRefused checks that an h2c listener answers an "Upgrade:
// h2c" request over HTTP/1.1 (no 101) while prior-knowledge HTTP/2 still
// works.
func TestH2CUpgradeRefused(t *testing.T) {
	rc := newRecorder()
	_, addr := start(t, config.Listener{Addr: "x", H2C: true}, config.Server{}, nil, rc, Options{})
	res, body, _, _ := raw(t, addr, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Proto") != "HTTP/1.1" || !strings.HasPrefix(string(body), "GET /x") {
		t.Fatalf("got %d %q proto %q, want the request served over HTTP/1.1", res.StatusCode, body, res.Header.Get("X-Proto"))
	}
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://a/y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Proto") != "HTTP/2.0" {
		t.Fatalf("prior knowledge: got proto %q, want HTTP/2.0", resp.Header.Get("X-Proto"))
	}
}

// memConn is a net.Conn reading from a fixed input, for fuzzing.
type memConn struct {
	r   *bytes.Reader
	max int // bytes per Read; 0 means 3, to exercise partial reads
	net.Conn
}

func (m *memConn) Read(p []byte) (int, error) {
	n := m.max
	if n == 0 {
		n = 3
	}
	if len(p) > n {
		p = p[:n]
	}
	return m.r.Read(p)
}
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

var fuzzSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;e\r\nhello\r\n0\r\nT: 1\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET /a%zz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"\r\n\r\nGET / HTTP/1.0\n\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\n\r\nanything",
}

// FuzzSniffer feeds arbitrary streams through the sniffer: it must never
// panic, must always come to an end, and what it releases (and whether and
// why it flags the stream) must not depend on how the stream is cut into
// reads.
func FuzzSniffer(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, h2c bool) {
		type result struct {
			out  string // released bytes, up to a synthetic head
			rule string // the anomaly's rule, if flagged
		}
		run := func(size int) result {
			cfg := &sniffConfig{maxHeader: 512, h2c: h2c, now: time.Now}
			c := newSniffConn(&memConn{r: bytes.NewReader(in), max: size}, cfg)
			var out bytes.Buffer
			buf := make([]byte, 7)
			for i := 0; ; i++ {
				if i > 4*len(in)+100 {
					t.Fatalf("reads of %d: no end after %d reads of %d input bytes", size, i, len(in))
				}
				n, err := c.Read(buf)
				if n < 0 || n > len(buf) {
					t.Fatalf("read returned %d", n)
				}
				out.Write(buf[:n])
				if err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatalf("unexpected error %v", err)
					}
					break
				}
			}
			r := result{out: out.String()}
			if rec := c.rec.Load(); rec != nil {
				r.rule = rec.a.Rule
				r.out, _, _ = strings.Cut(r.out, "GET "+SyntheticPath+" ")
			}
			return r
		}
		want := run(len(in) + 1)
		for _, size := range []int{1, 3} {
			if got := run(size); got != want {
				t.Fatalf("reads of %d bytes: got %+v, in one read: %+v", size, got, want)
			}
		}
	})
}

// FuzzParseHead checks that every head parseHead accepts is accepted by
// net/http too (so net/http never answers with its own canned error), and
// that it never panics.
func FuzzParseHead(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		end := headEnd(in)
		if end < 0 {
			parseHead(in, false) // must not panic
			return
		}
		h, a := parseHead(in[:end], false)
		if a != nil {
			ex := redactedExcerpt(nil, a.line, a.request)
			if a.Status < 400 || a.Status > 599 || a.Rule == "" || a.Reason == "" || len(ex) > 4*maxExcerpt+len(redact.Mask) {
				t.Fatalf("bad anomaly %+v", a)
			}
			return
		}
		if h.passthrough {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(in[:end])))
		if err != nil {
			t.Fatalf("parseHead accepted %q, net/http refuses it: %v", in[:end], err)
		}
		for k, vs := range req.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("accepted invalid header name %q", k)
			}
			for _, v := range vs {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("accepted invalid header value %q", v)
				}
			}
		}
		if req.Host != "" && !httpguts.ValidHostHeader(req.Host) {
			t.Fatalf("accepted invalid Host %q", req.Host)
		}
		if req.Header.Get("Expect") != "" && !strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
			t.Fatalf("accepted Expect %q", req.Header.Get("Expect"))
		}
		if h.chunked != (len(req.TransferEncoding) > 0) {
			t.Fatalf("chunked: got %v, net/http says %v", h.chunked, req.TransferEncoding)
		}
		if !h.chunked && h.length != max(req.ContentLength, 0) {
			t.Fatalf("length: got %v, net/http says %v", h.length, req.ContentLength)
		}
	})
}

// headEnd finds the end of a head the way the sniffer does, or -1. Heads
// starting with an empty line are skipped (the sniffer strips those).
func headEnd(b []byte) int {
	pos := 0
	first := true
	for {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return -1
		}
		line := bytes.TrimSuffix(b[pos:pos+i], []byte{'\r'})
		pos += i + 1
		if len(line) == 0 {
			if first {
				return -1
			}
			return pos
		}
		first = false
	}
}

// FuzzChunkParser checks that the chunk follower gives the same answer
// whatever the read boundaries.
func FuzzChunkParser(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\nGET"), 3)
	f.Add([]byte("1;x\r\na\r\n0\r\nT: v\r\n\r\n"), 1)
	f.Add([]byte("ffffffffffffffff\r\n"), 2)
	f.Fuzz(func(t *testing.T, in []byte, step int) {
		if step <= 0 || step > 64 {
			step = 1
		}
		var whole chunkParser
		n1, done1, err1 := whole.feed(in)
		var parts chunkParser
		n2, done2 := 0, false
		var err2 error
		for n2 < len(in) && !done2 && err2 == nil {
			end := min(n2+step, len(in))
			k, d, err := parts.feed(in[n2:end])
			n2, done2, err2 = n2+k, d, err
		}
		if n1 != n2 || done1 != done2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("whole: n=%v done=%v err=%v; in steps of %d: n=%v done=%v err=%v", n1, done1, err1, step, n2, done2, err2)
		}
	})
}

// TestSnifferReleasesHeadsUnchanged sends several requests on one
// connection, small and large heads and bodies mixed, arriving in pieces
// of every size from 1 to 9 bytes (so lines end in every possible place
// of a read, CR and LF apart included): what the sniffer releases must be
// exactly what was sent, and nothing may be flagged. (The head buffer it
// reuses between requests must never show an earlier head.)
func TestSnifferReleasesHeadsUnchanged(t *testing.T) {
	big := strings.Repeat("b", 6000)
	in := "GET /one HTTP/1.1\r\nHost: a\r\nX-Long: " + strings.Repeat("1", 300) + "\r\n\r\n" +
		"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /three HTTP/1.1\r\nHost: a\r\nX-Big: " + big + "\r\n\r\n" +
		"GET /4 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /five HTTP/1.1\r\nHost: a\r\nX-Mid: " + strings.Repeat("5", 200) + "\r\n\r\n"
	for size := 1; size <= 9; size++ {
		cfg := &sniffConfig{maxHeader: 16 << 10, now: time.Now}
		c := newSniffConn(&memConn{r: bytes.NewReader([]byte(in)), max: size}, cfg)
		var out bytes.Buffer
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if rec := c.rec.Load(); rec != nil {
			t.Fatalf("reads of %d bytes: a well-formed stream was flagged: %s", size, rec.a.Reason)
		}
		if out.String() != in {
			t.Fatalf("reads of %d bytes: released %d bytes differing from the %d sent:\n%.300q", size, out.Len(), len(in), out.String())
		}
	}
}
