package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for BusOptions.
const (
	// DefaultQueueSize is the per-sink queue length when BusOptions.QueueSize
	// is zero.
	DefaultQueueSize = 4096
	// DefaultBatchSize is the largest batch handed to Sink.Write when
	// BusOptions.BatchSize is zero.
	DefaultBatchSize = 256
	// DefaultSubscriberBuffer is the live-feed channel buffer when Subscribe
	// is called with a buffer below one.
	DefaultSubscriberBuffer = 64
)

// writeRetries is how many times a failed batch is retried, immediately,
// before its events are counted as lost. Sinks fail for reasons that rarely
// clear in microseconds (disk full, database locked past busy_timeout), so
// more retries would only delay the queue behind them.
const writeRetries = 3

// logEvery is the shortest interval between two loss warnings for one sink.
const logEvery = time.Second

// BusOptions configures a Bus. The zero value is usable.
type BusOptions struct {
	// QueueSize is how many events each sink may have accepted but not yet
	// written (waiting in its queue or in the batch being written). A
	// publish that finds a sink's queue full drops the event for that sink
	// only. Default 4096 (DefaultQueueSize); zero or negative means the
	// default.
	QueueSize int
	// Logger receives rate-limited warnings about dropped and lost events.
	// Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock used to stamp events without a time and to rate-limit
	// warnings. Nil means time.Now.
	Now func() time.Time
	// BatchSize is the largest number of events handed to one Sink.Write
	// call. Default 256 (DefaultBatchSize); zero or negative means the
	// default.
	BatchSize int
	// ClientBurst and ClientRate are the per-client event budget: how many
	// events of one class (priority or not, see Priority) one client's
	// requests may produce at once, and per second on average. Past it,
	// that client's events are counted into TypeSuppressed summaries
	// instead of being queued. Defaults 200 and 20 per second
	// (DefaultClientBurst, DefaultClientRate); zero means the default, a
	// negative ClientBurst turns budgets off.
	ClientBurst int
	ClientRate  float64
	// SummaryInterval is how often summaries of suppressed events are
	// published. Default 10s (DefaultSummaryInterval); zero means the
	// default.
	SummaryInterval time.Duration
}

// SinkStats are one sink's counters. Published, Written, Dropped and Errors
// only ever grow, so they can be exported as Prometheus counters. Once the
// sink is idle, Published == Written + Dropped + Errors + QueueLen.
type SinkStats struct {
	// Name is the sink's name, made unique within the bus by a "-2", "-3"
	// ... suffix when two sinks report the same Name().
	Name string `json:"name"`
	// Published counts events offered to the sink (accepted or dropped).
	Published uint64 `json:"published"`
	// Written counts events the sink stored successfully.
	Written uint64 `json:"written"`
	// Dropped counts events the sink never got: its queue was full, the bus
	// was closed, or the shutdown deadline passed before they were written.
	Dropped uint64 `json:"dropped"`
	// Errors counts events lost because Write failed even after retries.
	Errors uint64 `json:"errors"`
	// QueueLen is how many events are accepted but not yet written or lost
	// (queued, or in the batch being written). It never exceeds QueueCap.
	QueueLen int `json:"queue_len"`
	// QueueCap is the queue's capacity (BusOptions.QueueSize).
	QueueCap int `json:"queue_cap"`
}

// Bus fans events out to sinks and live subscribers without ever blocking
// the publisher. Each sink has its own bounded queue and goroutine, so a
// slow or failing sink never delays another sink or a request. Losses are
// counted (Stats) and logged, never silent.
type Bus struct {
	opts   BusOptions
	log    *slog.Logger
	now    func() time.Time
	ctx    context.Context // cancelled when Close gives up draining
	cancel context.CancelFunc

	published  atomic.Uint64
	subDrops   atomic.Uint64
	suppressed atomic.Uint64
	budgets    *budgets // nil when budgets are off
	stopLoop   chan struct{}

	// mu guards the fields below. Publish holds it for reading while it
	// sends, so Close (which holds it for writing) can close the queues
	// without racing a send.
	mu      sync.RWMutex
	closed  bool
	sinks   []*sinkRunner
	names   map[string]int
	subs    []*subscriber
	nextSub uint64
}

var _ Publisher = (*Bus)(nil)

