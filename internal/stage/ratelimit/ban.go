package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/decision"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// BanID is the ban stage's id: it enforces every decision on the client's
// address or network.
const BanID = "ban"

// BanPrincipalID is the id of the ban stage that runs after authn and
// enforces decisions on the principal and its API key.
const BanPrincipalID = "ban.principal"

// BanModule registers the ban stage: the top-level bans block. It enforces
// the decisions in force on the client (bans: 403, throttles: 429 beyond
// bans.throttle), whoever took them (the auto-ban, a detector, an
// operator, CrowdSec), first in every chain; and, when bans.threshold is
// set, counts each exchange's security events as strikes synchronously
// (pipeline.EventObserver), so a strike that crosses the threshold bans the
// client before its next request is judged.
var BanModule = pipeline.ModuleOf[BanConfig]{ID: BanID, Key: "bans", Scope: pipeline.ScopeGlobal,
	New: func(b *pipeline.Build, g, _ *BanConfig) (pipeline.Stage, error) {
		if g == nil {
			return nil, nil
		}
		return NewBanner(*g, BanOptions{API: b.API, CountUnrouted: b.First, Store: b.Store, Events: b.Events, Now: b.Now})
	}}

// BanPrincipalModule registers the ban stage that enforces decisions on
// principals and API keys, after authn has named them. It reads the same
// bans block.
var BanPrincipalModule = pipeline.ModuleOf[BanConfig]{ID: BanPrincipalID, Key: "bans", Scope: pipeline.ScopeGlobal,
	New: func(b *pipeline.Build, g, _ *BanConfig) (pipeline.Stage, error) {
		if g == nil {
			return nil, nil
		}
		bn, err := NewBanner(*g, BanOptions{API: b.API, Store: b.Store, Events: b.Events, Now: b.Now})
		if err != nil {
			return nil, err
		}
		return &PrincipalBanner{b: bn}, nil
	}}

// BanStore is what the ban stages keep in the store: decisions, strike
// and event counters, and the throttle limits.
type BanStore interface {
	decision.Store
	store.Limiter
}

// BanOptions are what a Banner needs besides its config.
type BanOptions struct {
	// API is the API whose chain the Banner sits in. Observe counts only
	// that API's events, so that one Banner per API counts each event once.
	API string
	// CountUnrouted makes Observe also count events without an API
	// (malformed requests refused before routing). Set it on exactly one
	// Banner (the first API's).
	CountUnrouted bool
	// Store keeps decisions and counters; nodes sharing a Redis store
	// share them. Nil uses a private Memory store.
	Store BanStore
	// Events receives decisions. Nil discards them.
	Events events.Publisher
	// Now is the clock. Nil uses time.Now.
	Now func() time.Time
	// IPv6Prefix groups IPv6 clients as the ratelimit "ip" key does.
	// Default 64.
	IPv6Prefix int
}

// Banner is the "ban" stage: it enforces the decisions on a client's
// address and network, and Observe turns its security events into bans.
type Banner struct {
	cfg      BanConfig
	o        BanOptions
	issuer   *decision.Issuer
	policy   decision.Policy
	throttle store.Limit
	kinds    map[string]bool
}

var (
	_ pipeline.Stage         = (*Banner)(nil)
	_ pipeline.EventObserver = (*Banner)(nil)
	_ pipeline.Stage         = (*PrincipalBanner)(nil)
)

// NewBanner compiles the bans block.
func NewBanner(cfg BanConfig, o BanOptions) (*Banner, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	cfg = cfg.withDefaults()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Store == nil {
		o.Store = store.NewMemory(o.Now)
	}
	if o.Events == nil {
		o.Events = events.Discard
	}
	if o.IPv6Prefix == 0 {
		o.IPv6Prefix = 64
	}
	b := &Banner{cfg: cfg, o: o, policy: cfg.DecisionPolicy(), kinds: map[string]bool{},
		throttle: store.Limit{Rate: cfg.Throttle.Rate, Period: cfg.Throttle.Per}}
	b.issuer = decision.NewIssuer(o.Store, o.Events, o.Now, b.policy)
	for _, k := range cfg.Events {
		b.kinds[k] = true
	}
	return b, nil
}

// ID returns "ban".
func (b *Banner) ID() string { return BanID }

// BanKey is the store key of decisions on a client's address
// ("ip:203.0.113.7", "ip:2001:db8::/64").
func BanKey(client string) string { return store.DecisionKey(store.ScopeIP, client) }

// Request enforces the decisions on the client's address and on every
// range that holds it.
func (b *Banner) Request(ctx context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	if !x.ClientIP.IsValid() || b.policy.Exempt(x.ClientIP) {
		return nil, nil
	}
	ds, err := b.o.Store.Lookup(ctx, []string{BanKey(ClientKey(x.ClientIP, b.o.IPv6Prefix))}, x.ClientIP)
	if err != nil {
		return nil, fmt.Errorf("decision lookup: %w", err)
	}
	return b.enforce(ctx, ds, BanID, "client")
}

