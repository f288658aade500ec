package ratelimit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2025, 3, 31, 23, 59, 58, 500_000_000, time.UTC)

func exchange(ip string, p *pipeline.Principal) *pipeline.Exchange {
	r := httptest.NewRequest("GET", "/pets/1", nil)
	x := pipeline.NewExchange(r, "id", t0)
	x.ClientIP = netip.MustParseAddr(ip)
	x.API = "shop"
	x.Operation = "GET /pets/{id}"
	x.Principal = p
	return x
}

func mustNew(t *testing.T, cfg *Config, phase Phase, c *clock, st store.Store) *Limiter {
	t.Helper()
	l, err := New(cfg, phase, Options{API: "shop", Store: st, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if l == nil {
		t.Fatal("got nil limiter")
	}
	return l
}

func TestGCRAHeadersAndRetryAfter(t *testing.T) {
	c := &clock{t: t0}
	cfg := &Config{Limits: []Limit{{Name: "per-ip", Rate: 10, Per: time.Second, Burst: 20}}}
	l := mustNew(t, cfg, BeforeAuthn, c, store.NewMemory(c.Now))
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		x := exchange("203.0.113.7", nil)
		d, err := l.Request(ctx, x)
		if err != nil || d != nil {
			t.Fatalf("request %d: got %+v, %v, want allowed", i, d, err)
		}
		if i == 0 {
			if got, want := x.ResponseHeader.Get("RateLimit-Policy"), `"per-ip";q=20;w=2`; got != want {
				t.Fatalf("policy: got %v, want %v", got, want)
			}
			// 19 left; full again 100ms after → rounded up to 1s.
			if got, want := x.ResponseHeader.Get("RateLimit"), `"per-ip";r=19;t=1`; got != want {
				t.Fatalf("first RateLimit: got %v, want %v", got, want)
			}
		}
		if i == 19 {
			// Exhausted but admitted: t is until fully replenished (2s).
			if got, want := x.ResponseHeader.Get("RateLimit"), `"per-ip";r=0;t=2`; got != want {
				t.Fatalf("20th RateLimit: got %v, want %v", got, want)
			}
		}
	}
	x := exchange("203.0.113.7", nil)
	d, err := l.Request(ctx, x)
	if err != nil || d == nil {
		t.Fatalf("21st: got %v, %v, want a denial", d, err)
	}
	if d.Status != http.StatusTooManyRequests || d.Rules[0] != "ratelimit.per-ip" {
		t.Fatalf("21st: got %d %v, want 429 ratelimit.per-ip", d.Status, d.Rules)
	}
	if got := d.Headers.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After: got %v, want 1", got)
	}
	if got, want := x.ResponseHeader.Get("RateLimit"), `"per-ip";r=0;t=1`; got != want {
		t.Fatalf("429 RateLimit: got %v, want %v", got, want)
	}
	// Another client is unaffected.
	if d, _ := l.Request(ctx, exchange("203.0.113.8", nil)); d != nil {
		t.Fatalf("other client: got %+v, want allowed", d)
	}
	// Steady state: one request per 100ms.
	for i := 0; i < 10; i++ {
		c.Add(100 * time.Millisecond)
		if d, _ := l.Request(ctx, exchange("203.0.113.7", nil)); d != nil {
			t.Fatalf("steady %d: got denied", i)
		}
		if d, _ := l.Request(ctx, exchange("203.0.113.7", nil)); d == nil {
			t.Fatalf("steady %d second: got allowed", i)
		}
	}
}

func TestRetryAfterExactSeconds(t *testing.T) {
	c := &clock{t: t0}
	cfg := &Config{Limits: []Limit{{Name: "slow", Rate: 1, Per: 90 * time.Second}}}
	l := mustNew(t, cfg, BeforeAuthn, c, nil)
	ctx := context.Background()
	if d, _ := l.Request(ctx, exchange("198.51.100.1", nil)); d != nil {
		t.Fatal("first: got denied")
	}
	c.Add(30*time.Second + 500*time.Millisecond)
	x := exchange("198.51.100.1", nil)
	d, _ := l.Request(ctx, x)
	if d == nil {
		t.Fatal("second: got allowed")
	}
	// 59.5s left → 60.
	if got := d.Headers.Get("Retry-After"); got != "60" {
		t.Fatalf("Retry-After: got %v, want 60", got)
	}
	if got, want := x.ResponseHeader.Get("RateLimit"), `"slow";r=0;t=60`; got != want {
		t.Fatalf("RateLimit: got %v, want %v", got, want)
	}
	if got, want := x.ResponseHeader.Get("RateLimit-Policy"), `"slow";q=1;w=90`; got != want {
		t.Fatalf("RateLimit-Policy: got %v, want %v", got, want)
	}
}

