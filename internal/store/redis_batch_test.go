package store

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRedisAllowAllBatch sends random AllowAll calls (GCRA limits and
// quotas, shared and repeated keys, costs that get rejected) to Redis in
// batches of random size, and requires, call by call, the outcomes Memory
// gives when it runs the same calls one at a time; afterwards every key
// must hold what one-call-per-script Redis leaves, with the same expiry.
func TestRedisAllowAllBatch(t *testing.T) {
	c := newClock(t0)
	m := NewMemory(c.Now)
	batched := openRedis(t, c.Now)
	single := openRedis(t, c.Now)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	limits := []Limit{
		{Rate: 10, Period: time.Second, Burst: 3},
		{Rate: 3, Period: time.Second},
		{Rate: 1000, Period: time.Minute, Burst: 5},
	}
	keys := []string{"a", "b", "c"}
	randomChecks := func() []Check {
		// Distinct keys within a call (as the ratelimit stage makes them:
		// each rule has its own), shared between calls.
		perm := rng.Perm(len(keys))
		checks := make([]Check, 1+rng.IntN(3))
		for i := range checks {
			k := keys[perm[i]]
			if rng.IntN(3) == 0 {
				// One period per quota key: Memory keeps one count per key.
				p := []Period{Day, Month}[rng.IntN(2)]
				checks[i] = Check{Key: "q" + k + string(p), Max: int64(5 + rng.IntN(20)), Period: p}
			} else {
				checks[i] = Check{Key: k, Limit: limits[rng.IntN(len(limits))]}
			}
		}
		return checks
	}
	type call struct {
		checks []Check
		n      int64
		t      time.Time
		q      *pipeReq
	}
	rejected := 0
	for step := 0; step < 60; step++ {
		calls := make([]call, 1+rng.IntN(12))
		reqs := make([]*pipeReq, len(calls))
		for i := range calls {
			cl := call{checks: randomChecks(), n: int64(1 + rng.IntN(2)), t: c.Now()}
			cl.q = batched.prepare(cl.checks, cl.n, cl.t)
			calls[i], reqs[i] = cl, cl.q
			c.Add(time.Duration(rng.IntN(80)) * time.Millisecond)
		}
		batched.sendBatch(ctx, reqs, &batchBuf{})
		for i, cl := range calls {
			res := <-cl.q.done
			if res.err != nil {
				t.Fatal(res.err)
			}
			gotOK, got, err := parseAllowAll(res.v, cl.checks, cl.n, cl.t)
			if err != nil {
				t.Fatal(err)
			}
			now := c.Now()
			c.Add(cl.t.Sub(now)) // run Memory and single Redis at the call's time
			wantOK, want, err := m.AllowAll(ctx, cl.checks, cl.n)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := single.AllowAll(ctx, cl.checks, cl.n); err != nil {
				t.Fatal(err)
			}
			c.Add(now.Sub(cl.t))
			if !wantOK {
				rejected++
			}
			if gotOK != wantOK || len(got) != len(want) {
				t.Fatalf("step %d call %d (%+v n=%d): got %v %+v, want %v %+v", step, i, cl.checks, cl.n, gotOK, got, wantOK, want)
			}
			for j := range got {
				if got[j] != want[j] {
					t.Fatalf("step %d call %d check %d (%+v n=%d): got %+v, want %+v", step, i, j, cl.checks[j], cl.n, got[j], want[j])
				}
			}
		}
	}
	if rejected == 0 {
		t.Fatal("got no rejected call, want some (the test must exercise rejections)")
	}
	// Same stored values and expiries as one script per call.
	bk, err := batched.c.Keys(ctx, batched.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sk, err := single.c.Keys(ctx, single.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(bk) != len(sk) || len(bk) == 0 {
		t.Fatalf("got %d keys batched, %d single, want the same (and some)", len(bk), len(sk))
	}
	for _, k := range bk {
		other := single.prefix + k[len(batched.prefix):]
		got, err := batched.c.Get(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		want, err := single.c.Get(ctx, other).Result()
		if err != nil {
			t.Fatalf("key %s: %v", other, err)
		}
		if got != want {
			t.Fatalf("key %s: got %v, want %v", k, got, want)
		}
		gt, _ := batched.c.PTTL(ctx, k).Result()
		wt, _ := single.c.PTTL(ctx, other).Result()
		if d := gt - wt; d < -time.Second || d > time.Second {
			t.Fatalf("key %s: got ttl %v, want %v", k, gt, wt)
		}
	}
}
