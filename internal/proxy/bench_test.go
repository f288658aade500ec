package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the proxy rather than a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func BenchmarkProxyGET(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"id":1,"name":"rex"}`)
	}))
	defer up.Close()
	u, err := New("pets", config.Upstream{Targets: []string{up.URL}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer u.Close()
	r := httptest.NewRequest("GET", "http://api.example/pets/1?fields=name", nil)
	r.RemoteAddr = "203.0.113.7:5555"
	x := pipeline.NewExchange(r, "req-42", time.Now())
	x.Peer = pipeline.PeerAddr(r)
	x.ClientIP = x.Peer
	r = r.WithContext(pipeline.WithExchange(r.Context(), x))
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		u.ServeHTTP(w, r)
	}
}
