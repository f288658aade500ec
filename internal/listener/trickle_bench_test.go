package listener

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// BenchmarkServeWhileTrickled measures a normal request's round trip while
// 200 clients hold connections open with a header they never finish
// (slowloris). Compare with BenchmarkServeQuiet in the same run:
//
//	go test -run '^$' -bench 'Serve(WhileTrickled|Quiet)' ./internal/listener
func BenchmarkServeWhileTrickled(b *testing.B) { benchServe(b, 200) }

// BenchmarkServeQuiet is the same request with no slow client.
func BenchmarkServeQuiet(b *testing.B) { benchServe(b, 0) }

func benchServe(b *testing.B, tricklers int) {
	_, addr := plain(b, config.Server{})
	for range tricklers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	b.ResetTimer()
	for b.Loop() {
		res, err := client.Get("http://" + addr + "/normal")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("got %d, want 200", res.StatusCode)
		}
	}
}
