package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// TestBanEnforcesEveryDecision: the ban stages enforce decisions from any
// origin: a range ban refuses every address in it, a throttle admits its
// scope at the throttle rate and refuses beyond it with 429, a principal
// or API key decision is enforced after authn, and allowed networks are
// never refused.
func TestBanEnforcesEveryDecision(t *testing.T) {
	c := &clock{t: t0}
	st := store.NewMemory(c.Now)
	ctx := context.Background()
	cfg := BanConfig{Allow: []string{"10.0.0.0/8"}, Throttle: BanThrottle{Rate: 2, Per: time.Minute}}
	b, err := NewBanner(cfg, BanOptions{API: "shop", Store: st, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	pb := &PrincipalBanner{b: b}
	until := t0.Add(time.Hour)
	for _, d := range []store.Decision{
		{Scope: store.ScopeRange, Value: "192.0.2.0/24", Type: store.TypeBan, Until: until, Reason: "bad network", Origin: "crowdsec"},
		{Scope: store.ScopeRange, Value: "10.0.0.0/8", Type: store.TypeBan, Until: until, Origin: "cli"},
		{Scope: store.ScopeIP, Value: "198.51.100.9", Type: store.TypeThrottle, Until: until, Reason: "scraping", Origin: "detect.volume"},
		{Scope: store.ScopePrincipal, Value: "mallory", Type: store.TypeBan, Until: until, Reason: "shared token", Origin: "detect.sharing"},
		{Scope: store.ScopeAPIKey, Value: "k1", Type: store.TypeBan, Until: until, Reason: "leaked key", Origin: "admin"},
	} {
		if err := st.Decide(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	req := func(ip string, p *pipeline.Principal) *pipeline.Denial {
		t.Helper()
		x := exchange(ip, p)
		d, err := b.Request(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			if d, err = pb.Request(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	if d := req("192.0.2.200", nil); d == nil || d.Status != 403 || d.Reason != "this client is temporarily banned: bad network" || d.Rules[2] != "origin.crowdsec" || !d.Quiet {
		t.Fatalf("range ban: got %+v", d)
	}
	if d := req("10.1.2.3", nil); d != nil {
		t.Fatalf("allowed network: got %+v, want nothing (bans.allow wins)", d)
	}
	for i := 0; i < 2; i++ {
		if d := req("198.51.100.9", nil); d != nil {
			t.Fatalf("throttle, request %d: got %+v, want admitted", i+1, d)
		}
	}
	if d := req("198.51.100.9", nil); d == nil || d.Status != 429 || d.Headers.Get("Retry-After") != "30" {
		t.Fatalf("throttle, request 3: got %+v, want 429 with Retry-After 30", d)
	}
	if d := req("198.51.100.10", &pipeline.Principal{ID: "mallory", Kind: "jwt"}); d == nil || d.Stage != BanPrincipalID || d.Status != 403 {
		t.Fatalf("principal ban: got %+v", d)
	}
	key := &pipeline.Principal{ID: "alice", Kind: "apikey", Attributes: map[string]any{"key_id": "k1"}}
	if d := req("198.51.100.10", key); d == nil || d.Reason != "this client is temporarily banned: leaked key" {
		t.Fatalf("api key ban: got %+v", d)
	}
	if d := req("198.51.100.10", &pipeline.Principal{ID: "alice", Kind: "jwt"}); d != nil {
		t.Fatalf("alice with a token, not the key: got %+v", d)
	}
	c.Add(time.Hour)
	if d := req("192.0.2.200", nil); d != nil {
		t.Fatalf("after the decisions ended: got %+v", d)
	}
}
