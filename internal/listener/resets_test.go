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
// its connection closed and reported once; a well-behaved client on
// another connection is served all along.
func TestRapidResetBudget(t *testing.T) {
	var started atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started.Add(1)
			<-r.Context().Done() // the stage waiting on Redis when the reset comes
			return
		}
		io.WriteString(w, "ok")
	})
	flood := make(chan int, 4)
	_, addr := start(t, config.Listener{Addr: "x", H2C: true}, config.Server{}, nil, h, Options{
		OnResetFlood: func(peer netip.Addr, n int) { flood <- n },
	})

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/slow"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	block := hb.Bytes()
	// Drain the server's frames so its writes never block.
	go func() { _, _ = io.Copy(io.Discard, c) }()
	const streams = 5 * ResetBurst
	sent := 0
	for i := 0; i < streams; i++ {
		id := uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			break // the server closed the connection
		}
		if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			break
		}
		sent++
	}
	select {
	case n := <-flood:
		if n <= ResetBurst {
			t.Fatalf("closed after %d resets, want more than the burst of %d", n, ResetBurst)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no reset flood reported after %d resets (%d handlers started)", sent, started.Load())
	}

	// Another client is served.
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	for i := 0; i < 20; i++ {
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://a/ok")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("healthy client: got %q", b)
		}
	}
}
