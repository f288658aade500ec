package authz

import (
	"strings"
	"testing"
)

// The four parts New compiles, each alone.

func TestCompileRequirements(t *testing.T) {
	cfg := Config{
		Scopes: []string{"read"},
		Operations: map[string]Operation{
			"get /health":       {Anonymous: true},
			"DELETE /pets/{id}": {Roles: []string{"admin"}},
		},
		Owners:        []Owner{{Operation: "GET /users/{id}", Param: "id"}},
		OpenAPIScopes: true,
	}
	sec := map[string][]SecurityRequirement{
		"GET /public":     {},                     // public
		"GET /either":     {{"oauth": {"a"}}, {}}, // one anonymous alternative
		"POST /pets":      {{"oauth": {"write"}}}, // a scope required
		"GET /users/{id}": {{"oauth": {"read"}}},  // also an owner rule
	}
	rs, err := compileRequirements(cfg, sec)
	if err != nil {
		t.Fatal(err)
	}
	if !rs.base.principal || strings.Join(rs.base.scopes, ",") != "read" {
		t.Errorf("base: got %+v, want a principal with scope read", rs.base)
	}
	check := func(key string, principal, anonymous bool) {
		t.Helper()
		r := rs.ops[key]
		if r == nil {
			t.Fatalf("%s: no requirement (have %v)", key, rs.ops)
		}
		if r.principal != principal || r.anonymous != anonymous {
			t.Errorf("%s: got principal=%v anonymous=%v, want %v %v", key, r.principal, r.anonymous, principal, anonymous)
		}
	}
	check("GET /health", false, true) // canonical key, upper-case method
	check("DELETE /pets/{id}", true, false)
	check("GET /users/{id}", true, false)
	check("POST /pets", true, false)
	check("GET /either", false, false)
	if r := rs.ops["GET /public"]; r != nil && r.principal {
		t.Errorf("GET /public: got a principal required, want none")
	}
	if _, err := compileRequirements(Config{OpenAPIScopes: true}, nil); err == nil {
		t.Error("openapi_scopes without a description: got no error")
	}
}

func TestCompilePolicies(t *testing.T) {
	cfg := Config{
		Policies: `@id("no-delete") forbid (principal, action == Portcullis::Action::"DELETE /pets/{id}", resource);`,
		Owners: []Owner{
			{Operation: "GET /orders/{id}", ResponseField: "/owner"},
			{Operation: "POST /orders", BodyField: "/owner"},
		},
	}
	ps, err := compilePolicies(cfg, DefaultAdminRoles)
	if err != nil {
		t.Fatal(err)
	}
	if !ps.forbids["no-delete"] {
		t.Errorf("forbids: got %v, want no-delete", ps.forbids)
	}
	if !ps.respOps["GET /orders/{id}"] || len(ps.response) != 2 { // the owner rule and default-allow
		t.Errorf("response phase: got ops %v with %d policies, want GET /orders/{id} with 2", ps.respOps, len(ps.response))
	}
	if strings.Join(ps.bodyFields, ",") != "/owner" || !ps.bodyOps["POST /orders"] {
		t.Errorf("body: got fields %v ops %v, want /owner read for POST /orders only", ps.bodyFields, ps.bodyOps)
	}
	if _, ok := ps.request["authz.default-allow"]; ok {
		t.Errorf("user policies present: default should be deny, got a default-allow policy")
	}
	if _, err := compilePolicies(Config{Default: "deny"}, nil); err == nil {
		t.Error("default deny without any policy: got no error")
	}
	if _, err := compilePolicies(Config{Policies: "permit (principal, action, resource) when { nonsense };"}, nil); err == nil {
		t.Error("a policy that does not parse: got no error")
	}
}

func TestPlanContext(t *testing.T) {
	ps, err := compilePolicies(Config{Policies: `permit (principal, action, resource) when { context.ip.isInRange(ip("10.0.0.0/8")) };`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl := planContext(ps.request)
	if !pl.reads.ip || pl.reads.headers || pl.reads.query || !pl.cacheContext {
		t.Errorf("ip-only policy: got reads %+v cache=%v, want ip read and a cacheable context", pl.reads, pl.cacheContext)
	}
	ps, err = compilePolicies(Config{Policies: `permit (principal, action, resource) when { context.headers["x-tenant"] == "a" };`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pl := planContext(ps.request); !pl.reads.headers || pl.cacheContext {
		t.Errorf("header policy: got reads %+v cache=%v, want headers read and no shared context", pl.reads, pl.cacheContext)
	}
}

func TestEnumerationOps(t *testing.T) {
	if enumerationOps(nil) != nil || enumerationOps(&Enumeration{Threshold: 3}) != nil {
		t.Error("no operations listed: want nil (every operation with path parameters)")
	}
	ops := enumerationOps(&Enumeration{Threshold: 3, Operations: []string{"get /pets/{id}"}})
	if !ops["GET /pets/{id}"] || len(ops) != 1 {
		t.Errorf("got %v, want the canonical key only", ops)
	}
}
