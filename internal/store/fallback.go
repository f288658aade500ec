package store

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Status is the health of a Fallback store, for the admin API and metrics.
type Status struct {
	// Backend is the shared store's name ("redis").
	Backend string `json:"backend"`
	// Mode is FallbackLocal or FallbackClosed.
	Mode string `json:"mode"`
	// Healthy reports whether operations go to the shared store; false
	// means they are served locally (local) or refused (closed).
	Healthy bool `json:"healthy"`
	// Since is when Healthy last changed (or when the store was opened).
	Since time.Time `json:"since"`
	// Fallbacks counts switches from the shared store to the fallback.
	Fallbacks uint64 `json:"fallbacks"`
	// LastError is the error that caused the last switch ("" when none).
	LastError string `json:"last_error,omitempty"`
}

// Pinger is a Store that can check its own reachability (Redis).
type Pinger interface {
	Store
	Ping(ctx context.Context) error
}

// FallbackOptions configure a Fallback store.
type FallbackOptions struct {
	// Mode is FallbackLocal (default when empty) or FallbackClosed.
	Mode string
	// PingInterval is how often the shared store is pinged, both to notice
	// an outage early and to go back to it once it answers. Default 1s.
	PingInterval time.Duration
	// PingTimeout bounds one ping. Default 1s.
	PingTimeout time.Duration
	// Now is the clock of the local store and of Status.Since. Nil uses
	// time.Now. Pings run on real time whatever Now is.
	Now func() time.Time
	// OnChange is called (from the operation or ping that noticed it, never
	// concurrently with itself) every time Healthy changes, with the new
	// status: publish an event, set a gauge. Nil does nothing.
	OnChange func(Status)
}

// Fallback is a Store that serves from a shared store (Redis) while it
// answers and from a local Memory store (or fails closed) while it does
// not. The switch happens on the first operation that fails, so only the
// requests in flight at that moment wait for the shared store's timeout;
// a background ping notices when the shared store is back and switches to
// it again, without a restart.
//
// State kept locally during an outage is not copied to the shared store:
// limits restart from the shared store's state, which is what every other
// node sees.
type Fallback struct {
	shared Pinger
	local  *Memory
	o      FallbackOptions

	down      atomic.Bool
	fallbacks atomic.Uint64
	mu        sync.Mutex // guards since, lastErr and serialises OnChange
	since     time.Time
	lastErr   string

	stop chan struct{}
	done chan struct{}
}

var _ Store = (*Fallback)(nil)

// NewFallback wraps shared and starts its background ping; Close stops it
// and closes shared. When startDown is set (the shared store did not answer
// at startup) the store starts in fallback.
func NewFallback(shared Pinger, o FallbackOptions, startDown error) *Fallback {
	if o.Mode == "" {
		o.Mode = FallbackLocal
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	f := &Fallback{shared: shared, local: NewMemory(o.Now), o: o, since: o.Now(),
		stop: make(chan struct{}), done: make(chan struct{})}
	if startDown != nil {
		f.setDown(startDown)
	}
	go f.watch()
	return f
}

// Name returns the shared store's name.
func (f *Fallback) Name() string { return f.shared.Name() }

// Status returns the current health.
func (f *Fallback) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Status{Backend: f.shared.Name(), Mode: f.o.Mode, Healthy: !f.down.Load(),
		Since: f.since, Fallbacks: f.fallbacks.Load(), LastError: f.lastErr}
}

// Local returns the store used while the shared one is down.
func (f *Fallback) Local() *Memory { return f.local }

// Close stops the ping and closes the shared store.
func (f *Fallback) Close() error {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.done
	return f.shared.Close()
}

func (f *Fallback) watch() {
	defer close(f.done)
	t := time.NewTicker(f.o.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), f.o.PingTimeout)
		err := f.shared.Ping(ctx)
		cancel()
		switch {
		case err == nil && f.down.Load():
			f.setUp()
		case err != nil && !f.down.Load():
			f.setDown(err)
		}
	}
}

func (f *Fallback) setDown(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down.CompareAndSwap(false, true) {
		return
	}
	f.fallbacks.Add(1)
	f.since = f.o.Now()
	f.lastErr = err.Error()
	f.notify()
}

func (f *Fallback) setUp() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down.CompareAndSwap(true, false) {
		return
	}
	f.since = f.o.Now()
	f.notify()
}

// notify runs OnChange; f.mu is held.
func (f *Fallback) notify() {
	if f.o.OnChange != nil {
		f.o.OnChange(Status{Backend: f.shared.Name(), Mode: f.o.Mode, Healthy: !f.down.Load(),
			Since: f.since, Fallbacks: f.fallbacks.Load(), LastError: f.lastErr})
	}
}

