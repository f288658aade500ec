package store

import (
	"context"
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// StrikeMemory is how long strikes (decisions taken against one key) are
// remembered, so that a client banned again within it gets a longer ban.
const StrikeMemory = 7 * 24 * time.Hour

// memShards is the number of independently locked shards of a Memory store.
// A power of two; 64 keeps lock contention negligible on any core count the
// gateway runs on while costing a few KiB.
const memShards = 64

// sweepEvery is how many writes a shard takes between sweeps of its expired
// entries. Expired entries are also dropped when they are read, so the sweep
// only bounds the memory held by keys nobody asks about again (one-off
// client IPs).
const sweepEvery = 1024

// Memory is a Store kept in this process: sharded maps guarded by mutexes,
// with expiry measured on an injected clock. It is what a single node uses
// and what a Fallback store serves from while Redis is unreachable.
type Memory struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [memShards]memShard

	decMu     sync.Mutex
	decisions map[string]Decision

	sightMu sync.Mutex
	windows map[string]*window
	meters  map[string]*meter
	writes  int
}

var _ Store = (*Memory)(nil)

type memShard struct {
	mu     sync.Mutex
	writes int
	gcra   map[string]timed[int64] // theoretical arrival time, µs since epoch
	quota  map[string]timed[quotaCount]
	count  map[string]timed[int64]
	sets   map[string]timed[map[string]struct{}]
	nonce  map[string]timed[struct{}]
	kv     map[string]timed[[]byte]
}

// timed is a value with an expiry; a zero exp never expires.
type timed[T any] struct {
	v   T
	exp int64 // ns since epoch; 0 = never
}

func (t timed[T]) live(now int64) bool { return t.exp == 0 || now < t.exp }

type quotaCount struct {
	start int64 // period start, ns since epoch
	used  int64
}

// NewMemory returns an empty Memory store whose expiry and limits follow
// now. A nil now uses time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{now: now, seed: maphash.MakeSeed(), decisions: map[string]Decision{},
		windows: map[string]*window{}, meters: map[string]*meter{}}
	for i := range m.shards {
		s := &m.shards[i]
		s.gcra = map[string]timed[int64]{}
		s.quota = map[string]timed[quotaCount]{}
		s.count = map[string]timed[int64]{}
		s.sets = map[string]timed[map[string]struct{}]{}
		s.nonce = map[string]timed[struct{}]{}
		s.kv = map[string]timed[[]byte]{}
	}
	return m
}

// Name returns "memory".
func (m *Memory) Name() string { return "memory" }

// Close does nothing; a Memory store holds no connections.
func (m *Memory) Close() error { return nil }

func (m *Memory) shard(key string) *memShard {
	return &m.shards[maphash.String(m.seed, key)&(memShards-1)]
}

// lock locks the shard of key and, every sweepEvery writes, drops its
// expired entries.
func (m *Memory) lock(key string, now int64) *memShard {
	s := m.shard(key)
	s.mu.Lock()
	s.writes++
	if s.writes >= sweepEvery {
		s.writes = 0
		sweep(s.gcra, now)
		sweep(s.quota, now)
		sweep(s.count, now)
		sweep(s.sets, now)
		sweep(s.nonce, now)
		sweep(s.kv, now)
	}
	return s
}

func sweep[T any](m map[string]timed[T], now int64) {
	for k, v := range m {
		if !v.live(now) {
			delete(m, k)
		}
	}
}

// Allow checks a GCRA limit; see Store.Allow and gcra.
func (m *Memory) Allow(_ context.Context, key string, l Limit, n int64) (Result, error) {
	if err := l.check(n); err != nil {
		return Result{}, err
	}
	t := m.now()
	now, nowUS := t.UnixNano(), t.UnixMicro()
	s := m.lock(key, now)
	defer s.mu.Unlock()
	var tat int64
	if e, ok := s.gcra[key]; ok && e.live(now) {
		tat = e.v
	}
	res, newTAT := gcra(l, n, nowUS, tat)
	if res.Allowed {
		s.gcra[key] = timed[int64]{v: newTAT, exp: newTAT * 1000}
	}
	return res, nil
}

