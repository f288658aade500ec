package store

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// t0 is one second and a half before a day (and month) boundary.
var t0 = time.Date(2025, 3, 31, 23, 59, 58, 500_000_000, time.UTC)

// opener opens a fresh, empty store on the given clock.
type opener func(t *testing.T, now func() time.Time) Store

// runContract runs the behaviour every Store must have. Both Memory and
// Redis run it, so the two implementations cannot drift apart.
func runContract(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("gcra burst then steady rate", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		l := Limit{Rate: 10, Period: time.Second, Burst: 20}
		for i := int64(0); i < 20; i++ {
			r, err := s.Allow(ctx, "k", l, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := Result{Allowed: true, Remaining: 19 - i, ResetAfter: time.Duration(i+1) * 100 * time.Millisecond}
			if r != want {
				t.Fatalf("request %d: got %+v, want %+v", i, r, want)
			}
		}
		r, _ := s.Allow(ctx, "k", l, 1)
		want := Result{Allowed: false, Remaining: 0, RetryAfter: 100 * time.Millisecond, ResetAfter: 2 * time.Second}
		if r != want {
			t.Fatalf("request 21: got %+v, want %+v", r, want)
		}
		// Steady state: one request per emission interval, never two.
		for i := 0; i < 50; i++ {
			c.Add(100 * time.Millisecond)
			if r, _ := s.Allow(ctx, "k", l, 1); !r.Allowed || r.Remaining != 0 {
				t.Fatalf("steady %d: got %+v, want allowed with 0 remaining", i, r)
			}
			if r, _ := s.Allow(ctx, "k", l, 1); r.Allowed {
				t.Fatalf("steady %d second: got allowed, want rejected", i)
			}
		}
		// Half an interval later: retry after exactly the other half.
		c.Add(50 * time.Millisecond)
		if r, _ := s.Allow(ctx, "k", l, 1); r.Allowed || r.RetryAfter != 50*time.Millisecond {
			t.Fatalf("half interval: got %+v, want rejected with RetryAfter 50ms", r)
		}
	})

	t.Run("rejected requests do not consume", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		l := Limit{Rate: 1, Period: time.Second}
		if r, _ := s.Allow(ctx, "k", l, 1); !r.Allowed {
			t.Fatalf("first: got %+v, want allowed", r)
		}
		for i := 0; i < 100; i++ {
			c.Add(9 * time.Millisecond)
			if r, _ := s.Allow(ctx, "k", l, 1); r.Allowed {
				t.Fatalf("hammer %d: got allowed, want rejected", i)
			}
		}
		c.Add(100 * time.Millisecond) // 1s after the first request
		if r, _ := s.Allow(ctx, "k", l, 1); !r.Allowed {
			t.Fatalf("after one period: got %+v, want allowed", r)
		}
	})

	t.Run("gcra cost and fractional interval", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		l := Limit{Rate: 3, Period: time.Second, Burst: 3}
		if r, _ := s.Allow(ctx, "k", l, 3); !r.Allowed || r.Remaining != 0 {
			t.Fatalf("cost 3: got %+v, want allowed with 0 remaining", r)
		}
		if r, _ := s.Allow(ctx, "k", l, 4); r.Allowed {
			t.Fatalf("cost 4 > burst: got allowed, want rejected")
		}
		c.Add(time.Second)
		if r, _ := s.Allow(ctx, "k", l, 1); !r.Allowed || r.Remaining != 2 {
			t.Fatalf("after a second: got %+v, want allowed with 2 remaining", r)
		}
	})

	t.Run("gcra keys are independent", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		l := Limit{Rate: 1, Period: time.Minute}
		for _, k := range []string{"a", "b", "c"} {
			if r, _ := s.Allow(ctx, k, l, 1); !r.Allowed {
				t.Fatalf("key %s: got rejected, want allowed", k)
			}
		}
	})

	t.Run("invalid limits", func(t *testing.T) {
		s := open(t, newClock(t0).Now)
		for _, tc := range []struct {
			l Limit
			n int64
		}{{Limit{Rate: 0, Period: time.Second}, 1}, {Limit{Rate: 1}, 1}, {Limit{Rate: 1, Period: time.Second}, 0}} {
			if _, err := s.Allow(ctx, "k", tc.l, tc.n); err == nil {
				t.Errorf("limit %+v n %d: got nil error, want one", tc.l, tc.n)
			}
		}
	})

	t.Run("quota rolls over at the period boundary", func(t *testing.T) {
		for _, tc := range []struct {
			period Period
			reset  time.Time
		}{
			{Day, time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)},
			{Month, time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)},
		} {
			t.Run(string(tc.period), func(t *testing.T) {
				c := newClock(t0)
				s := open(t, c.Now)
				for i := int64(1); i <= 3; i++ {
					r, err := s.Quota(ctx, "q", 3, tc.period, 1)
					if err != nil {
						t.Fatal(err)
					}
					want := QuotaResult{Allowed: true, Used: i, Remaining: 3 - i, Reset: tc.reset}
					if !r.Reset.Equal(want.Reset) || r.Allowed != want.Allowed || r.Used != want.Used || r.Remaining != want.Remaining {
						t.Fatalf("unit %d: got %+v, want %+v", i, r, want)
					}
				}
				r, _ := s.Quota(ctx, "q", 3, tc.period, 1)
				if r.Allowed || r.Used != 3 || r.Remaining != 0 {
					t.Fatalf("over quota: got %+v, want rejected with used 3", r)
				}
				c.Add(time.Second) // 23:59:59.5: same period
				if r, _ := s.Quota(ctx, "q", 3, tc.period, 1); r.Allowed {
					t.Fatalf("before boundary: got allowed, want rejected")
				}
				c.Add(500 * time.Millisecond) // 00:00:00.000 exactly
				r, _ = s.Quota(ctx, "q", 3, tc.period, 1)
				if !r.Allowed || r.Used != 1 || r.Remaining != 2 {
					t.Fatalf("at boundary: got %+v, want allowed with used 1", r)
				}
			})
		}
	})

	t.Run("quota rejected units are not counted", func(t *testing.T) {
		s := open(t, newClock(t0).Now)
		if r, _ := s.Quota(ctx, "q", 5, Day, 4); !r.Allowed {
			t.Fatalf("4 of 5: got %+v, want allowed", r)
		}
		if r, _ := s.Quota(ctx, "q", 5, Day, 2); r.Allowed || r.Used != 4 {
			t.Fatalf("2 more: got %+v, want rejected with used 4", r)
		}
		if r, _ := s.Quota(ctx, "q", 5, Day, 1); !r.Allowed || r.Used != 5 {
			t.Fatalf("1 more: got %+v, want allowed with used 5", r)
		}
	})

	t.Run("allow all consumes nothing unless every check admits", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		checks := []Check{
			{Key: "ip", Limit: Limit{Rate: 5, Period: time.Second}},
			{Key: "user", Max: 2, Period: Day},
		}
		for i := int64(1); i <= 2; i++ {
			ok, out, err := s.AllowAll(ctx, checks, 1)
			if err != nil || !ok {
				t.Fatalf("call %d: got %v, %v", i, ok, err)
			}
			want := []Outcome{
				{Allowed: true, Remaining: 5 - i, ResetAfter: time.Duration(i) * 200 * time.Millisecond},
				{Allowed: true, Remaining: 2 - i, Used: i, ResetAfter: 1500 * time.Millisecond},
			}
			if out[0] != want[0] || out[1] != want[1] {
				t.Fatalf("call %d: got %+v, want %+v", i, out, want)
			}
		}
		ok, out, _ := s.AllowAll(ctx, checks, 1)
		want := []Outcome{
			{Allowed: true, Remaining: 3, ResetAfter: 600 * time.Millisecond},
			{Allowed: false, Remaining: 0, Used: 2, RetryAfter: 1500 * time.Millisecond, ResetAfter: 1500 * time.Millisecond},
		}
		if ok || out[0] != want[0] || out[1] != want[1] {
			t.Fatalf("over quota: got %v %+v, want false %+v", ok, out, want)
		}
		// The limit was not consumed by the rejected call.
		if r, _ := s.Allow(ctx, "ip", checks[0].Limit, 1); r.Remaining != 2 {
			t.Fatalf("limit after rejected call: got remaining %d, want 2", r.Remaining)
		}
		// A limit rejecting leaves the quota alone.
		s2 := open(t, c.Now)
		tight := []Check{{Key: "ip", Limit: Limit{Rate: 1, Period: time.Hour}}, {Key: "user", Max: 10, Period: Month}}
		if ok, _, _ := s2.AllowAll(ctx, tight, 1); !ok {
			t.Fatalf("first tight call: got rejected")
		}
		if ok, out, _ := s2.AllowAll(ctx, tight, 1); ok || out[0].Allowed || out[1].Used != 1 || out[0].RetryAfter != time.Hour {
			t.Fatalf("second tight call: got %v %+v, want rejected by the limit with quota used 1", ok, out)
		}
	})

	t.Run("incr expires ttl after creation", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		for i := int64(1); i <= 3; i++ {
			got, err := s.Incr(ctx, "n", 10*time.Second)
			if err != nil || got != i {
				t.Fatalf("incr %d: got %d, %v, want %d", i, got, err, i)
			}
			c.Add(3 * time.Second)
		}
		c.Add(time.Second) // 10s after creation
		if got, _ := s.Incr(ctx, "n", 10*time.Second); got != 1 {
			t.Fatalf("after ttl: got %d, want 1", got)
		}
	})

	t.Run("add distinct", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		for i, tc := range []struct {
			member string
			want   int64
		}{{"1", 1}, {"2", 2}, {"1", 2}, {"3", 3}} {
			got, err := s.AddDistinct(ctx, "d", tc.member, time.Minute)
			if err != nil || got != tc.want {
				t.Fatalf("add %d (%s): got %d, %v, want %d", i, tc.member, got, err, tc.want)
			}
		}
		c.Add(time.Minute)
		if got, _ := s.AddDistinct(ctx, "d", "9", time.Minute); got != 1 {
			t.Fatalf("after ttl: got %d, want 1", got)
		}
	})

	t.Run("setnx", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		for i, want := range []bool{true, false, false} {
			got, err := s.SetNX(ctx, "nonce", time.Minute)
			if err != nil || got != want {
				t.Fatalf("setnx %d: got %v, %v, want %v", i, got, err, want)
			}
		}
		c.Add(time.Minute)
		if got, _ := s.SetNX(ctx, "nonce", time.Minute); !got {
			t.Fatalf("after ttl: got false, want true")
		}
	})

	t.Run("kv", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		if v, ok, err := s.Get(ctx, "a"); v != nil || ok || err != nil {
			t.Fatalf("absent: got %q, %v, %v, want nil, false, nil", v, ok, err)
		}
		if err := s.Put(ctx, "a", []byte("one"), 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "b", []byte("two"), time.Second); err != nil {
			t.Fatal(err)
		}
		if v, ok, _ := s.Get(ctx, "a"); !ok || string(v) != "one" {
			t.Fatalf("a: got %q, %v, want one", v, ok)
		}
		c.Add(time.Second)
		if _, ok, _ := s.Get(ctx, "b"); ok {
			t.Fatalf("b after ttl: got present, want absent")
		}
		if err := s.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Get(ctx, "a"); ok {
			t.Fatalf("a after delete: got present, want absent")
		}
		if v, ok, _ := s.Get(ctx, "a"); ok || v != nil {
			t.Fatalf("a: got %q, want nil", v)
		}
	})

	t.Run("decisions", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		d1 := Decision{Scope: ScopeIP, Value: "1.2.3.4", Type: TypeBan, Until: t0.Add(time.Minute), Created: t0,
			Reason: "auth failures", Origin: "bans", Strikes: 1, ID: "e1"}
		d2 := Decision{Scope: ScopePrincipal, Value: "mallory", Type: TypeThrottle, Until: t0.Add(2 * time.Minute), Created: t0, Origin: "cli"}
		d3 := Decision{Scope: ScopeRange, Value: "198.51.100.0/24", Type: TypeBan, Until: t0.Add(3 * time.Minute), Created: t0, Origin: "admin"}
		for _, d := range []Decision{d1, d2, d3} {
			if err := s.Decide(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		// An already ended decision is not stored.
		if err := s.Decide(ctx, Decision{Scope: ScopeIP, Value: "9.9.9.9", Type: TypeBan, Until: t0}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Lookup(ctx, []string{"ip:1.2.3.4", "principal:mallory", "ip:9.9.9.9"}, netip.Addr{})
		if err != nil || len(got) != 2 || got[0] != d1 || got[1] != d2 {
			t.Fatalf("lookup: got %+v, %v, want d1 and d2 exactly", got, err)
		}
		got, _ = s.Lookup(ctx, []string{"ip:198.51.100.9"}, netip.MustParseAddr("198.51.100.9"))
		if len(got) != 1 || got[0] != d3 {
			t.Fatalf("lookup in range: got %+v, want d3", got)
		}
		if got, _ := s.Lookup(ctx, []string{"ip:198.51.101.9"}, netip.MustParseAddr("198.51.101.9")); len(got) != 0 {
			t.Fatalf("lookup outside the range: got %+v, want none", got)
		}
		list, err := s.Decisions(ctx)
		if err != nil || len(list) != 3 || list[0] != d1 || list[1] != d2 || list[2] != d3 {
			t.Fatalf("decisions: got %+v, %v", list, err)
		}
		c.Add(time.Minute) // d1 ends
		if got, _ := s.Lookup(ctx, []string{"ip:1.2.3.4"}, netip.Addr{}); len(got) != 0 {
			t.Fatalf("after expiry: got %+v, want none", got)
		}
		if list, _ := s.Decisions(ctx); len(list) != 2 || list[0] != d2 {
			t.Fatalf("decisions after expiry: got %+v", list)
		}
		// Replacing keeps one decision per key.
		d2b := d2
		d2b.Type, d2b.Until = TypeBan, c.Now().Add(time.Hour)
		if err := s.Decide(ctx, d2b); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Lookup(ctx, []string{"principal:mallory"}, netip.Addr{}); len(got) != 1 || got[0] != d2b {
			t.Fatalf("replaced: got %+v, want %+v", got, d2b)
		}
		if ok, err := s.Revoke(ctx, "range:198.51.100.0/24"); !ok || err != nil {
			t.Fatalf("revoke: got %v, %v, want true", ok, err)
		}
		if ok, _ := s.Revoke(ctx, "range:198.51.100.0/24"); ok {
			t.Fatalf("revoke again: got true, want false")
		}
		if got, _ := s.Lookup(ctx, nil, netip.MustParseAddr("198.51.100.9")); len(got) != 0 {
			t.Fatalf("revoked range: got %+v, want none", got)
		}
		if list, _ := s.Decisions(ctx); len(list) != 1 || list[0] != d2b {
			t.Fatalf("decisions after revoke: got %+v", list)
		}
	})

	t.Run("sightings count distinct members in a sliding window", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		sight := func(member, ref string) Window {
			t.Helper()
			w, err := s.Sight(ctx, []Sighting{{Key: "k", Member: member, Ref: ref, Window: 10 * time.Second, Keep: 3, Refs: 2, Members: true}})
			if err != nil || len(w) != 1 {
				t.Fatalf("sight: %v, %v", w, err)
			}
			slices.Sort(w[0].Members)
			return w[0]
		}
		eq := func(what string, got Window, count int64, refs, members []string) {
			t.Helper()
			if got.Count != count || !slices.Equal(got.Refs, refs) || !slices.Equal(got.Members, members) {
				t.Fatalf("%s: got %+v, want count %d refs %v members %v", what, got, count, refs, members)
			}
		}
		eq("first", sight("alice", "r1"), 1, []string{"r1"}, []string{"alice"})
		c.Add(time.Second)
		eq("same member", sight("alice", "r2"), 1, []string{"r2", "r1"}, []string{"alice"})
		c.Add(time.Second)
		eq("second member", sight("bob", "r3"), 2, []string{"r3", "r2"}, []string{"alice", "bob"})
		c.Add(time.Second)
		eq("third member", sight("carol", "r4"), 3, []string{"r4", "r3"}, []string{"alice", "bob", "carol"})
		c.Add(time.Second)
		// Keep 3: the oldest member (alice, last seen at 1s) goes.
		eq("capped", sight("dave", "r5"), 3, []string{"r5", "r4"}, []string{"bob", "carol", "dave"})
		c.Add(9 * time.Second) // 13s: bob (2s) and carol (3s) are out of the window
		eq("slid", sight("erin", "r6"), 2, []string{"r6", "r5"}, []string{"dave", "erin"})
		c.Add(time.Hour)
		eq("expired", sight("frank", ""), 1, []string{"frank"}, []string{"frank"})
	})

	t.Run("sightings are batched and independent", func(t *testing.T) {
		c := newClock(t0)
		s := open(t, c.Now)
		ws, err := s.Sight(ctx, []Sighting{
			{Key: "a", Member: "r1", Window: time.Minute, Keep: 10, Refs: 5},
			{Key: "b", Member: "x", Ref: "r1", Window: time.Minute, Keep: 10},
		})
		if err != nil || len(ws) != 2 || ws[0].Count != 1 || !slices.Equal(ws[0].Refs, []string{"r1"}) || ws[1].Count != 1 || ws[1].Refs != nil {
			t.Fatalf("batch: got %+v, %v", ws, err)
		}
		ws, _ = s.Sight(ctx, []Sighting{{Key: "a", Member: "r2", Window: time.Minute, Keep: 10, Refs: 5}})
		if ws[0].Count != 2 || !slices.Equal(ws[0].Refs, []string{"r2", "r1"}) {
			t.Fatalf("a again: got %+v", ws)
		}
		if _, err := s.Sight(ctx, []Sighting{{Key: "a", Member: "x", Keep: 1}}); err == nil {
			t.Fatal("zero window: got nil error, want one")
		}
	})

	t.Run("meter folds past buckets into an ewma baseline", func(t *testing.T) {
		c := newClock(time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC))
		s := open(t, c.Now)
		meter := func() Meter {
			t.Helper()
			m, err := s.Meter(ctx, "p", time.Minute, 0.5, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		for i := int64(1); i <= 4; i++ {
			if m := meter(); m.Count != i || m.Buckets != 0 || m.Baseline != 0 {
				t.Fatalf("first bucket %d: got %+v", i, m)
			}
		}
		c.Add(time.Minute) // bucket 2: baseline = 4 (the first bucket's count)
		if m := meter(); m.Count != 1 || m.Buckets != 1 || m.Baseline != 4 || !m.Start.Equal(c.Now()) {
			t.Fatalf("second bucket: got %+v, want count 1, 1 bucket, baseline 4", m)
		}
		meter()                // 2 in bucket 2
		c.Add(3 * time.Minute) // bucket 5: fold 2 (0.5*2+0.5*4=3), then two empty buckets (0.75)
		if m := meter(); m.Count != 1 || m.Buckets != 4 || m.Baseline != 0.75 {
			t.Fatalf("after empty buckets: got %+v, want count 1, 4 buckets, baseline 0.75", m)
		}
		if _, err := s.Meter(ctx, "p", time.Minute, 0, 0); err == nil {
			t.Fatal("alpha 0: got nil error, want one")
		}
		c.Add(2 * time.Hour) // forgotten after the ttl
		if m := meter(); m.Count != 1 || m.Buckets != 0 {
			t.Fatalf("after ttl: got %+v, want a fresh meter", m)
		}
	})

	t.Run("concurrent allow admits exactly the burst", func(t *testing.T) {
		s := open(t, newClock(t0).Now)
		l := Limit{Rate: 50, Period: time.Hour}
		var wg sync.WaitGroup
		var mu sync.Mutex
		allowed, allowedAll := 0, 0
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 25; i++ {
					r, err := s.Allow(ctx, "shared", l, 1)
					if err != nil {
						t.Error(err)
						return
					}
					ok, _, err := s.AllowAll(ctx, []Check{{Key: "shared-all", Limit: l}, {Key: "q", Max: 1000, Period: Day}}, 1)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						mu.Lock()
						allowedAll++
						mu.Unlock()
					}
					if r.Allowed {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if allowed != 50 || allowedAll != 50 {
			t.Fatalf("got %d allowed and %d allowed by AllowAll, want 50 and 50", allowed, allowedAll)
		}
	})
}

func TestMemoryContract(t *testing.T) {
	runContract(t, func(t *testing.T, now func() time.Time) Store { return NewMemory(now) })
}

func TestMemorySweepDropsExpired(t *testing.T) {
	c := newClock(t0)
	m := NewMemory(c.Now)
	ctx := context.Background()
	for i := 0; i < 10*sweepEvery; i++ {
		if _, err := m.SetNX(ctx, fmt.Sprint("n", i), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c.Add(2 * time.Second)
	for i := 0; i < 2*sweepEvery*memShards; i++ {
		_, _ = m.Incr(ctx, fmt.Sprint("c", i%4096), time.Hour)
	}
	left := 0
	for i := range m.shards {
		left += len(m.shards[i].nonce)
	}
	if left != 0 {
		t.Fatalf("got %d expired nonces kept, want 0", left)
	}
}

func TestPeriodBounds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		p          Period
		t          time.Time
		start, end string
	}{
		{"day", Day, time.Date(2025, 3, 31, 23, 59, 59, 0, time.UTC), "2025-03-31T00:00:00Z", "2025-04-01T00:00:00Z"},
		{"day other zone", Day, time.Date(2025, 4, 1, 1, 0, 0, 0, time.FixedZone("x", 2*3600)), "2025-03-31T00:00:00Z", "2025-04-01T00:00:00Z"},
		{"month", Month, time.Date(2025, 12, 15, 0, 0, 0, 0, time.UTC), "2025-12-01T00:00:00Z", "2026-01-01T00:00:00Z"},
		{"february leap", Month, time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, e := tc.p.Bounds(tc.t)
			if got := s.Format(time.RFC3339); got != tc.start {
				t.Errorf("start: got %v, want %v", got, tc.start)
			}
			if got := e.Format(time.RFC3339); got != tc.end {
				t.Errorf("end: got %v, want %v", got, tc.end)
			}
		})
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory(nil)
	ctx := context.Background()
	l := Limit{Rate: 1 << 40, Period: time.Second}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			_, _ = m.Allow(ctx, fmt.Sprint("ip:", i&255), l, 1)
		}
	})
}
