package listener

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/portcullis/portcullis/internal/config"
)

// TestRapidResetBudget is the listener part of finding 4 of issue 11: an
// HTTP/2 client that opens and resets streams faster than its budget has
// its connection closed and reported once, over h2c and over TLS; a
// well-behaved client on another connection is served all along.
//
// The handlers of the flood never end while it lasts (a stage stuck on a
// slow store that ignores cancellation): the HTTP/2 server then queues the
// streams past its concurrency limit and drops the reset ones unseen, so a
// budget counted where handlers end is never spent, and the server closes
// the connection itself without a report. Counting RST_STREAM frames as
// they are read closes it just past the burst.
func TestRapidResetBudget(t *testing.T) {
	p := newTestPKI(t, false)
	for _, tc := range []struct {
		name string
		lc   config.Listener
		dial func(addr string) (net.Conn, error)
		h2   func(addr string) *http2.Transport
	}{
		{"h2c", config.Listener{Addr: "x", H2C: true},
			func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) },
			func(addr string) *http2.Transport {
				return &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				}}
			}},
		{"tls", config.Listener{Addr: "x", TLS: &config.TLS{}},
			func(addr string) (net.Conn, error) {
				return tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: "localhost", NextProtos: []string{"h2"}})
			},
			func(addr string) *http2.Transport {
				return &http2.Transport{DialTLSContext: func(ctx context.Context, network, _ string, cfg *tls.Config) (net.Conn, error) {
					return (&tls.Dialer{Config: &tls.Config{RootCAs: p.pool, ServerName: "localhost", NextProtos: []string{"h2"}}}).DialContext(ctx, network, addr)
				}}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var started atomic.Int64
			release := make(chan struct{})
			defer close(release)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					started.Add(1)
					<-release
					return
				}
				io.WriteString(w, "ok")
			})
			flood := make(chan int, 4)
			_, addr := start(t, tc.lc, config.Server{}, p.tlsSrv, h, Options{
				OnResetFlood: func(peer netip.Addr, n int) {
					if peer != netip.MustParseAddr("127.0.0.1") {
						t.Errorf("flood reported for %v, want 127.0.0.1", peer)
					}
					flood <- n
				},
			})

			c, err := tc.dial(addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			began := time.Now()
			closed := make(chan struct{})
			sent := rapidReset(t, c, 5*ResetBurst, closed)
			select {
			case n := <-flood:
				// The budget refills at ResetRate while the flood runs.
				most := ResetBurst + 1 + int(ResetRate*time.Since(began).Seconds()) + 1
				if n <= ResetBurst || n > most {
					t.Fatalf("closed after %d resets, want more than the burst of %d and at most %d", n, ResetBurst, most)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no reset flood reported after %d resets (%d handlers started)", sent, started.Load())
			}
			select {
			case <-closed:
			case <-time.After(20 * time.Second):
				t.Fatal("the flooding connection was not closed")
			}
			select {
			case n := <-flood:
				t.Fatalf("a second report (%d resets) for one connection", n)
			default:
			}

			// Another client is served.
			tr := tc.h2(addr)
			defer tr.CloseIdleConnections()
			for i := 0; i < 20; i++ {
				resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://localhost/ok")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "ok" || resp.ProtoMajor != 2 {
					t.Fatalf("healthy client: got %s %q", resp.Proto, b)
				}
			}
		})
	}
}

// rapidReset opens and at once resets up to n streams on an HTTP/2
// connection and returns how many it sent; closed is closed when the
// server ends the connection.
func rapidReset(t *testing.T, c net.Conn, n int, closed chan struct{}) int {
	t.Helper()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/slow"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	block := hb.Bytes()
	// Drain the server's frames so its writes never block.
	go func() { _, _ = io.Copy(io.Discard, c); close(closed) }()
	for i := 0; i < n; i++ {
		id := uint32(2*i + 1)
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}) != nil ||
			fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			return i // the server closed the connection
		}
	}
	return n
}
