package events

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait on a goroutine in these tests, so a bug
// fails the test instead of hanging it. It is never how a result arrives.
const waitTimeout = 10 * time.Second

// memSink keeps every event it is given. It is the "fast" sink.
type memSink struct {
	name   string
	mu     sync.Mutex
	events []Event
	closed bool
	wrote  chan struct{} // signalled (without blocking) after each Write
}

func newMemSink(name string) *memSink {
	return &memSink{name: name, wrote: make(chan struct{}, 1)}
}

func (m *memSink) Name() string { return m.name }

func (m *memSink) Write(_ context.Context, batch []Event) error {
	m.mu.Lock()
	m.events = append(m.events, batch...)
	m.mu.Unlock()
	select {
	case m.wrote <- struct{}{}:
	default:
	}
	return nil
}

func (m *memSink) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

func (m *memSink) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.events)
}

func (m *memSink) all() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Event(nil), m.events...)
}

func (m *memSink) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// waitFor blocks until the sink holds at least n events.
func (m *memSink) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for m.len() < n {
		select {
		case <-m.wrote:
		case <-deadline:
			t.Fatalf("sink %s: got %d events, want %d", m.name, m.len(), n)
		}
	}
}

// blockingSink blocks every Write until the test closes release (or the
// bus cancels the write context). It reports each Write on entered.
type blockingSink struct {
	entered chan struct{}
	release chan struct{}
	closed  chan struct{}
	mu      sync.Mutex
	written int
}

func newBlockingSink() *blockingSink {
	return &blockingSink{
		entered: make(chan struct{}, 1),
		release: make(chan struct{}),
		closed:  make(chan struct{}),
	}
}

func (s *blockingSink) Name() string { return "slow" }

func (s *blockingSink) Write(ctx context.Context, batch []Event) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
		s.mu.Lock()
		s.written += len(batch)
		s.mu.Unlock()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *blockingSink) Close() error {
	close(s.closed)
	return nil
}

// waitEntered blocks until a Write call is in progress.
func (s *blockingSink) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-s.entered:
	case <-time.After(waitTimeout):
		t.Fatal("slow sink: Write was never called")
	}
}

// failingSink fails (or panics) on the first `fails` Write calls (-1:
// always), then succeeds.
type failingSink struct {
	fails int
	panic bool
	mu    sync.Mutex
	calls int
}

func (s *failingSink) Name() string { return "failing" }

func (s *failingSink) Write(context.Context, []Event) error {
	s.mu.Lock()
	s.calls++
	fail := s.fails < 0 || s.calls <= s.fails
	s.mu.Unlock()
	if !fail {
		return nil
	}
	if s.panic {
		panic("sink exploded")
	}
	return errors.New("disk full")
}

func (s *failingSink) Close() error { return nil }

// fakeClock is an injected clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logRecord is one captured log line.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []logRecord
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]any{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Resolve().Any()
		return true
	})
	h.mu.Lock()
	h.records = append(h.records, rec)
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

func (h *logRecorder) all() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logRecord(nil), h.records...)
}

// closeBus closes b and fails the test on error.
func closeBus(t *testing.T, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// sampleEvent returns a fully populated event, distinguishable by i.
func sampleEvent(i int) Event {
	types := []string{TypeDenial, TypeDetection, TypeMalformed}
	stages := []string{"waf.crs", "authn.jwt", "ratelimit.ip"}
	return Event{
		Type:      types[i%len(types)],
		Severity:  SeverityHigh,
		RequestID: "req-" + itoa(i),
		ClientIP:  "192.0.2." + itoa(i%7),
		API:       "petstore",
		Method:    "POST",
		Path:      "/pets/" + itoa(i),
		Stage:     stages[i%len(stages)],
		Rules:     []string{"942100", "rule-" + itoa(i)},
		Status:    403,
		Reason:    "SQL injection detected",
		Location:  "body.name",
		Excerpt:   `' OR 1=1 -- <script>é`,
		Score:     i % 20,
		Mode:      "block",
		Principal: "user-" + itoa(i%3),
		Attrs: map[string]any{
			"n":      float64(i),
			"nested": map[string]any{"ok": true, "list": []any{"a", 1.5}},
		},
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