func TestRejectedRequestsDoNotConsume(t *testing.T) {
	c := &clock{t: t0}
	st := store.NewMemory(c.Now)
	// The per-IP limit is generous; the per-principal limit is tight.
	cfg := &Config{Limits: []Limit{
		{Name: "ip", Rate: 5, Per: time.Minute},
		{Name: "user", Key: []string{"principal", "ip"}, Rate: 1, Per: time.Minute},
	}}
	pre := mustNew(t, cfg, BeforeAuthn, c, st)
	post := mustNew(t, cfg, AfterAuthn, c, st)
	ctx := context.Background()
	alice := &pipeline.Principal{ID: "alice", Kind: "apikey"}
	run := func() *pipeline.Denial {
		x := exchange("192.0.2.1", alice)
		if d, _ := pre.Request(ctx, x); d != nil {
			return d
		}
		d, _ := post.Request(ctx, x)
		return d
	}
	if d := run(); d != nil {
		t.Fatalf("first: got %+v", d)
	}
	for i := 0; i < 10; i++ {
		// Hammering a rejected limit: the rejections do not use up the
		// principal's limit any further (Retry-After stays at 60s - elapsed).
		d := run()
		if d == nil {
			t.Fatalf("hammer %d: got allowed", i)
		}
	}
	c.Add(time.Minute)
	if d := run(); d != nil {
		t.Fatalf("after a minute: got %+v, want allowed", d)
	}
	// Two runs without a principal exhaust nothing of alice's.
	q := &Config{Quotas: []Quota{{Name: "daily", Max: 3}}, Limits: []Limit{{Name: "burst", Key: []string{"principal"}, Rate: 1, Per: time.Hour}}}
	ql := mustNew(t, q, AfterAuthn, c, store.NewMemory(c.Now))
	if d, _ := ql.Request(ctx, exchange("192.0.2.1", alice)); d != nil {
		t.Fatalf("quota first: got %+v", d)
	}
	for i := 0; i < 5; i++ {
		if d, _ := ql.Request(ctx, exchange("192.0.2.1", alice)); d == nil || d.Rules[0] != "ratelimit.burst" {
			t.Fatalf("rate-limited %d: got %+v, want ratelimit.burst", i, d)
		}
	}
	x := exchange("192.0.2.1", alice)
	c.Add(time.Hour)
	if d, _ := ql.Request(ctx, x); d != nil {
		t.Fatalf("after an hour: got %+v", d)
	}
	// The five 429s did not count against the daily quota: 2 used of 3,
	// reset at midnight (01:00:58.5 → 22:59:01.5 later, rounded up).
	if got, want := x.ResponseHeader.Get("RateLimit"), `"burst";r=0;t=3600, "daily";r=1;t=82742`; got != want {
		t.Fatalf("RateLimit: got %v, want %v", got, want)
	}
}

func TestQuotaRollsOverAtMidnight(t *testing.T) {
	c := &clock{t: t0} // 23:59:58.5 UTC
	cfg := &Config{Quotas: []Quota{{Name: "daily", Max: 2, Per: "day"}}}
	l := mustNew(t, cfg, AfterAuthn, c, nil)
	ctx := context.Background()
	bob := &pipeline.Principal{ID: "bob"}
	for i := 0; i < 2; i++ {
		if d, _ := l.Request(ctx, exchange("192.0.2.2", bob)); d != nil {
			t.Fatalf("unit %d: got denied", i)
		}
	}
	x := exchange("192.0.2.2", bob)
	d, _ := l.Request(ctx, x)
	if d == nil || d.Status != 429 || d.Headers.Get("Retry-After") != "2" {
		t.Fatalf("over quota: got %+v, want 429 with Retry-After 2", d)
	}
	if got, want := x.ResponseHeader.Get("RateLimit-Policy"), `"daily";q=2;w=86400`; got != want {
		t.Fatalf("policy: got %v, want %v", got, want)
	}
	c.Add(1500 * time.Millisecond) // 00:00:00.000
	if d, _ := l.Request(ctx, exchange("192.0.2.2", bob)); d != nil {
		t.Fatalf("new day: got %+v, want allowed", d)
	}
}

