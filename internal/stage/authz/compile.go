package authz

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	cedar "github.com/cedar-policy/cedar-go"
)

// New compiles a Config in four independent parts, each tested alone:
// requirements (who may call what), policies (Cedar, owner rules
// included), the context plan (which request attributes the policies can
// read) and the enumeration scope.

// canonical returns an operation key in its canonical form ("get /a" →
// "GET /a"). Keys are validated before compilation.
func canonical(key string) string {
	op, err := parseOperation(key)
	if err != nil { // a description's template with a pattern segment
		return strings.TrimSpace(key)
	}
	return op.key
}

// requirements is what the API as a whole and each operation require of
// the caller.
type requirements struct {
	base requirement
	ops  map[string]*requirement // by canonical operation key
}

// compileRequirements compiles scopes, roles, authenticated, operations,
// openapi_scopes (from security, the description's requirements by
// operation key; nil when the API has none) and owners (an owner rule
// needs a principal to compare with).
func compileRequirements(cfg Config, security map[string][]SecurityRequirement) (requirements, error) {
	rs := requirements{
		base: requirement{principal: cfg.Authenticated || len(cfg.Scopes) > 0 || len(cfg.Roles) > 0,
			scopes: cfg.Scopes, roles: cfg.Roles},
		ops: map[string]*requirement{},
	}
	get := func(key string) *requirement {
		key = canonical(key)
		r, ok := rs.ops[key]
		if !ok {
			r = &requirement{}
			rs.ops[key] = r
		}
		return r
	}
	for k, o := range cfg.Operations {
		r := get(k)
		r.anonymous = o.Anonymous
		r.scopes = append(r.scopes, o.Scopes...)
		r.roles = append(r.roles, o.Roles...)
		r.principal = len(r.scopes) > 0 || len(r.roles) > 0
	}
	if cfg.OpenAPIScopes {
		if security == nil {
			return requirements{}, errors.New("openapi_scopes: the API has no OpenAPI description")
		}
		for k, reqs := range security {
			r := get(k)
			if len(reqs) == 0 { // public
				continue
			}
			r.security = reqs
			for _, alt := range reqs {
				if len(alt) == 0 {
					r.secAnon = true
				}
			}
			if !r.secAnon {
				r.principal = true
			}
		}
	}
	for _, o := range cfg.Owners {
		get(o.Operation).principal = true
	}
	return rs, nil
}

// policies are the compiled Cedar policies of the request and response
// phases, owner rules included, and what they need read.
type policies struct {
	request, response cedar.PolicyMap
	// requestList and responseList hold the same policies as slices, which
	// Cedar iterates with less work than maps.
	requestList, responseList cedar.PolicyIterator
	forbids                   map[cedar.PolicyID]bool
	respOps                   map[string]bool // operations checked on the response
	bodyFields                []string        // JSON pointers of the body the policies read
	bodyOps                   map[string]bool // operations whose body is read; nil = every one
}