// AllowAll checks limits and quotas together; see Store.AllowAll. It locks
// every shard involved, in shard order, so concurrent calls cannot
// deadlock.
func (m *Memory) AllowAll(_ context.Context, checks []Check, n int64) (bool, []Outcome, error) {
	if err := checkAll(checks, n); err != nil {
		return false, nil, err
	}
	t := m.now()
	now, nowUS := t.UnixNano(), t.UnixMicro()
	var idxBuf [8]int
	idx := idxBuf[:0]
	for _, c := range checks {
		i := int(maphash.String(m.seed, c.Key) & (memShards - 1))
		if !slices.Contains(idx, i) {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	for _, i := range idx {
		m.shards[i].mu.Lock()
	}
	defer func() {
		for _, i := range idx {
			m.shards[i].mu.Unlock()
		}
	}()
	out := make([]Outcome, len(checks))
	var tatBuf [8]int64
	newTAT := tatBuf[:0]
	for range checks {
		newTAT = append(newTAT, 0)
	}
	all := true
	for i, c := range checks {
		s := m.shard(c.Key)
		if c.Max > 0 {
			start, end := c.Period.Bounds(t)
			var used int64
			if e, ok := s.quota[c.Key]; ok && e.live(now) && e.v.start == start.UnixNano() {
				used = e.v.used
			}
			o := Outcome{Allowed: used+n <= c.Max, Used: used, ResetAfter: end.Sub(t)}
			if o.Allowed {
				o.Used = used + n
			} else {
				o.RetryAfter = o.ResetAfter
			}
			o.Remaining = max(c.Max-o.Used, 0)
			out[i] = o
		} else {
			var tat int64
			if e, ok := s.gcra[c.Key]; ok && e.live(now) {
				tat = e.v
			}
			r, nt := gcra(c.Limit, n, nowUS, tat)
			out[i] = Outcome{Allowed: r.Allowed, Remaining: r.Remaining, RetryAfter: r.RetryAfter, ResetAfter: r.ResetAfter}
			newTAT[i] = nt
		}
		all = all && out[i].Allowed
	}
	if !all {
		// Nothing is consumed: report what each check would leave.
		for i, c := range checks {
			if out[i].Allowed && c.Max > 0 {
				out[i].Used -= n
				out[i].Remaining += n
			} else if out[i].Allowed {
				out[i].Remaining = min(out[i].Remaining+n, c.Limit.burst())
			}
		}
		return false, out, nil
	}
	for i, c := range checks {
		s := m.shard(c.Key)
		if c.Max > 0 {
			start, end := c.Period.Bounds(t)
			s.quota[c.Key] = timed[quotaCount]{v: quotaCount{start: start.UnixNano(), used: out[i].Used}, exp: end.UnixNano()}
		} else {
			s.gcra[c.Key] = timed[int64]{v: newTAT[i], exp: newTAT[i] * 1000}
		}
	}
	return true, out, nil
}

// gcra is the generic cell rate algorithm on microsecond times (the unit
// the Redis script uses too: Lua numbers are doubles, exact up to 2^53 µs,
// some 285 years). tat is the stored theoretical arrival time (0 when
// none). It returns the result and, when allowed, the new tat to store
// (which is also when the entry may be forgotten: from then on the limit is
// fully replenished).
//
// A request of cost n is admitted when, after adding n emission intervals
// to tat, tat is still no more than burst intervals ahead of now. A
// rejected request leaves tat alone, so hammering a limit does not push
// its reset further away.
func gcra(l Limit, n, now, tat int64) (Result, int64) {
	interval := l.intervalMicros()
	burst := l.burst()
	if tat < now {
		tat = now
	}
	newTAT := tat + interval*n
	diff := now - (newTAT - interval*burst)
	if diff < 0 {
		return Result{
			RetryAfter: time.Duration(-diff) * time.Microsecond,
			ResetAfter: time.Duration(tat-now) * time.Microsecond,
		}, tat
	}
	return Result{
		Allowed:    true,
		Remaining:  diff / interval,
		ResetAfter: time.Duration(newTAT-now) * time.Microsecond,
	}, newTAT
}

// Quota counts units against max for the aligned period containing now.
func (m *Memory) Quota(_ context.Context, key string, max int64, p Period, n int64) (QuotaResult, error) {
	if err := checkQuota(max, p, n); err != nil {
		return QuotaResult{}, err
	}
	t := m.now()
	start, end := p.Bounds(t)
	now := t.UnixNano()
	s := m.lock(key, now)
	defer s.mu.Unlock()
	var used int64
	if e, ok := s.quota[key]; ok && e.live(now) && e.v.start == start.UnixNano() {
		used = e.v.used
	}
	res := QuotaResult{Used: used, Reset: end}
	if used+n <= max {
		res.Allowed = true
		res.Used = used + n
		s.quota[key] = timed[quotaCount]{v: quotaCount{start: start.UnixNano(), used: res.Used}, exp: end.UnixNano()}
	}
	res.Remaining = max - res.Used
	if res.Remaining < 0 {
		res.Remaining = 0
	}
	return res, nil
}

// Incr increments a counter that expires ttl after its first increment.
func (m *Memory) Incr(_ context.Context, key string, ttl time.Duration) (int64, error) {
	now := m.now().UnixNano()
	s := m.lock(key, now)
	defer s.mu.Unlock()
	e, ok := s.count[key]
	if !ok || !e.live(now) {
		e = timed[int64]{exp: expiry(now, ttl)}
	}
	e.v++
	s.count[key] = e
	return e.v, nil
}

// AddDistinct adds member to a set that expires ttl after its creation and
// returns the set's size.
func (m *Memory) AddDistinct(_ context.Context, key, member string, ttl time.Duration) (int64, error) {
	now := m.now().UnixNano()
	s := m.lock(key, now)
	defer s.mu.Unlock()
	e, ok := s.sets[key]
	if !ok || !e.live(now) {
		e = timed[map[string]struct{}]{v: map[string]struct{}{}, exp: expiry(now, ttl)}
		s.sets[key] = e
	}
	e.v[member] = struct{}{}
	return int64(len(e.v)), nil
}

// SetNX stores key for ttl when it is absent and reports whether it did.
func (m *Memory) SetNX(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := m.now().UnixNano()
	s := m.lock(key, now)
	defer s.mu.Unlock()
	if e, ok := s.nonce[key]; ok && e.live(now) {
		return false, nil
	}
	s.nonce[key] = timed[struct{}]{exp: expiry(now, ttl)}
	return true, nil
}

// Get returns a copy of the value stored at key.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	now := m.now().UnixNano()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.kv[key]
	if !ok || !e.live(now) {
		return nil, false, nil
	}
	return append([]byte(nil), e.v...), true, nil
}

// Put stores a copy of value at key for ttl (0 keeps it forever).
func (m *Memory) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	now := m.now().UnixNano()
	s := m.lock(key, now)
	defer s.mu.Unlock()
	s.kv[key] = timed[[]byte]{v: append([]byte{}, value...), exp: expiry(now, ttl)}
	return nil
}

