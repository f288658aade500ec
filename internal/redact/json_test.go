package redact

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestJSONHandlerMatches: JSONHandler writes what Handler(slog's JSON
// handler) writes, byte for byte, for random records of every attribute
// kind (the fast ones and those left to slog), strings with every escape
// (control bytes, quotes, HTML, invalid UTF-8, U+2028) and values that
// must be masked (card numbers, keys), short and long (the escaper
// takes plain bytes eight at a time); and Log writes the same records
// to it.
func TestJSONHandlerMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pieces := []string{"a", "GET", "/v1/users", "\"", "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "\b", "\f", "<", ">", "&",
		"é", "\xff", "\u2028", "\u2029", "😀", " ", "plain ASCII run", "x", "0123456789abcdefghijk", "4111 1111 1111 1111", "AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"}
	str := func() string {
		var b []byte
		n := rng.IntN(6)
		if rng.IntN(4) == 0 {
			n = rng.IntN(40) // long strings: the escaper's eight-byte scan
		}
		for range n {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		return string(b)
	}
	floats := []float64{0, 1.5, 0.123, 12.25, 1e-7, 1e21, 123456789.5, math.Copysign(0, -1), 3}
	var attr func(depth int) slog.Attr
	attr = func(depth int) slog.Attr {
		key := []string{"request_id", "path", "k\"ey", "", "status"}[rng.IntN(5)]
		switch rng.IntN(9) {
		case 0:
			return slog.Int(key, rng.IntN(1000)-500)
		case 1:
			return slog.Float64(key, floats[rng.IntN(len(floats))])
		case 2:
			return slog.Any(key, []string{str(), str()}[:rng.IntN(3)])
		case 3:
			if depth < 2 {
				return slog.Group(key, attr(depth+1), attr(depth+1))
			}
		case 4:
			return slog.Bool(key, rng.IntN(2) == 0)
		case 5:
			return slog.Duration(key, time.Duration(rng.IntN(1000)))
		case 6:
			return slog.Any(key, map[string]int{"a": 1})
		}
		return slog.String(key, str())
	}
	at := time.Date(2026, 12, 4, 19, 0, 0, 123456789, time.UTC)
	for n := range 20000 {
		r := slog.NewRecord(at, slog.LevelInfo, []string{"access", str()}[rng.IntN(2)], 0)
		if n%50 == 0 {
			r = slog.NewRecord(time.Time{}, slog.LevelWarn, "x", 0)
		}
		var attrs []slog.Attr
		for range rng.IntN(12) {
			attrs = append(attrs, attr(0))
		}
		r.AddAttrs(attrs...)
		var fast, slow, logged bytes.Buffer
		if err := Log(context.Background(), JSONHandler(&logged), r.Time, r.Level, r.Message, attrs); err != nil {
			t.Fatal(err)
		}
		if err := JSONHandler(&fast).Handle(context.Background(), r.Clone()); err != nil {
			t.Fatal(err)
		}
		if err := Handler(slog.NewJSONHandler(&slow, nil)).Handle(context.Background(), r.Clone()); err != nil {
			t.Fatal(err)
		}
		if fast.String() != slow.String() {
			t.Fatalf("record %d:\n got %s\nwant %s", n, fast.String(), slow.String())
		}
		if logged.String() != slow.String() {
			t.Fatalf("record %d by Log:\n got %s\nwant %s", n, logged.String(), slow.String())
		}
	}
}

type refuse struct{ slog.Handler }

func (refuse) Handle(context.Context, slog.Record) error { return errSlow }

var errSlow = errors.New("left to the general handler")

// TestJSONHandlerFastPath: an access record (strings, integers, a float,
// a rule list) is written by the fast path, not handed on.
func TestJSONHandlerFastPath(t *testing.T) {
	var buf bytes.Buffer
	h := &jsonHandler{w: &buf, slow: refuse{}}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "access", 0)
	r.AddAttrs(slog.String("request_id", "01J"), slog.String("path", "/v1/pets"), slog.Int("status", 200),
		slog.Float64("latency_ms", 0.25), slog.Any("rules", []string{"942100"}), slog.Group("tunnel", slog.String("protocol", "websocket")))
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatalf("access record: %v", err)
	}
	r = slog.NewRecord(time.Now(), slog.LevelInfo, "access", 0)
	r.AddAttrs(slog.String("path", "/cards/4111111111111111"))
	if err := h.Handle(context.Background(), r); err != errSlow {
		t.Fatalf("a card number in the path: %v, want it left to the masking handler", err)
	}
}

// TestLog: Log writes an access record by JSONHandler's fast path (more
// than five attributes, the ones a slog.Record keeps inline), and hands
// any other handler the record slog.Logger.LogAttrs would.
func TestLog(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 0, 0, 5, time.UTC)
	attrs := []slog.Attr{slog.String("request_id", "01J"), slog.String("method", "GET"), slog.String("path", "/v1/pets"),
		slog.String("query", "q=a+b%3F"), slog.Int("status", 200), slog.Float64("latency_ms", 0.25),
		slog.Any("rules", []string{"942100"})}
	var buf bytes.Buffer
	if err := Log(context.Background(), &jsonHandler{w: &buf, slow: refuse{}}, at, slog.LevelInfo, "access", attrs); err != nil {
		t.Fatalf("access record: %v", err)
	}
	var want bytes.Buffer
	slog.New(slog.NewJSONHandler(&want, nil)).LogAttrs(context.Background(), slog.LevelInfo, "access", attrs...)
	var got bytes.Buffer
	if err := Log(context.Background(), slog.NewJSONHandler(&got, nil), at, slog.LevelInfo, "access", attrs); err != nil {
		t.Fatal(err)
	}
	// LogAttrs stamps its own time: compare from the level on.
	cut := func(s string) string { return s[strings.Index(s, `"level"`):] }
	if cut(got.String()) != cut(want.String()) || cut(buf.String()) != cut(want.String()) {
		t.Errorf("got %s and %s, want %s", got.String(), buf.String(), want.String())
	}
}
