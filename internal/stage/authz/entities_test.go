package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// TestEntityCacheKeepsPrincipalsApart sends principals that share an id (or
// whose fields concatenate to the same text) but differ in roles, scopes or
// claims, each twice and interleaved, so that every decision after the
// first is made with cached entities: a decision must never be the one of
// another principal.
func TestEntityCacheKeepsPrincipalsApart(t *testing.T) {
	s, err := New(Config{
		Operations: map[string]Operation{"GET /pets/{id}": {}},
		Policies: `@id("admins") permit (principal, action, resource) when { principal in Portcullis::Role::"admin" };
@id("gold") permit (principal, action, resource) when { principal.claims has "tier" && principal.claims.tier == "gold" };
@id("super") permit (principal, action, resource) when { principal.scopes.contains("super") };
@id("ops-role") permit (principal, action, resource) when { principal.roles.contains("ops") };
@id("level") permit (principal, action, resource) when { principal.claims has "level" && principal.claims.level >= 3 };
@id("no-eve") forbid (principal, action, resource) when { principal.kind == "apikey" && principal.id == "eve" };`,
	}, Options{API: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	p := func(id, kind string, roles, scopes []string, attrs map[string]any) *pipeline.Principal {
		return &pipeline.Principal{ID: id, Kind: kind, Roles: roles, Scopes: scopes, Attributes: attrs}
	}
	tests := []struct {
		name      string
		principal *pipeline.Principal
		allowed   bool
	}{
		{"admin role", p("bob", "jwt", []string{"admin"}, nil, nil), true},
		{"same id, user role", p("bob", "jwt", []string{"user"}, nil, nil), false},
		{"same id, role moved to scopes", p("bob", "jwt", nil, []string{"admin"}, nil), false},
		{"same id, super scope", p("bob", "jwt", nil, []string{"super"}, nil), true},
		{"same id, scope moved to roles", p("bob", "jwt", []string{"super"}, nil, nil), false},
		{"same id, ops role", p("bob", "jwt", []string{"ops"}, nil, nil), true},
		{"same id, gold claim", p("bob", "jwt", nil, nil, map[string]any{"tier": "gold"}), true},
		{"same id, silver claim", p("bob", "jwt", nil, nil, map[string]any{"tier": "silver"}), false},
		{"same id, gold nested deeper", p("bob", "jwt", nil, nil, map[string]any{"x": map[string]any{"tier": "gold"}}), false},
		{"same id, gold in a list", p("bob", "jwt", nil, nil, map[string]any{"tier": []any{"gold"}}), false},
		{"same id, gold as a Stringer (not cached)", p("bob", "jwt", nil, nil, map[string]any{"tier": json.Number("gold")}), true},
		{"same id, silver as a Stringer (not cached)", p("bob", "jwt", nil, nil, map[string]any{"tier": json.Number("silver")}), false},
		{"same id, level 3", p("bob", "jwt", nil, nil, map[string]any{"level": float64(3)}), true},
		{"same id, level 2.5", p("bob", "jwt", nil, nil, map[string]any{"level": 2.5}), false},
		{"same id, level 2", p("bob", "jwt", nil, nil, map[string]any{"level": 2}), false},
		{"same id, many claims", p("bob", "jwt", nil, nil, manyClaims("silver")), false},
		{"same id, many claims gold", p("bob", "jwt", nil, nil, manyClaims("gold")), true},
		{"id and role concatenated", p("bobadmin", "jwt", nil, nil, nil), false},
		{"role split in two", p("bob", "jwt", []string{"ad", "min"}, nil, nil), false},
		{"eve by jwt", p("eve", "jwt", []string{"admin"}, nil, nil), true},
		{"eve by apikey", p("eve", "apikey", []string{"admin"}, nil, nil), false},
		{"kind and id shifted", p("eveapikey", "", []string{"admin"}, nil, nil), true},
	}
	for round := range 2 {
		for _, op := range []string{"GET /pets/{id}", ""} {
			for _, tt := range tests {
				t.Run(fmt.Sprintf("%s/op=%q/round %d", tt.name, op, round), func(t *testing.T) {
					x := pipeline.NewExchange(httptest.NewRequest("GET", "/pets/1", nil), "req", time.Unix(0, 0))
					x.Operation = op
					x.Principal = tt.principal
					d, err := s.Request(context.Background(), x)
					if err != nil {
						t.Fatal(err)
					}
					if got := d == nil; got != tt.allowed {
						t.Errorf("allowed: got %v, want %v (denial %+v)", got, tt.allowed, d)
					}
				})
			}
		}
	}
}

// TestEntityCacheBounded fills the principal cache past its bound and
// checks that it is emptied rather than grown, and that decisions stay
// right across the reset; concurrent callers exercise the lock under -race.
func TestEntityCacheBounded(t *testing.T) {
	s, err := New(Config{
		Policies: `permit (principal, action, resource) when { principal in Portcullis::Role::"admin" };`,
	}, Options{API: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range maxCached + 10 {
				role := "user"
				if i%2 == 0 {
					role = "admin"
				}
				x := pipeline.NewExchange(httptest.NewRequest("GET", "/x", nil), "req", time.Unix(0, 0))
				x.Principal = &pipeline.Principal{ID: fmt.Sprintf("p%d-%d", w, i), Kind: "apikey", Roles: []string{role}}
				d, _ := s.Request(context.Background(), x)
				if got, want := d == nil, role == "admin"; got != want {
					t.Errorf("principal %d allowed: got %v, want %v", i, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.principals.mu.RLock()
	n := len(s.principals.m)
	s.principals.mu.RUnlock()
	if n > maxCached {
		t.Errorf("cached principals: got %d, want at most %d", n, maxCached)
	}
}

// TestContextCacheKeepsRequestsApart checks that cached context records
// (method, operation, authentication, client address) never decide for a
// request that differs in one of them.
func TestContextCacheKeepsRequestsApart(t *testing.T) {
	s, err := New(Config{
		Operations: map[string]Operation{"GET /pets/{id}": {}, "DELETE /pets/{id}": {}},
		Policies: `@id("intranet") permit (principal, action, resource) when { context.ip.isInRange(ip("10.0.0.0/8")) };
@id("v6") permit (principal, action, resource) when { context.ip.isInRange(ip("2001:db8::/32")) && context.authenticated };
@id("no-delete") forbid (principal, action, resource) when { context.method == "DELETE" && context.operation != "DELETE /pets/{id}" };`,
	}, Options{API: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.cacheContext {
		t.Fatal("cacheContext: got false, want true")
	}
	tests := []struct {
		name, method, op, ip string
		principal            *pipeline.Principal
		allowed              bool
	}{
		{"intranet", "GET", "GET /pets/{id}", "10.1.2.3", nil, true},
		{"internet", "GET", "GET /pets/{id}", "11.1.2.3", nil, false},
		{"v4-mapped intranet", "GET", "GET /pets/{id}", "::ffff:10.1.2.3", nil, true},
		{"v6 anonymous", "GET", "GET /pets/{id}", "2001:db8::1", nil, false},
		{"v6 authenticated", "GET", "GET /pets/{id}", "2001:db8::1", alice, true},
		{"delete on its operation", "DELETE", "DELETE /pets/{id}", "10.1.2.3", nil, true},
		{"delete without operation", "DELETE", "", "10.1.2.3", nil, false},
		{"get without operation", "GET", "", "10.1.2.3", nil, true},
	}
	for round := range 2 {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/round %d", tt.name, round), func(t *testing.T) {
				path := "/pets/1"
				if tt.op == "" {
					path = "/other" // matches no operation
				}
				x := pipeline.NewExchange(httptest.NewRequest(tt.method, path, nil), "req", time.Unix(0, 0))
				x.Operation = tt.op
				x.Principal = tt.principal
				x.ClientIP = netip.MustParseAddr(tt.ip)
				d, err := s.Request(context.Background(), x)
				if err != nil {
					t.Fatal(err)
				}
				if got := d == nil; got != tt.allowed {
					t.Errorf("allowed: got %v, want %v (denial %+v)", got, tt.allowed, d)
				}
			})
		}
	}
}

// manyClaims returns more claims than appendValue sorts on the stack.
func manyClaims(tier string) map[string]any {
	m := map[string]any{"tier": tier}
	for i := range 20 {
		m[fmt.Sprintf("c%d", i)] = i
	}
	return m
}

// TestDecisionCache checks the cache of whole decisions: every
// combination of principal, operation and client address is decided twice,
// the second time from the cache, and must get the same answer as the
// first; a cached denial handed out is a copy the caller may change; and a
// stage whose policies read the request path (not in the key) caches none.
func TestDecisionCache(t *testing.T) {
	policies := `@id("admins") permit (principal, action, resource) when { principal in Portcullis::Role::"admin" };
@id("intranet-reads") permit (principal, action in Portcullis::Action::"GET", resource) when { context.ip.isInRange(ip("10.0.0.0/8")) };
@id("no-delete-outside") forbid (principal, action in Portcullis::Action::"DELETE", resource) unless { context.ip.isInRange(ip("10.0.0.0/8")) };
@id("no-secret") forbid (principal, action, resource == Portcullis::Route::"/secret");`
	s, err := New(Config{
		Operations: map[string]Operation{"GET /pets/{id}": {}, "DELETE /pets/{id}": {}},
		Policies:   policies,
	}, Options{API: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	admin := &pipeline.Principal{ID: "root", Kind: "apikey", Roles: []string{"admin"}}
	user := &pipeline.Principal{ID: "root", Kind: "jwt", Roles: []string{"user"}}
	type call struct {
		who    *pipeline.Principal
		method string
		ip     string
		path   string // no operation but /pets/{id}: the resource is the path
	}
	want := func(c call) bool {
		if c.path == "/secret" {
			return false
		}
		intranet := netip.MustParsePrefix("10.0.0.0/8").Contains(netip.MustParseAddr(c.ip))
		if c.method == "DELETE" && !intranet {
			return false
		}
		return c.who == admin || (c.method == "GET" && intranet)
	}
	decide := func(c call) *pipeline.Denial {
		path := "/pets/1"
		if c.path != "" {
			path = c.path
		}
		x := pipeline.NewExchange(httptest.NewRequest(c.method, path, nil), "req", time.Unix(0, 0))
		x.Principal = c.who
		x.ClientIP = netip.MustParseAddr(c.ip)
		d, err := s.Request(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	var calls []call
	for _, who := range []*pipeline.Principal{nil, admin, user} {
		for _, m := range []string{"GET", "DELETE"} {
			for _, ip := range []string{"10.0.0.7", "192.0.2.7"} {
				for _, path := range []string{"", "/secret", "/open"} {
					calls = append(calls, call{who, m, ip, path})
				}
			}
		}
	}
	for round := range 2 {
		for _, c := range calls {
			d := decide(c)
			if got := d == nil; got != want(c) {
				t.Errorf("round %d, %+v: allowed %v, want %v (%+v)", round, c, got, want(c), d)
			}
			if d != nil { // change what was handed out; the next answer must not see it
				d.Stage, d.Rules[0], d.Detail = "changed", "changed", "changed"
				d.Headers = http.Header{"X": {"changed"}}
			}
		}
	}
	s.decisions.mu.RLock()
	n := len(s.decisions.m)
	s.decisions.mu.RUnlock()
	if n != len(calls) {
		t.Errorf("cached decisions: got %d, want %d (one per distinct call)", n, len(calls))
	}
	d := decide(call{user, "DELETE", "192.0.2.7", ""})
	if d == nil || d.Stage != "" || d.Rules[0] != "no-delete-outside" || d.Detail != "forbidden by no-delete-outside" || d.Headers != nil {
		t.Errorf("cached denial after its copies were changed: %+v", d)
	}

	// context.path is not part of any cache key: nothing may be cached.
	byPath, err := New(Config{
		Operations: map[string]Operation{"GET /pets/{id}": {}},
		Policies:   `@id("one") permit (principal, action, resource) when { context.path == "/pets/1" };`,
	}, Options{API: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for _, p := range []string{"/pets/1", "/pets/2"} {
			x := pipeline.NewExchange(httptest.NewRequest("GET", p, nil), "req", time.Unix(0, 0))
			x.ClientIP = netip.MustParseAddr("10.0.0.7")
			d, _ := byPath.Request(context.Background(), x)
			if got, want := d == nil, p == "/pets/1"; got != want {
				t.Errorf("%s: allowed %v, want %v", p, got, want)
			}
		}
	}
	if len(byPath.decisions.m) != 0 {
		t.Errorf("decisions cached for policies that read the path: %d", len(byPath.decisions.m))
	}
}
