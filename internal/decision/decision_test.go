package decision

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/store"
)

// TestIssueEscalatesAndPublishes: repeat decisions on one key get longer
// (Duration × Multiplier^(strikes-1), capped), each is one decision event,
// an allowed network is refused, and a revocation is published too.
func TestIssueEscalatesAndPublishes(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := store.NewMemory(clock)
	var evs []events.Event
	pub := events.PublisherFunc(func(e events.Event) bool { evs = append(evs, e); return true })
	is := NewIssuer(st, pub, clock, Policy{Duration: time.Minute, Multiplier: 3, MaxDuration: 5 * time.Minute,
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	ctx := context.Background()
	for i, want := range []time.Duration{time.Minute, 3 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		d, err := is.Issue(ctx, Request{Scope: store.ScopeIP, Value: "::ffff:198.51.100.1", Type: store.TypeBan, Origin: "test", Reason: "r"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Value != "198.51.100.1" || d.Until.Sub(now) != want || d.Strikes != i+1 {
			t.Fatalf("decision %d: got %+v, want %v strike %d", i+1, d, want, i+1)
		}
	}
	if d, _ := is.Issue(ctx, Request{Scope: store.ScopeIP, Value: "198.51.100.2", Type: store.TypeBan, Duration: time.Hour, Fixed: true}); d.Until.Sub(now) != time.Hour {
		t.Fatalf("fixed: got %+v, want exactly 1h", d)
	}
	for _, v := range []string{"10.1.1.1", "10.2.0.0/16"} {
		scope := store.ScopeIP
		if v == "10.2.0.0/16" {
			scope = store.ScopeRange
		}
		if _, err := is.Issue(ctx, Request{Scope: scope, Value: v, Type: store.TypeBan}); !errors.Is(err, ErrExempt) {
			t.Fatalf("%s: got %v, want ErrExempt", v, err)
		}
	}
	if _, err := is.Issue(ctx, Request{Scope: "country", Value: "x", Type: store.TypeBan}); err == nil {
		t.Fatal("unknown scope: got nil error")
	}
	if ok, err := is.Revoke(ctx, "ip:198.51.100.1", "admin", ""); !ok || err != nil {
		t.Fatalf("revoke: got %v %v", ok, err)
	}
	if len(evs) != 6 || evs[0].Type != events.TypeDecision || evs[5].Attrs["action"] != "delete" || evs[0].ClientIP != "198.51.100.1" {
		t.Fatalf("events: got %d %+v", len(evs), evs)
	}
	dec := evs[3].Attrs["decision"].(map[string]any)
	if dec["strikes"] != 4 || dec["duration_seconds"] != int64(300) || dec["key"] != "ip:198.51.100.1" {
		t.Fatalf("event decision: got %v", dec)
	}
}

func TestStrongest(t *testing.T) {
	t0 := time.Unix(0, 0)
	th := store.Decision{Type: store.TypeThrottle, Until: t0.Add(3 * time.Hour)}
	b1 := store.Decision{Type: store.TypeBan, Until: t0.Add(time.Hour)}
	b2 := store.Decision{Type: store.TypeBan, Until: t0.Add(2 * time.Hour)}
	if d, ok := Strongest([]store.Decision{th, b1, b2}); !ok || d != b2 {
		t.Fatalf("got %+v, want the longest ban", d)
	}
	if _, ok := Strongest(nil); ok {
		t.Fatal("none: got one")
	}
}
