package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/events"
)

// heartbeat keeps idle live feeds open through proxies and lets the
// server notice a client that went away.
const heartbeat = 15 * time.Second

// fleetPoll is how often a fleet live feed asks the shared store for new
// events, and fleetOverlap how far back each poll looks again (events of
// other nodes can commit with a slightly older time).
const (
	fleetPoll    = time.Second
	fleetOverlap = 10 * time.Second
)

// stream is the live feed: Server-Sent Events, one "security" event per
// security event that passes the query's filters. On a fleet store it
// follows the store (every node's events); otherwise this node's bus.
func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	f, err := eventFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok || (s.o.Subscribe == nil && !s.o.Fleet) {
		writeError(w, http.StatusNotFound, "the live feed is not available")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(": portcullis live feed\nretry: 2000\n\n"))
	fl.Flush()
	send := func(e *events.Event) bool {
		b, err := json.Marshal(e)
		if err != nil {
			return true
		}
		if _, err := w.Write(append(append([]byte("event: security\nid: "+e.ID+"\ndata: "), b...), '\n', '\n')); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	ctx := r.Context()
	if s.o.Fleet {
		s.followStore(w, r, f, send, beat.C)
		return
	}
	feed, stop := s.o.Subscribe(256)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
			fl.Flush()
		case e, ok := <-feed:
			if !ok {
				return
			}
			if f.Matches(&e) && !send(&e) {
				return
			}
		}
	}
}

// followStore streams the fleet store's new events, polling it.
func (s *server) followStore(w http.ResponseWriter, r *http.Request, f events.Filter, send func(*events.Event) bool, beat <-chan time.Time) {
	ctx := r.Context()
	seen := map[string]time.Time{}
	since := s.now().Add(-fleetOverlap)
	tick := time.NewTicker(fleetPoll)
	defer tick.Stop()
	for {
		q := f
		q.Since, q.Limit = since, events.MaxQueryLimit
		evs, err := s.o.Events.Query(ctx, q)
		if err == nil {
			for i := len(evs) - 1; i >= 0; i-- { // oldest first
				e := &evs[i]
				if _, dup := seen[e.ID]; dup {
					continue
				}
				seen[e.ID] = e.Time
				if !send(e) {
					return
				}
			}
			horizon := s.now().Add(-fleetOverlap)
			for id, t := range seen {
				if t.Before(horizon.Add(-fleetOverlap)) {
					delete(seen, id)
				}
			}
			since = horizon
		}
		select {
		case <-ctx.Done():
			return
		case <-beat:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		case <-tick.C:
		}
	}
}