// pick returns the store to use now, or an error in closed mode while the
// shared store is down.
func (f *Fallback) pick() (Store, error) {
	if !f.down.Load() {
		return f.shared, nil
	}
	if f.o.Mode == FallbackClosed {
		return nil, ErrUnavailable
	}
	return f.local, nil
}

// failed decides what to do after an operation on the shared store
// returned err: switch to the fallback and report whether to retry locally.
func (f *Fallback) failed(err error) bool {
	if !errors.Is(err, ErrUnavailable) {
		return false
	}
	f.setDown(err)
	return f.o.Mode != FallbackClosed
}

// do runs op on the current store and, when the shared store fails,
// switches and runs it locally (local mode).
func do[T any](f *Fallback, op func(Store) (T, error)) (T, error) {
	s, err := f.pick()
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := op(s)
	if err != nil && s == Store(f.shared) && f.failed(err) {
		return op(f.local)
	}
	return v, err
}

// Allow implements Store.
func (f *Fallback) Allow(ctx context.Context, key string, l Limit, n int64) (Result, error) {
	return do(f, func(s Store) (Result, error) { return s.Allow(ctx, key, l, n) })
}

// AllowAll implements Store.
func (f *Fallback) AllowAll(ctx context.Context, checks []Check, n int64) (bool, []Outcome, error) {
	type r struct {
		ok  bool
		out []Outcome
	}
	v, err := do(f, func(s Store) (r, error) {
		ok, out, err := s.AllowAll(ctx, checks, n)
		return r{ok, out}, err
	})
	return v.ok, v.out, err
}

// Quota implements Store.
func (f *Fallback) Quota(ctx context.Context, key string, max int64, p Period, n int64) (QuotaResult, error) {
	return do(f, func(s Store) (QuotaResult, error) { return s.Quota(ctx, key, max, p, n) })
}

// Incr implements Store.
func (f *Fallback) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	return do(f, func(s Store) (int64, error) { return s.Incr(ctx, key, ttl) })
}

// AddDistinct implements Store.
func (f *Fallback) AddDistinct(ctx context.Context, key, member string, ttl time.Duration) (int64, error) {
	return do(f, func(s Store) (int64, error) { return s.AddDistinct(ctx, key, member, ttl) })
}

// SetNX implements Store.
func (f *Fallback) SetNX(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return do(f, func(s Store) (bool, error) { return s.SetNX(ctx, key, ttl) })
}

// Decide implements Store.
func (f *Fallback) Decide(ctx context.Context, d Decision) error {
	_, err := do(f, func(s Store) (struct{}, error) { return struct{}{}, s.Decide(ctx, d) })
	return err
}

// Lookup implements Store.
func (f *Fallback) Lookup(ctx context.Context, keys []string, ip netip.Addr) ([]Decision, error) {
	return do(f, func(s Store) ([]Decision, error) { return s.Lookup(ctx, keys, ip) })
}

// Revoke implements Store.
func (f *Fallback) Revoke(ctx context.Context, key string) (bool, error) {
	return do(f, func(s Store) (bool, error) { return s.Revoke(ctx, key) })
}

// Decisions implements Store.
func (f *Fallback) Decisions(ctx context.Context) ([]Decision, error) {
	return do(f, func(s Store) ([]Decision, error) { return s.Decisions(ctx) })
}

// Sight implements Store.
func (f *Fallback) Sight(ctx context.Context, ss []Sighting) ([]Window, error) {
	return do(f, func(s Store) ([]Window, error) { return s.Sight(ctx, ss) })
}

// Meter implements Store.
func (f *Fallback) Meter(ctx context.Context, key string, bucket time.Duration, alpha float64, ttl time.Duration) (Meter, error) {
	return do(f, func(s Store) (Meter, error) { return s.Meter(ctx, key, bucket, alpha, ttl) })
}

// Get implements Store.
func (f *Fallback) Get(ctx context.Context, key string) ([]byte, bool, error) {
	type r struct {
		v  []byte
		ok bool
	}
	v, err := do(f, func(s Store) (r, error) {
		b, ok, err := s.Get(ctx, key)
		return r{b, ok}, err
	})
	return v.v, v.ok, err
}

// Put implements Store.
func (f *Fallback) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	_, err := do(f, func(s Store) (struct{}, error) { return struct{}{}, s.Put(ctx, key, value, ttl) })
	return err
}

// Delete implements Store.
func (f *Fallback) Delete(ctx context.Context, key string) error {
	_, err := do(f, func(s Store) (struct{}, error) { return struct{}{}, s.Delete(ctx, key) })
	return err
}
