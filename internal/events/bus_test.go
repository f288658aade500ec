package events

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestBusFillsIDAndTime(t *testing.T) {
	clock := newFakeClock()
	b := NewBus(BusOptions{Now: clock.Now})
	defer closeBus(t, b)
	feed, cancel := b.Subscribe(4)
	defer cancel()

	given := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name     string
		in       Event
		wantID   string // "" means: a fresh UUIDv7
		wantTime time.Time
	}{
		{name: "empty", in: Event{Type: TypeDenial}, wantTime: clock.Now()},
		{name: "kept", in: Event{ID: "fixed", Time: given}, wantID: "fixed", wantTime: given},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !b.Publish(tt.in) {
				t.Fatal("Publish: got false, want true")
			}
			got := <-feed
			if tt.wantID != "" {
				if got.ID != tt.wantID {
					t.Errorf("ID: got %q, want %q", got.ID, tt.wantID)
				}
			} else {
				id, err := uuid.Parse(got.ID)
				if err != nil {
					t.Fatalf("ID %q: %v", got.ID, err)
				}
				if id.Version() != 7 {
					t.Errorf("ID version: got %v, want 7", id.Version())
				}
			}
			if !got.Time.Equal(tt.wantTime) {
				t.Errorf("Time: got %v, want %v", got.Time, tt.wantTime)
			}
		})
	}
}

// TestBusFloodSlowSink floods a bus whose "slow" sink is stuck in Write,
// while a "fast" sink keeps up. Publish must never wait for the slow sink,
// the slow sink's losses must be counted exactly, and the fast sink must
// lose nothing.
func TestBusFloodSlowSink(t *testing.T) {
	const (
		queue = 8
		total = 1000
		// published between two waits on the fast sink: at most half of the
		// 6 slots ordinary events may take of a queue of 8 (a quarter is kept
		// for priority events), because the batch the sink has just written
		// still counts as pending until its Write returns.
		round = 3
	)
	b := NewBus(BusOptions{QueueSize: queue, Logger: slog.New(&logRecorder{})})
	slow := newBlockingSink()
	fast := newMemSink("fast")
	b.AddSink(slow)
	b.AddSink(fast)

	// First event: the slow sink takes it and blocks in Write.
	b.Publish(Event{Type: TypeDenial})
	slow.waitEntered(t)
	fast.waitFor(t, 1)

	// Publish never waits on the blocked sink: the loop below ends while
	// its first Write is still blocked (checked after it). How long a
	// Publish takes is BenchmarkPublishBlockedSink's business.
	for i := 1; i < total; i++ {
		b.Publish(Event{Type: TypeDenial})
		// Pace the flood to the fast sink (it shares the small queue size)
		// by waiting on its progress, never on the slow sink.
		if i%round == 0 || i == total-1 {
			fast.waitFor(t, i+1)
		}
	}
	// The whole loop ran while the slow sink's first Write was blocked.
	slow.mu.Lock()
	written := slow.written
	slow.mu.Unlock()
	if written != 0 {
		t.Fatalf("slow sink wrote %d events during the publish loop, want 0 (still blocked)", written)
	}

	// The fast sink holds every event; its Written counter moves just after
	// its Write returns, so wait for the counter (never for the slow sink).
	stats := b.Stats()
	if len(stats) != 2 {
		t.Fatalf("Stats: got %d sinks, want 2", len(stats))
	}
	for deadline := time.Now().Add(waitTimeout); stats[1].Written < total && time.Now().Before(deadline); stats = b.Stats() {
		runtime.Gosched()
	}
	s, f := stats[0], stats[1]
	if got, want := b.Published(), uint64(total); got != want {
		t.Errorf("bus Published: got %d, want %d", got, want)
	}
	if s.Published != total {
		t.Errorf("slow Published: got %d, want %d", s.Published, total)
	}
	if got, want := s.Dropped, s.Published-uint64(s.QueueLen)-s.Written; got != want {
		t.Errorf("slow Dropped: got %d, want Published-QueueLen-Written = %d", got, want)
	}
	// Denials may take the queue but for its priority reserve.
	bulk := queue - reserved(queue)
	if s.QueueLen != bulk || s.QueueCap != queue || s.Written != 0 || s.Dropped != total-uint64(bulk) {
		t.Errorf("slow stats: got %+v, want QueueLen=%d QueueCap=%d Written=0 Dropped=%d", s, bulk, queue, total-bulk)
	}
	if f.Written != total || f.Dropped != 0 || f.Errors != 0 {
		t.Errorf("fast stats: got %+v, want Written=%d Dropped=0 Errors=0", f, total)
	}

	close(slow.release)
	closeBus(t, b)
	s = b.Stats()[0]
	if s.Written != uint64(bulk) || s.Dropped != total-uint64(bulk) || s.QueueLen != 0 || s.Errors != 0 {
		t.Errorf("slow stats after Close: got %+v, want Written=%d Dropped=%d QueueLen=0", s, bulk, total-bulk)
	}
	if got := fast.len(); got != total {
		t.Errorf("fast sink events: got %d, want %d", got, total)
	}
}