// Delete removes key from the key/value store.
func (m *Memory) Delete(_ context.Context, key string) error {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.kv, key)
	return nil
}

// expiry is now+ttl in ns, or 0 (never) when ttl <= 0.
func expiry(now int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return now + int64(ttl)
}

// Decide stores d until d.Until.
func (m *Memory) Decide(_ context.Context, d Decision) error {
	now := m.now()
	if !d.Until.After(now) {
		return nil
	}
	d.Until = time.UnixMicro(d.Until.UnixMicro()).UTC()
	d.Created = time.UnixMicro(d.Created.UnixMicro()).UTC()
	m.decMu.Lock()
	defer m.decMu.Unlock()
	m.sweepDecisions(now)
	m.decisions[d.Key()] = d
	return nil
}

// Lookup returns the active decisions among keys and on ranges holding ip.
func (m *Memory) Lookup(_ context.Context, keys []string, ip netip.Addr) ([]Decision, error) {
	now := m.now()
	m.decMu.Lock()
	defer m.decMu.Unlock()
	var out []Decision
	for _, k := range keys {
		if d, ok := m.decisions[k]; ok && now.Before(d.Until) {
			out = append(out, d)
		}
	}
	if ip.IsValid() {
		for _, d := range m.decisions {
			if d.Scope == ScopeRange && now.Before(d.Until) && rangeContains(d.Value, ip) {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// Revoke ends the decision on key.
func (m *Memory) Revoke(_ context.Context, key string) (bool, error) {
	now := m.now()
	m.decMu.Lock()
	defer m.decMu.Unlock()
	d, ok := m.decisions[key]
	delete(m.decisions, key)
	return ok && now.Before(d.Until), nil
}

// Decisions lists the active decisions, soonest to end first.
func (m *Memory) Decisions(_ context.Context) ([]Decision, error) {
	now := m.now()
	m.decMu.Lock()
	defer m.decMu.Unlock()
	m.sweepDecisions(now)
	out := make([]Decision, 0, len(m.decisions))
	for _, d := range m.decisions {
		out = append(out, d)
	}
	sortDecisions(out)
	return out, nil
}

func (m *Memory) sweepDecisions(now time.Time) {
	for k, d := range m.decisions {
		if !now.Before(d.Until) {
			delete(m.decisions, k)
		}
	}
}

// window is one sliding window: members with when they were last seen,
// refs with when they were added (µs since epoch, as in Redis).
type window struct {
	members map[string]int64
	refs    []seen
	exp     int64
}

type seen struct {
	v string
	t int64
}

type meter struct {
	start, count, buckets int64
	base                  float64
	exp                   int64
}

// Sight adds each sighting to its window.
func (m *Memory) Sight(_ context.Context, ss []Sighting) ([]Window, error) {
	if err := checkSightings(ss); err != nil {
		return nil, err
	}
	now := m.now().UnixMicro()
	m.sightMu.Lock()
	defer m.sightMu.Unlock()
	m.sweepSightings(now)
	out := make([]Window, len(ss))
	for i, s := range ss {
		w := m.windows[s.Key]
		if w == nil {
			w = &window{members: map[string]int64{}}
			m.windows[s.Key] = w
		}
		from := now - s.Window.Microseconds()
		w.members[s.Member] = now
		for k, t := range w.members {
			if t <= from {
				delete(w.members, k)
			}
		}
		if len(w.members) > s.Keep {
			// Drop the oldest (ties by member, as Redis orders them).
			all := make([]seen, 0, len(w.members))
			for k, t := range w.members {
				all = append(all, seen{k, t})
			}
			slices.SortFunc(all, func(a, b seen) int {
				if a.t != b.t {
					return int(a.t - b.t)
				}
				return strings.Compare(a.v, b.v)
			})
			for _, e := range all[:len(all)-s.Keep] {
				delete(w.members, e.v)
			}
		}
		if s.Ref != "" && s.Ref != s.Member {
			w.refs = append(w.refs, seen{s.Ref, now})
		}
		keepRefs := w.refs[:0]
		for _, r := range w.refs {
			if r.t > from {
				keepRefs = append(keepRefs, r)
			}
		}
		w.refs = keepRefs
		if len(w.refs) > s.Keep {
			w.refs = append(w.refs[:0], w.refs[len(w.refs)-s.Keep:]...)
		}
		w.exp = now + s.Window.Microseconds()
		win := Window{Count: int64(len(w.members))}
		if s.Refs > 0 {
			win.Refs = newestRefs(w, s)
		}
		if s.Members {
			for k := range w.members {
				win.Members = append(win.Members, k)
			}
		}
		out[i] = win
	}
	return out, nil
}

// newestRefs returns up to s.Refs refs of w, newest first: its refs, or
// its members when members are their own evidence.
func newestRefs(w *window, s Sighting) []string {
	var all []seen
	if s.Ref != "" && s.Ref != s.Member {
		all = append(all, w.refs...)
	} else {
		for k, t := range w.members {
			all = append(all, seen{k, t})
		}
	}
	slices.SortStableFunc(all, func(a, b seen) int {
		if a.t != b.t {
			return int(b.t - a.t)
		}
		return strings.Compare(b.v, a.v)
	})
	if len(all) > s.Refs {
		all = all[:s.Refs]
	}
	out := make([]string, len(all))
	for i, e := range all {
		out[i] = e.v
	}
	return out
}

// Meter counts one event for key against its baseline.
func (m *Memory) Meter(_ context.Context, key string, bucket time.Duration, alpha float64, ttl time.Duration) (Meter, error) {
	if err := checkMeter(bucket, alpha); err != nil {
		return Meter{}, err
	}
	t := m.now()
	now := t.UnixMicro()
	b := bucket.Microseconds()
	start := now - now%b
	m.sightMu.Lock()
	defer m.sightMu.Unlock()
	m.sweepSightings(now)
	mt := m.meters[key]
	if mt == nil || (mt.exp != 0 && mt.exp <= now) {
		mt = &meter{start: start}
		m.meters[key] = mt
	}
	if mt.start < start {
		mt.base, mt.buckets = fold(mt.base, mt.buckets, mt.count, mt.start, start, b, alpha)
		mt.start, mt.count = start, 0
	}
	mt.count++
	mt.exp = 0
	if ttl > 0 {
		mt.exp = now + ttl.Microseconds()
	}
	return Meter{Count: mt.count, Baseline: mt.base, Buckets: mt.buckets, Start: time.UnixMicro(mt.start).UTC()}, nil
}

// sweepSightings drops expired windows and meters every sweepEvery calls
// (now in µs).
func (m *Memory) sweepSightings(now int64) {
	m.writes++
	if m.writes < sweepEvery {
		return
	}
	m.writes = 0
	for k, w := range m.windows {
		if w.exp <= now {
			delete(m.windows, k)
		}
	}
	for k, mt := range m.meters {
		if mt.exp != 0 && mt.exp <= now {
			delete(m.meters, k)
		}
	}
}
