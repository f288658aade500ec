package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// ID prefixes the stage ids and rule ids of this package; the config key is
// "ratelimit" for both phases.
const ID = "ratelimit"

// Stage ids of the two phases of the ratelimit block.
const (
	// IPID is the phase before authentication (limits keyed by client data).
	IPID = "ratelimit.ip"
	// PrincipalID is the phase after authentication (principal and key
	// limits, quotas, tiers, concurrency caps, load shedding).
	PrincipalID = "ratelimit.principal"
)

// IPModule and PrincipalModule register the two phases of the ratelimit
// block; the registry places authn between them.
var (
	IPModule        = pipeline.ModuleOf[Config]{ID: IPID, Key: "ratelimit", New: moduleFor(BeforeAuthn)}
	PrincipalModule = pipeline.ModuleOf[Config]{ID: PrincipalID, Key: "ratelimit", New: moduleFor(AfterAuthn)}
)

func moduleFor(phase Phase) func(*pipeline.Build, *Config, *Config) (pipeline.Stage, error) {
	return func(b *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		l, err := New(c, phase, Options{API: b.API, Store: b.Store, Now: b.Now, Upstream: upstreamKey(b.Upstream)})
		if err != nil || l == nil {
			return nil, err // never a typed nil in the interface
		}
		return l, nil
	}
}

// upstreamKey names an upstream by its targets, in any order, so that APIs
// sending to the same targets share one concurrency cap.
func upstreamKey(targets []string) string {
	t := slices.Clone(targets)
	slices.Sort(t)
	return strings.Join(t, " ")
}

// Phase says which half of the ratelimit block a Limiter runs.
type Phase int

// Phases of the ratelimit stage.
const (
	// BeforeAuthn runs the limits keyed only by client data (ip, header,
	// route, operation).
	BeforeAuthn Phase = iota
	// AfterAuthn runs the limits and quotas that need the principal, the
	// tiers, the concurrency caps and load shedding.
	AfterAuthn
)

// Options are what a Limiter needs besides its config.
type Options struct {
	// API is the API's name; it namespaces every store key.
	API string
	// Store keeps limit and quota state. Nil uses a private Memory store
	// (this node only, lost on reload).
	Store store.Limiter
	// Now is the clock. Nil uses time.Now.
	Now func() time.Time
	// Upstream identifies the API's upstream for Concurrency.Upstream; APIs
	// with equal Upstream strings share the cap. Default: API.
	Upstream string
}

// Limiter is one phase of an API's ratelimit block, compiled.
type Limiter struct {
	phase   Phase
	api     string
	st      store.Limiter
	now     func() time.Time
	v6bits  int
	headers bool
	rules   []*rule            // the API's rules for this phase
	tiers   map[string][]*rule // after authn: tier → rules
	// policy and tierPolicy are the RateLimit-Policy values of rules and
	// of each tier's rules when every rule applies, built once.
	policy     string
	tierPolicy map[string]string
	shed       []ShedClass
	maxAPI     int64
	maxUp      int64
	retryAfter time.Duration
	inflight   atomic.Int64
	upstream   *atomic.Int64
	latency    atomic.Int64 // EWMA, ns
	lastSample atomic.Int64 // unix ns
}

var _ pipeline.Stage = (*Limiter)(nil)

// rule is one compiled limit or quota.
type rule struct {
	name   string
	key    []string
	limit  store.Limit
	max    int64 // > 0: quota
	period store.Period
	ops    []string
	prefix string
	policy string // the RateLimit-Policy item
	keyPre string // "rl:API:NAME:", set by New
	// static is the whole store key when it depends on nothing but the
	// API (a "route" key), built once by New.
	static string
	rlPre  string // `"NAME";r=`, the start of its RateLimit item
}

