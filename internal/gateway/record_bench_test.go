package gateway

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/access"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/redact"
)

// BenchmarkRecord is the access record of bench's free-text GET (an
// allowed exchange with a prose query) written by the server's access
// handler to nowhere: alone, as bench's in-process gateway writes it,
// and with the dashboard's copy, as the server keeps it.
func BenchmarkRecord(b *testing.B) {
	b.Run("access", func(b *testing.B) { benchmarkRecord(b, nil) })
	b.Run("access+recent", func(b *testing.B) { benchmarkRecord(b, access.New(1024)) })
}

func benchmarkRecord(b *testing.B, recent *access.Ring) {
	g, err := New(baseConfig("http://127.0.0.1:1"), Deps{Metrics: metrics.New(),
		Access: slog.New(redact.JSONHandler(io.Discard)), Recent: recent})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/bench?q=how+do+I+return+a+damaged+order%3F+It+arrived+yesterday%2C+the+box+was+crushed+and+one+mug+is+chipped.&limit=20", nil)
	r.Header.Set("User-Agent", "Go-http-client/1.1")
	x := &pipeline.Exchange{ID: "01JEXAMPLE0000000000000000", Start: time.Now(), API: "bench",
		Peer: netip.MustParseAddr("127.0.0.1"), ClientIP: netip.MustParseAddr("127.0.0.1")}
	sw := &statusWriter{status: 200, bytes: 11}
	body := &countingBody{}
	out := pipeline.Outcome{Decision: pipeline.Allow, Target: "http://127.0.0.1:1"}
	b.ReportAllocs()
	for b.Loop() {
		g.record(x, r, sw, body, out, false)
	}
}
