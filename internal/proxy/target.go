package proxy

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/events"
)

// Circuit states, as reported by TargetStatus.CircuitState and in events.
const (
	CircuitClosed   = "closed"
	CircuitOpen     = "open"
	CircuitHalfOpen = "half-open"
	// CircuitDisabled is reported when the breaker is turned off.
	CircuitDisabled = "disabled"
)

// TargetStatus is a snapshot of one target, for the admin API.
type TargetStatus struct {
	// URL is the target as configured.
	URL string `json:"url"`
	// Healthy is the active health check verdict (true when checks are off).
	Healthy bool `json:"healthy"`
	// CircuitState is one of the Circuit* constants.
	CircuitState string `json:"circuit_state"`
	// Failures is the number of consecutive passive failures.
	Failures int `json:"failures"`
}

type circuit int

const (
	closed circuit = iota
	open
	halfOpen
)

func (c circuit) String() string {
	switch c {
	case open:
		return CircuitOpen
	case halfOpen:
		return CircuitHalfOpen
	}
	return CircuitClosed
}

type outcome int

const (
	outcomeNeutral outcome = iota // no verdict (client went away)
	outcomeSuccess
	outcomeFailure
)

// target is one base URL with its health and circuit state.
type target struct {
	raw       string
	url       *url.URL
	healthURL string

	mu sync.Mutex
	// active health
	healthy       bool
	passes, fails int // consecutive check results
	// passive health
	state    circuit
	failures int // consecutive failures
	openedAt time.Time
	trial    bool // the half-open trial request is in flight
}

// transition is a state change to publish once the target's lock is released.
type transition struct {
	t        *target
	state    string
	severity string
	reason   string
	failures int
}

// pick returns the next usable target round robin, and whether the request
// is the half-open trial of its target. Nil means none is usable.
func (u *Upstream) pick() (*target, bool) {
	n := uint64(len(u.targets))
	start := u.next.Add(1) - 1
	now := u.now()
	for i := uint64(0); i < n; i++ {
		t := u.targets[(start+i)%n]
		ok, trial, tr := u.acquire(t, now)
		u.publish(tr)
		if ok {
			return t, trial
		}
	}
	return nil, false
}

// acquire reports whether t may take a request now.
func (u *Upstream) acquire(t *target, now time.Time) (ok, trial bool, tr *transition) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.healthy {
		return false, false, nil
	}
	if u.breaker.disabled {
		return true, false, nil
	}
	switch t.state {
	case closed:
		return true, false, nil
	case open:
		if now.Sub(t.openedAt) < u.breaker.openFor {
			return false, false, nil
		}
		t.state, t.trial = halfOpen, true
		return true, true, &transition{t: t, state: CircuitHalfOpen, severity: events.SeverityInfo,
			reason: "circuit half-open: letting one trial request through", failures: t.failures}
	default: // half-open: exactly one trial at a time
		if t.trial {
			return false, false, nil
		}
		t.trial = true
		return true, true, nil
	}
}

// record feeds an attempt's outcome to its target's breaker.
func (u *Upstream) record(a *attempt, o outcome) {
	if u.breaker.disabled {
		return
	}
	t := a.t
	t.mu.Lock()
	var tr *transition
	switch o {
	case outcomeNeutral:
		if a.trial && t.state == halfOpen {
			t.trial = false // let the next request be the trial
		}
	case outcomeSuccess:
		t.failures = 0
		if a.trial && t.state == halfOpen {
			t.state, t.trial = closed, false
			tr = &transition{t: t, state: CircuitClosed, severity: events.SeverityInfo,
				reason: "circuit closed: trial request succeeded"}
		}
	case outcomeFailure:
		t.failures++
		switch {
		case t.state == closed && t.failures >= u.breaker.failures:
			t.state, t.openedAt = open, u.now()
			tr = &transition{t: t, state: CircuitOpen, severity: events.SeverityHigh,
				reason: fmt.Sprintf("circuit opened after %d consecutive failures", t.failures), failures: t.failures}
		case t.state == halfOpen && a.trial:
			t.state, t.openedAt, t.trial = open, u.now(), false
			tr = &transition{t: t, state: CircuitOpen, severity: events.SeverityHigh,
				reason: "circuit reopened: trial request failed", failures: t.failures}
		}
	}
	t.mu.Unlock()
	u.publish(tr)
}

// observe applies one active check result to t.
func (u *Upstream) observe(t *target, pass bool) {
	t.mu.Lock()
	var tr *transition
	if pass {
		t.passes++
		t.fails = 0
		if !t.healthy && t.passes >= u.health.HealthyThreshold {
			t.healthy = true
			tr = &transition{t: t, state: "healthy", severity: events.SeverityInfo,
				reason: fmt.Sprintf("target passed %d health checks in a row", t.passes)}
		}
	} else {
		t.fails++
		t.passes = 0
		if t.healthy && t.fails >= u.health.UnhealthyThreshold {
			t.healthy = false
			tr = &transition{t: t, state: "unhealthy", severity: events.SeverityHigh,
				reason: fmt.Sprintf("target failed %d health checks in a row", t.fails)}
		}
	}
	t.mu.Unlock()
	u.publish(tr)
}

func (u *Upstream) publish(tr *transition) {
	if tr == nil {
		return
	}
	attrs := map[string]any{"target": tr.t.raw, "state": tr.state}
	if tr.failures > 0 {
		attrs["failures"] = tr.failures
	}
	u.pub.Publish(events.Event{
		Time:     u.now(),
		Type:     events.TypeUpstream,
		Severity: tr.severity,
		API:      u.api,
		Stage:    StageID,
		Reason:   tr.reason,
		Attrs:    attrs,
	})
	if tr.severity == events.SeverityHigh {
		u.log.Warn("upstream target "+tr.state, "api", u.api, "target", tr.t.raw, "reason", tr.reason)
	} else {
		u.log.Info("upstream target "+tr.state, "api", u.api, "target", tr.t.raw, "reason", tr.reason)
	}
}

// Targets returns a snapshot of every target, in config order.
func (u *Upstream) Targets() []TargetStatus {
	out := make([]TargetStatus, len(u.targets))
	for i, t := range u.targets {
		t.mu.Lock()
		s := TargetStatus{URL: t.raw, Healthy: t.healthy, CircuitState: t.state.String(), Failures: t.failures}
		t.mu.Unlock()
		if u.breaker.disabled {
			s.CircuitState = CircuitDisabled
		}
		out[i] = s
	}
	return out
}

// healthURL joins the target's base path and the check path (which may
// carry a query).
func healthURL(base *url.URL, path string) string {
	ref, _ := url.Parse(path) // validated
	hu := *base
	hu.Path = strings.TrimSuffix(base.Path, "/") + ref.Path
	hu.RawPath = ""
	hu.RawQuery = ref.RawQuery
	return hu.String()
}