// New compiles one phase of cfg. It returns (nil, nil) when the phase has
// nothing to do.
func New(cfg *Config, phase Phase, o Options) (*Limiter, error) {
	if cfg == nil {
		return nil, nil
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Store == nil {
		o.Store = store.NewMemory(o.Now)
	}
	if o.Upstream == "" {
		o.Upstream = o.API
	}
	l := &Limiter{phase: phase, api: o.API, st: o.Store, now: o.Now, v6bits: cfg.IPv6Prefix,
		headers: cfg.Headers != "off", retryAfter: cfg.Concurrency.RetryAfter}
	if l.v6bits == 0 {
		l.v6bits = 64
	}
	if l.retryAfter <= 0 {
		l.retryAfter = time.Second
	}
	pre, post := compile(cfg.Limits, cfg.Quotas)
	defer func() {
		for _, rs := range append([][]*rule{l.rules}, slices.Collect(maps.Values(l.tiers))...) {
			for _, r := range rs {
				r.keyPre = "rl:" + l.api + ":" + r.name + ":"
				r.rlPre = strconv.Quote(r.name) + ";r="
				if !slices.ContainsFunc(r.key, func(k string) bool { return k != "route" }) {
					r.static, _ = l.key(r, &pipeline.Exchange{API: l.api})
				}
			}
		}
		l.policy = policyOf(l.rules)
		l.tierPolicy = make(map[string]string, len(l.tiers))
		for name, rs := range l.tiers {
			l.tierPolicy[name] = policyOf(rs)
		}
	}()
	if phase == BeforeAuthn {
		l.rules = pre
		if len(l.rules) == 0 {
			return nil, nil
		}
		return l, nil
	}
	l.rules = post
	for name, t := range cfg.Tiers {
		tp, tpost := compile(t.Limits, t.Quotas)
		if l.tiers == nil {
			l.tiers = map[string][]*rule{}
		}
		// A tier replaces what runs after authn; its client-keyed limits
		// run here too (the tier is only known after authn).
		l.tiers[name] = append(tp, tpost...)
	}
	l.shed = cfg.Shed
	l.maxAPI = int64(cfg.Concurrency.Max)
	l.maxUp = int64(cfg.Concurrency.Upstream)
	if l.maxUp > 0 {
		l.upstream = upstreamCounter(o.Upstream)
	}
	if len(l.rules) == 0 && len(l.tiers) == 0 && len(l.shed) == 0 && l.maxAPI == 0 && l.maxUp == 0 {
		return nil, nil
	}
	return l, nil
}

// compile splits limits and quotas into those that run before authn (keys
// of client data only) and those that run after.
func compile(limits []Limit, quotas []Quota) (pre, post []*rule) {
	for i, lim := range limits {
		r := &rule{name: lim.Name, key: lim.Key, ops: lim.Operations, prefix: lim.PathPrefix,
			limit: store.Limit{Rate: lim.Rate, Period: lim.Per, Burst: lim.Burst}}
		if r.name == "" {
			r.name = "limit-" + strconv.Itoa(i+1)
		}
		if len(r.key) == 0 {
			r.key = []string{"ip"}
		}
		if r.limit.Period <= 0 {
			r.limit.Period = time.Second
		}
		// The policy as RateLimit-Policy states it: a GCRA limit admits
		// burst requests at once and refills them over burst × interval.
		burst := r.limit.Burst
		if burst <= 0 {
			burst = r.limit.Rate
		}
		w := time.Duration(burst) * r.limit.Period / time.Duration(r.limit.Rate)
		r.policy = policyItem(r.name, burst, ceilSeconds(w))
		if needsPrincipal(r.key) {
			post = append(post, r)
		} else {
			pre = append(pre, r)
		}
	}
	for i, q := range quotas {
		r := &rule{name: q.Name, key: q.Key, ops: q.Operations, max: q.Max, period: store.Period(q.Per)}
		if r.name == "" {
			r.name = "quota-" + strconv.Itoa(i+1)
		}
		if len(r.key) == 0 {
			r.key = []string{"principal"}
		}
		if r.period == "" {
			r.period = store.Day
		}
		w := int64(86400)
		if r.period == store.Month {
			w = 30 * 86400
		}
		r.policy = policyItem(r.name, r.max, w)
		post = append(post, r)
	}
	return pre, post
}

func policyItem(name string, q, w int64) string {
	return strconv.Quote(name) + ";q=" + strconv.FormatInt(q, 10) + ";w=" + strconv.FormatInt(w, 10)
}

func needsPrincipal(key []string) bool {
	for _, k := range key {
		if k == "principal" || k == "apikey" {
			return true
		}
	}
	return false
}

var (
	upMu       sync.Mutex
	upCounters = map[string]*atomic.Int64{}
)

// upstreamCounter returns the process-wide in-flight counter of an
// upstream. It is process-wide on purpose: requests of a retired gateway
// (after a reload) still hold their slots until they finish.
func upstreamCounter(name string) *atomic.Int64 {
	upMu.Lock()
	defer upMu.Unlock()
	c, ok := upCounters[name]
	if !ok {
		c = new(atomic.Int64)
		upCounters[name] = c
	}
	return c
}

// ID returns "ratelimit.ip" or "ratelimit.principal", by phase.
func (l *Limiter) ID() string {
	if l.phase == BeforeAuthn {
		return IPID
	}
	return PrincipalID
}

// InFlight returns this API's requests in flight on this node (counted by
// the after-authn phase when it has caps or shedding).
func (l *Limiter) InFlight() int64 { return l.inflight.Load() }

// Request applies the phase's limits, quotas, caps and shedding.
func (l *Limiter) Request(ctx context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	release := func() {}
	if l.phase == AfterAuthn && (len(l.shed) > 0 || l.maxAPI > 0 || l.maxUp > 0) {
		var d *pipeline.Denial
		if release, d = l.acquire(x); d != nil {
			return d, nil
		}
	}
	rules, policy := l.rules, l.policy
	if l.tiers != nil && x.Principal != nil {
		if tier, _ := x.Principal.Attributes["tier"].(string); tier != "" {
			if tr, ok := l.tiers[tier]; ok {
				rules, policy = tr, l.tierPolicy[tier]
			}
		}
	}
	if len(rules) == 0 {
		return nil, nil
	}
	checks := make([]store.Check, 0, len(rules))
	applied := make([]*rule, 0, len(rules))
	for _, r := range rules {
		if !r.applies(x) {
			continue
		}
		key, ok := l.key(r, x)
		if !ok {
			continue
		}
		c := store.Check{Key: key}
		if r.max > 0 {
			c.Max, c.Period = r.max, r.period
		} else {
			c.Limit = r.limit
		}
		checks = append(checks, c)
		applied = append(applied, r)
	}
	if len(checks) == 0 {
		return nil, nil
	}
	ok, out, err := l.st.AllowAll(ctx, checks, 1)
	if err != nil {
		release()
		return nil, err
	}
	if ok {
		if l.headers {
			l.addHeaders(x, rules, policy, applied, out)
		}
		return nil, nil
	}
	release()
	// Report the check that keeps the client waiting longest.
	worst := -1
	for i, o := range out {
		if !o.Allowed && (worst < 0 || o.RetryAfter > out[worst].RetryAfter) {
			worst = i
		}
	}
	l.addHeaders(x, rules, policy, applied, out)
	r := applied[worst]
	reason := "too many requests: retry later"
	if r.max > 0 {
		reason = "request quota exhausted for this period"
	}
	return &pipeline.Denial{
		Status:   http.StatusTooManyRequests,
		Reason:   reason,
		Stage:    l.ID(),
		Rules:    []string{ID + "." + r.name},
		Location: "request",
		Headers:  http.Header{"Retry-After": {strconv.FormatInt(ceilSeconds(out[worst].RetryAfter), 10)}},
		Severity: events.SeverityLow,
	}, nil
}

// addHeaders adds one RateLimit and one RateLimit-Policy item per applied
// check (draft-ietf-httpapi-ratelimit-headers: structured-field lists).
// t is the seconds until the check is fully replenished; on a rejected
// check, until it admits a request again (which Retry-After repeats).
func (l *Limiter) addHeaders(x *pipeline.Exchange, rules []*rule, policy string, applied []*rule, out []store.Outcome) {
	var buf [256]byte
	rl := buf[:0]
	for i, r := range applied {
		o := out[i]
		t := o.ResetAfter
		if !o.Allowed {
			t = o.RetryAfter
		}
		if i > 0 {
			rl = append(rl, ", "...)
		}
		rl = append(rl, r.rlPre...)
		rl = strconv.AppendInt(rl, o.Remaining, 10)
		rl = append(rl, ";t="...)
		rl = strconv.AppendInt(rl, ceilSeconds(t), 10)
	}
	// The policy of the whole rule list is built once (New); only a
	// request that some rules did not apply to builds its own.
	pol := policy
	if len(applied) != len(rules) {
		pol = policyOf(applied)
	}
	// The keys are written in Go's canonical form so that adding them does
	// not re-canonicalise (and allocate) on every request; both values
	// share one backing array.
	vals := []string{pol, string(rl)}
	if x.ResponseHeader == nil {
		x.ResponseHeader = make(http.Header, 2)
	}
	h := x.ResponseHeader
	for i, k := range [2]string{hdrPolicy, hdrRateLimit} {
		if prev := h[k]; len(prev) > 0 {
			h[k] = append(prev, vals[i])
		} else {
			h[k] = vals[i : i+1 : i+1]
		}
	}
}

// policyOf is the RateLimit-Policy value of rules.
func policyOf(rules []*rule) string {
	items := make([]string, len(rules))
	for i, r := range rules {
		items[i] = r.policy
	}
	return strings.Join(items, ", ")
}

// Canonical forms of the IETF RateLimit and RateLimit-Policy field names
// (field names are case-insensitive).
const (
	hdrRateLimit = "Ratelimit"
	hdrPolicy    = "Ratelimit-Policy"
)

// ceilSeconds rounds up to whole seconds, at least 1 for any positive d.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func (r *rule) applies(x *pipeline.Exchange) bool {
	if len(r.ops) > 0 && !slices.Contains(r.ops, x.Operation) {
		return false
	}
	if r.prefix != "" && (x.Request == nil || !strings.HasPrefix(x.Request.URL.Path, r.prefix)) {
		return false
	}
	return true
}

