package events

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestClientBudget is the bus part of finding 4 of issue 11: one client's
// flood of denials is summarised with counts once it is over its budget,
// another client's events (a detection among them) all reach the sink, and
// nothing is lost: every event is either written or in a summary's count.
func TestClientBudget(t *testing.T) {
	clock := newFakeClock()
	b := NewBus(BusOptions{Now: clock.Now, ClientBurst: 10, ClientRate: 1, SummaryInterval: time.Minute})
	sink := newMemSink("mem")
	b.AddSink(sink)
	const flood = 5000
	for i := 0; i < flood; i++ {
		b.Publish(Event{Type: TypeDenial, Severity: SeverityMedium, ClientIP: "203.0.113.9", RequestID: "a" + strconv.Itoa(i),
			Stage: "ratelimit.ip", Rules: []string{"ratelimit.per-ip"}})
		if i == flood/2 {
			b.Publish(Event{Type: TypeDetection, Severity: SeverityHigh, ClientIP: "198.51.100.2", RequestID: "b-detect",
				Stage: "waf", Rules: []string{"942100"}})
			for j := 0; j < 5; j++ {
				b.Publish(Event{Type: TypeDenial, ClientIP: "198.51.100.2", RequestID: "b" + strconv.Itoa(j), Stage: "authn"})
			}
		}
	}
	// The flooding client's own detection has a budget of its own.
	b.Publish(Event{Type: TypeDetection, Severity: SeverityHigh, ClientIP: "203.0.113.9", RequestID: "a-detect", Stage: "waf"})
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got = map[string]int{}
	var summarised uint64
	var detections []string
	for _, e := range sink.all() {
		switch e.Type {
		case TypeSuppressed:
			if e.ClientIP != "203.0.113.9" || e.Stage != "ratelimit.ip" || e.Rules[0] != "ratelimit.per-ip" || e.Attrs["type"] != TypeDenial {
				t.Errorf("summary: got %+v", e)
			}
			summarised += e.Attrs["count"].(uint64)
		case TypeDetection:
			detections = append(detections, e.RequestID)
		default:
			got[e.ClientIP]++
		}
	}
	if got["203.0.113.9"] != 10 || got["198.51.100.2"] != 5 {
		t.Errorf("written per client: got %v, want the burst of 10 for the flood and all 5 of the other", got)
	}
	if len(detections) != 2 {
		t.Errorf("detections: got %v, want both", detections)
	}
	if summarised != flood-10 || b.Suppressed() != flood-10 {
		t.Errorf("summarised %d, Suppressed %d, want %d", summarised, b.Suppressed(), flood-10)
	}
}

// TestBudgetRefillsAndSummariesAreTimely: the budget refills at its rate,
// a summary is published once its interval has passed (on the next event),
// and IPv6 clients are budgeted by /64.
func TestBudgetRefillsAndSummariesAreTimely(t *testing.T) {
	clock := newFakeClock()
	b := NewBus(BusOptions{Now: clock.Now, ClientBurst: 2, ClientRate: 1, SummaryInterval: 10 * time.Second})
	sink := newMemSink("mem")
	b.AddSink(sink)
	pub := func(ip string) {
		b.Publish(Event{Type: TypeDenial, ClientIP: ip, RequestID: "r", Stage: "s"})
	}
	for i := 0; i < 5; i++ {
		pub("2001:db8:1:1::" + strconv.Itoa(i+1)) // one /64
	}
	clock.Advance(3 * time.Second) // three tokens back (burst 2)
	for i := 0; i < 3; i++ {
		pub("2001:db8:1:1::99")
	}
	clock.Advance(10 * time.Second)
	pub("192.0.2.1") // triggers the due summary
	sink.waitFor(t, 2+2+1+1)
	var summary *Event
	for _, e := range sink.all() {
		if e.Type == TypeSuppressed {
			e := e
			summary = &e
		}
	}
	if summary == nil || summary.ClientIP != "2001:db8:1:1::/64" || summary.Attrs["count"] != uint64(4) {
		t.Fatalf("summary: got %+v, want 4 events of 2001:db8:1:1::/64", summary)
	}
	closeBus(t, b)
}

// TestPriorityReserve: a sink's queue full of ordinary denials still takes
// a detection.
func TestPriorityReserve(t *testing.T) {
	b := NewBus(BusOptions{QueueSize: 8, ClientBurst: -1})
	slow := newBlockingSink()
	b.AddSink(slow)
	b.Publish(Event{Type: TypeDenial})
	slow.waitEntered(t)
	for i := 0; i < 100; i++ {
		b.Publish(Event{Type: TypeDenial})
	}
	if !b.Publish(Event{Type: TypeDetection, Severity: SeverityHigh}) {
		t.Fatal("the detection was dropped behind denials")
	}
	if !b.Publish(Event{Type: TypeDenial, Severity: SeverityHigh}) {
		t.Fatal("a high-severity denial was dropped behind medium ones")
	}
	close(slow.release)
	closeBus(t, b)
}
