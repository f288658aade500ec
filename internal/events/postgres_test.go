package events_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/events/pgtest"
)

func pgEvents(node string, from, n int) []events.Event {
	out := make([]events.Event, n)
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range n {
		out[i] = events.Event{ID: fmt.Sprintf("%s-%05d", node, from+i), Time: base.Add(time.Duration(from+i) * time.Millisecond),
			Type: events.TypeDenial, Severity: events.SeverityHigh, Stage: "waf", Rules: []string{"942100", "r" + strconv.Itoa((from+i)%3)},
			ClientIP: "203.0.113." + strconv.Itoa((from+i)%5), API: "pets", RequestID: "req-" + strconv.Itoa(from+i),
			Excerpt: "1' OR '1'='1\x00", Principal: "alice", Attrs: map[string]any{"k": "v\x00"}}
	}
	return out
}

func count(t *testing.T, pg *pgtest.Server) int {
	t.Helper()
	out, err := pg.Exec(context.Background(), "SELECT count(*) FROM portcullis_events")
	if err != nil {
		t.Fatalf("psql: %v: %s", err, out)
	}
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("psql said %q", out)
	}
	return n
}

// TestPostgresSpoolsAndReplays: a sink writes to a real PostgreSQL, which is
// then killed; events keep being accepted into the spool and, once
// PostgreSQL is back, every one of them is stored exactly once.
func TestPostgresSpoolsAndReplays(t *testing.T) {
	pg := pgtest.Start(t)
	dir := t.TempDir()
	kick := make(chan time.Time)
	sink, err := events.OpenPostgres(events.PostgresConfig{URL: pg.URL(), Spool: filepath.Join(dir, "spool"), Timeout: 2 * time.Second},
		events.PostgresOptions{Node: "node-a", After: func(time.Duration) <-chan time.Time { return kick }})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	ctx := context.Background()
	if err := sink.Write(ctx, pgEvents("a", 0, 100)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pg); n != 100 {
		t.Fatalf("got %d rows, want 100", n)
	}
	pg.Kill()
	for i := 1; i <= 3; i++ {
		if err := sink.Write(ctx, pgEvents("a", 100*i, 100)); err != nil {
			t.Fatalf("write while down: %v", err)
		}
	}
	st := sink.Stats()
	if st.Up || st.Spooled != 300 || st.SpoolEvents != 300 {
		t.Fatalf("while down: %+v, want 300 spooled and not up", st)
	}
	pg.Restart()
	// Replay now rather than after the backoff (the test owns the clock).
	if err := sink.Flush(ctx); err != nil {
		t.Fatalf("flush after restart: %v", err)
	}
	if n := count(t, pg); n != 400 {
		t.Fatalf("after replay: %d rows, want 400", n)
	}
	st = sink.Stats()
	if !st.Up || st.Replayed != 300 || st.SpoolEvents != 0 || st.SpoolBytes != 0 {
		t.Fatalf("after replay: %+v", st)
	}
	// Writes go straight to PostgreSQL again, and a replayed duplicate is
	// ignored.
	if err := sink.Write(ctx, append(pgEvents("a", 400, 10), pgEvents("a", 0, 5)...)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pg); n != 410 {
		t.Fatalf("got %d rows, want 410", n)
	}

	// Queries: filters and counts the dashboard uses.
	evs, err := sink.Query(ctx, events.Filter{ClientIP: "203.0.113.1", Rule: "r1", Severity: "medium", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range 410 {
		if i%5 == 1 && i%3 == 1 {
			want++
		}
	}
	if len(evs) != want {
		t.Errorf("filtered query: %d events, want %d", len(evs), want)
	}
	for _, e := range evs {
		if e.Node != "node-a" || e.ClientIP != "203.0.113.1" || e.Excerpt == "" {
			t.Errorf("event %+v", e)
		}
	}
	byRule, err := sink.CountBy(ctx, "rule", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if byRule["942100"] != 410 {
		t.Errorf("count by rule: %v", byRule)
	}
	page, err := sink.Query(ctx, events.Filter{Limit: 3})
	if err != nil || len(page) != 3 || page[0].ID != "a-00409" {
		t.Fatalf("newest first: %v %v", page, err)
	}
	next, err := sink.Query(ctx, events.Filter{Limit: 1, Before: page[2].ID})
	if err != nil || len(next) != 1 || next[0].ID != "a-00406" {
		t.Fatalf("cursor: %v %v", next, err)
	}
}

// TestPostgresStartsDown: a node whose database is unreachable at start
// still accepts events, and the spool survives a restart of the node.
func TestPostgresStartsDown(t *testing.T) {
	pg := pgtest.Start(t)
	pg.Kill()
	spool := filepath.Join(t.TempDir(), "spool")
	never := func(time.Duration) <-chan time.Time { return nil }
	sink, err := events.OpenPostgres(events.PostgresConfig{URL: pg.URL(), Spool: spool, Timeout: time.Second},
		events.PostgresOptions{Node: "b", After: never})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(context.Background(), pgEvents("b", 0, 50)); err != nil {
		t.Fatal(err)
	}
	_ = sink.Close() // PostgreSQL still down: the spool stays
	pg.Restart()
	sink, err = events.OpenPostgres(events.PostgresConfig{URL: pg.URL(), Spool: spool},
		events.PostgresOptions{Node: "b", After: never})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if st := sink.Stats(); st.SpoolEvents != 50 {
		t.Fatalf("reopened spool holds %d events, want 50", st.SpoolEvents)
	}
	if err := sink.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pg); n != 50 {
		t.Fatalf("got %d rows, want 50", n)
	}
}
