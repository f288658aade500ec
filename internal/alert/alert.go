package alert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/events"
)

// maxGroups bounds the groups one rule tracks at once, so that a flood of
// distinct clients cannot grow memory without limit. Expired windows are
// swept first; events of groups past the bound are counted, not tracked.
const maxGroups = 10000

// tickEvery is how often time-based built-ins (events dropped, expiring
// certificates) are checked.
const tickEvery = 10 * time.Second

// Alert is one alert as sent (the "json" format is this object).
type Alert struct {
	// ID is the same on every retry and for every receiver: hex SHA-256
	// of rule, group and window start, first 32 characters.
	ID string `json:"id"`
	// Rule is the rule's name.
	Rule string `json:"rule"`
	// Severity is the alert's severity.
	Severity string `json:"severity"`
	// Summary is one human-readable line.
	Summary string `json:"summary"`
	// GroupBy and Group say whose events these are ("client",
	// "203.0.113.7").
	GroupBy string `json:"group_by,omitempty"`
	Group   string `json:"group,omitempty"`
	// Count is how many matching events the window has seen when the alert
	// fired; Threshold and Window are the rule's.
	Count     int    `json:"count"`
	Threshold int    `json:"threshold"`
	Window    string `json:"window"`
	// WindowStart is when the group's window began; First and Last are the
	// times of the first and last counted events.
	WindowStart time.Time `json:"window_start"`
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
	// Suppressed is how many alerts of this rule the rate limit held back
	// since the last one sent.
	Suppressed int `json:"suppressed,omitempty"`
	// Node is the gateway node that sent it.
	Node string `json:"node,omitempty"`
	// Events are up to five of the counted events (the first ones).
	Events []events.Event `json:"events,omitempty"`
}

// Cert is a certificate the certificate-expiring rule watches.
type Cert struct {
	// Name identifies it ("listeners[0] CN=api.example.com").
	Name string
	// NotAfter is when it expires.
	NotAfter time.Time
}

// Options wire an Engine to the process. The zero value is usable.
type Options struct {
	// Now is the clock of rate limits and time-based built-ins. Nil means
	// time.Now. Windows use the events' own times.
	Now func() time.Time
	// After waits between retries. Nil means time.After (tests inject one
	// that returns at once and records the waits).
	After func(time.Duration) <-chan time.Time
	// Client sends webhooks. Nil means a client with no proxy from the
	// environment and the webhook's timeout.
	Client *http.Client
	// Logger logs deliveries that fail for good. Nil discards.
	Logger *slog.Logger
	// Publisher receives each fired alert as a TypeAlert event (the live
	// feed and the audit log show them). Nil discards.
	Publisher events.Publisher
	// Drops returns how many events the bus has lost so far (dropped and
	// failed, all sinks), for events-dropped. Nil turns that rule off.
	Drops func() uint64
	// Certs lists the certificates to watch for certificate-expiring. Nil
	// turns that rule off.
	Certs func() []Cert
	// Node is put into every alert.
	Node string
	// ResolveSecret resolves "file:PATH" webhook secrets. Nil keeps them.
	ResolveSecret func(string) (string, error)
}

// Stats are the engine's counters (only ever growing), for metrics.
type Stats struct {
	// Fired counts alerts fired, by rule.
	Fired map[string]uint64
	// Suppressed counts alerts the per-rule rate held back, by rule.
	Suppressed map[string]uint64
	// Sent counts alerts delivered, by webhook.
	Sent map[string]uint64
	// Failures counts failed delivery attempts, by webhook.
	Failures map[string]uint64
	// Retries counts retried attempts, by webhook.
	Retries map[string]uint64
	// Dropped counts alerts a webhook gave up on (queue full or retries
	// exhausted), by webhook.
	Dropped map[string]uint64
	// Untracked counts events a rule could not track (too many groups).
	Untracked uint64
}

// Engine evaluates rules on the events it is given and delivers alerts.
type Engine struct {
	opts  Options
	now   func() time.Time
	rules []*rule
	hooks []*hook

	mu        sync.Mutex // guards rule state and lastDrops
	lastDrops uint64
	untracked atomic.Uint64

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // senders
	tickWG   sync.WaitGroup
	stopTick chan struct{}
	stopOnce sync.Once
}

var _ events.Sink = (*Engine)(nil)

