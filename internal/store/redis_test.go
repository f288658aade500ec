package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/store/redistest"
)

var (
	prefixSeq atomic.Int64
	redisOnce sync.Once
	redisSrv  *redistest.Server
)

// sharedRedis is one redis-server for the package's tests that do not stop
// it; each store gets its own key prefix.
func sharedRedis(t *testing.T) *redistest.Server {
	t.Helper()
	redisOnce.Do(func() { redisSrv = redistest.Start(&noCleanup{t}) })
	if redisSrv == nil {
		t.Fatal("redis-server did not start")
	}
	return redisSrv
}

// noCleanup lets the package-wide server outlive the first test that
// starts it; TestMain stops it.
type noCleanup struct{ *testing.T }

func (noCleanup) Cleanup(func()) {}

func TestMain(m *testing.M) {
	code := m.Run()
	if redisSrv != nil {
		redisSrv.Stop()
	}
	os.Exit(code)
}

func openRedis(t *testing.T, now func() time.Time) *Redis {
	t.Helper()
	srv := sharedRedis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	r := NewRedis(c, fmt.Sprintf("test%d:%s:", prefixSeq.Add(1), strings.ReplaceAll(t.Name(), "/", ":")), now)
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRedisContract(t *testing.T) {
	runContract(t, func(t *testing.T, now func() time.Time) Store { return openRedis(t, now) })
}

// TestGCRAParity drives Memory and Redis with the same random schedule and
// limits and requires identical results: one algorithm, two homes.
func TestGCRAParity(t *testing.T) {
	c := newClock(t0)
	m := NewMemory(c.Now)
	r := openRedis(t, c.Now)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	limits := []Limit{
		{Rate: 10, Period: time.Second, Burst: 20},
		{Rate: 3, Period: time.Second},
		{Rate: 1000, Period: time.Minute, Burst: 5},
		{Rate: 7, Period: 13 * time.Second, Burst: 2},
	}
	for i := 0; i < 400; i++ {
		l := limits[rng.IntN(len(limits))]
		key := []string{"a", "b"}[rng.IntN(2)] + l.Period.String()
		n := int64(1 + rng.IntN(3))
		gm, err := m.Allow(ctx, key, l, n)
		if err != nil {
			t.Fatal(err)
		}
		gr, err := r.Allow(ctx, key, l, n)
		if err != nil {
			t.Fatal(err)
		}
		if gm != gr {
			t.Fatalf("step %d (%+v n=%d): memory %+v, redis %+v", i, l, n, gm, gr)
		}
		c.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
	}
}

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		name, url, want string
		wantErr         bool
	}{
		{"empty is memory", "", "memory", false},
		{"memory", "memory", "memory", false},
		{"redis", "", "redis", false},
		{"unknown scheme", "postgres://x", "", true},
		{"bad redis url", "redis://:pw@host:notaport/x", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if tc.want == "redis" {
				url = sharedRedis(t).URL()
			}
			s, err := Open(Config{URL: url}, Options{})
			if tc.wantErr {
				if err == nil {
					s.Close()
					t.Fatalf("got nil error, want one")
				}
				if strings.Contains(err.Error(), "pw") {
					t.Fatalf("error echoes the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.Name(); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if f, ok := s.(*Fallback); ok && !f.Status().Healthy {
				t.Fatalf("got unhealthy %+v, want healthy", f.Status())
			}
		})
	}
}

func TestRedisURLOptions(t *testing.T) {
	srv := sharedRedis(t)
	ctx := context.Background()
	// Database 3 and a prefix: the key lands where the URL and config say.
	s, err := Open(Config{URL: "redis://" + srv.Addr() + "/3", KeyPrefix: "pfx:"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DB: 3})
	defer c.Close()
	if n, err := c.Exists(ctx, "pfx:kv:k").Result(); err != nil || n != 1 {
		t.Fatalf("key in db 3: got %d, %v, want 1", n, err)
	}
}

// TestFallback stops a real Redis under a store, then starts it again.
func TestFallback(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c := newClock(t0)
	var mu sync.Mutex
	var changes []Status
	s, err := Open(Config{URL: srv.URL(), PingInterval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond},
		Options{Now: c.Now, OnChange: func(st Status) {
			mu.Lock()
			changes = append(changes, st)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := s.(*Fallback)
	l := Limit{Rate: 1, Period: time.Hour}
	if r, err := s.Allow(ctx, "k", l, 1); err != nil || !r.Allowed {
		t.Fatalf("first allow: got %+v, %v", r, err)
	}

	srv.Stop()
	// The first operation after the outage notices it and is answered
	// locally (the local store has not seen "k": allowed).
	r, err := s.Allow(ctx, "k", l, 1)
	if err != nil || !r.Allowed {
		t.Fatalf("during outage: got %+v, %v, want allowed locally", r, err)
	}
	if st := f.Status(); st.Healthy || st.Fallbacks != 1 || st.LastError == "" {
		t.Fatalf("status during outage: got %+v", st)
	}
	if r, _ := s.Allow(ctx, "k", l, 1); r.Allowed {
		t.Fatalf("second local allow: got allowed, want the local limit to apply")
	}

	srv.Restart()
	waitFor(t, func() bool { return f.Status().Healthy })
	// Redis restarted empty: shared limiting resumes from its state.
	if r, _ := s.Allow(ctx, "k", l, 1); !r.Allowed {
		t.Fatalf("after recovery first: got rejected")
	}
	if r, _ := s.Allow(ctx, "k", l, 1); r.Allowed {
		t.Fatalf("after recovery second: got allowed, want shared limit")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || changes[0].Healthy || !changes[1].Healthy {
		t.Fatalf("changes: got %+v, want down then up", changes)
	}
}

func TestFallbackClosed(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s, err := Open(Config{URL: srv.URL(), Fallback: FallbackClosed, PingInterval: 20 * time.Millisecond}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv.Stop()
	for i := 0; i < 2; i++ {
		if _, err := s.SetNX(ctx, "n", time.Minute); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call %d: got %v, want ErrUnavailable", i, err)
		}
	}
	srv.Restart()
	f := s.(*Fallback)
	waitFor(t, func() bool { return f.Status().Healthy })
	if ok, err := s.SetNX(ctx, "n", time.Minute); err != nil || !ok {
		t.Fatalf("after recovery: got %v, %v", ok, err)
	}
}

func TestOpenWhileRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	var down atomic.Bool
	s, err := Open(Config{URL: srv.URL(), DialTimeout: 100 * time.Millisecond, PingInterval: 20 * time.Millisecond},
		Options{OnChange: func(st Status) { down.Store(!st.Healthy) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !down.Load() {
		t.Fatalf("got no fallback notice at open")
	}
	if ok, err := s.SetNX(context.Background(), "n", time.Minute); err != nil || !ok {
		t.Fatalf("local setnx: got %v, %v", ok, err)
	}
	srv.Restart()
	f := s.(*Fallback)
	waitFor(t, func() bool { return f.Status().Healthy })
}

// waitFor polls cond (the background ping runs on real time) for up to 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
