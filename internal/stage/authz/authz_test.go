package authz

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

var (
	alice = &pipeline.Principal{ID: "alice", Kind: "apikey", Scopes: []string{"read"}, Roles: []string{"user"}}
	bob   = &pipeline.Principal{ID: "bob", Kind: "apikey", Scopes: []string{"read"}, Roles: []string{"user"}}
	admin = &pipeline.Principal{ID: "admin", Kind: "jwt", Scopes: []string{"read", "write"}, Roles: []string{"admin"},
		Attributes: map[string]any{"sub": "admin", "dept": "ops", "level": float64(3)}}
)

// recorder is the next stage: it records whether a request reached it.
type recorder struct{ n int }

func (r *recorder) ID() string { return "next" }
func (r *recorder) Request(context.Context, *pipeline.Exchange) (*pipeline.Denial, error) {
	r.n++
	return nil, nil
}

type call struct {
	method, path, body string
	principal          *pipeline.Principal
	ip                 string
	header             http.Header
}

// run sends c through the stage and a recording next stage, and checks that
// a denial never reaches next.
func run(t *testing.T, s *Stage, c call) (*pipeline.Denial, *pipeline.Exchange) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(c.method, c.path, body)
	for k, v := range c.header {
		r.Header[k] = v
	}
	x := pipeline.NewExchange(r, "req-1", time.Unix(0, 0))
	x.API = "demo"
	x.Principal = c.principal
	ip := c.ip
	if ip == "" {
		ip = "192.0.2.10"
	}
	x.ClientIP = netip.MustParseAddr(ip)
	match(t, s, x)
	next := &recorder{}
	d := pipeline.Chain{{Stage: s}, {Stage: next}}.Run(context.Background(), x)
	if d != nil && next.n != 0 {
		t.Fatalf("a denied request reached the next stage")
	}
	if d == nil && next.n != 1 {
		t.Fatalf("an allowed request did not reach the next stage")
	}
	return d, x
}

// match does what the gateway does before the chain runs for an API
// without a description: it matches the request against the operations the
// block names (Config.OperationKeys).
func match(t *testing.T, s *Stage, x *pipeline.Exchange) {
	t.Helper()
	keys := s.cfg.OperationKeys()
	if len(keys) == 0 || x.Operation != "" {
		return
	}
	m, err := openapi.FromOperations(keys)
	if err != nil {
		t.Fatalf("operation matcher: %v", err)
	}
	_, params, res := m.Match(x.Request.Method, x.Request.URL.EscapedPath())
	x.Match = res
	if res.Operation != nil {
		x.Operation, x.PathParams = res.Operation.Key(), params
	}
}

