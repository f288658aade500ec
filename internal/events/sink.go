package events

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Sink stores or forwards events. The bus calls Write from one goroutine per
// sink, so a sink need not be safe for concurrent Write calls unless it is
// also used outside a bus (the sinks in this package are).
type Sink interface {
	// Name identifies the sink in stats, metrics and logs ("jsonl",
	// "sqlite").
	Name() string
	// Write stores a batch of events. It either stores the whole batch or
	// returns an error; the bus retries a failed batch, so a sink should make
	// a retried write harmless (the SQLite store ignores duplicate ids, the
	// JSONL sink truncates a partial write). Write must not keep batch, or any
	// slice of it, after it returns: the bus reuses it. ctx is cancelled when
	// the bus gives up on draining at shutdown.
	Write(ctx context.Context, batch []Event) error
	// Close flushes and releases the sink. The bus calls it once, after the
	// last Write.
	Close() error
}

// NewID returns a new event id: a UUIDv7 (time-ordered, so ids sort roughly
// by creation time), or a random UUIDv4 if a v7 cannot be made.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	return id.String()
}

// fill sets the ID and Time of e when they are empty.
func fill(e *Event, now func() time.Time) {
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
}
