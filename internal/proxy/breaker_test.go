package proxy

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
)

// countingServer answers with the status in *status and counts requests.
func countingServer(t *testing.T, status *atomic.Int32, count *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCircuitBreaker(t *testing.T) {
	var (
		badStatus, badCount, goodStatus, goodCount atomic.Int32
		entered                                    = make(chan struct{}, 1)
		release                                    = make(chan int, 1)
		block                                      atomic.Bool
	)
	badStatus.Store(http.StatusServiceUnavailable)
	goodStatus.Store(http.StatusOK)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		badCount.Add(1)
		if block.Load() {
			entered <- struct{}{}
			w.WriteHeader(<-release)
			return
		}
		w.WriteHeader(int(badStatus.Load()))
	}))
	t.Cleanup(bad.Close)
	good := countingServer(t, &goodStatus, &goodCount)

	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	log := &eventLog{}
	u := newUpstream(t, config.Upstream{
		Targets:        []string{bad.URL, good.URL},
		CircuitBreaker: config.CircuitBreaker{Failures: 3, OpenFor: 30 * time.Second},
	}, Options{Now: clk.Now, Publisher: log})

	get := func() int {
		w, _ := serve(u, httptest.NewRequest("GET", "/", nil), untrusted)
		return w.Code
	}

	// Round robin alternates; the bad target's 503s are passed through
	// until the third one opens its circuit.
	for i := 0; i < 6; i++ {
		get()
	}
	if got := badCount.Load(); got != 3 {
		t.Fatalf("bad target requests: got %d, want 3", got)
	}
	if got := log.states(); !slices.Equal(got, []string{CircuitOpen}) {
		t.Fatalf("events: got %v, want [open]", got)
	}
	if e := log.last(); e.Type != events.TypeUpstream || e.Severity != events.SeverityHigh || e.API != "pets" || e.Attrs["target"] != bad.URL {
		t.Errorf("open event: got %+v, want an upstream/high event for %s", e, bad.URL)
	}
	if got, want := u.Targets()[0], (TargetStatus{URL: bad.URL, Healthy: true, CircuitState: CircuitOpen, Failures: 3}); got != want {
		t.Errorf("bad target status: got %+v, want %+v", got, want)
	}

	// While open, every request goes to the good target.
	for i := 0; i < 6; i++ {
		if code := get(); code != http.StatusOK {
			t.Fatalf("request while open: got %d, want 200", code)
		}
	}
	if got := badCount.Load(); got != 3 {
		t.Errorf("bad target requests while open: got %d, want 3", got)
	}

	// Open for almost long enough: still skipped.
	clk.Advance(29 * time.Second)
	get()
	get()
	if got := badCount.Load(); got != 3 {
		t.Errorf("bad target requests before open_for elapsed: got %d, want 3", got)
	}

	// After open_for, exactly one trial request is let through. The round
	// robin counter is even (14 requests), so the next pick starts at the
	// bad target.
	clk.Advance(time.Second)
	block.Store(true)
	trial := make(chan int)
	go func() { trial <- get() }()
	<-entered
	for i := 0; i < 4; i++ {
		if code := get(); code != http.StatusOK {
			t.Fatalf("request during trial: got %d, want 200", code)
		}
	}
	if got := badCount.Load(); got != 4 {
		t.Errorf("bad target requests during the trial: got %d, want 4 (one trial)", got)
	}
	if got := u.Targets()[0].CircuitState; got != CircuitHalfOpen {
		t.Errorf("state during trial: got %s, want %s", got, CircuitHalfOpen)
	}

	// The trial fails: the circuit reopens.
	release <- http.StatusBadGateway
	if code := <-trial; code != http.StatusBadGateway {
		t.Errorf("trial response: got %d, want the upstream's 502", code)
	}
	block.Store(false)
	if got := u.Targets()[0].CircuitState; got != CircuitOpen {
		t.Errorf("state after failed trial: got %s, want %s", got, CircuitOpen)
	}
	get()
	get()
	if got := badCount.Load(); got != 4 {
		t.Errorf("bad target requests after reopening: got %d, want 4", got)
	}

	// Next trial succeeds: the circuit closes and round robin resumes.
	clk.Advance(30 * time.Second)
	badStatus.Store(http.StatusOK)
	for i := 0; i < 4; i++ {
		if code := get(); code != http.StatusOK {
			t.Fatalf("request after recovery: got %d, want 200", code)
		}
	}
	if got := badCount.Load(); got != 6 {
		t.Errorf("bad target requests after closing: got %d, want 6", got)
	}
	if got, want := u.Targets()[0], (TargetStatus{URL: bad.URL, Healthy: true, CircuitState: CircuitClosed}); got != want {
		t.Errorf("bad target status: got %+v, want %+v", got, want)
	}
	want := []string{CircuitOpen, CircuitHalfOpen, CircuitOpen, CircuitHalfOpen, CircuitClosed}
	if got := log.states(); !slices.Equal(got, want) {
		t.Errorf("events: got %v, want %v", got, want)
	}
	if e := log.last(); e.Severity != events.SeverityInfo || !e.Time.Equal(clk.Now()) {
		t.Errorf("close event: got severity %s time %v, want info at %v", e.Severity, e.Time, clk.Now())
	}
}

func TestCircuitBreakerTransportFailures(t *testing.T) {
	// Connection failures count too, and a success resets the count.
	var status, count atomic.Int32
	status.Store(http.StatusOK)
	up := countingServer(t, &status, &count)
	u := newUpstream(t, config.Upstream{
		Targets:        []string{closedURL(t), up.URL},
		CircuitBreaker: config.CircuitBreaker{Failures: 2},
	}, Options{})
	for i := 0; i < 4; i++ {
		serve(u, httptest.NewRequest("GET", "/", nil), untrusted)
	}
	if got := u.Targets(); got[0].CircuitState != CircuitOpen || got[1].CircuitState != CircuitClosed || got[1].Failures != 0 {
		t.Errorf("targets: got %+v, want the closed port open and the live one closed", got)
	}
}

func TestCircuitBreakerDisabled(t *testing.T) {
	var status, count atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	up := countingServer(t, &status, &count)
	u := newUpstream(t, config.Upstream{
		Targets:        []string{up.URL},
		CircuitBreaker: config.CircuitBreaker{Disabled: true, Failures: 1},
	}, Options{})
	for i := 0; i < 5; i++ {
		serve(u, httptest.NewRequest("GET", "/", nil), untrusted)
	}
	if got := count.Load(); got != 5 {
		t.Errorf("requests reaching the upstream: got %d, want 5", got)
	}
	if got := u.Targets()[0].CircuitState; got != CircuitDisabled {
		t.Errorf("circuit state: got %s, want %s", got, CircuitDisabled)
	}
}
