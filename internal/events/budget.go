package events

import (
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// TypeSuppressed summarises the events of one client that went over its
// event budget in one interval: Attrs carries the count, the type of the
// events summarised, the first and last time and one of their request ids.
// Nothing is lost: every suppressed event is in a summary's count.
const TypeSuppressed = "events.suppressed"

// Defaults of the per-client event budget (BusOptions).
const (
	// DefaultClientBurst is how many events of one class one client may
	// produce at once before its events are summarised.
	DefaultClientBurst = 200
	// DefaultClientRate is how many events of one class per second one
	// client may produce on average.
	DefaultClientRate = 20
	// DefaultSummaryInterval is how often the summaries of suppressed
	// events are written.
	DefaultSummaryInterval = 10 * time.Second
	// maxBudgetClients bounds the clients tracked at once; past it idle
	// buckets are swept, and new clients share one overflow bucket.
	maxBudgetClients = 1 << 16
)

// Priority reports whether e belongs to the priority class: detections,
// high and critical events, and the gateway's own state changes (decisions,
// upstream health, store, reloads, summaries). A sink keeps the last
// quarter of its queue for them, so a flood of ordinary denials can never
// crowd them out; and each client's priority events have a budget of
// their own, apart from its denials.
func Priority(e Event) bool {
	switch e.Type {
	case TypeDetection, TypeDecision, TypeUpstream, TypeConfigReload, TypeStore, TypeSuppressed:
		return true
	}
	return e.Severity == SeverityHigh || e.Severity == SeverityCritical
}

// budgets is the per-client event budget of a bus: a token bucket per
// client and class (priority or not). Events of a request (with a client
// and a request id) past the budget are counted into summaries instead of
// being queued, so that one client's flood (thousands of denials a second,
// a rapid-reset storm) costs the sinks a few summaries, and every other
// client's events keep their place.
type budgets struct {
	rate, burst float64
	interval    time.Duration

	mu       sync.Mutex
	clients  map[budgetKey]*bucket
	overflow bucket
	held     map[heldKey]*held
	next     time.Time // when the held summaries are due
}

type budgetKey struct {
	client string // the client address; IPv6 by /64
	prio   bool
}

type bucket struct {
	tokens float64
	last   time.Time
}

type heldKey struct {
	client, typ, stage, rule string
	prio                     bool
}

type held struct {
	count       uint64
	first, last time.Time
	severity    string
	requestID   string
	api         string
}

func newBudgets(rate float64, burst int, interval time.Duration) *budgets {
	return &budgets{rate: rate, burst: float64(burst), interval: interval,
		clients: map[budgetKey]*bucket{}, held: map[heldKey]*held{}}
}

// clientKey groups IPv6 clients by /64 (one host usually has the whole
// block) and keeps IPv4 addresses whole.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// allow takes one token from e's client and class, or counts e into the
// summary it belongs to and reports false.
func (b *budgets) allow(e Event, now time.Time) bool {
	if e.ClientIP == "" || e.RequestID == "" || e.Type == TypeSuppressed {
		return true
	}
	prio := Priority(e)
	k := budgetKey{client: clientKey(e.ClientIP), prio: prio}
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.clients[k]
	if bk == nil {
		if len(b.clients) >= maxBudgetClients {
			b.sweep(now)
		}
		if len(b.clients) < maxBudgetClients {
			bk = &bucket{tokens: b.burst, last: now}
			b.clients[k] = bk
		} else {
			bk = &b.overflow
		}
	}
	if el := now.Sub(bk.last).Seconds(); el > 0 {
		bk.tokens = min(b.burst, bk.tokens+el*b.rate)
	}
	bk.last = now
	if bk.tokens >= 1 {
		bk.tokens--
		return true
	}
	rule := ""
	if len(e.Rules) > 0 {
		rule = e.Rules[0]
	}
	hk := heldKey{client: k.client, typ: e.Type, stage: e.Stage, rule: rule, prio: prio}
	h := b.held[hk]
	if h == nil {
		h = &held{first: e.Time, requestID: e.RequestID, api: e.API}
		b.held[hk] = h
		if b.next.IsZero() {
			b.next = now.Add(b.interval)
		}
	}
	h.count++
	h.last = e.Time
	if severityRank(e.Severity) > severityRank(h.severity) {
		h.severity = e.Severity
	}
	return false
}

// sweep forgets clients whose bucket has refilled (they are idle).
func (b *budgets) sweep(now time.Time) {
	for k, bk := range b.clients {
		if bk.tokens+now.Sub(bk.last).Seconds()*b.rate >= b.burst {
			delete(b.clients, k)
		}
	}
}

// due returns the summaries to publish: all of them when force is set,
// else those of an interval that has ended.
func (b *budgets) due(now time.Time, force bool) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.held) == 0 || !force && now.Before(b.next) {
		return nil
	}
	out := make([]Event, 0, len(b.held))
	for k, h := range b.held {
		e := Event{
			Time: now, Type: TypeSuppressed, Severity: h.severity, ClientIP: k.client, API: h.api,
			Stage:  k.stage,
			Reason: "client over its event budget: " + strconv.FormatUint(h.count, 10) + " " + k.typ + " events summarised",
			Attrs: map[string]any{"count": h.count, "type": k.typ, "first": h.first, "last": h.last,
				"sample_request_id": h.requestID},
		}
		if k.rule != "" {
			e.Rules = []string{k.rule}
		}
		if e.Severity == "" {
			e.Severity = SeverityMedium
		}
		out = append(out, e)
	}
	clear(b.held)
	b.next = time.Time{}
	return out
}

func severityRank(s string) int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityLow:
		return 2
	case SeverityMedium:
		return 3
	case SeverityHigh:
		return 4
	case SeverityCritical:
		return 5
	}
	return 0
}