func TestTiers(t *testing.T) {
	c := &clock{t: t0}
	cfg := &Config{
		Limits: []Limit{{Name: "default", Key: []string{"apikey"}, Rate: 1, Per: time.Minute}},
		Tiers:  map[string]Tier{"gold": {Limits: []Limit{{Name: "gold", Key: []string{"apikey"}, Rate: 3, Per: time.Minute}}}},
	}
	l := mustNew(t, cfg, AfterAuthn, c, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		p       *pipeline.Principal
		allowed int
	}{
		{"free key", &pipeline.Principal{ID: "k1", Kind: "apikey"}, 1},
		{"gold key", &pipeline.Principal{ID: "k2", Kind: "apikey", Attributes: map[string]any{"tier": "gold"}}, 3},
		{"unknown tier", &pipeline.Principal{ID: "k3", Kind: "apikey", Attributes: map[string]any{"tier": "x"}}, 1},
		{"jwt principal is not an api key", &pipeline.Principal{ID: "u1", Kind: "jwt"}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := 0
			for i := 0; i < 10; i++ {
				if d, _ := l.Request(ctx, exchange("192.0.2.3", tc.p)); d == nil {
					got++
				}
			}
			if got != tc.allowed {
				t.Fatalf("got %v allowed, want %v", got, tc.allowed)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	c := &clock{t: t0}
	for _, tc := range []struct {
		name string
		key  []string
		a, b *pipeline.Exchange
		same bool
	}{
		{"ipv6 same /64", []string{"ip"}, exchange("2001:db8::1", nil), exchange("2001:db8::ffff:1", nil), true},
		{"ipv6 other /64", []string{"ip"}, exchange("2001:db8::1", nil), exchange("2001:db8:0:1::1", nil), false},
		{"mapped ipv4", []string{"ip"}, exchange("192.0.2.9", nil), exchange("::ffff:192.0.2.9", nil), true},
		{"route shared by all", []string{"route"}, exchange("192.0.2.1", nil), exchange("192.0.2.2", nil), true},
		{"principal pipe escape", []string{"principal", "ip"},
			exchange("192.0.2.1", &pipeline.Principal{ID: "a|192.0.2.1"}), exchange("192.0.2.1", &pipeline.Principal{ID: "a"}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustNew(t, &Config{Limits: []Limit{{Name: "k", Key: tc.key, Rate: 1, Per: time.Hour}}},
				map[bool]Phase{true: AfterAuthn, false: BeforeAuthn}[needsPrincipal(tc.key)], c, nil)
			ctx := context.Background()
			if d, _ := l.Request(ctx, tc.a); d != nil {
				t.Fatal("first: got denied")
			}
			d, _ := l.Request(ctx, tc.b)
			if got := d != nil; got != tc.same {
				t.Fatalf("second denied: got %v, want %v", got, tc.same)
			}
		})
	}
	// A header key: absent header → not counted; values hashed.
	l := mustNew(t, &Config{Limits: []Limit{{Name: "h", Key: []string{"header:X-Tenant"}, Rate: 1, Per: time.Hour}}}, BeforeAuthn, c, nil)
	for i := 0; i < 3; i++ {
		if d, _ := l.Request(context.Background(), exchange("192.0.2.1", nil)); d != nil {
			t.Fatal("no header: got denied")
		}
	}
	x := exchange("192.0.2.1", nil)
	x.Request.Header.Set("X-Tenant", "acme")
	key, _ := l.key(l.rules[0], x)
	if strings.Contains(key, "acme") || len(key) != len("rl:shop:h:")+24 {
		t.Fatalf("header key: got %v", key)
	}
	// A route key is built once; the IP part of a combined key is not.
	l = mustNew(t, &Config{Limits: []Limit{{Name: "r", Key: []string{"route"}, Rate: 1, Per: time.Hour},
		{Name: "ri", Key: []string{"route", "ip"}, Rate: 1, Per: time.Hour}}}, BeforeAuthn, c, nil)
	for _, ip := range []string{"192.0.2.1", "2001:db8::1"} {
		x := exchange(ip, nil)
		if k, _ := l.key(l.rules[0], x); k != "rl:shop:r:shop" {
			t.Errorf("route key from %s: got %q", ip, k)
		}
		want := "rl:shop:ri:shop|" + ip
		if ip == "2001:db8::1" {
			want = "rl:shop:ri:shop|2001:db8::/64"
		}
		if k, _ := l.key(l.rules[1], x); k != want {
			t.Errorf("route+ip key from %s: got %q, want %q", ip, k, want)
		}
	}
}

func TestShedding(t *testing.T) {
	c := &clock{t: t0}
	cfg := &Config{
		Concurrency: Concurrency{Max: 4, RetryAfter: 3 * time.Second},
		Shed: []ShedClass{
			{Match: "anonymous", MaxInFlight: 2, MaxLatency: 500 * time.Millisecond},
			{Match: "authenticated", MaxInFlight: 4},
		},
	}
	l := mustNew(t, cfg, AfterAuthn, c, nil)
	ctx := context.Background()
	user := &pipeline.Principal{ID: "u"}
	var held []*pipeline.Exchange
	for i := 0; i < 2; i++ {
		x := exchange("192.0.2.1", user)
		if d, _ := l.Request(ctx, x); d != nil {
			t.Fatalf("auth %d: got %+v", i, d)
		}
		held = append(held, x)
	}
	d, _ := l.Request(ctx, exchange("192.0.2.9", nil))
	if d == nil || d.Status != 503 || d.Rules[0] != "ratelimit.shed" || d.Headers.Get("Retry-After") != "3" {
		t.Fatalf("anonymous at 2 in flight: got %+v, want 503 shed with Retry-After 3", d)
	}
	for i := 0; i < 2; i++ {
		x := exchange("192.0.2.1", user)
		if d, _ := l.Request(ctx, x); d != nil {
			t.Fatalf("auth %d: got %+v", i+2, d)
		}
		held = append(held, x)
	}
	if d, _ := l.Request(ctx, exchange("192.0.2.1", user)); d == nil || d.Rules[0] != "ratelimit.shed" {
		t.Fatalf("auth at 4 in flight: got %+v, want shed", d)
	}
	for _, x := range held {
		x.Finish()
	}
	if got := l.InFlight(); got != 0 {
		t.Fatalf("in flight after finish: got %d, want 0", got)
	}
	// Slow upstream: latency samples of 2s push the average past 500ms.
	for i := 0; i < 10; i++ {
		x := exchange("192.0.2.1", user)
		if d, _ := l.Request(ctx, x); d != nil {
			t.Fatalf("slow %d: got %+v", i, d)
		}
		c.Add(2 * time.Second)
		x.Finish()
	}
	if d, _ := l.Request(ctx, exchange("192.0.2.9", nil)); d == nil {
		t.Fatal("anonymous with slow upstream: got allowed, want shed")
	}
	x := exchange("192.0.2.1", user)
	if d, _ := l.Request(ctx, x); d != nil {
		t.Fatalf("authenticated with slow upstream: got %+v", d)
	}
	x.Finish()
	// Without fresh samples the old latency stops counting.
	c.Add(3 * time.Second)
	if d, _ := l.Request(ctx, exchange("192.0.2.9", nil)); d != nil {
		t.Fatalf("anonymous after stale latency: got %+v", d)
	}
}

func TestConcurrencyCapReleasedOnRateLimit(t *testing.T) {
	c := &clock{t: t0}
	cfg := &Config{
		Concurrency: Concurrency{Max: 1, Upstream: 1},
		Limits:      []Limit{{Key: []string{"principal"}, Rate: 1, Per: time.Hour}},
	}
	l, err := New(cfg, AfterAuthn, Options{API: "a", Now: c.Now, Upstream: "test-upstream-cap"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := &pipeline.Principal{ID: "p"}
	x := exchange("192.0.2.1", p)
	if d, _ := l.Request(ctx, x); d != nil {
		t.Fatalf("first: got %+v", d)
	}
	if d, _ := l.Request(ctx, exchange("192.0.2.1", &pipeline.Principal{ID: "q"})); d == nil || d.Rules[0] != "ratelimit.concurrency" {
		t.Fatalf("second while first in flight: got %+v, want concurrency", d)
	}
	x.Finish()
	if d, _ := l.Request(ctx, exchange("192.0.2.1", p)); d == nil || d.Status != 429 {
		t.Fatalf("rate limited: got %+v, want 429", d)
	}
	// The 429 gave its slot back.
	if d, _ := l.Request(ctx, exchange("192.0.2.1", &pipeline.Principal{ID: "q"})); d != nil {
		t.Fatalf("after 429: got %+v, want allowed", d)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Limits: []Limit{{Rate: 1, Key: []string{"ip", "header:X-A"}}}}, ""},
		{"zero rate", Config{Limits: []Limit{{}}}, "limits[0].rate: must be above 0"},
		{"bad key", Config{Limits: []Limit{{Rate: 1, Key: []string{"cookie"}}}}, `limits[0].key[0]: "cookie" is not one of ip, principal, apikey, route, operation, header:NAME`},
		{"bad period", Config{Quotas: []Quota{{Max: 1, Per: "week"}}}, `quotas[0].per: "week" is not one of day, month`},
		{"bad class", Config{Shed: []ShedClass{{Match: "vip", MaxInFlight: 1}}}, `shed[0].match: "vip" is not one of anonymous, authenticated, any, tier:NAME`},
		{"shed without threshold", Config{Shed: []ShedClass{{Match: "any"}}}, "shed[0]: needs max_in_flight or max_latency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.cfg.Validate()
			got := ""
			if len(errs) > 0 {
				got = errs[0].Error()
			}
			if got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if errs := (BanConfig{Threshold: 1, Allow: []string{"10.0.0.0/8", "nope"}, Events: []string{"auth", "x"}}).Validate(); len(errs) != 2 {
		t.Fatalf("ban config: got %v, want 2 problems", errs)
	}
}

// recorder is a Publisher that keeps events.
type recorder struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recorder) Publish(e events.Event) bool {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	return true
}

func TestBanEscalatesAndExpires(t *testing.T) {
	c := &clock{t: t0}
	st := store.NewMemory(c.Now)
	rec := &recorder{}
	b, err := NewBanner(BanConfig{Threshold: 3, Window: time.Minute, Duration: 10 * time.Second, Allow: []string{"10.0.0.0/8"}},
		BanOptions{API: "shop", Store: st, Events: rec, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	attack := events.Event{Type: events.TypeDenial, API: "shop", Stage: "waf", ClientIP: "198.51.100.66", Rules: []string{"waf.sqli"}}
	blocked := func(ip string) *pipeline.Denial {
		d, err := b.Request(ctx, exchange(ip, nil))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for round, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		for i := 0; i < 3; i++ {
			_, banned, err := b.Observe(ctx, attack)
			if err != nil {
				t.Fatal(err)
			}
			if banned != (i == 2) {
				t.Fatalf("round %d event %d: got banned %v", round, i, banned)
			}
		}
		d := blocked("198.51.100.66")
		if d == nil || d.Status != 403 || !d.Quiet {
			t.Fatalf("round %d: got %+v, want quiet 403", round, d)
		}
		if got, w := d.Headers.Get("Retry-After"), ceilSeconds(want); got != strconv.FormatInt(w, 10) {
			t.Fatalf("round %d Retry-After: got %v, want %v", round, got, w)
		}
		if d := blocked("198.51.100.67"); d != nil {
			t.Fatalf("round %d: other client got %+v", round, d)
		}
		c.Add(want - time.Millisecond)
		if blocked("198.51.100.66") == nil {
			t.Fatalf("round %d: ban ended early", round)
		}
		c.Add(time.Minute) // past the ban and the counting window
		if d := blocked("198.51.100.66"); d != nil {
			t.Fatalf("round %d after expiry: got %+v", round, d)
		}
	}
	if len(rec.evs) != 3 || rec.evs[0].Type != events.TypeDecision || rec.evs[2].Attrs["decision"].(map[string]any)["strikes"] != 3 {
		t.Fatalf("ban events: got %+v", rec.evs)
	}
	// Allowlisted, other APIs', rate-limit and ban events do not count.
	for _, e := range []events.Event{
		{Type: events.TypeDenial, API: "shop", Stage: "waf", ClientIP: "10.1.2.3"},
		{Type: events.TypeDenial, API: "other", Stage: "waf", ClientIP: "192.0.2.50"},
		{Type: events.TypeDenial, API: "shop", Stage: "ratelimit.ip", ClientIP: "192.0.2.50"},
		{Type: events.TypeDenial, API: "shop", Stage: "ban", ClientIP: "192.0.2.50"},
		{Type: events.TypeDetection, API: "shop", Stage: "waf", ClientIP: "192.0.2.50"},
	} {
		for i := 0; i < 5; i++ {
			if _, banned, _ := b.Observe(ctx, e); banned {
				t.Fatalf("event %+v: got a ban", e)
			}
		}
	}
}

func TestBanKinds(t *testing.T) {
	for _, tc := range []struct {
		e    events.Event
		want string
	}{
		{events.Event{Type: events.TypeDenial, Stage: "authn.apikey"}, "auth"},
		{events.Event{Type: events.TypeDenial, Stage: "authz", Rules: []string{"authz.enumeration"}}, "enumeration"},
		{events.Event{Type: events.TypeDenial, Stage: "waf"}, "denial"},
		{events.Event{Type: events.TypeMalformed}, "malformed"},
		{events.Event{Type: events.TypeDenial, Stage: "ratelimit.ip"}, "ratelimit"},
		{events.Event{Type: events.TypeDenial, Stage: "ratelimit.principal"}, "ratelimit"},
		{events.Event{Type: events.TypeUpstream}, ""},
	} {
		t.Run(tc.want+tc.e.Stage, func(t *testing.T) {
			if got := kind(tc.e); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestHeadersOfPartlyAppliedRulesAndBothPhases: RateLimit-Policy names only
// the rules that applied to the request, and when both phases limit one
// request (a per-IP limit before authn, a per-principal one after), the
// second phase adds its items next to the first phase's.
func TestHeadersOfPartlyAppliedRulesAndBothPhases(t *testing.T) {
	c := &clock{t: t0}
	st := store.NewMemory(c.Now)
	cfg := &Config{Limits: []Limit{
		{Name: "per-ip", Key: []string{"ip"}, Rate: 10, Per: time.Second},
		{Name: "admin-ip", Key: []string{"ip"}, Rate: 5, Per: time.Second, PathPrefix: "/admin/"},
		{Name: "per-user", Key: []string{"principal"}, Rate: 100, Per: time.Minute},
	}}
	pre := mustNew(t, cfg, BeforeAuthn, c, st)
	post := mustNew(t, cfg, AfterAuthn, c, st)
	for _, tc := range []struct {
		path, policy, rl string
	}{
		{"/pets/1", `"per-ip";q=10;w=1, "per-user";q=100;w=60`, `"per-ip";r=9;t=1, "per-user";r=99;t=1`},
		{"/admin/x", `"per-ip";q=10;w=1, "admin-ip";q=5;w=1, "per-user";q=100;w=60`, `"per-ip";r=8;t=1, "admin-ip";r=4;t=1, "per-user";r=98;t=2`},
	} {
		x := exchange("203.0.113.7", &pipeline.Principal{ID: "alice", Kind: "jwt"})
		x.Request.URL.Path = tc.path
		for _, l := range []*Limiter{pre, post} {
			if d, err := l.Request(context.Background(), x); d != nil || err != nil {
				t.Fatalf("%s: got %+v, %v, want allowed", tc.path, d, err)
			}
		}
		if got := strings.Join(x.ResponseHeader.Values("RateLimit-Policy"), ", "); got != tc.policy {
			t.Errorf("%s: RateLimit-Policy %q, want %q", tc.path, got, tc.policy)
		}
		if got := strings.Join(x.ResponseHeader.Values("RateLimit"), ", "); got != tc.rl {
			t.Errorf("%s: RateLimit %q, want %q", tc.path, got, tc.rl)
		}
	}
}
