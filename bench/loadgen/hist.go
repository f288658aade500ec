package main

import (
	"math/bits"
	"time"
)

// The histogram is HDR-like: values (nanoseconds) below 256 have their own
// bucket; above, each power of two is split into 128 buckets, so a bucket's
// width is under 1/128 of its value (relative error < 0.8%). Memory is fixed
// whatever the number of samples.
const (
	subBits   = 7
	subCount  = 1 << subBits                     // buckets per power of two
	maxTrack  = uint64(1) << 40                  // ~18 minutes; longer values are clamped
	bucketLen = (40-subBits)*subCount + subCount // largest index + 1
)

// histogram counts latencies. It is not safe for concurrent use: each worker
// has its own and they are merged at the end.
type histogram struct {
	counts [bucketLen]uint64
	total  uint64
}

func bucketOf(d time.Duration) int {
	u := uint64(max(d, 0))
	if u >= maxTrack {
		u = maxTrack - 1
	}
	shift := max(bits.Len64(u)-(subBits+1), 0)
	return shift*subCount + int(u>>shift)
}

// bucketValue returns the middle of bucket i, in nanoseconds.
func bucketValue(i int) time.Duration {
	if i < 2*subCount {
		return time.Duration(i)
	}
	shift := i/subCount - 1
	m := uint64(i - shift*subCount)
	lower := m << shift
	return time.Duration(lower + (uint64(1)<<shift)/2)
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(d)]++
	h.total++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the value below which a fraction q (0..1) of the
// samples fall, or 0 without samples.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return bucketValue(i)
		}
	}
	return bucketValue(bucketLen - 1)
}
