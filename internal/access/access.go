// Package access keeps the recent access records of one node in memory,
// bounded, so that the dashboard can show the record behind any event
// (by request id), and counts every exchange into time buckets for the
// dashboard's charts (allowed and denied by stage and status class).
package access

import (
	"sort"
	"sync"
	"time"
)

// Record is one exchange's access record, as the dashboard shows it. The
// access log line carries the same fields.
type Record struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	ClientIP  string    `json:"client_ip,omitempty"`
	Peer      string    `json:"peer,omitempty"`
	Method    string    `json:"method"`
	Scheme    string    `json:"scheme,omitempty"`
	Proto     string    `json:"proto,omitempty"`
	Host      string    `json:"host,omitempty"`
	Path      string    `json:"path"`
	Query     string    `json:"query,omitempty"` // redacted
	API       string    `json:"api,omitempty"`
	Operation string    `json:"operation,omitempty"`
	Status    int       `json:"status"`
	BytesIn   int64     `json:"bytes_in"`
	BytesOut  int64     `json:"bytes_out"`
	LatencyMS float64   `json:"latency_ms"`
	Decision  string    `json:"decision"`
	Stage     string    `json:"stage,omitempty"`
	Rules     []string  `json:"rules,omitempty"`
	Principal string    `json:"principal,omitempty"`
	Upstream  string    `json:"upstream,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	TraceID   string    `json:"trace_id,omitempty"`
}

// Defaults of the charts' time series.
const (
	// BucketWidth is the width of one chart bucket.
	BucketWidth = 10 * time.Second
	// Buckets is how many buckets are kept (one hour).
	Buckets = 360
)

// Ring holds the last N records and the per-bucket counts. It is safe for
// concurrent use; Add costs one lock and no allocation beyond the record.
type Ring struct {
	mu    sync.Mutex
	recs  []Record
	next  int
	full  bool
	byID  map[string]int // request id → index in recs
	bkts  [Buckets]bucket
	total uint64
}

// bucket counts one BucketWidth of exchanges by series key.
type bucket struct {
	start  int64 // unix seconds of the bucket start; 0 = unused
	counts map[Series]uint64
}

// Series is one line of a chart: a decision ("allow", "deny", "error",
// "malformed"), the stage that decided (empty for allowed requests) and a
// status class ("2xx" ... "5xx").
type Series struct {
	Decision string `json:"decision"`
	Stage    string `json:"stage,omitempty"`
	Class    string `json:"class"`
}

// New returns a ring of n records (at least 1).
func New(n int) *Ring {
	n = max(n, 1)
	return &Ring{recs: make([]Record, n), byID: make(map[string]int, n)}
}

// Add stores rec, evicting the oldest record when full, and counts it.
func (r *Ring) Add(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.recs[r.next].RequestID; old != "" && r.byID[old] == r.next {
		delete(r.byID, old)
	}
	r.recs[r.next] = rec
	r.byID[rec.RequestID] = r.next
	r.next++
	if r.next == len(r.recs) {
		r.next, r.full = 0, true
	}
	r.total++
	sec := rec.Time.Unix()
	start := sec - sec%int64(BucketWidth/time.Second)
	b := &r.bkts[(start/int64(BucketWidth/time.Second))%Buckets]
	if b.start != start {
		b.start = start
		if b.counts == nil {
			b.counts = map[Series]uint64{}
		} else {
			clear(b.counts)
		}
	}
	b.counts[Series{Decision: rec.Decision, Stage: rec.Stage, Class: Class(rec.Status)}]++
}

// Class returns "1xx" ... "5xx" for a status.
func Class(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return classes[status/100-1] // every request's record: no string built
}

var classes = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Get returns the record of a request id.
func (r *Ring) Get(id string) (Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.byID[id]
	if !ok {
		return Record{}, false
	}
	return r.recs[i], true
}

// Recent returns up to n records, newest first, that keep returns true
// for (nil keeps all).
func (r *Ring) Recent(n int, keep func(*Record) bool) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []Record{}
	size := r.next
	if r.full {
		size = len(r.recs)
	}
	for k := 0; k < size && len(out) < n; k++ {
		i := (r.next - 1 - k + len(r.recs)) % len(r.recs)
		if keep == nil || keep(&r.recs[i]) {
			out = append(out, r.recs[i])
		}
	}
	return out
}

// Point is one bucket of one series.
type Point struct {
	Start time.Time `json:"start"`
	Count uint64    `json:"count"`
}

// Timeline is the chart data: for each series, its points in time order
// (buckets with no exchange of that series are left out).
type Timeline struct {
	Width  string           `json:"width"`
	From   time.Time        `json:"from"`
	To     time.Time        `json:"to"`
	Series []TimelineSeries `json:"series"`
}

// TimelineSeries is one series and its points.
type TimelineSeries struct {
	Series
	Total  uint64  `json:"total"`
	Points []Point `json:"points"`
}

// Timeline returns the buckets from since up to now.
func (r *Ring) Timeline(since, now time.Time) Timeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := int64(BucketWidth / time.Second)
	from := since.Unix() - since.Unix()%w
	to := now.Unix()
	m := map[Series]*TimelineSeries{}
	for i := range r.bkts {
		b := &r.bkts[i]
		if b.start == 0 || b.start < from || b.start > to {
			continue
		}
		for s, n := range b.counts {
			ts := m[s]
			if ts == nil {
				ts = &TimelineSeries{Series: s}
				m[s] = ts
			}
			ts.Points = append(ts.Points, Point{Start: time.Unix(b.start, 0).UTC(), Count: n})
			ts.Total += n
		}
	}
	tl := Timeline{Width: BucketWidth.String(), From: time.Unix(from, 0).UTC(), To: now.UTC(), Series: []TimelineSeries{}}
	for _, ts := range m {
		sort.Slice(ts.Points, func(i, j int) bool { return ts.Points[i].Start.Before(ts.Points[j].Start) })
		tl.Series = append(tl.Series, *ts)
	}
	sort.Slice(tl.Series, func(i, j int) bool {
		a, b := tl.Series[i], tl.Series[j]
		if a.Decision != b.Decision {
			return a.Decision < b.Decision
		}
		if a.Stage != b.Stage {
			return a.Stage < b.Stage
		}
		return a.Class < b.Class
	})
	return tl
}

// Total returns how many records were ever added.
func (r *Ring) Total() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}
