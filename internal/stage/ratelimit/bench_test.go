package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// BenchmarkRequest is the per-request cost of two never-reached limits on
// the memory store (what the bench "portcullis+ratelimit" row adds).
func BenchmarkRequest(b *testing.B) {
	cfg := &Config{Limits: []Limit{
		{Name: "per-ip", Rate: 100000000, Per: time.Second},
		{Name: "per-route", Key: []string{"route"}, Rate: 1000000000, Per: time.Second},
	}}
	l, err := New(cfg, BeforeAuthn, Options{API: "bench", Store: store.NewMemory(nil)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	x := exchange("127.0.0.1", nil)
	for b.Loop() {
		x.ResponseHeader = nil
		if d, _ := l.Request(ctx, x); d != nil {
			b.Fatal("denied")
		}
	}
}
