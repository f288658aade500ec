package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
)

// healthServer answers /healthz with 200 or 500 depending on *up, and
// counts other requests.
func healthServer(t *testing.T, up *atomic.Bool, count *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if !up.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
			return
		}
		count.Add(1)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHealthCheckFlipsTarget(t *testing.T) {
	var aUp, bUp atomic.Bool
	var aCount, bCount atomic.Int32
	aUp.Store(true)
	bUp.Store(true)
	a := healthServer(t, &aUp, &aCount)
	b := healthServer(t, &bUp, &bCount)
	log := &eventLog{}
	u := newUpstream(t, config.Upstream{
		Targets: []string{a.URL, b.URL},
		// A long interval: the loop never fires during the test, CheckNow
		// drives every round.
		HealthCheck: &config.HealthCheck{Interval: time.Hour, HealthyThreshold: 2, UnhealthyThreshold: 2},
	}, Options{Publisher: log})
	ctx := context.Background()
	send := func(n int) {
		for i := 0; i < n; i++ {
			if w, _ := serve(u, httptest.NewRequest("GET", "/pets", nil), untrusted); w.Code != http.StatusOK {
				t.Fatalf("request: got %d, want 200", w.Code)
			}
		}
	}

	aUp.Store(false)
	u.CheckNow(ctx)
	if got := u.Targets()[0].Healthy; !got {
		t.Errorf("after one failed check: got healthy=%v, want true (threshold 2)", got)
	}
	u.CheckNow(ctx)
	if got := u.Targets()[0].Healthy; got {
		t.Errorf("after two failed checks: got healthy=%v, want false", got)
	}
	if e := log.last(); e.Type != events.TypeUpstream || e.Severity != events.SeverityHigh || e.Attrs["target"] != a.URL {
		t.Errorf("unhealthy event: got %+v, want an upstream/high event for %s", e, a.URL)
	}
	send(4)
	if got, want := [2]int32{aCount.Load(), bCount.Load()}, [2]int32{0, 4}; got != want {
		t.Errorf("requests while a is unhealthy: got %v, want %v", got, want)
	}

	aUp.Store(true)
	u.CheckNow(ctx)
	if got := u.Targets()[0].Healthy; got {
		t.Errorf("after one passing check: got healthy=%v, want false (threshold 2)", got)
	}
	u.CheckNow(ctx)
	if got := u.Targets()[0].Healthy; !got {
		t.Errorf("after two passing checks: got healthy=%v, want true", got)
	}
	send(4)
	if got, want := [2]int32{aCount.Load(), bCount.Load()}, [2]int32{2, 6}; got != want {
		t.Errorf("requests after recovery: got %v, want %v", got, want)
	}
	if got, want := log.states(), []string{"unhealthy", "healthy"}; !slices.Equal(got, want) {
		t.Errorf("events: got %v, want %v", got, want)
	}
}

func TestHealthCheckFailures(t *testing.T) {
	hang := hangingServer(t)
	tests := []struct {
		name   string
		target string
	}{
		{name: "closed port", target: closedURL(t)},
		{name: "timeout", target: hang.URL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, config.Upstream{
				Targets:     []string{tc.target},
				HealthCheck: &config.HealthCheck{Interval: time.Hour, Timeout: 100 * time.Millisecond, UnhealthyThreshold: 1},
			}, Options{})
			u.CheckNow(context.Background())
			if got := u.Targets()[0].Healthy; got {
				t.Errorf("healthy: got %v, want false", got)
			}
		})
	}
}

func TestAllTargetsDown(t *testing.T) {
	var status, count atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	failing := countingServer(t, &status, &count)
	tests := []struct {
		name string
		cfg  config.Upstream
		prep func(u *Upstream) // brings every target down
	}{
		{
			name: "health checks",
			cfg: config.Upstream{
				Targets:     []string{closedURL(t), closedURL(t)},
				HealthCheck: &config.HealthCheck{Interval: time.Hour, UnhealthyThreshold: 1},
			},
			prep: func(u *Upstream) { u.CheckNow(context.Background()) },
		},
		{
			name: "open circuits",
			cfg:  config.Upstream{Targets: []string{failing.URL}, CircuitBreaker: config.CircuitBreaker{Failures: 1}},
			prep: func(u *Upstream) { serve(u, httptest.NewRequest("GET", "/", nil), untrusted) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, tc.cfg, Options{})
			tc.prep(u)
			before := count.Load()
			w, x := serve(u, httptest.NewRequest("GET", "/pets", nil), untrusted)
			checkProblem(t, w, x, http.StatusServiceUnavailable, RuleNoHealthyUpstream)
			if got := count.Load(); got != before {
				t.Errorf("upstream requests: got %d, want %d (none sent)", got, before)
			}
		})
	}
}

func TestHealthLoopAndClose(t *testing.T) {
	probed := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" && r.URL.RawQuery == "deep=1" {
			select {
			case probed <- struct{}{}:
			default:
			}
		}
	}))
	defer srv.Close()
	u, err := New("pets", config.Upstream{
		Targets:     []string{srv.URL},
		HealthCheck: &config.HealthCheck{Path: "/ready?deep=1", Interval: 5 * time.Millisecond},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	<-probed // the ticker-driven loop ran a round
	if err := u.Close(); err != nil {
		t.Errorf("Close: got %v, want nil", err)
	}
	if err := u.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}