func mustNew(t *testing.T, cfg Config, opts Options) *Stage {
	t.Helper()
	if opts.API == "" {
		opts.API = "demo"
	}
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

type want struct {
	status int
	rule   string
}

func check(t *testing.T, d *pipeline.Denial, w want) {
	t.Helper()
	if w.status == 0 {
		if d != nil {
			t.Fatalf("got denial %d %v (%s), want allowed", d.Status, d.Rules, d.Detail)
		}
		return
	}
	if d == nil {
		t.Fatalf("got allowed, want %d %s", w.status, w.rule)
	}
	if d.Status != w.status || !slices.Contains(d.Rules, w.rule) {
		t.Fatalf("got %d %v, want %d %s", d.Status, d.Rules, w.status, w.rule)
	}
	if d.Stage != ID {
		t.Fatalf("got stage %q, want %q", d.Stage, ID)
	}
}

func TestRBAC(t *testing.T) {
	s := mustNew(t, Config{
		Scopes: []string{"read"},
		Operations: map[string]Operation{
			"DELETE /pets/{id}": {Roles: []string{"admin"}},
			"POST /pets":        {Scopes: []string{"write"}},
			"GET /healthz":      {Anonymous: true},
		},
	}, Options{})
	tests := []struct {
		name string
		c    call
		want want
	}{
		{"anonymous read", call{method: "GET", path: "/pets"}, want{401, RuleUnauthenticated}},
		{"anonymous health", call{method: "GET", path: "/healthz"}, want{}},
		{"user read", call{method: "GET", path: "/pets", principal: alice}, want{}},
		{"user without scope", call{method: "GET", path: "/pets", principal: &pipeline.Principal{ID: "carol"}}, want{403, RuleScope}},
		{"BFLA: user deletes", call{method: "DELETE", path: "/pets/1", principal: alice}, want{403, RuleRole}},
		{"admin deletes", call{method: "DELETE", path: "/pets/1", principal: admin}, want{}},
		{"user writes without write scope", call{method: "POST", path: "/pets", principal: alice}, want{403, RuleScope}},
		{"admin writes", call{method: "POST", path: "/pets", principal: admin}, want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := run(t, s, tt.c)
			check(t, d, tt.want)
			if tt.want.status == 401 && d.Headers.Get("WWW-Authenticate") != `Bearer realm="demo"` {
				t.Fatalf("got WWW-Authenticate %q, want %q", d.Headers.Get("WWW-Authenticate"), `Bearer realm="demo"`)
			}
			if tt.want.rule == RuleScope && !strings.Contains(d.Headers.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
				t.Fatalf("got WWW-Authenticate %q, want insufficient_scope", d.Headers.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestOpenAPIScopes(t *testing.T) {
	sec := map[string][]SecurityRequirement{
		"GET /pets":         nil, // public
		"POST /pets":        {{"oauth": {"write"}}},
		"DELETE /pets/{id}": {{"apiKey": {"admin"}}, {"oauth": {"pets:admin"}}},
		"GET /users/{id}":   {{}, {"oauth": {"read"}}},
	}
	s := mustNew(t, Config{OpenAPIScopes: true}, Options{Security: sec})
	tests := []struct {
		name string
		c    call
		op   string
		want want
	}{
		{"public", call{method: "GET", path: "/pets"}, "GET /pets", want{}},
		{"anonymous write", call{method: "POST", path: "/pets"}, "POST /pets", want{401, RuleUnauthenticated}},
		{"user write", call{method: "POST", path: "/pets", principal: alice}, "POST /pets", want{403, RuleOpenAPIScope}},
		{"admin write", call{method: "POST", path: "/pets", principal: admin}, "POST /pets", want{}},
		{"role as scope", call{method: "DELETE", path: "/pets/1", principal: admin}, "DELETE /pets/{id}", want{}},
		{"user delete", call{method: "DELETE", path: "/pets/1", principal: alice}, "DELETE /pets/{id}", want{403, RuleOpenAPIScope}},
		{"empty alternative", call{method: "GET", path: "/users/bob"}, "GET /users/{id}", want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.c.method, tt.c.path, nil)
			x := pipeline.NewExchange(r, "id", time.Time{})
			x.Operation = tt.op // set by the gateway from the description
			x.Principal = tt.c.principal
			d, err := s.Request(context.Background(), x)
			if err != nil {
				t.Fatal(err)
			}
			if d != nil && d.Stage == "" {
				d.Stage = ID
			}
			check(t, d, tt.want)
		})
	}
	if _, err := New(Config{OpenAPIScopes: true}, Options{API: "x"}); err == nil {
		t.Fatalf("got no error for openapi_scopes without a description, want one")
	}
}

func TestOwnersParam(t *testing.T) {
	s := mustNew(t, Config{Owners: []Owner{{Operation: "GET /users/{id}", Param: "id"}}}, Options{})
	tests := []struct {
		name string
		c    call
		want want
	}{
		{"alice reads bob", call{method: "GET", path: "/users/bob", principal: alice}, want{403, "authz.bola.owner-users-id"}},
		{"alice reads alice", call{method: "GET", path: "/users/alice", principal: alice}, want{}},
		{"admin reads bob", call{method: "GET", path: "/users/bob", principal: admin}, want{}},
		{"anonymous reads bob", call{method: "GET", path: "/users/bob"}, want{401, RuleUnauthenticated}},
		{"other operation untouched", call{method: "GET", path: "/users", principal: alice}, want{}},
		{"claim from attributes wins", call{method: "GET", path: "/users/alice",
			principal: &pipeline.Principal{ID: "key-7", Attributes: map[string]any{"sub": "alice"}}}, want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := run(t, s, tt.c)
			check(t, d, tt.want)
		})
	}
}

func TestOwnersBody(t *testing.T) {
	s := mustNew(t, Config{Owners: []Owner{{Operation: "POST /orders", BodyField: "/owner"}}}, Options{})
	tests := []struct {
		name string
		c    call
		want want
	}{
		{"alice orders for bob", call{method: "POST", path: "/orders", body: `{"owner":"bob","pet_id":1}`, principal: alice}, want{403, "authz.bola.owner-orders-body-owner"}},
		{"alice orders for herself", call{method: "POST", path: "/orders", body: `{"owner":"alice","pet_id":1}`, principal: alice}, want{}},
		{"admin orders for bob", call{method: "POST", path: "/orders", body: `{"owner":"bob"}`, principal: admin}, want{}},
		{"no owner field", call{method: "POST", path: "/orders", body: `{"pet_id":1}`, principal: alice}, want{403, "authz.bola.owner-orders-body-owner"}},
		{"not JSON", call{method: "POST", path: "/orders", body: `owner=alice`, principal: alice}, want{403, "authz.bola.owner-orders-body-owner"}},
		{"owner is a number", call{method: "POST", path: "/orders", body: `{"owner":1}`, principal: alice}, want{403, "authz.bola.owner-orders-body-owner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, x := run(t, s, tt.c)
			check(t, d, tt.want)
			if d == nil {
				// The body the proxy sends is the body that was checked.
				b, _ := io.ReadAll(x.Request.Body)
				if string(b) != tt.c.body {
					t.Fatalf("got body %q upstream, want %q", b, tt.c.body)
				}
			}
		})
	}
}

func TestOwnersResponse(t *testing.T) {
	s := mustNew(t, Config{Owners: []Owner{{Operation: "GET /orders/{id}", ResponseField: "/owner"}}}, Options{})
	tests := []struct {
		name      string
		principal *pipeline.Principal
		status    int
		ctype     string
		body      string
		want      want
	}{
		{"alice reads bob's order", alice, 200, "application/json", `{"id":"ord-1002","owner":"bob"}`, want{403, "authz.bola.owner-orders-id-response-owner"}},
		{"alice reads her order", alice, 200, "application/json", `{"id":"ord-1001","owner":"alice"}`, want{}},
		{"admin reads bob's order", admin, 200, "application/json; charset=utf-8", `{"id":"ord-1002","owner":"bob"}`, want{}},
		{"not found passes", alice, 404, "application/problem+json", `{"title":"Not Found"}`, want{}},
		{"no owner field", alice, 200, "application/json", `{"id":"ord-1002"}`, want{403, "authz.bola.owner-orders-id-response-owner"}},
		{"not JSON", alice, 200, "text/plain", `owner: alice`, want{403, RuleCedarError}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, x := run(t, s, call{method: "GET", path: "/orders/ord-1002", principal: tt.principal})
			check(t, d, want{})
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{"Content-Type": {tt.ctype}},
				Body: io.NopCloser(strings.NewReader(tt.body)), Request: x.Request}
			d = pipeline.Chain{{Stage: s}}.RunResponse(context.Background(), x, resp)
			check(t, d, tt.want)
			if d == nil {
				b, _ := io.ReadAll(resp.Body)
				if string(b) != tt.body {
					t.Fatalf("got body %q, want %q", b, tt.body)
				}
			}
		})
	}
}

func TestCedarABAC(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "abac.cedar")
	text := `// Reads for everyone authenticated; writes for ops people from the office.
@id("read")
permit (principal is Portcullis::Principal, action in Portcullis::Action::"GET", resource in Portcullis::API::"demo");

@id("ops-write")
permit (principal in Portcullis::Role::"admin", action, resource)
when { principal.claims has dept && principal.claims.dept == "ops" && context.ip.isInRange(ip("10.0.0.0/8")) };

@id("no-bots")
forbid (principal, action, resource)
when { context.headers has "user-agent" && context.headers["user-agent"] like "*bot*" };

@id("limit-cap")
forbid (principal, action == Portcullis::Action::"GET /pets", resource)
when { context.query has limit && context.query.limit == "1000" };

@id("maintenance")
forbid (principal, action, resource)
when { context.time > datetime("2030-01-01T00:00:00Z") && resource.params has id && resource.params.id == "7" };
`
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	s := mustNew(t, Config{
		PolicyFiles: []string{"abac.cedar"},
		Operations:  map[string]Operation{"GET /pets": {}, "GET /pets/{id}": {}, "DELETE /pets/{id}": {}},
	}, Options{Now: func() time.Time { return now }, Path: func(p string) string { return filepath.Join(dir, p) }})
	tests := []struct {
		name string
		c    call
		want want
	}{
		{"authenticated read", call{method: "GET", path: "/pets", principal: alice}, want{}},
		{"anonymous read: no permit", call{method: "GET", path: "/pets"}, want{403, RuleNoPermit}},
		{"bot", call{method: "GET", path: "/pets", principal: alice, header: http.Header{"User-Agent": {"evilbot/1.0"}}}, want{403, "no-bots"}},
		{"query cap", call{method: "GET", path: "/pets?limit=1000", principal: alice}, want{403, "limit-cap"}},
		{"admin delete from office", call{method: "DELETE", path: "/pets/1", principal: admin, ip: "10.1.2.3"}, want{}},
		{"admin delete from outside", call{method: "DELETE", path: "/pets/1", principal: admin, ip: "198.51.100.1"}, want{403, RuleNoPermit}},
		{"user delete from office", call{method: "DELETE", path: "/pets/1", principal: alice, ip: "10.1.2.3"}, want{403, RuleNoPermit}},
		{"time and path param", call{method: "GET", path: "/pets/7", principal: alice}, want{403, "maintenance"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := run(t, s, tt.c)
			check(t, d, tt.want)
		})
	}
}

