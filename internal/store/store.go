// Package store is the state Portcullis nodes share: rate limits (GCRA),
// quotas, decisions (bans and throttles), counters, distinct-member sets,
// detectors' sliding windows and baselines, replay nonces and small
// key/value records. The memory store serves a single node and needs
// nothing; the Redis store is shared by every node of a fleet. Every
// operation is atomic in both.
//
// Keys are namespaced by the caller ("ratelimit:api:ip:1.2.3.4"); the store
// adds its own prefix.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limit is a GCRA limit: Rate events per Period, with bursts up to Burst.
type Limit struct {
	// Rate is how many events are allowed per Period. Must be > 0.
	Rate int64
	// Period is the window Rate is measured over (1s, 1m, 1h).
	Period time.Duration
	// Burst is how many events may arrive at once. Zero means Rate.
	Burst int64
}

// Result is the outcome of Allow.
type Result struct {
	// Allowed reports whether the events were admitted (and consumed).
	Allowed bool
	// Remaining is how many more events would be admitted right now.
	Remaining int64
	// RetryAfter is how long until the request would be admitted; zero when
	// Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the limit is fully replenished.
	ResetAfter time.Duration
}

// QuotaResult is the outcome of Quota.
type QuotaResult struct {
	// Allowed reports whether the units were admitted (and counted).
	Allowed bool
	// Used is the count in the current period after this call.
	Used int64
	// Remaining is Max - Used (never negative).
	Remaining int64
	// Reset is when the current period ends.
	Reset time.Time
}

// Check is one entry of an AllowAll call: a GCRA Limit on Key, or, when
// Max is above zero, a quota of Max units per Period on Key.
type Check struct {
	// Key is the caller's key (the store adds its prefix).
	Key string
	// Limit is the GCRA limit; ignored when Max > 0.
	Limit Limit
	// Max is the quota per Period; zero means Limit applies instead.
	Max int64
	// Period is the quota period (Day or Month); used when Max > 0.
	Period Period
}

// Outcome is the result of one Check.
type Outcome struct {
	// Allowed reports whether this check alone would admit the events.
	Allowed bool
	// Remaining is how many more events this check admits after the call
	// (a quota's Max-Used; a limit's burst left).
	Remaining int64
	// RetryAfter is how long until this check would admit the events;
	// zero when Allowed. For a quota it is the time to the period's end.
	RetryAfter time.Duration
	// ResetAfter is how long until the limit is fully replenished, or the
	// quota period ends.
	ResetAfter time.Duration
	// Used is a quota's count in the current period (0 for a limit).
	Used int64
}

// ErrUnavailable wraps errors that mean the store cannot be reached (Redis
// down). Callers decide whether to fail open, fall back or fail closed.
var ErrUnavailable = errors.New("store unavailable")

// The store's contract is split into the roles its consumers play, so that
// each takes only what it uses (the rate limiter a Limiter, the ban stages
// Decisions and Counter, detectors Sightings, API keys a KV). Store is all of them; Memory, Redis and
// Fallback implement it and pass one contract test (contract_test.go).

// Limiter admits events against GCRA limits and quotas.
type Limiter interface {
	// Allow checks a GCRA limit for key and, only when allowed, consumes n
	// events. A rejected request consumes nothing. It returns an error for
	// a limit with Rate or Period <= 0 or for n < 1.
	Allow(ctx context.Context, key string, l Limit, n int64) (Result, error)

	// AllowAll checks every limit and quota in checks together and, only
	// when all of them admit n events, consumes n from each; otherwise it
	// consumes nothing. It is atomic: a request that one limit rejects
	// never uses up another limit's tokens or a quota. Outcomes are in
	// checks order.
	AllowAll(ctx context.Context, checks []Check, n int64) (bool, []Outcome, error)

	// Quota counts n units against max for the period that contains now
	// (periods are aligned: a day starts at 00:00 UTC, a month on the 1st).
	// Rejected units are not counted.
	Quota(ctx context.Context, key string, max int64, period Period, n int64) (QuotaResult, error)
}

// Counter counts events and distinct members in expiring windows.
type Counter interface {
	// Incr increments a counter that expires ttl after it was created and
	// returns the new value (fixed window counters, e.g. events per client).
	// A ttl <= 0 keeps the counter forever.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)

	// AddDistinct adds member to a set that expires ttl after it was created
	// and returns the number of distinct members (BOLA enumeration). A
	// ttl <= 0 keeps the set forever.
	AddDistinct(ctx context.Context, key, member string, ttl time.Duration) (int64, error)
}

// Nonces remembers keys once (replay protection).
type Nonces interface {
	// SetNX stores key for ttl when it is absent and reports whether it did
	// (false means the key was already there: a replayed nonce). A ttl <= 0
	// keeps the key forever.
	SetNX(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// KV is a small key/value store (API key records).
type KV interface {
	// Get returns (nil, false, nil) when key is absent.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Put stores value under key; ttl 0 keeps it forever.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key.
	Delete(ctx context.Context, key string) error
}

// Store is the whole shared-state contract: every role, plus its name and
// Close. Implementations: Memory, Redis and Fallback.
type Store interface {
	// Name is "memory" or "redis".
	Name() string
	Limiter
	Counter
	Nonces
	Decisions
	Sightings
	KV
	// Close releases connections.
	Close() error
}

// Period is a quota period.
type Period string

// Quota periods.
const (
	Day   Period = "day"
	Month Period = "month"
)

// Bounds returns the start and end of the period that contains t, in UTC: a
// day runs from 00:00 to 00:00, a month from the 1st at 00:00 to the 1st of
// the next month. An unknown period is treated as a day.
func (p Period) Bounds(t time.Time) (start, end time.Time) {
	t = t.UTC()
	switch p {
	case Month:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	default:
		start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	}
}

// Valid reports whether p is a known period.
func (p Period) Valid() bool { return p == Day || p == Month }

// burst is the effective burst: Burst, or Rate when Burst is zero.
func (l Limit) burst() int64 {
	if l.Burst > 0 {
		return l.Burst
	}
	return l.Rate
}

// intervalMicros is the GCRA emission interval, Period/Rate, in whole
// microseconds (at least one).
func (l Limit) intervalMicros() int64 {
	iv := l.Period.Microseconds() / l.Rate
	if iv < 1 {
		iv = 1
	}
	return iv
}

// check rejects limits and costs the algorithm cannot work with.
func (l Limit) check(n int64) error {
	switch {
	case l.Rate <= 0:
		return fmt.Errorf("limit rate %d: must be > 0", l.Rate)
	case l.Period <= 0:
		return fmt.Errorf("limit period %v: must be > 0", l.Period)
	case l.Burst < 0:
		return fmt.Errorf("limit burst %d: must be >= 0", l.Burst)
	case n < 1:
		return fmt.Errorf("limit cost %d: must be >= 1", n)
	}
	return nil
}

func checkAll(checks []Check, n int64) error {
	for i, c := range checks {
		var err error
		if c.Max > 0 {
			err = checkQuota(c.Max, c.Period, n)
		} else {
			err = c.Limit.check(n)
		}
		if err != nil {
			return fmt.Errorf("check %d: %w", i, err)
		}
	}
	return nil
}

func checkQuota(max int64, p Period, n int64) error {
	switch {
	case max <= 0:
		return fmt.Errorf("quota max %d: must be > 0", max)
	case !p.Valid():
		return fmt.Errorf("quota period %q: must be day or month", p)
	case n < 1:
		return fmt.Errorf("quota cost %d: must be >= 1", n)
	}
	return nil
}