func TestBusDropLogRateLimited(t *testing.T) {
	clock := newFakeClock()
	logs := &logRecorder{}
	b := NewBus(BusOptions{QueueSize: 1, Now: clock.Now, Logger: slog.New(logs)})
	slow := newBlockingSink()
	b.AddSink(slow)
	b.Publish(Event{})
	slow.waitEntered(t) // the queue (of one) is now full

	publish := func(n int) {
		for range n {
			if b.Publish(Event{}) {
				t.Fatal("Publish: got true, want false (queue full)")
			}
		}
	}
	publish(10) // line 1 (dropped=1), then 9 unlogged
	clock.Advance(999 * time.Millisecond)
	publish(1) // still within the second: 10 unlogged
	clock.Advance(time.Millisecond)
	publish(1) // line 2 (dropped=11)
	publish(2) // unlogged until Close
	close(slow.release)
	closeBus(t, b)

	var got []uint64
	for _, r := range logs.all() {
		if r.msg == "events: dropped events for sink" {
			got = append(got, r.attrs["dropped"].(uint64))
		}
	}
	want := []uint64{1, 11, 2}
	if len(got) != len(want) {
		t.Fatalf("drop log counts: got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("drop log counts: got %v, want %v", got, want)
			break
		}
	}
	if s := b.Stats()[0]; s.Dropped != 14 {
		t.Errorf("Dropped: got %d, want 14", s.Dropped)
	}
}

func TestBusFailingSink(t *testing.T) {
	const n = 5
	tests := []struct {
		name        string
		sink        *failingSink
		wantWritten uint64
		wantErrors  uint64
		wantLogged  bool
	}{
		{name: "always fails", sink: &failingSink{fails: -1}, wantErrors: n, wantLogged: true},
		{name: "panics", sink: &failingSink{fails: -1, panic: true}, wantErrors: n, wantLogged: true},
		{name: "recovers within retries", sink: &failingSink{fails: writeRetries}, wantWritten: n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logRecorder{}
			b := NewBus(BusOptions{Logger: slog.New(logs)})
			b.AddSink(tt.sink)
			for i := range n {
				b.Publish(sampleEvent(i))
			}
			closeBus(t, b)
			s := b.Stats()[0]
			if s.Written != tt.wantWritten || s.Errors != tt.wantErrors || s.Dropped != 0 || s.QueueLen != 0 {
				t.Errorf("stats: got %+v, want Written=%d Errors=%d Dropped=0 QueueLen=0", s, tt.wantWritten, tt.wantErrors)
			}
			var lost uint64
			for _, r := range logs.all() {
				if r.level == slog.LevelError && r.msg == "events: sink lost events" {
					lost += r.attrs["lost"].(uint64)
				}
			}
			if tt.wantLogged && lost != tt.wantErrors {
				t.Errorf("logged lost events: got %d, want %d", lost, tt.wantErrors)
			}
			if !tt.wantLogged && lost != 0 {
				t.Errorf("logged lost events: got %d, want 0", lost)
			}
		})
	}
}