// NewBus returns a bus with no sinks. Add sinks with AddSink and release it
// with Close.
func NewBus(opts BusOptions) *Bus {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bus{
		opts:   opts,
		log:    opts.Logger,
		now:    opts.Now,
		ctx:    ctx,
		cancel: cancel,
		names:  map[string]int{},
	}
	if opts.ClientBurst >= 0 {
		burst, rate, every := opts.ClientBurst, opts.ClientRate, opts.SummaryInterval
		if burst == 0 {
			burst = DefaultClientBurst
		}
		if rate <= 0 {
			rate = DefaultClientRate
		}
		if every <= 0 {
			every = DefaultSummaryInterval
		}
		b.budgets = newBudgets(rate, burst, every)
		b.stopLoop = make(chan struct{})
		go b.summaryLoop(every)
	}
	return b
}

// summaryLoop publishes due summaries even when no event arrives to
// trigger them.
func (b *Bus) summaryLoop(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.flushSummaries(false)
		case <-b.stopLoop:
			return
		}
	}
}

// flushSummaries publishes the summaries that are due (all of them with
// force).
func (b *Bus) flushSummaries(force bool) {
	if b.budgets == nil {
		return
	}
	for _, e := range b.budgets.due(b.now(), force) {
		b.deliver(e)
	}
}

// Suppressed returns how many events were counted into summaries instead
// of being queued (per-client budgets). It only grows.
func (b *Bus) Suppressed() uint64 { return b.suppressed.Load() }

// AddSink starts delivering events to s, from the next Publish on. The bus
// owns s from then on and closes it in Close; a sink added after Close is
// closed at once.
func (b *Bus) AddSink(s Sink) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		if err := s.Close(); err != nil {
			b.log.Warn("events: closing sink added after bus close", "sink", s.Name(), "error", err)
		}
		return
	}
	name := s.Name()
	b.names[name]++
	if n := b.names[name]; n > 1 {
		name += "-" + strconv.Itoa(n)
	}
	r := &sinkRunner{
		bus:   b,
		sink:  s,
		name:  name,
		queue: make(chan Event, b.opts.QueueSize),
		done:  make(chan struct{}),
	}
	b.sinks = append(b.sinks, r)
	b.mu.Unlock()
	go r.run()
}

// Publish offers e to every sink and subscriber and returns at once. It
// fills e.ID (a UUIDv7) and e.Time (the bus clock) when they are empty. It
// returns false when at least one sink dropped the event (queue full or bus
// closed); the loss is counted and logged. Subscribers are lossy by design
// and do not affect the result. With no sinks it returns true.
//
// An event of a client over its budget (BusOptions.ClientBurst) is not
// queued but counted into a summary (TypeSuppressed) published within
// BusOptions.SummaryInterval; Publish returns true for it (it is not lost).
func (b *Bus) Publish(e Event) bool {
	b.published.Add(1)
	fill(&e, b.now)
	if b.budgets != nil {
		now := b.now()
		if !b.budgets.allow(e, now) {
			b.suppressed.Add(1)
			return true
		}
		if ds := b.budgets.due(now, false); ds != nil {
			for _, d := range ds {
				b.deliver(d)
			}
		}
	}
	return b.deliver(e)
}

// deliver offers e to every sink and subscriber.
func (b *Bus) deliver(e Event) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ok := true
	prio := Priority(e)
	for _, r := range b.sinks {
		if !r.offer(e, b.closed, prio) {
			ok = false
		}
	}
	if b.closed {
		return false
	}
	for _, s := range b.subs {
		s.offer(e, &b.subDrops)
	}
	return ok
}

// Published returns how many events have been passed to Publish.
func (b *Bus) Published() uint64 { return b.published.Load() }

// Stats returns a snapshot of every sink's counters, in the order the sinks
// were added. Closed sinks keep reporting their final counts.
func (b *Bus) Stats() []SinkStats {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]SinkStats, len(b.sinks))
	for i, r := range b.sinks {
		out[i] = r.stats()
	}
	return out
}

// Subscribe returns a live feed of events published from now on, for
// dashboards and tails. The feed is lossy: when its buffer of buf events is
// full, events are dropped for it and counted (SubscriberStats,
// SubscriberDrops). buf below one means DefaultSubscriberBuffer. Calling the
// returned function ends the subscription and closes the channel; it is
// safe to call more than once. Close also closes every feed.
func (b *Bus) Subscribe(buf int) (<-chan Event, func()) {
	if buf < 1 {
		buf = DefaultSubscriberBuffer
	}
	ch := make(chan Event, buf)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(ch)
		return ch, func() {}
	}
	b.nextSub++
	s := &subscriber{name: "subscriber-" + strconv.FormatUint(b.nextSub, 10), ch: ch}
	b.subs = append(b.subs, s)
	var once sync.Once
	return ch, func() { once.Do(func() { b.unsubscribe(s) }) }
}

