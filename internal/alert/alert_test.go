package alert

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/events"
)

const waitTimeout = 10 * time.Second

// receiver is a webhook endpoint that verifies signatures the way a
// receiver should, and fails the first `fail` requests with 500.
type receiver struct {
	t      *testing.T
	secret []byte
	fail   atomic.Int32
	srv    *httptest.Server
	got    chan received
	calls  atomic.Int32
}

type received struct {
	id    string
	body  []byte
	valid bool
}

func newReceiver(t *testing.T, secret string, fail int) *receiver {
	r := &receiver{t: t, secret: []byte(secret), got: make(chan received, 100)}
	r.fail.Store(int32(fail))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.calls.Add(1)
		body, _ := io.ReadAll(req.Body)
		if r.fail.Add(-1) >= 0 {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		r.got <- received{id: req.Header.Get(IDHeader), body: body, valid: r.verify(req.Header.Get(SignatureHeader), body)}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// verify checks "t=...,v1=..." independently of Sign.
func (r *receiver) verify(h string, body []byte) bool {
	var ts, sig string
	for _, part := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil || sig == "" {
		return false
	}
	want := Sign(r.secret, time.Unix(mustInt(ts), 0), body)
	return hmac.Equal([]byte(want), []byte(h))
}

func mustInt(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

func (r *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case x := <-r.got:
		return x
	case <-time.After(waitTimeout):
		t.Fatal("no alert arrived")
	}
	return received{}
}

// fakeAfter returns at once and records the waits asked for.
type fakeAfter struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeAfter) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func denial(at time.Time, client string) events.Event {
	return events.Event{ID: events.NewID(), Time: at, Type: events.TypeDenial, Severity: events.SeverityHigh,
		Stage: "waf", Rules: []string{"942100"}, ClientIP: client, API: "pets", Reason: "sql injection"}
}

func TestAlertOncePerWindowSigned(t *testing.T) {
	rcv := newReceiver(t, "s3cret", 0)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	e, err := New(Config{
		Webhooks: []Webhook{{Name: "ops", URL: rcv.srv.URL, Secret: "s3cret"}},
		Rules: []Rule{{Name: "sqli", Match: Match{Type: "denial", Stage: "waf", Rule: "942100", Severity: "medium"},
			Threshold: 3, Window: time.Minute, GroupBy: GroupClient}},
		Builtin: Builtin{Disabled: []string{BuiltinDenialSpike}},
	}, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var batch []events.Event
	// Window 1: client A trips 10 times (one alert), client B twice (none).
	for i := range 10 {
		batch = append(batch, denial(now.Add(time.Duration(i)*time.Second), "203.0.113.7"))
	}
	batch = append(batch, denial(now, "198.51.100.2"), denial(now.Add(time.Second), "198.51.100.2"))
	// An event that does not match (low severity) is not counted.
	low := denial(now, "198.51.100.2")
	low.Severity = events.SeverityLow
	batch = append(batch, low)
	// Window 2 for A: three more, a second alert.
	for i := range 3 {
		batch = append(batch, denial(now.Add(70*time.Second+time.Duration(i)*time.Second), "203.0.113.7"))
	}
	if err := e.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	first, second := rcv.next(t), rcv.next(t)
	for _, r := range []received{first, second} {
		if !r.valid {
			t.Errorf("alert %s: invalid signature", r.id)
		}
		var a Alert
		if err := json.Unmarshal(r.body, &a); err != nil {
			t.Fatal(err)
		}
		if a.Rule != "sqli" || a.Group != "203.0.113.7" || a.Count != 3 || a.ID != r.id || a.Severity != "high" {
			t.Errorf("got alert %+v", a)
		}
	}
	if first.id == second.id {
		t.Error("two windows share an alert id")
	}
	select {
	case x := <-rcv.got:
		t.Fatalf("a third alert arrived: %s", x.body)
	default:
	}
	// Nothing else is queued: Close drains nothing and the receiver was
	// called exactly twice.
	e.Close()
	if n := rcv.calls.Load(); n != 2 {
		t.Errorf("receiver called %d times, want 2", n)
	}
}

func TestAlertRetriedWithBackoff(t *testing.T) {
	rcv := newReceiver(t, "k", 2)
	fa := &fakeAfter{}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	e, err := New(Config{
		Webhooks: []Webhook{{Name: "ops", URL: rcv.srv.URL, Secret: "k", Backoff: time.Second, MaxBackoff: 10 * time.Second}},
		Rules:    []Rule{{Name: "any-denial", Match: Match{Type: "denial"}}},
	}, Options{Now: func() time.Time { return now }, After: fa.After})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_ = e.Write(context.Background(), []events.Event{denial(now, "203.0.113.7")})
	got := rcv.next(t)
	if !got.valid {
		t.Error("invalid signature after retries")
	}
	if n := rcv.calls.Load(); n != 3 {
		t.Errorf("receiver called %d times, want 3 (two failures, one success)", n)
	}
	fa.mu.Lock()
	waits := fa.waits
	fa.mu.Unlock()
	if len(waits) != 2 || waits[0] != time.Second || waits[1] != 2*time.Second {
		t.Errorf("backoff waits %v, want [1s 2s]", waits)
	}
	e.Close()
	s := e.Stats()
	if s.Sent["ops"] != 1 || s.Failures["ops"] != 2 || s.Retries["ops"] != 2 || s.Dropped["ops"] != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestAlertGivesUpAndCounts(t *testing.T) {
	rcv := newReceiver(t, "", 100)
	fa := &fakeAfter{}
	e, err := New(Config{
		Webhooks: []Webhook{{Name: "ops", URL: rcv.srv.URL, MaxRetries: 2}},
		Rules:    []Rule{{Name: "r", Match: Match{Type: "denial"}}},
	}, Options{After: fa.After})
	if err != nil {
		t.Fatal(err)
	}
	_ = e.Write(context.Background(), []events.Event{denial(time.Now(), "203.0.113.7")})
	deadline := time.After(waitTimeout)
	for e.Stats().Dropped["ops"] == 0 {
		select {
		case <-deadline:
			t.Fatal("the failing delivery was never given up")
		case <-time.After(time.Millisecond):
		}
	}
	e.Close()
	if s := e.Stats(); s.Failures["ops"] != 3 || s.Sent["ops"] != 0 {
		t.Errorf("stats %+v, want 3 failures and nothing sent", s)
	}
}

func TestRateLimitPerRule(t *testing.T) {
	rcv := newReceiver(t, "", 0)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	e, err := New(Config{
		Webhooks: []Webhook{{Name: "ops", URL: rcv.srv.URL, Format: FormatSlack}},
		Rules:    []Rule{{Name: "r", Match: Match{Type: "denial"}, GroupBy: GroupClient, MaxAlerts: 2, RatePeriod: time.Hour}},
		Builtin:  Builtin{Disabled: []string{BuiltinDenialSpike}},
	}, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var batch []events.Event
	for i := range 5 {
		batch = append(batch, denial(now, "203.0.113."+strconv.Itoa(i)))
	}
	_ = e.Write(context.Background(), batch)
	for range 2 {
		r := rcv.next(t)
		var m map[string]string
		if err := json.Unmarshal(r.body, &m); err != nil || !strings.Contains(m["text"], "*[high] r*") {
			t.Errorf("slack body %s", r.body)
		}
	}
	e.Close()
	if s := e.Stats(); s.Fired["r"] != 5 || s.Suppressed["r"] != 3 || s.Sent["ops"] != 2 {
		t.Errorf("stats %+v, want 5 fired, 3 suppressed, 2 sent", s)
	}
}

func TestBuiltins(t *testing.T) {
	rcv := newReceiver(t, "", 0)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var drops atomic.Uint64
	pub := make(chan events.Event, 100)
	e, err := New(Config{
		Webhooks: []Webhook{{Name: "ops", URL: rcv.srv.URL}},
		Builtin:  Builtin{DenialSpike: 4, DenialSpikeWindow: time.Minute},
	}, Options{
		Now:   func() time.Time { return now },
		Drops: drops.Load,
		Certs: func() []Cert {
			return []Cert{{Name: "listeners[0]", NotAfter: now.Add(48 * time.Hour)}, {Name: "far", NotAfter: now.Add(900 * time.Hour)}}
		},
		Publisher: events.PublisherFunc(func(ev events.Event) bool { pub <- ev; return true }),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_ = e.Write(context.Background(), []events.Event{
		{Time: now, Type: events.TypeConfigReload, Severity: "high", Reason: "reload failed", Attrs: map[string]any{"result": "error"}},
		{Time: now, Type: events.TypeConfigReload, Severity: "info", Attrs: map[string]any{"result": "ok"}},
		{Time: now, Type: events.TypeStore, Severity: "high", Rules: []string{"store.fallback"}},
		denial(now, "a"), denial(now, "b"), denial(now, "c"), denial(now, "d"),
	})
	drops.Store(7)
	e.Tick()
	e.Tick() // no new drops, same day: nothing more
	want := map[string]bool{BuiltinReloadFailed: true, BuiltinStoreFallback: true, BuiltinDenialSpike: true, BuiltinEventsDropped: true, BuiltinCertExpiring: true}
	for range len(want) {
		var a Alert
		r := rcv.next(t)
		if err := json.Unmarshal(r.body, &a); err != nil {
			t.Fatal(err)
		}
		if !want[a.Rule] {
			t.Errorf("unexpected or repeated alert %s: %s", a.Rule, a.Summary)
		}
		delete(want, a.Rule)
	}
	e.Close()
	if n := rcv.calls.Load(); n != 5 {
		t.Errorf("receiver called %d times, want 5", n)
	}
	close(pub)
	n := 0
	for ev := range pub {
		if ev.Type == events.TypeAlert {
			n++
		}
	}
	if n != 5 {
		t.Errorf("published %d alert events, want 5", n)
	}
}

func TestValidate(t *testing.T) {
	c := Config{
		Webhooks: []Webhook{{Name: "a", URL: "ftp://x"}, {Name: "a", URL: "http://x", Format: "xml"}},
		Rules:    []Rule{{Name: "denial-spike"}, {Name: "r", GroupBy: "user", Webhooks: []string{"nope"}, Match: Match{Severity: "urgent"}}},
		Builtin:  Builtin{Disabled: []string{"nothing"}},
	}
	l := c.Validate()
	var got []string
	for _, e := range l {
		got = append(got, e.Path)
	}
	want := []string{"webhooks[0].url", "webhooks[1].name", "webhooks[1].format", "rules[0].name", "rules[1].group_by", "rules[1].match.severity", "rules[1].webhooks[0]", "builtin.disabled[0]"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("problems at %v, want %v", got, want)
	}
}