func TestCedarInlineAndDefault(t *testing.T) {
	forbidBob := `@id("no-bob") forbid (principal == Portcullis::Principal::"bob", action, resource);`
	tests := []struct {
		name string
		cfg  Config
		who  *pipeline.Principal
		want want
	}{
		{"default deny with policies", Config{Policies: forbidBob}, alice, want{403, RuleNoPermit}},
		{"default allow", Config{Policies: forbidBob, Default: "allow"}, alice, want{}},
		{"forbid wins over default allow", Config{Policies: forbidBob, Default: "allow"}, bob, want{403, "no-bob"}},
		{"unnamed policy is named by position", Config{Policies: "\n\nforbid (principal, action, resource);", Default: "allow"}, bob, want{403, "policies:3:1"}},
		{"erroring forbid denies", Config{Policies: `@id("bad") forbid (principal, action, resource) when { principal.nope == 1 };`, Default: "allow"}, alice, want{403, RuleCedarError}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.cfg, Options{})
			d, _ := run(t, s, call{method: "GET", path: "/pets", principal: tt.who})
			check(t, d, tt.want)
		})
	}
}

func TestPolicyLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error
	}{
		{"syntax error in a file", Config{PolicyFiles: []string{write("a.cedar", "permit (principal, action, resource);\n\nforbid (principal, acton, resource);\n")}},
			filepath.Join(dir, "a.cedar") + `:3:25: at ",": exact got acton want action`},
		{"unknown function", Config{PolicyFiles: []string{write("b.cedar", "permit (principal, action, resource)\nwhen { foo(1) };")}},
			filepath.Join(dir, "b.cedar") + ":2:12: at"},
		{"missing file", Config{PolicyFiles: []string{filepath.Join(dir, "none.cedar")}}, "policy_files[0]: reading policy file"},
		{"inline", Config{Policies: "permit (principal, action, resource) when { principal.x == };"}, "policies: policies:1:"},
		{"duplicate id", Config{Policies: `@id("x") permit (principal, action, resource); @id("x") permit (principal, action, resource);`}, `duplicate Cedar policy id "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, Options{API: "demo"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// Validate reports the same problem as a field error at load.
	errs := Config{PolicyFiles: []string{filepath.Join(dir, "a.cedar")}}.Validate()
	if len(errs) != 1 || errs[0].Path != "policy_files[0]" || !strings.Contains(errs[0].Msg, "a.cedar:3:25") {
		t.Fatalf("got %v, want one problem at policy_files[0] naming a.cedar:3:25", errs)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // paths
	}{
		{"valid", Config{Scopes: []string{"read"}, Operations: map[string]Operation{"GET /users/{id}": {}},
			Owners: []Owner{{Operation: "GET /users/{id}", Param: "id"}}, Enumeration: &Enumeration{Threshold: 5}}, nil},
		{"bad operation", Config{Operations: map[string]Operation{"FETCH /x": {}, "GET x": {}}}, []string{"operations.FETCH /x", "operations.GET x"}},
		{"owner needs one field", Config{Owners: []Owner{{Operation: "GET /users/{id}"}, {Operation: "GET /users/{id}", ID: "b", Param: "id", BodyField: "/owner"}}}, []string{"owners[0]", "owners[1]"}},
		{"unknown param", Config{Owners: []Owner{{Operation: "GET /users/{id}", Param: "name"}}}, []string{"owners[0].param"}},
		{"bad pointer", Config{Owners: []Owner{{Operation: "POST /orders", BodyField: "owner"}}, BodyFields: []string{"x"}}, []string{"body_fields[0]", "owners[0].body_field"}},
		{"duplicate owner id", Config{Owners: []Owner{{Operation: "GET /users/{id}", Param: "id"}, {Operation: "GET /users/{id}", Param: "id"}}}, []string{"owners[1].id"}},
		{"secret header", Config{ContextHeaders: []string{"authorization", "User-Agent", "x-tenant"}}, []string{"context_headers[0]", "context_headers[1]"}},
		{"bad default", Config{Default: "maybe"}, []string{"default"}},
		{"threshold", Config{Enumeration: &Enumeration{}}, []string{"enumeration.threshold"}},
		{"quote in claim", Config{Owners: []Owner{{Operation: "GET /users/{id}", Param: "id", Claim: `a"b`}}}, []string{"owners[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range tt.cfg.Validate() {
				got = append(got, e.Path)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEnumeration(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for _, block := range []bool{false, true} {
		name := "detect"
		if block {
			name = "block"
		}
		t.Run(name, func(t *testing.T) {
			st := store.NewMemory(clock)
			s := mustNew(t, Config{
				Operations:  map[string]Operation{"GET /orders/{id}": {}},
				Enumeration: &Enumeration{Threshold: 3, Window: time.Minute, Block: block},
			}, Options{Store: st, Now: clock})
			get := func(id string, p *pipeline.Principal) (*pipeline.Denial, []pipeline.Finding) {
				d, x := run(t, s, call{method: "GET", path: "/orders/" + id, principal: p})
				return d, x.Findings()
			}
			for _, id := range []string{"ord-1", "ord-2", "ord-3", "ord-1", "ord-2"} {
				if d, f := get(id, alice); d != nil || len(f) != 0 {
					t.Fatalf("%s: got %v %v, want no denial and no finding under the threshold", id, d, f)
				}
			}
			d, f := get("ord-4", alice)
			if len(f) != 1 || f[0].Rules[0] != RuleEnumeration || f[0].Severity != events.SeverityHigh || f[0].Stage != ID {
				t.Fatalf("got findings %+v, want one high %s finding", f, RuleEnumeration)
			}
			if block {
				check(t, d, want{403, RuleEnumeration})
			} else {
				check(t, d, want{})
			}
			// Only the crossing raises an event.
			if _, f := get("ord-5", alice); len(f) != 0 {
				t.Fatalf("got findings %+v after the crossing, want none", f)
			}
			// Other principals have their own count.
			if d, f := get("ord-9", bob); d != nil || len(f) != 0 {
				t.Fatalf("bob: got %v %v, want nothing", d, f)
			}
			// The window ends.
			now = now.Add(2 * time.Minute)
			if d, f := get("ord-6", alice); d != nil || len(f) != 0 {
				t.Fatalf("after the window: got %v %v, want nothing", d, f)
			}
		})
	}
}

func FuzzParseOperation(f *testing.F) {
	for _, s := range []string{"GET /users/{id}", "DELETE /a/{b}/{c}", "GET /{", "POST", "get /x/{}/y", "PUT /a/{x}{y}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		op, err := parseOperation(s)
		if err != nil {
			return
		}
		// A parsed operation always compiles into an owner policy that parses.
		if len(op.params) > 0 {
			o := Owner{Operation: s, Param: op.params[0]}
			if _, err := parsePolicies("fuzz", []byte(ownerPolicy(o, DefaultAdminRoles))); err != nil {
				t.Fatalf("owner policy for %q does not parse: %v", s, err)
			}
		}
		// And the gateway's matcher accepts every key authz accepts.
		if _, err := openapi.FromOperations([]string{s}); err != nil {
			t.Fatalf("authz accepts %q, the operation matcher does not: %v", s, err)
		}
	})
}

func FuzzPolicies(f *testing.F) {
	f.Add(`permit (principal, action, resource);`)
	f.Add(`@id("x") forbid (principal, action == Portcullis::Action::"GET /a", resource) unless { context.ip.isInRange(ip("10.0.0.0/8")) };`)
	f.Add("permit (principal, action, resource) when { principal.x == };")
	f.Fuzz(func(t *testing.T, text string) {
		ps, err := parsePolicies("fuzz.cedar", []byte(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.cedar") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, p := range ps {
			if p.id == "" {
				t.Fatalf("policy without id")
			}
		}
	})
}