func (b *Bus) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.subs {
		if x == s {
			// Copy rather than shift in place: nothing reads b.subs without
			// the lock, but a fresh slice keeps that obviously true.
			subs := make([]*subscriber, 0, len(b.subs)-1)
			subs = append(subs, b.subs[:i]...)
			b.subs = append(subs, b.subs[i+1:]...)
			close(s.ch)
			return
		}
	}
	// Not found: Close already closed the channel.
}

// SubscriberStats returns the counters of the live subscriptions, named
// "subscriber-1", "subscriber-2" ... in subscription order. Written counts
// events delivered into the feed's buffer.
func (b *Bus) SubscriberStats() []SinkStats {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]SinkStats, len(b.subs))
	for i, s := range b.subs {
		out[i] = SinkStats{
			Name:      s.name,
			Published: s.published.Load(),
			Written:   s.written.Load(),
			Dropped:   s.dropped.Load(),
			QueueLen:  len(s.ch),
			QueueCap:  cap(s.ch),
		}
	}
	return out
}

// SubscriberDrops returns how many events all subscriptions, past and
// present, have dropped. It only grows.
func (b *Bus) SubscriberDrops() uint64 { return b.subDrops.Load() }

// Close stops accepting events (Publish returns false from then on and
// counts the event as dropped), closes every subscriber feed, lets each sink
// write what it has queued, and closes the sinks. If ctx ends first, Close
// cancels the context passed to Sink.Write, returns ctx's error, and the
// sinks count what they could not write as dropped and close in the
// background. A second Close returns nil at once.
func (b *Bus) Close(ctx context.Context) error {
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if !closed && b.budgets != nil {
		// The summaries still held are written like any event.
		b.flushSummaries(true)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	if b.stopLoop != nil {
		close(b.stopLoop)
	}
	b.closed = true
	sinks := b.sinks
	for _, r := range sinks {
		close(r.queue)
	}
	for _, s := range b.subs {
		close(s.ch)
	}
	b.subs = nil
	b.mu.Unlock()

	var errs []error
	for _, r := range sinks {
		select {
		case <-r.done:
			if r.closeErr != nil {
				errs = append(errs, fmt.Errorf("closing sink %s: %w", r.name, r.closeErr))
			}
		case <-ctx.Done():
			b.cancel()
			return fmt.Errorf("draining event sinks: %w", ctx.Err())
		}
	}
	b.cancel()
	return errors.Join(errs...)
}

// sinkRunner owns one sink's queue and goroutine.
type sinkRunner struct {
	bus   *Bus
	sink  Sink
	name  string
	queue chan Event
	done  chan struct{}
	// closeErr is set by run before done is closed.
	closeErr error

	published atomic.Uint64
	written   atomic.Uint64
	dropped   atomic.Uint64
	errors    atomic.Uint64
	// pending counts accepted events not yet written or lost. Reserving a
	// slot here before sending keeps len(queue) <= pending <= cap(queue), so
	// the send in offer can never block.
	pending atomic.Int64

	dropLog  lossLog
	errorLog lossLog
}

// offer queues e for the sink, or drops and counts it. An event that is
// not a priority event may only take the first three quarters of the
// queue: the rest is kept for detections and high-severity events, so that
// a flood of ordinary denials cannot crowd them out.
func (r *sinkRunner) offer(e Event, closed, prio bool) bool {
	r.published.Add(1)
	if closed {
		r.drop(1, "bus closed")
		return false
	}
	limit := int64(cap(r.queue))
	if !prio {
		limit -= int64(reserved(cap(r.queue)))
	}
	if r.pending.Add(1) > limit {
		r.pending.Add(-1)
		r.drop(1, "queue full")
		return false
	}
	select {
	case r.queue <- e:
		return true
	default:
		// Unreachable while the pending invariant holds; never block anyway.
		r.pending.Add(-1)
		r.drop(1, "queue full")
		return false
	}
}

// reserved is the part of a queue of size n kept for priority events: a
// quarter, at least one slot when the queue has two or more.
func reserved(n int) int {
	if n < 2 {
		return 0
	}
	return max(1, n/4)
}

func (r *sinkRunner) drop(n int, reason string) {
	r.dropped.Add(uint64(n))
	if c, ok := r.dropLog.add(uint64(n), r.bus.now()); ok {
		r.bus.log.Warn("events: dropped events for sink", "sink", r.name, "dropped", c, "reason", reason)
	}
}

func (r *sinkRunner) run() {
	defer close(r.done)
	batch := make([]Event, 0, r.bus.opts.BatchSize)
	open := true
	for open {
		e, ok := <-r.queue
		if !ok {
			break
		}
		batch = append(batch[:0], e)
	fill:
		for len(batch) < cap(batch) {
			select {
			case e, ok := <-r.queue:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, e)
			default:
				break fill
			}
		}
		if r.bus.ctx.Err() != nil {
			r.finish(len(batch), nil)
			r.drop(len(batch), "shutdown deadline passed")
		} else {
			r.write(batch)
		}
		clear(batch) // release references held by the reused array
	}
	// Only reached once the queue is closed. If Close gave up, count the
	// rest as dropped rather than writing after Close returned.
	n := 0
	for range r.queue {
		n++
	}
	if n > 0 {
		r.finish(n, nil)
		r.drop(n, "shutdown deadline passed")
	}
	if c := r.dropLog.flush(); c > 0 {
		r.bus.log.Warn("events: dropped events for sink", "sink", r.name, "dropped", c, "reason", "final count")
	}
	if c := r.errorLog.flush(); c > 0 {
		r.bus.log.Error("events: sink lost events", "sink", r.name, "lost", c, "reason", "final count")
	}
	r.closeErr = r.sink.Close()
}

