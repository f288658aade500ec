package scan

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sync"
	"time"
)

// ErrBudget is returned (wrapped) by a Budget when the request budget is
// spent: the request was not sent.
var ErrBudget = errors.New("request budget exhausted")

// Budget is the one gate every request of a scan goes through, the load test
// included: it enforces the request rate and the total request count. Both
// limits are hard: a request that would exceed them waits (rate) or is not
// sent at all (count).
//
// The rate is enforced two ways at once: consecutive requests are spaced at
// least 1/rate apart, and no window of one second (plus a small margin for
// network jitter, so the target never counts more either) holds more than
// floor(rate) requests.
type Budget struct {
	rate  float64 // requests per second; 0 = unlimited
	max   int64   // total requests; 0 = unlimited
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	// onAcquire is called after each admitted request (outside the lock).
	onAcquire func()

	mu     sync.Mutex
	sent   int64
	last   time.Time
	window []time.Time // send times within the last window, oldest first
}

// windowMargin widens the one-second window so that jitter between the send
// time here and the arrival time at the target cannot squeeze one request
// too many into a second the target measures.
const windowMargin = 50 * time.Millisecond

// NewBudget returns a Budget allowing rate requests per second (0: no rate
// limit) and max requests in total (0: no limit).
func NewBudget(rate float64, max int) *Budget {
	return &Budget{rate: rate, max: int64(max), now: time.Now, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Sent returns how many requests were admitted so far.
func (b *Budget) Sent() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(b.sent)
}

// Remaining returns how many requests may still be sent (math.MaxInt when
// there is no limit).
func (b *Budget) Remaining() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max == 0 {
		return math.MaxInt
	}
	return int(b.max - b.sent)
}

// Acquire waits until one more request may be sent and counts it. It
// returns ErrBudget when the total is spent and the context's error when it
// is cancelled while waiting.
func (b *Budget) Acquire(ctx context.Context) error {
	for {
		b.mu.Lock()
		if b.max > 0 && b.sent >= b.max {
			b.mu.Unlock()
			return ErrBudget
		}
		now := b.now()
		wait := b.waitLocked(now)
		if wait <= 0 {
			b.sent++
			b.last = now
			if b.rate >= 1 {
				b.window = append(b.window, now)
				if c := int(b.rate); len(b.window) > c {
					b.window = b.window[len(b.window)-c:]
				}
			}
			b.mu.Unlock()
			if b.onAcquire != nil {
				b.onAcquire()
			}
			return nil
		}
		b.mu.Unlock()
		if err := b.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// waitLocked returns how long to wait before a request may go at now.
func (b *Budget) waitLocked(now time.Time) time.Duration {
	if b.rate <= 0 {
		return 0
	}
	var wait time.Duration
	if !b.last.IsZero() {
		interval := time.Duration(float64(time.Second) / b.rate)
		wait = b.last.Add(interval).Sub(now)
	}
	if b.rate >= 1 {
		span := time.Second + windowMargin
		for len(b.window) > 0 && now.Sub(b.window[0]) >= span {
			b.window = b.window[1:]
		}
		if capacity := int(b.rate); len(b.window) >= capacity {
			if w := b.window[len(b.window)-capacity].Add(span).Sub(now); w > wait {
				wait = w
			}
		}
	}
	return wait
}

// Transport wraps next (nil: http.DefaultTransport) so that every request
// passes through the budget first. A request the budget refuses fails with
// an error wrapping ErrBudget and is never sent.
func (b *Budget) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &budgetTransport{b: b, next: next}
}

type budgetTransport struct {
	b    *Budget
	next http.RoundTripper
}

func (t *budgetTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := t.b.Acquire(r.Context()); err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(r)
}