// compilePolicies parses the inline policies and policy files, compiles
// every owner rule into a policy of its phase, and adds the default-allow
// policy where the default is allow. admin are the roles owner rules
// exempt.
func compilePolicies(cfg Config, admin []string) (policies, error) {
	ps := policies{request: cedar.PolicyMap{}, response: cedar.PolicyMap{}, forbids: map[cedar.PolicyID]bool{}, respOps: map[string]bool{}}
	add := func(m cedar.PolicyMap, list []policy) error {
		for _, p := range list {
			if _, dup := m[p.id]; dup {
				return fmt.Errorf("duplicate Cedar policy id %q", p.id)
			}
			m[p.id] = p.policy
			if p.policy.Effect() == cedar.Forbid {
				ps.forbids[p.id] = true
			}
		}
		return nil
	}
	userPolicies := false
	if cfg.Policies != "" {
		list, err := parsePolicies("policies", []byte(cfg.Policies))
		if err != nil {
			return policies{}, fmt.Errorf("policies: %w", err)
		}
		if err := add(ps.request, list); err != nil {
			return policies{}, fmt.Errorf("policies: %w", err)
		}
		userPolicies = true
	}
	for _, f := range cfg.PolicyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return policies{}, fmt.Errorf("reading policy file: %w", err)
		}
		list, err := parsePolicies(f, b)
		if err != nil {
			return policies{}, err
		}
		if err := add(ps.request, list); err != nil {
			return policies{}, fmt.Errorf("%s: %w", f, err)
		}
		userPolicies = true
	}
	ps.bodyFields = append([]string(nil), cfg.BodyFields...)
	if len(cfg.BodyFields) == 0 {
		ps.bodyOps = map[string]bool{}
	}
	ownerIDs := ownerPolicyIDs(cfg.Owners)
	for i, o := range cfg.Owners {
		o.ID = ownerIDs[i]
		key := canonical(o.Operation)
		list, err := parsePolicies(o.policyID(), []byte(ownerPolicy(o, admin)))
		if err != nil { // a bug in ownerPolicy, not in the config
			return policies{}, fmt.Errorf("compiling owner rule %q: %w", o.policyID(), err)
		}
		list[0].id = cedar.PolicyID(o.policyID())
		if o.ResponseField != "" {
			ps.respOps[key] = true
			if err := add(ps.response, list); err != nil {
				return policies{}, err
			}
			continue
		}
		if err := add(ps.request, list); err != nil {
			return policies{}, err
		}
		if o.BodyField != "" {
			if !slices.Contains(ps.bodyFields, o.BodyField) {
				ps.bodyFields = append(ps.bodyFields, o.BodyField)
			}
			if ps.bodyOps != nil {
				ps.bodyOps[key] = true
			}
		}
	}
	def := cfg.Default
	if def == "" {
		def = "deny"
		if !userPolicies {
			def = "allow"
		}
	}
	allowAll := func(m cedar.PolicyMap) {
		var p cedar.Policy
		_ = p.UnmarshalCedar([]byte(`permit (principal, action, resource);`))
		m["authz.default-allow"] = &p
	}
	if def == "allow" && len(ps.request) > 0 {
		allowAll(ps.request)
	}
	if len(ps.response) > 0 {
		allowAll(ps.response)
	}
	if len(ps.request) == 0 && def == "deny" {
		return policies{}, errors.New("default: deny without any policy would refuse every request")
	}
	ps.requestList, ps.responseList = newPolicyList(ps.request), newPolicyList(ps.response)
	return ps, nil
}

// contextPlan says which request attributes a decision builds: only those
// some policy can read, since building Cedar records is most of a
// decision's cost.
type contextPlan struct {
	// uses holds every identifier and string literal word of the policies.
	uses  map[string]bool
	reads reads
	// cacheContext is true when the context depends only on the method,
	// operation, authentication and client address, so records can be
	// shared between requests.
	cacheContext bool
	// size is how many context attributes a request can have.
	size int
}

// planContext reads the policies' words into a plan.
func planContext(maps ...cedar.PolicyMap) contextPlan {
	u := map[string]bool{}
	for _, m := range maps {
		for _, p := range m {
			words(p.MarshalCedar(), u)
		}
	}
	pl := contextPlan{uses: u}
	pl.reads = reads{method: u["method"], operation: u["operation"], path: u["path"], params: u["params"],
		authenticated: u["authenticated"], time: u["time"] || u["unix"], ip: u["ip"], query: u["query"],
		headers: u["headers"], claims: u["claims"], scopes: u["scopes"], roles: u["roles"],
		resource: u["api"] || u["path"] || u["template"] || u["params"]}
	pl.cacheContext = !pl.reads.path && !pl.reads.params && !pl.reads.time && !pl.reads.query && !pl.reads.headers
	for _, k := range []string{"method", "operation", "path", "params", "authenticated", "time", "unix", "ip", "query", "headers", "body", "response"} {
		if u[k] || k == "body" || k == "response" {
			pl.size++
		}
	}
	return pl
}

// enumerationOps is the set of canonical operation keys enumeration
// detection counts, nil for every operation with path parameters.
func enumerationOps(e *Enumeration) map[string]bool {
	if e == nil || len(e.Operations) == 0 {
		return nil
	}
	ops := map[string]bool{}
	for _, op := range e.Operations {
		ops[canonical(op)] = true
	}
	return ops
}
