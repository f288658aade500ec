package authz

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// BenchmarkRequest measures one decision: RBAC plus the bench row's two
// Cedar policies and an owner rule, for an authenticated principal.
func BenchmarkRequest(b *testing.B) {
	s, err := New(Config{
		Scopes:     []string{"read"},
		Operations: map[string]Operation{"DELETE /pets/{id}": {Roles: []string{"admin"}}},
		Owners:     []Owner{{Operation: "GET /users/{id}", Param: "id"}},
		Policies: `@id("loopback") permit (principal, action, resource) when { context.ip.isInRange(ip("127.0.0.0/8")) };
@id("no-bots") forbid (principal, action, resource) when { context.headers has "user-agent" && context.headers["user-agent"] like "*evilbot*" };`,
	}, Options{API: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/users/alice?x=1", nil)
	r.Header.Set("User-Agent", "loadgen")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		x := pipeline.NewExchange(r, "id", time.Time{})
		x.ClientIP = netip.MustParseAddr("127.0.0.1")
		x.Principal = alice
		if d, err := s.Request(ctx, x); d != nil || err != nil {
			b.Fatal(d, err)
		}
	}
}

// BenchmarkRequestIdentityRow measures the decision of the bench row
// portcullis+apikey+authz (bench/portcullis-identity-authz.yaml): RBAC
// scopes plus one Cedar policy over the client IP.
func BenchmarkRequestIdentityRow(b *testing.B) {
	s, err := New(Config{
		Scopes:     []string{"bench:read"},
		Operations: map[string]Operation{"POST /bench": {Scopes: []string{"bench:write"}}, "DELETE /bench/{id}": {Roles: []string{"admin"}}},
		Policies: `@id("loopback")
permit (principal is Portcullis::Principal, action, resource in Portcullis::API::"bench")
when { context.ip.isInRange(ip("127.0.0.0/8")) || context.ip.isInRange(ip("::1/128")) };`,
	}, Options{API: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/bench", nil)
	p := &pipeline.Principal{ID: "bench", Kind: "apikey", Scopes: []string{"bench:read", "bench:write"}, Roles: []string{"user"},
		Attributes: map[string]any{"sub": "bench", "key_id": "be0c00000001", "owner": "bench"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		x := pipeline.NewExchange(r, "id", time.Time{})
		x.ClientIP = netip.MustParseAddr("127.0.0.1")
		x.Principal = p
		if d, err := s.Request(ctx, x); d != nil || err != nil {
			b.Fatal(d, err)
		}
	}
}