// enforce turns the strongest decision among ds into a denial: a ban
// refuses with 403 and Retry-After; a throttle admits the scope at the
// throttle rate and refuses beyond it with 429. The denial is quiet (no
// event per request: the decision itself was the event) and never counts
// towards a new ban. The decision's reason and origin are in the answer
// and the access record (rules).
func (b *Banner) enforce(ctx context.Context, ds []store.Decision, stage, location string) (*pipeline.Denial, error) {
	d, ok := decision.Strongest(ds)
	if !ok {
		return nil, nil
	}
	origin := d.Origin
	if origin == "" {
		origin = "unknown"
	}
	rules := []string{"ban.active", "decision." + d.Type, "origin." + origin}
	if d.Type == store.TypeThrottle {
		res, err := b.o.Store.Allow(ctx, "decision:throttle:"+d.Key(), b.throttle, 1)
		if err != nil {
			return nil, fmt.Errorf("throttle: %w", err)
		}
		if res.Allowed {
			return nil, nil
		}
		return &pipeline.Denial{
			Status:   http.StatusTooManyRequests,
			Reason:   "this client is throttled: " + d.Reason,
			Stage:    stage,
			Rules:    rules,
			Location: location,
			Headers:  http.Header{"Retry-After": {strconv.FormatInt(ceilSeconds(res.RetryAfter), 10)}},
			Quiet:    true,
		}, nil
	}
	return &pipeline.Denial{
		Status:   http.StatusForbidden,
		Reason:   "this client is temporarily banned: " + d.Reason,
		Stage:    stage,
		Rules:    rules,
		Location: location,
		Headers:  http.Header{"Retry-After": {strconv.FormatInt(ceilSeconds(d.Until.Sub(b.o.Now())), 10)}},
		Quiet:    true,
	}, nil
}

// PrincipalBanner is the "ban.principal" stage: it enforces decisions on
// the authenticated principal and its API key.
type PrincipalBanner struct {
	b *Banner
}

// ID returns "ban.principal".
func (p *PrincipalBanner) ID() string { return BanPrincipalID }

// Request enforces the decisions on x's principal and API key.
func (p *PrincipalBanner) Request(ctx context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	pr := x.Principal
	if pr == nil || pr.ID == "" || (x.ClientIP.IsValid() && p.b.policy.Exempt(x.ClientIP)) {
		return nil, nil
	}
	keys := []string{store.DecisionKey(store.ScopePrincipal, pr.ID)}
	if id := PrincipalKeyID(pr); id != "" {
		keys = append(keys, store.DecisionKey(store.ScopeAPIKey, id))
	}
	ds, err := p.b.o.Store.Lookup(ctx, keys, netip.Addr{})
	if err != nil {
		return nil, fmt.Errorf("decision lookup: %w", err)
	}
	return p.b.enforce(ctx, ds, BanPrincipalID, "principal")
}

// PrincipalKeyID is the API key id of an API-key principal, "" for
// others.
func PrincipalKeyID(p *pipeline.Principal) string {
	if p == nil || p.Kind != "apikey" {
		return ""
	}
	id, _ := p.Attributes["key_id"].(string)
	return id
}

// kind maps an event to the bans.events kind it counts as ("" when none).
func kind(e events.Event) string {
	switch e.Type {
	case events.TypeMalformed:
		return "malformed"
	case events.TypeDenial:
	default:
		return ""
	}
	switch {
	case e.Stage == BanID:
		return ""
	case strings.HasPrefix(e.Stage, ID+"."):
		return "ratelimit"
	case e.Stage == "authn" || strings.HasPrefix(e.Stage, "authn."):
		return "auth"
	}
	for _, r := range e.Rules {
		if strings.HasPrefix(r, "authz.enumeration") {
			return "enumeration"
		}
	}
	return "denial"
}

// ObserveEvent implements pipeline.EventObserver: Observe, keeping only the
// error.
func (b *Banner) ObserveEvent(ctx context.Context, e events.Event) error {
	_, _, err := b.Observe(ctx, e)
	return err
}

// Observe counts one security event against its client and, when bans
// threshold is set and the client reaches it within the window, bans the
// client (a decision of origin "bans", escalated for repeat offenders).
// Counting goes through the store, so every node's events add up. It
// returns the decision when this event caused one.
func (b *Banner) Observe(ctx context.Context, e events.Event) (store.Decision, bool, error) {
	if b.cfg.Threshold <= 0 || (e.API != b.o.API && !(e.API == "" && b.o.CountUnrouted)) {
		return store.Decision{}, false, nil
	}
	k := kind(e)
	// "denial" covers auth and enumeration denials too.
	if k == "" || !(b.kinds[k] || (b.kinds["denial"] && (k == "auth" || k == "enumeration"))) {
		return store.Decision{}, false, nil
	}
	ip, err := netip.ParseAddr(e.ClientIP)
	if err != nil || b.policy.Exempt(ip) {
		return store.Decision{}, false, nil
	}
	client := ClientKey(ip, b.o.IPv6Prefix)
	n, err := b.o.Store.Incr(ctx, "ban:events:"+client, b.cfg.Window)
	if err != nil {
		return store.Decision{}, false, fmt.Errorf("counting events: %w", err)
	}
	if n < int64(b.cfg.Threshold) {
		return store.Decision{}, false, nil
	}
	key := BanKey(client)
	if ds, err := b.o.Store.Lookup(ctx, []string{key}, netip.Addr{}); err != nil || len(ds) > 0 {
		return store.Decision{}, false, err
	}
	d, err := b.issuer.Issue(ctx, decision.Request{
		Scope: store.ScopeIP, Value: client, Type: store.TypeBan, Origin: "bans",
		Reason: fmt.Sprintf("%d security events within %s", n, b.cfg.Window),
		Event: events.Event{API: e.API, ClientIP: e.ClientIP, RequestID: e.RequestID,
			Attrs: map[string]any{"trigger_request_id": e.RequestID, "events": n, "window_seconds": int64(b.cfg.Window / time.Second)}},
	})
	if err != nil {
		return store.Decision{}, false, fmt.Errorf("banning: %w", err)
	}
	return d, true, nil
}