func TestBusCloseDrains(t *testing.T) {
	const n = 3000
	b := NewBus(BusOptions{BatchSize: 16})
	sinks := []*memSink{newMemSink("a"), newMemSink("b")}
	for _, s := range sinks {
		b.AddSink(s)
	}
	feed, _ := b.Subscribe(1)
	for i := range n {
		if !b.Publish(Event{RequestID: itoa(i)}) {
			t.Fatalf("Publish %d: got false, want true", i)
		}
	}
	closeBus(t, b)
	for _, s := range sinks {
		if got := s.len(); got != n {
			t.Errorf("sink %s: got %d events, want %d", s.name, got, n)
		}
		if !s.isClosed() {
			t.Errorf("sink %s: not closed", s.name)
		}
		// Order is preserved per sink.
		for i, e := range s.all() {
			if e.RequestID != itoa(i) {
				t.Fatalf("sink %s event %d: got request %s, want %d", s.name, i, e.RequestID, i)
			}
		}
	}
	// Close closed the live feed too (after what it buffered).
	for range feed {
	}
	if b.Publish(Event{}) {
		t.Error("Publish after Close: got true, want false")
	}
	for _, s := range b.Stats() {
		if s.Published != n+1 || s.Written != n || s.Dropped != 1 {
			t.Errorf("stats after late publish: got %+v, want Published=%d Written=%d Dropped=1", s, n+1, n)
		}
	}
	if err := b.Close(context.Background()); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	late := newMemSink("late")
	b.AddSink(late)
	if !late.isClosed() {
		t.Error("sink added after Close: not closed")
	}
}

