package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// BanID is the ban stage's id.
const BanID = "ban"

// BanModule registers the auto-ban: the top-level bans block. It refuses
// banned clients first in every chain, and counts each exchange's security
// events as strikes synchronously (pipeline.EventObserver), so a strike
// that crosses the threshold bans the client before its next request is
// judged.
var BanModule = pipeline.ModuleOf[BanConfig]{ID: BanID, Key: "bans", Scope: pipeline.ScopeGlobal,
	New: func(b *pipeline.Build, g, _ *BanConfig) (pipeline.Stage, error) {
		if g == nil {
			return nil, nil
		}
		bn, err := NewBanner(*g, BanOptions{API: b.API, CountUnrouted: b.First, Store: b.Store, Events: b.Events, Now: b.Now})
		if err != nil || bn == nil {
			return nil, err
		}
		return bn, nil
	}}

// BanStore is what the auto-ban keeps in the store: event counters and
// bans.
type BanStore interface {
	store.Counter
	store.Bans
}

// TypeBan is the event type of a ban decision (a client banned by the
// auto-ban, or a ban lifted through the admin API).
const TypeBan = "ban"

// BanOptions are what a Banner needs besides its config.
type BanOptions struct {
	// API is the API whose chain the Banner sits in. Observe counts only
	// that API's events, so that one Banner per API counts each event once.
	API string
	// CountUnrouted makes Observe also count events without an API
	// (malformed requests refused before routing). Set it on exactly one
	// Banner (the first API's).
	CountUnrouted bool
	// Store keeps counters and bans; nodes sharing a Redis store share
	// them. Nil uses a private Memory store.
	Store BanStore
	// Events receives ban decisions. Nil discards them.
	Events events.Publisher
	// Now is the clock. Nil uses time.Now.
	Now func() time.Time
	// IPv6Prefix groups IPv6 clients as the ratelimit "ip" key does.
	// Default 64.
	IPv6Prefix int
}

// Banner is the "ban" stage: it refuses clients with an active ban, and
// Observe turns their security events into bans.
type Banner struct {
	cfg   BanConfig
	o     BanOptions
	allow []netip.Prefix
	kinds map[string]bool
}

var (
	_ pipeline.Stage         = (*Banner)(nil)
	_ pipeline.EventObserver = (*Banner)(nil)
)

// NewBanner compiles the bans block; (nil, nil) when auto-ban is off.
func NewBanner(cfg BanConfig, o BanOptions) (*Banner, error) {
	if cfg.Threshold <= 0 {
		return nil, nil
	}
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
	b := &Banner{cfg: cfg, o: o, allow: cfg.prefixes(), kinds: map[string]bool{}}
	for _, k := range cfg.Events {
		b.kinds[k] = true
	}
	return b, nil
}

// ID returns "ban".
func (b *Banner) ID() string { return BanID }

// BanKey is the store key of a client's ban ("ip:203.0.113.7",
// "ip:2001:db8::/64").
func BanKey(client string) string { return "ip:" + client }

func (b *Banner) exempt(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range b.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Request refuses a banned client with 403 and Retry-After. The denial is
// quiet (no event per request: the ban itself was the event) and is never
// counted towards a new ban.
func (b *Banner) Request(ctx context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	if !x.ClientIP.IsValid() || b.exempt(x.ClientIP) {
		return nil, nil
	}
	ban, ok, err := b.o.Store.Banned(ctx, BanKey(ClientKey(x.ClientIP, b.o.IPv6Prefix)))
	if err != nil {
		return nil, fmt.Errorf("ban lookup: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return &pipeline.Denial{
		Status:   http.StatusForbidden,
		Reason:   "this client is temporarily banned after repeated security violations",
		Stage:    BanID,
		Rules:    []string{"ban.active"},
		Location: "client",
		Headers:  http.Header{"Retry-After": {strconv.FormatInt(ceilSeconds(ban.Until.Sub(b.o.Now())), 10)}},
		Quiet:    true,
	}, nil
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

// Observe counts one security event against its client and bans the
// client when it reaches the threshold within the window. Counting goes
// through the store, so every node's events add up. It returns the ban
// when this event caused one.
func (b *Banner) Observe(ctx context.Context, e events.Event) (store.Ban, bool, error) {
	if e.API != b.o.API && !(e.API == "" && b.o.CountUnrouted) {
		return store.Ban{}, false, nil
	}
	k := kind(e)
	// "denial" covers auth and enumeration denials too.
	if k == "" || !(b.kinds[k] || (b.kinds["denial"] && (k == "auth" || k == "enumeration"))) {
		return store.Ban{}, false, nil
	}
	ip, err := netip.ParseAddr(e.ClientIP)
	if err != nil || b.exempt(ip) {
		return store.Ban{}, false, nil
	}
	client := ClientKey(ip, b.o.IPv6Prefix)
	n, err := b.o.Store.Incr(ctx, "ban:events:"+client, b.cfg.Window)
	if err != nil {
		return store.Ban{}, false, fmt.Errorf("counting events: %w", err)
	}
	if n < int64(b.cfg.Threshold) {
		return store.Ban{}, false, nil
	}
	key := BanKey(client)
	if _, banned, err := b.o.Store.Banned(ctx, key); err != nil || banned {
		return store.Ban{}, false, err
	}
	strikes, err := b.o.Store.Incr(ctx, "ban:strikes:"+client, store.StrikeMemory)
	if err != nil {
		return store.Ban{}, false, fmt.Errorf("counting strikes: %w", err)
	}
	d := b.duration(strikes)
	now := b.o.Now()
	reason := fmt.Sprintf("%d security events within %s", n, b.cfg.Window)
	ban, err := b.o.Store.Ban(ctx, key, now.Add(d), reason)
	if err != nil {
		return store.Ban{}, false, fmt.Errorf("banning: %w", err)
	}
	b.o.Events.Publish(events.Event{
		Time: now, Type: TypeBan, Severity: events.SeverityHigh, ClientIP: e.ClientIP, API: e.API,
		Stage: BanID, Rules: []string{"ban.auto"}, Reason: "client banned for " + d.String() + " after " + reason,
		Mode: "block",
		Attrs: map[string]any{"key": key, "until": ban.Until.Format(time.RFC3339), "strikes": strikes,
			"duration_seconds": int64(d / time.Second), "trigger_request_id": e.RequestID},
	})
	return ban, true, nil
}

// duration is the length of the strikes-th ban: Duration × Multiplier^(strikes-1),
// capped at MaxDuration.
func (b *Banner) duration(strikes int64) time.Duration {
	f := float64(b.cfg.Duration) * math.Pow(b.cfg.Multiplier, float64(strikes-1))
	if f >= float64(b.cfg.MaxDuration) || math.IsInf(f, 0) {
		return b.cfg.MaxDuration
	}
	return time.Duration(f)
}