// rule is a compiled rule with its per-group windows.
type rule struct {
	name       string
	match      func(*events.Event) bool
	threshold  int
	window     time.Duration
	groupBy    string
	severity   string
	hooks      []*hook
	maxAlerts  int
	ratePeriod time.Duration

	certWarn time.Duration // certificate-expiring only

	groups     map[string]*window
	sent       []time.Time // send times within ratePeriod
	suppressed int         // since the last sent alert
	fired      atomic.Uint64
	suppTotal  atomic.Uint64
}

type window struct {
	start, first, last time.Time
	count              int
	fired              bool
	maxSev             string
	samples            []events.Event
}

// New compiles cfg. Call Close to stop the senders.
func New(cfg Config, opts Options) (*Engine, error) {
	if l := cfg.Validate(); len(l) > 0 {
		errs := make([]error, len(l))
		for i, e := range l {
			errs[i] = e
		}
		return nil, fmt.Errorf("alerts: %w", errors.Join(errs...))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Publisher == nil {
		opts.Publisher = events.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{opts: opts, now: opts.Now, ctx: ctx, cancel: cancel, stopTick: make(chan struct{})}
	byName := map[string]*hook{}
	for _, w := range cfg.Webhooks {
		h, err := newHook(w, opts)
		if err != nil {
			cancel()
			return nil, err
		}
		e.hooks = append(e.hooks, h)
		byName[w.Name] = h
	}
	for _, rc := range cfg.Rules {
		r := &rule{
			name:       rc.Name,
			match:      matcher(rc.Match),
			threshold:  or(rc.Threshold, DefaultThreshold),
			window:     or(rc.Window, DefaultWindow),
			groupBy:    or(rc.GroupBy, GroupNone),
			severity:   rc.Severity,
			maxAlerts:  or(rc.MaxAlerts, DefaultMaxAlerts),
			ratePeriod: or(rc.RatePeriod, DefaultRatePeriod),
		}
		r.hooks = e.hooks
		if len(rc.Webhooks) > 0 {
			r.hooks = nil
			for _, n := range rc.Webhooks {
				r.hooks = append(r.hooks, byName[n])
			}
		}
		e.rules = append(e.rules, r)
	}
	e.rules = append(e.rules, builtins(cfg.Builtin, e.hooks, opts)...)
	for _, r := range e.rules {
		r.groups = map[string]*window{}
	}
	for _, h := range e.hooks {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			h.run(ctx)
		}()
	}
	if opts.Drops != nil || opts.Certs != nil {
		if opts.Drops != nil {
			e.lastDrops = opts.Drops()
		}
		e.tickWG.Add(1)
		go func() {
			defer e.tickWG.Done()
			t := time.NewTicker(tickEvery)
			defer t.Stop()
			for {
				select {
				case <-e.stopTick:
					return
				case <-t.C:
					e.Tick()
				}
			}
		}()
	}
	return e, nil
}

// builtins returns the built-in rules that are not disabled.
func builtins(b Builtin, hooks []*hook, opts Options) []*rule {
	var out []*rule
	add := func(name string, r *rule) {
		if slices.Contains(b.Disabled, name) {
			return
		}
		r.name, r.hooks = name, hooks
		r.maxAlerts, r.ratePeriod = DefaultMaxAlerts, DefaultRatePeriod
		out = append(out, r)
	}
	add(BuiltinReloadFailed, &rule{threshold: 1, window: time.Minute, groupBy: GroupNone, severity: events.SeverityHigh,
		match: func(e *events.Event) bool { return e.Type == events.TypeConfigReload && e.Attrs["result"] == "error" }})
	add(BuiltinStoreFallback, &rule{threshold: 1, window: 10 * time.Minute, groupBy: GroupNone, severity: events.SeverityHigh,
		match: func(e *events.Event) bool {
			return e.Type == events.TypeStore && slices.Contains(e.Rules, "store.fallback")
		}})
	add(BuiltinDenialSpike, &rule{threshold: or(b.DenialSpike, DefaultSpikeCount), window: or(b.DenialSpikeWindow, DefaultSpikeWindow),
		groupBy: GroupNone, severity: events.SeverityHigh,
		match: func(e *events.Event) bool { return e.Type == events.TypeDenial }})
	if opts.Drops != nil {
		add(BuiltinEventsDropped, &rule{threshold: 1, window: 5 * time.Minute, groupBy: GroupNone, severity: events.SeverityCritical,
			match: func(e *events.Event) bool { return e.Type == typeDropped }})
	}
	if opts.Certs != nil {
		warn := or(b.CertificateWarning, DefaultCertWarn)
		add(BuiltinCertExpiring, &rule{threshold: 1, window: 24 * time.Hour, groupBy: groupCert, severity: events.SeverityHigh,
			match: func(e *events.Event) bool { return e.Type == typeCert }, certWarn: warn})
	}
	return out
}

// Synthetic event types of the time-based built-ins.
const (
	typeDropped = "alert.events-dropped"
	typeCert    = "alert.certificate-expiring"
	groupCert   = "certificate"
)

// matcher compiles a Match.
func matcher(m Match) func(*events.Event) bool {
	minSev := severityRank(m.Severity)
	return func(e *events.Event) bool {
		if m.Type != "" && e.Type != m.Type || m.Stage != "" && e.Stage != m.Stage || m.API != "" && e.API != m.API {
			return false
		}
		if m.Rule != "" && !slices.Contains(e.Rules, m.Rule) {
			return false
		}
		return minSev < 0 || severityRank(e.Severity) >= minSev
	}
}

// Name returns "alerts".
func (e *Engine) Name() string { return "alerts" }

// Write counts a batch of events against every rule; it never waits on a
// webhook (alerts are queued).
func (e *Engine) Write(_ context.Context, batch []events.Event) error {
	for i := range batch {
		ev := &batch[i]
		if ev.Type == events.TypeAlert {
			continue // never alert on alerts
		}
		e.Observe(ev)
	}
	return nil
}

// Observe counts one event against every rule.
func (e *Engine) Observe(ev *events.Event) {
	var fire []*Alert
	e.mu.Lock()
	for _, r := range e.rules {
		if !r.match(ev) {
			continue
		}
		if a := e.count(r, ev); a != nil {
			fire = append(fire, a)
		}
	}
	e.mu.Unlock()
	for _, a := range fire {
		e.send(a)
	}
}

// count adds ev to its group's window and returns an alert when the
// threshold is reached for the first time in the window.
func (e *Engine) count(r *rule, ev *events.Event) *Alert {
	at := ev.Time
	if at.IsZero() {
		at = e.now()
	}
	g := groupOf(r.groupBy, ev)
	w := r.groups[g]
	if w == nil || !at.Before(w.start.Add(r.window)) {
		if w == nil && len(r.groups) >= maxGroups {
			r.sweep(at)
			if len(r.groups) >= maxGroups {
				e.untracked.Add(1)
				return nil
			}
		}
		w = &window{start: at, first: at}
		r.groups[g] = w
	}
	w.count++
	w.last = at
	if severityRank(ev.Severity) > severityRank(w.maxSev) {
		w.maxSev = ev.Severity
	}
	if len(w.samples) < DefaultSampleEvents {
		w.samples = append(w.samples, *ev)
	}
	if w.fired || w.count < r.threshold {
		return nil
	}
	w.fired = true
	r.fired.Add(1)
	// The per-rule rate: at most maxAlerts per ratePeriod, whatever the
	// group, so one noisy rule cannot flood a channel.
	now := e.now()
	keep := r.sent[:0]
	for _, t := range r.sent {
		if now.Sub(t) < r.ratePeriod {
			keep = append(keep, t)
		}
	}
	r.sent = keep
	if len(r.sent) >= r.maxAlerts {
		r.suppressed++
		r.suppTotal.Add(1)
		return nil
	}
	r.sent = append(r.sent, now)
	sev := r.severity
	if sev == "" {
		sev = w.maxSev
	}
	a := &Alert{
		ID:          alertID(r.name, g, w.start),
		Rule:        r.name,
		Severity:    sev,
		GroupBy:     r.groupBy,
		Count:       w.count,
		Threshold:   r.threshold,
		Window:      r.window.String(),
		WindowStart: w.start,
		First:       w.first,
		Last:        w.last,
		Suppressed:  r.suppressed,
		Node:        e.opts.Node,
		Events:      slices.Clone(w.samples),
	}
	if r.groupBy != GroupNone {
		a.Group = g
	}
	r.suppressed = 0
	a.Summary = summary(a, ev)
	return a
}

// sweep forgets windows that ended before at.
func (r *rule) sweep(at time.Time) {
	for g, w := range r.groups {
		if !at.Before(w.start.Add(r.window)) {
			delete(r.groups, g)
		}
	}
}

func groupOf(by string, ev *events.Event) string {
	switch by {
	case GroupClient:
		return ev.ClientIP
	case GroupAPI:
		return ev.API
	case groupCert:
		return ev.Reason
	}
	return ""
}

func alertID(rule, group string, start time.Time) string {
	sum := sha256.Sum256([]byte(rule + "\x00" + group + "\x00" + strconv.FormatInt(start.UnixNano(), 10)))
	return hex.EncodeToString(sum[:16])
}

func summary(a *Alert, ev *events.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d event(s) in %s", a.Rule, a.Count, a.Window)
	if a.Group != "" {
		fmt.Fprintf(&b, " from %s %s", a.GroupBy, a.Group)
	}
	if ev.Reason != "" {
		fmt.Fprintf(&b, " (latest: %s)", ev.Reason)
	}
	if a.Suppressed > 0 {
		fmt.Fprintf(&b, "; %d earlier alert(s) of this rule were rate-limited", a.Suppressed)
	}
	return b.String()
}

// send publishes a and queues it on each of its rule's webhooks.
func (e *Engine) send(a *Alert) {
	e.opts.Publisher.Publish(events.Event{
		Type: events.TypeAlert, Severity: a.Severity, Stage: "alert", Rules: []string{a.Rule},
		Reason: a.Summary, ClientIP: clientOf(a), Attrs: map[string]any{"alert_id": a.ID, "count": a.Count, "group": a.Group},
	})
	for _, r := range e.rules {
		if r.name != a.Rule {
			continue
		}
		for _, h := range r.hooks {
			h.enqueue(a)
		}
	}
}

func clientOf(a *Alert) string {
	if a.GroupBy == GroupClient {
		return a.Group
	}
	return ""
}

// Tick runs the time-based built-ins now: events-dropped (the bus lost
// events since the last tick) and certificate-expiring. The engine calls
// it every 10s; tests call it directly.
func (e *Engine) Tick() {
	now := e.now()
	if d := e.opts.Drops; d != nil {
		total := d()
		e.mu.Lock()
		delta := total - e.lastDrops
		e.lastDrops = total
		e.mu.Unlock()
		if delta > 0 {
			e.Observe(&events.Event{Time: now, Type: typeDropped, Severity: events.SeverityCritical,
				Reason: fmt.Sprintf("%d security events were dropped or failed to be written", delta)})
		}
	}
	if c := e.opts.Certs; c != nil {
		warn := DefaultCertWarn
		for _, r := range e.rules {
			if r.name == BuiltinCertExpiring {
				warn = r.certWarn
			}
		}
		for _, cert := range c() {
			left := cert.NotAfter.Sub(now)
			if left < warn {
				e.Observe(&events.Event{Time: now, Type: typeCert, Severity: events.SeverityHigh, Reason: cert.Name,
					Attrs: map[string]any{"not_after": cert.NotAfter, "expires_in": left.Round(time.Minute).String()}})
			}
		}
	}
}

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	s := Stats{Fired: map[string]uint64{}, Suppressed: map[string]uint64{}, Sent: map[string]uint64{},
		Failures: map[string]uint64{}, Retries: map[string]uint64{}, Dropped: map[string]uint64{}, Untracked: e.untracked.Load()}
	for _, r := range e.rules {
		s.Fired[r.name] = r.fired.Load()
		s.Suppressed[r.name] = r.suppTotal.Load()
	}
	for _, h := range e.hooks {
		s.Sent[h.name] = h.sent.Load()
		s.Failures[h.name] = h.failures.Load()
		s.Retries[h.name] = h.retries.Load()
		s.Dropped[h.name] = h.dropped.Load()
	}
	return s
}

// closeTimeout is how long Close lets queued alerts go out.
const closeTimeout = 5 * time.Second

// Close stops the engine: queued alerts get up to 5s to be delivered, then
// an alert still being retried is given up and what is left is dropped,
// all counted.
func (e *Engine) Close() error {
	e.stopOnce.Do(func() { close(e.stopTick) })
	e.tickWG.Wait()
	for _, h := range e.hooks {
		h.close()
	}
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeTimeout):
	}
	e.cancel()
	<-done
	return nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
