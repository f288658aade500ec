package events

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestBusToSQLiteAndJSONL publishes events through a real bus into a real
// SQLite store and JSONL file and checks every event arrives intact in both.
func TestBusToSQLiteAndJSONL(t *testing.T) {
	const n = 2000
	dir := t.TempDir()
	store, err := OpenSQLite(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	jsonlPath := filepath.Join(dir, "events.jsonl")
	jl, err := NewJSONL(jsonlPath)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	b := NewBus(BusOptions{Now: clock.Now, ClientBurst: -1})
	b.AddSink(store)
	b.AddSink(jl)

	want := map[string]Event{} // by RequestID
	for i := range n {
		e := sampleEvent(i)
		if i%2 == 0 { // half carry their own time, in another zone
			e.Time = base.Add(time.Duration(i) * time.Microsecond).In(time.FixedZone("E", -5*3600))
		}
		want[e.RequestID] = e
		if !b.Publish(e) {
			t.Fatalf("Publish %d: got false, want true", i)
		}
	}
	closeBus(t, b)
	for _, s := range b.Stats() {
		if s.Published != n || s.Written != n || s.Dropped != 0 || s.Errors != 0 || s.QueueLen != 0 {
			t.Errorf("sink %s stats: got %+v, want Published=Written=%d", s.Name, s, n)
		}
	}

	// check compares what a sink returned with what was published.
	check := func(t *testing.T, got []Event) {
		t.Helper()
		if len(got) != n {
			t.Fatalf("events: got %d, want %d", len(got), n)
		}
		ids := map[string]bool{}
		for _, e := range got {
			if e.ID == "" || ids[e.ID] {
				t.Fatalf("id %q empty or repeated", e.ID)
			}
			ids[e.ID] = true
			w, ok := want[e.RequestID]
			if !ok {
				t.Fatalf("unexpected event %+v", e)
			}
			w.ID = e.ID // filled in by the bus
			if w.Time.IsZero() {
				w.Time = clock.Now()
			}
			if !sameEvent(e, w) {
				t.Fatalf("event %s: got %+v, want %+v", e.RequestID, e, w)
			}
		}
	}

	t.Run("jsonl", func(t *testing.T) {
		check(t, readJSONL(t, jsonlPath))
	})
	t.Run("sqlite", func(t *testing.T) {
		s, err := OpenSQLite(filepath.Join(dir, "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		if c, err := s.Count(ctx, Filter{}); err != nil || c != n {
			t.Fatalf("Count: got %d, %v, want %d, nil", c, err, n)
		}
		var all []Event
		f := Filter{Limit: MaxQueryLimit}
		for {
			page, err := s.Query(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			f.Before = page[len(page)-1].ID
		}
		check(t, all)
	})
}
