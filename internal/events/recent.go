package events

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Recent keeps the last N events in memory: a Sink for the bus and the
// query API of a node without an event store, so that the dashboard always
// has recent events to show. It is safe for concurrent use.
type Recent struct {
	mu   sync.Mutex
	evs  []Event
	next int
	full bool
}

var _ Sink = (*Recent)(nil)

// NewRecent returns a ring of n events (at least 1).
func NewRecent(n int) *Recent { return &Recent{evs: make([]Event, max(n, 1))} }

// Name returns "recent".
func (r *Recent) Name() string { return "recent" }

// Write keeps the batch, evicting the oldest events.
func (r *Recent) Write(_ context.Context, batch []Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range batch {
		e := batch[i]
		fill(&e, time.Now)
		// Rules and Attrs are shared with other sinks' copies; they are
		// never modified after publishing.
		r.evs[r.next] = e
		r.next++
		if r.next == len(r.evs) {
			r.next, r.full = 0, true
		}
	}
	return nil
}

// Close does nothing.
func (r *Recent) Close() error { return nil }

// each calls f on the events, newest first, until it returns false.
func (r *Recent) each(f func(*Event) bool) {
	size := r.next
	if r.full {
		size = len(r.evs)
	}
	for k := 0; k < size; k++ {
		if !f(&r.evs[(r.next-1-k+len(r.evs))%len(r.evs)]) {
			return
		}
	}
}

// Matches reports whether e passes f's field filters (not Limit or
// Before). Live feeds use it to filter what they stream.
func (f *Filter) Matches(e *Event) bool {
	if !f.Since.IsZero() && e.Time.Before(f.Since) || !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	for _, eq := range [][2]string{{f.Type, e.Type}, {f.Stage, e.Stage}, {f.ClientIP, e.ClientIP}, {f.API, e.API},
		{f.RequestID, e.RequestID}, {f.Principal, e.Principal}, {f.Node, e.Node}} {
		if eq[0] != "" && eq[0] != eq[1] {
			return false
		}
	}
	if f.Rule != "" && !slices.Contains(e.Rules, f.Rule) {
		return false
	}
	if f.Severity != "" && SeverityRank(e.Severity) < SeverityRank(f.Severity) {
		return false
	}
	return true
}

// Query returns the kept events that match f, newest first.
func (r *Recent) Query(_ context.Context, f Filter) ([]Event, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	limit = min(limit, MaxQueryLimit)
	r.mu.Lock()
	defer r.mu.Unlock()
	var before *Event
	var beforeTime time.Time
	if f.Before != "" {
		if t, err := time.Parse(time.RFC3339Nano, f.Before); err == nil {
			beforeTime = t
		} else {
			r.each(func(e *Event) bool {
				if e.ID == f.Before {
					c := *e
					before = &c
					return false
				}
				return true
			})
			if before == nil {
				return nil, fmt.Errorf("querying events: %w: %q", ErrCursorNotFound, f.Before)
			}
		}
	}
	out := []Event{}
	passed := before == nil
	r.each(func(e *Event) bool {
		if !passed {
			passed = e.ID == before.ID
			return true
		}
		if !beforeTime.IsZero() && !e.Time.Before(beforeTime) {
			return true
		}
		if f.Matches(e) {
			out = append(out, *e)
		}
		return len(out) < limit
	})
	return out, nil
}

// CountBy counts the kept events at or after since by field (the
// Store.CountBy fields).
func (r *Recent) CountBy(_ context.Context, field string, since time.Time) (map[string]int64, error) {
	get := map[string]func(*Event) string{
		"type": func(e *Event) string { return e.Type }, "stage": func(e *Event) string { return e.Stage },
		"client_ip": func(e *Event) string { return e.ClientIP }, "api": func(e *Event) string { return e.API },
		"severity": func(e *Event) string { return e.Severity }, "principal": func(e *Event) string { return e.Principal },
		"node": func(e *Event) string { return e.Node },
	}[field]
	if get == nil && field != "rule" {
		return nil, fmt.Errorf("counting events by %q: %w", field, ErrUnknownField)
	}
	out := map[string]int64{}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.each(func(e *Event) bool {
		if !since.IsZero() && e.Time.Before(since) {
			return true
		}
		if get == nil {
			for _, rule := range e.Rules {
				out[rule]++
			}
		} else {
			out[get(e)]++
		}
		return true
	})
	return out, nil
}

// Querier answers the admin plane's event queries: the SQLite Store, the
// fleet's Postgres and a node's Recent ring all do.
type Querier interface {
	Query(ctx context.Context, f Filter) ([]Event, error)
	CountBy(ctx context.Context, field string, since time.Time) (map[string]int64, error)
}

var (
	_ Querier = (*Store)(nil)
	_ Querier = (*Postgres)(nil)
	_ Querier = (*Recent)(nil)
)