func TestBusCloseDeadline(t *testing.T) {
	const n = 10
	b := NewBus(BusOptions{Logger: slog.New(&logRecorder{})})
	slow := newBlockingSink()
	b.AddSink(slow)
	b.Publish(Event{})
	slow.waitEntered(t)
	for range n - 1 {
		b.Publish(Event{})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Close(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: got %v, want context.Canceled", err)
	}
	select {
	case <-slow.closed:
	case <-time.After(waitTimeout):
		t.Fatal("sink was not closed after the deadline")
	}
	s := b.Stats()[0]
	// The batch in Write failed on the cancelled context (lost, an error);
	// the rest was never written (dropped).
	if s.Written != 0 || s.Errors != 1 || s.Dropped != n-1 || s.QueueLen != 0 {
		t.Errorf("stats: got %+v, want Written=0 Errors=1 Dropped=%d QueueLen=0", s, n-1)
	}
}

func TestBusSubscribe(t *testing.T) {
	b := NewBus(BusOptions{})
	defer closeBus(t, b)
	feed, cancel := b.Subscribe(4)
	_, cancelOther := b.Subscribe(0)
	defer cancelOther()

	for i := range 3 {
		b.Publish(Event{RequestID: itoa(i)})
	}
	for i := range 3 {
		if e := <-feed; e.RequestID != itoa(i) {
			t.Errorf("event %d: got request %s, want %d", i, e.RequestID, i)
		}
	}
	for i := range 10 { // nobody reads: 4 fit, 6 are dropped
		b.Publish(Event{RequestID: itoa(i)})
	}
	stats := b.SubscriberStats()
	want := []SinkStats{
		{Name: "subscriber-1", Published: 13, Written: 7, Dropped: 6, QueueLen: 4, QueueCap: 4},
		{Name: "subscriber-2", Published: 13, Written: 13, QueueLen: 13, QueueCap: DefaultSubscriberBuffer},
	}
	if len(stats) != len(want) {
		t.Fatalf("SubscriberStats: got %+v, want %+v", stats, want)
	}
	for i := range want {
		if stats[i] != want[i] {
			t.Errorf("SubscriberStats[%d]: got %+v, want %+v", i, stats[i], want[i])
		}
	}
	if got := b.SubscriberDrops(); got != 6 {
		t.Errorf("SubscriberDrops: got %d, want 6", got)
	}

	cancel()
	cancel() // idempotent
	n := 0
	for range feed {
		n++
	}
	if n != 4 {
		t.Errorf("buffered events after cancel: got %d, want 4", n)
	}
	if got := len(b.SubscriberStats()); got != 1 {
		t.Errorf("subscribers after cancel: got %d, want 1", got)
	}
	if got := b.SubscriberDrops(); got != 6 {
		t.Errorf("SubscriberDrops after cancel: got %d, want 6 (monotonic)", got)
	}
}

func TestBusSubscribeAfterClose(t *testing.T) {
	b := NewBus(BusOptions{})
	closeBus(t, b)
	feed, cancel := b.Subscribe(1)
	cancel()
	if _, ok := <-feed; ok {
		t.Error("feed after Close: got an event, want a closed channel")
	}
}

func TestBusDuplicateSinkNames(t *testing.T) {
	b := NewBus(BusOptions{})
	for range 3 {
		b.AddSink(newMemSink("mem"))
	}
	closeBus(t, b)
	want := []string{"mem", "mem-2", "mem-3"}
	for i, s := range b.Stats() {
		if s.Name != want[i] {
			t.Errorf("sink %d name: got %q, want %q", i, s.Name, want[i])
		}
	}
}

// TestBusConcurrent publishes from many goroutines while sinks are added
// and subscribers come and go, for the race detector.
func TestBusConcurrent(t *testing.T) {
	const (
		workers = 8
		each    = 400
	)
	b := NewBus(BusOptions{ClientBurst: -1}) // one client publishes everything; budgets are TestClientBudget's
	first := newMemSink("first")
	b.AddSink(first)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range workers {
		wg.Go(func() {
			for i := range each {
				if !b.Publish(sampleEvent(i)) {
					failed.Add(1)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			feed, cancel := b.Subscribe(2)
			select {
			case <-feed:
			default:
			}
			_ = b.SubscriberStats()
			_ = b.Stats()
			cancel()
		}
	})
	second := newMemSink("second")
	b.AddSink(second)
	wg.Wait()
	closeBus(t, b)

	if got := failed.Load(); got != 0 {
		t.Errorf("failed publishes: got %d, want 0", got)
	}
	if got, want := first.len(), workers*each; got != want {
		t.Errorf("first sink events: got %d, want %d", got, want)
	}
	s := b.Stats()[1]
	if s.Published != s.Written || uint64(second.len()) != s.Written {
		t.Errorf("second sink: got %+v with %d events, want all published written", s, second.len())
	}
	ids := map[string]bool{}
	for _, e := range first.all() {
		if ids[e.ID] {
			t.Fatalf("duplicate id %s", e.ID)
		}
		ids[e.ID] = true
	}
}

// discardSink counts events and does nothing else.
type discardSink struct {
	name string
	n    atomic.Uint64
}

func (d *discardSink) Name() string { return d.name }
func (d *discardSink) Write(_ context.Context, batch []Event) error {
	d.n.Add(uint64(len(batch)))
	return nil
}
func (d *discardSink) Close() error { return nil }

func BenchmarkPublish(b *testing.B) {
	bus := NewBus(BusOptions{})
	bus.AddSink(&discardSink{name: "a"})
	bus.AddSink(&discardSink{name: "b"})
	e := sampleEvent(1)
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(e)
	}
	b.StopTimer()
	_ = bus.Close(context.Background())
	var dropped uint64
	for _, s := range bus.Stats() {
		dropped += s.Dropped
	}
	b.ReportMetric(float64(dropped)/float64(b.N), "drops/op")
}

// BenchmarkPublishBlockedSink measures Publish while one sink is stuck in
// Write and its queue is full: it must cost what a drop costs, never a wait.
func BenchmarkPublishBlockedSink(b *testing.B) {
	bus := NewBus(BusOptions{QueueSize: 8, Logger: slog.New(&logRecorder{})})
	slow := newBlockingSink()
	bus.AddSink(slow)
	defer close(slow.release)
	bus.Publish(Event{Type: TypeDenial})
	<-slow.entered
	e := Event{Type: TypeDenial, Stage: "waf", Rules: []string{"942100"}}
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(e)
	}
}
