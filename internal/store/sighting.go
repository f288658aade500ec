package store

import (
	"context"
	"fmt"
	"time"
)

// Sighting is one thing a detector saw: Member under Key, with Ref (a
// request id) kept as evidence.
type Sighting struct {
	// Key names the window ("detect:recon:ip:203.0.113.7").
	Key string
	// Member is what is counted. Counting distinct things (accounts,
	// clients, paths) uses the thing; counting occurrences uses something
	// unique per occurrence (the request id).
	Member string
	// Ref is the evidence kept for this sighting (a request id). Empty
	// means Member is its own evidence.
	Ref string
	// Window is how far back sightings count (a sliding window). Must be
	// > 0.
	Window time.Duration
	// Keep is the most members kept (the newest); Count never exceeds it,
	// which bounds the memory a flood can take. Must be > 0.
	Keep int
	// Refs is the most refs returned (the newest). Zero returns none.
	Refs int
	// Members asks for the members in the window to be returned.
	Members bool
}

// Window is a sighting's window after it was added.
type Window struct {
	// Count is how many distinct members were seen within the window
	// (capped at Keep).
	Count int64
	// Refs are the newest evidence refs within the window, newest first.
	Refs []string
	// Members are the window's members (when asked), in no set order.
	Members []string
}

// Meter is a key's event count in the current bucket against its own
// moving baseline.
type Meter struct {
	// Count is the number of events in the current bucket, this one
	// included.
	Count int64
	// Baseline is the exponentially weighted moving average of the counts
	// of the key's past buckets (empty buckets count as zero).
	Baseline float64
	// Buckets is how many past buckets the baseline has folded in (zero
	// while the key is in its first bucket).
	Buckets int64
	// Start is when the current bucket began (buckets are aligned to
	// multiples of the bucket length since the Unix epoch).
	Start time.Time
}

// Sightings is what behavioural detectors count in: sliding windows of
// distinct members with evidence, and per-key moving baselines.
type Sightings interface {
	// Sight adds every sighting to its window and returns the windows as
	// they are after the additions, in order. Each is atomic; nodes sharing
	// a store count into the same windows.
	Sight(ctx context.Context, s []Sighting) ([]Window, error)
	// Meter counts one event for key in the current bucket (of length
	// bucket) and returns the bucket's count and the key's baseline, an
	// EWMA with weight alpha (0 < alpha <= 1) for the newest bucket. A key
	// with no event for ttl is forgotten.
	Meter(ctx context.Context, key string, bucket time.Duration, alpha float64, ttl time.Duration) (Meter, error)
}

func checkSightings(ss []Sighting) error {
	for i, s := range ss {
		if s.Window <= 0 || s.Keep <= 0 || s.Refs < 0 {
			return fmt.Errorf("sighting %d: window %v, keep %d, refs %d: window and keep must be > 0", i, s.Window, s.Keep, s.Refs)
		}
	}
	return nil
}

func checkMeter(bucket time.Duration, alpha float64) error {
	if bucket < time.Millisecond || alpha <= 0 || alpha > 1 {
		return fmt.Errorf("meter bucket %v, alpha %v: bucket must be >= 1ms and 0 < alpha <= 1", bucket, alpha)
	}
	return nil
}

// fold returns the baseline after the buckets from start (whose count was
// c) up to next: c folded in, then one zero per empty bucket between.
// Past 64 empty buckets the baseline is as good as forgotten.
func fold(base float64, n, c int64, start, next, bucket int64, alpha float64) (float64, int64) {
	k := (next - start) / bucket
	if k <= 0 {
		return base, n
	}
	if n == 0 {
		base = float64(c)
	} else {
		base = alpha*float64(c) + (1-alpha)*base
	}
	n++
	for i := int64(1); i < k && i <= 64; i++ {
		base *= 1 - alpha
	}
	n += k - 1
	return base, n
}