// key builds the store key of rule r for x: "rl:API:NAME:part|part".
// Parts are escaped so that one value cannot forge another's key, and
// header values are hashed (they may be credentials and are unbounded).
func (l *Limiter) key(r *rule, x *pipeline.Exchange) (string, bool) {
	if r.static != "" && x.API == l.api {
		return r.static, true
	}
	var buf [128]byte
	b := append(buf[:0], r.keyPre...)
	for i, k := range r.key {
		if i > 0 {
			b = append(b, '|')
		}
		var v string
		switch {
		case k == "ip":
			if !x.ClientIP.IsValid() {
				return "", false
			}
			b = appendClientKey(b, x.ClientIP, l.v6bits)
			continue
		case k == "principal":
			if x.Principal == nil || x.Principal.ID == "" {
				return "", false
			}
			v = x.Principal.ID
		case k == "apikey":
			v = apiKeyID(x.Principal)
			if v == "" {
				return "", false
			}
		case k == "route":
			v = x.API
		case k == "operation":
			if x.Operation == "" {
				return "", false
			}
			v = x.Operation
		case strings.HasPrefix(k, "header:"):
			if x.Request == nil {
				return "", false
			}
			h := x.Request.Header.Get(k[len("header:"):])
			if h == "" {
				return "", false
			}
			sum := sha256.Sum256([]byte(h))
			v = hex.EncodeToString(sum[:12])
		}
		if strings.IndexByte(v, '|') >= 0 {
			v = strings.ReplaceAll(v, "|", "%7C")
		}
		b = append(b, v...)
	}
	return string(b), true
}