// write hands batch to the sink, retrying a failure up to writeRetries
// times, and accounts for the result.
func (r *sinkRunner) write(batch []Event) {
	var err error
	for attempt := 0; attempt <= writeRetries; attempt++ {
		if err = r.safeWrite(batch); err == nil {
			r.finish(len(batch), &r.written)
			return
		}
		if r.bus.ctx.Err() != nil {
			break
		}
	}
	r.finish(len(batch), &r.errors)
	if c, ok := r.errorLog.add(uint64(len(batch)), r.bus.now()); ok {
		r.bus.log.Error("events: sink lost events", "sink", r.name, "lost", c, "error", err)
	}
}

// finish releases n queue slots and adds n to counter when it is not nil.
// The counter is bumped first so Stats never shows an event in neither
// QueueLen nor a counter.
func (r *sinkRunner) finish(n int, counter *atomic.Uint64) {
	if counter != nil {
		counter.Add(uint64(n))
	}
	r.pending.Add(-int64(n))
}

// safeWrite calls Write and turns a panic into an error, so one broken sink
// cannot take the process down with it.
func (r *sinkRunner) safeWrite(batch []Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sink %s panicked: %v", r.name, p)
		}
	}()
	return r.sink.Write(r.bus.ctx, batch)
}

func (r *sinkRunner) stats() SinkStats {
	// Load pending first: an event moving from pending to a counter between
	// the loads is then counted twice rather than not at all.
	q := r.pending.Load()
	return SinkStats{
		Name:      r.name,
		Published: r.published.Load(),
		Written:   r.written.Load(),
		Dropped:   r.dropped.Load(),
		Errors:    r.errors.Load(),
		QueueLen:  int(q),
		QueueCap:  cap(r.queue),
	}
}

// lossLog rate-limits loss warnings to one line per logEvery, carrying the
// count since the previous line.
type lossLog struct {
	unlogged atomic.Uint64
	last     atomic.Int64 // unix nanos of the last line; 0 = never
}

// add records n lost events and reports whether a line should be logged now,
// with the count to log.
func (l *lossLog) add(n uint64, now time.Time) (uint64, bool) {
	l.unlogged.Add(n)
	t := now.UnixNano()
	last := l.last.Load()
	if last != 0 && t-last < int64(logEvery) {
		return 0, false
	}
	if !l.last.CompareAndSwap(last, t) {
		return 0, false // another goroutine is logging this interval
	}
	return l.unlogged.Swap(0), true
}

// flush returns the count not yet logged.
func (l *lossLog) flush() uint64 { return l.unlogged.Swap(0) }

// subscriber is one live feed.
type subscriber struct {
	name      string
	ch        chan Event
	published atomic.Uint64
	written   atomic.Uint64
	dropped   atomic.Uint64
}

func (s *subscriber) offer(e Event, total *atomic.Uint64) {
	s.published.Add(1)
	select {
	case s.ch <- e:
		s.written.Add(1)
	default:
		s.dropped.Add(1)
		total.Add(1)
	}
}