// apiKeyID is the API key id of a principal authenticated by an API key:
// its "key_id" attribute when authn sets one, else its id.
func apiKeyID(p *pipeline.Principal) string {
	if p == nil || p.Kind != "apikey" {
		return ""
	}
	if id, _ := p.Attributes["key_id"].(string); id != "" {
		return id
	}
	return p.ID
}

// ClientKey is how a client address is keyed: IPv4 as is, IPv6 grouped by
// its first v6bits bits (a /64 belongs to one client), IPv4-mapped IPv6 as
// IPv4.
func ClientKey(a netip.Addr, v6bits int) string {
	return string(appendClientKey(nil, a, v6bits))
}

// appendClientKey appends ClientKey(a, v6bits) to b.
func appendClientKey(b []byte, a netip.Addr, v6bits int) []byte {
	a = a.Unmap()
	if a.Is6() && v6bits > 0 && v6bits < 128 {
		if p, err := a.Prefix(v6bits); err == nil {
			return p.AppendTo(b)
		}
	}
	return a.AppendTo(b)
}

// acquire applies load shedding and the concurrency caps. On success it
// holds a slot until the exchange is done and returns a release that
// gives it back early (for a request then rejected by a limit).
func (l *Limiter) acquire(x *pipeline.Exchange) (func(), *pipeline.Denial) {
	now := l.now()
	inflight := l.inflight.Load()
	if c, ok := l.class(x); ok {
		lat := time.Duration(l.latency.Load())
		if now.UnixNano()-l.lastSample.Load() > int64(staleLatency) {
			lat = 0 // no recent samples: do not shed on old news
		}
		if (c.MaxInFlight > 0 && inflight >= int64(c.MaxInFlight)) || (c.MaxLatency > 0 && lat >= c.MaxLatency) {
			return nil, l.unavailable("ratelimit.shed", "the service is overloaded: retry later")
		}
	}
	if n := l.inflight.Add(1); l.maxAPI > 0 && n > l.maxAPI {
		l.inflight.Add(-1)
		return nil, l.unavailable("ratelimit.concurrency", "too many requests in progress: retry later")
	}
	if l.upstream != nil {
		if n := l.upstream.Add(1); n > l.maxUp {
			l.upstream.Add(-1)
			l.inflight.Add(-1)
			return nil, l.unavailable("ratelimit.concurrency.upstream", "too many requests in progress: retry later")
		}
	}
	var once sync.Once
	early := false // released before the upstream was reached: no sample
	release := func() {
		once.Do(func() {
			l.inflight.Add(-1)
			if l.upstream != nil {
				l.upstream.Add(-1)
			}
		})
	}
	x.OnDone(func() {
		if !early {
			end := l.now()
			l.observe(end.Sub(now), end)
		}
		release()
	})
	return func() { early = true; release() }, nil
}

// staleLatency is how old the last latency sample may be before shedding
// by latency stops: when everything is shed nothing refreshes the average,
// and a stale high value must not shed forever.
const staleLatency = 2 * time.Second

// observe folds one request's latency into the EWMA (weight 1/10).
func (l *Limiter) observe(d time.Duration, now time.Time) {
	old := l.latency.Load()
	l.latency.Store(old + (int64(d)-old)/10)
	l.lastSample.Store(now.UnixNano())
}

// class returns the first shedding class x belongs to.
func (l *Limiter) class(x *pipeline.Exchange) (ShedClass, bool) {
	for _, c := range l.shed {
		switch {
		case c.Match == "any",
			c.Match == "anonymous" && x.Principal == nil,
			c.Match == "authenticated" && x.Principal != nil:
			return c, true
		case strings.HasPrefix(c.Match, "tier:") && x.Principal != nil:
			if tier, _ := x.Principal.Attributes["tier"].(string); tier == c.Match[len("tier:"):] {
				return c, true
			}
		}
	}
	return ShedClass{}, false
}

func (l *Limiter) unavailable(rule, reason string) *pipeline.Denial {
	return &pipeline.Denial{
		Status:   http.StatusServiceUnavailable,
		Reason:   reason,
		Stage:    l.ID(),
		Rules:    []string{rule},
		Location: "request",
		Headers:  http.Header{"Retry-After": {strconv.FormatInt(ceilSeconds(l.retryAfter), 10)}},
		Severity: events.SeverityLow,
	}
}
