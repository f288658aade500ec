package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	cedar "github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// ID is the stage id: the config key, log field, metric label and event
// stage.
const ID = "authz"

// Rule ids in denials and findings (besides Cedar policy ids).
const (
	RuleUnauthenticated = "authz.unauthenticated"
	RuleScope           = "authz.rbac.scope"
	RuleRole            = "authz.rbac.role"
	RuleOpenAPIScope    = "authz.openapi.scope"
	RuleNoPermit        = "authz.cedar.no-permit"
	RuleCedarError      = "authz.cedar.error"
	RuleEnumeration     = "authz.enumeration"
)

// MaxResponseBytes is the largest upstream response an owner rule with
// ResponseField reads; a larger one cannot be checked and fails closed.
const MaxResponseBytes = 1 << 20

// SecurityRequirement is one alternative of an OpenAPI security
// requirement: security scheme name → scopes. An empty map allows anonymous
// calls.
type SecurityRequirement map[string][]string

// Module registers the stage: the API's authz block. The operations it
// names are matched by the gateway's one operation matcher (the API's
// description, or its declared operations).
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "authz",
	New: func(b *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		opts := Options{API: b.API, Store: b.Store, Now: b.Now, Path: b.Path}
		if b.Spec != nil {
			opts.Security = map[string][]SecurityRequirement{}
			for _, op := range b.Spec.Operations() {
				var reqs []SecurityRequirement
				for _, r := range op.Security {
					reqs = append(reqs, SecurityRequirement(r))
				}
				opts.Security[op.Key()] = reqs
			}
		}
		return New(*c, opts)
	}}

// Options are the services and facts a Stage is built with.
type Options struct {
	// API is the API's name (resource parent, enumeration keys, default
	// challenge). Required.
	API string
	// Store counts distinct ids for enumeration detection. Nil uses a
	// private in-memory count, this node only.
	Store store.Counter
	// Now is the clock (Cedar context.time). Nil uses time.Now.
	Now func() time.Time
	// Security returns the OpenAPI security requirements of every
	// operation of the description, by operation key ("GET /users/{id}");
	// an operation whose slice is nil has none. Used with OpenAPIScopes.
	// Nil means the API has no description.
	Security map[string][]SecurityRequirement
	// Path resolves a policy file path (relative to the config file).
	// Nil uses paths as they are.
	Path func(string) string
}

// Stage is the authorization stage. It is built once per API and safe for
// concurrent use.
type Stage struct {
	cfg       Config
	opts      Options
	now       func() time.Time
	challenge string
	store     store.Counter

	base    requirement
	ops     map[string]*requirement // by operation key
	enumOps map[string]bool         // nil: every operation with path params

	policies     cedar.PolicyMap // request phase
	respPolicies cedar.PolicyMap // response phase (owner rules with ResponseField)
	// policyList and respPolicyList hold the same policies as slices,
	// which Cedar iterates with less work than maps.
	policyList, respPolicyList cedar.PolicyIterator
	forbids                    map[cedar.PolicyID]bool
	respOps                    map[string]bool
	bodyFields                 []string
	bodyOps                    map[string]bool // operations whose body must be read; nil = all when bodyFields set globally
	headers                    []string
	apiUID                     types.EntityUID
	apiParents                 types.EntityUIDSet // {apiUID}, every resource's parents
	contextSize                int                // how many context attributes a request can have

	principals cache[*principalEntry] // by principal id, kind, roles, scopes
	opEntities cache[*opEntities]     // by method and operation key
	// uses holds every identifier and string literal word of the policies,
	// so that per-request records are only built for attributes some policy
	// can read (building Cedar records is most of a decision's cost).
	uses  map[string]bool
	reads reads // the uses that decide what a request builds
	// ctxCache holds context records that depend only on the method,
	// operation, authentication and client address (cacheContext).
	ctxCache     cache[types.Record]
	cacheContext bool
	// decisions holds request-policy decisions (nil: allowed) whose every
	// input is in the key: the cached principal, the cached context and
	// an operation whose resource has no attributes. Cedar is deterministic,
	// so a cached decision is the one evaluating would give.
	decisions cache[*pipeline.Denial]
}

// reads says which attributes some policy may read (from Stage.uses).
type reads struct {
	method, operation, path, params, authenticated, time, ip, query, headers bool
	claims, scopes, roles                                                    bool
	resource                                                                 bool // api, path, template or params
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
)

// requirement is what one operation (or the whole API) requires.
type requirement struct {
	principal bool // a principal is required
	anonymous bool // the operation lifts API-wide requirements
	scopes    []string
	roles     []string
	security  []SecurityRequirement // nil: none declared
	secAnon   bool                  // one alternative is empty
}

// New compiles cfg. Errors name the field or policy file at fault.
func New(cfg Config, opts Options) (*Stage, error) {
	if opts.Path != nil {
		cfg.PolicyFiles = slices.Clone(cfg.PolicyFiles)
		cfg.ResolvePaths(opts.Path)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	s := &Stage{cfg: cfg, opts: opts, now: opts.Now, store: opts.Store}
	if s.now == nil {
		s.now = time.Now
	}
	if s.store == nil {
		s.store = store.NewMemory(s.now)
	}
	s.challenge = cfg.Challenge
	if s.challenge == "" {
		s.challenge = `Bearer realm="` + opts.API + `"`
	}
	s.apiUID = types.NewEntityUID(APIType, types.String(opts.API))
	s.apiParents = types.NewEntityUIDSet(s.apiUID)
	s.headers = cfg.ContextHeaders
	if len(s.headers) == 0 {
		s.headers = DefaultContextHeaders
	}
	admin := cfg.AdminRoles
	if len(admin) == 0 {
		admin = DefaultAdminRoles
	}

	req, err := compileRequirements(cfg, opts.Security)
	if err != nil {
		return nil, err
	}
	s.base, s.ops = req.base, req.ops
	pol, err := compilePolicies(cfg, admin)
	if err != nil {
		return nil, err
	}
	s.policies, s.respPolicies, s.forbids = pol.request, pol.response, pol.forbids
	s.policyList, s.respPolicyList = pol.requestList, pol.responseList
	s.respOps, s.bodyFields, s.bodyOps = pol.respOps, pol.bodyFields, pol.bodyOps
	plan := planContext(s.policies, s.respPolicies)
	s.uses, s.reads, s.cacheContext, s.contextSize = plan.uses, plan.reads, plan.cacheContext, plan.size
	s.enumOps = enumerationOps(cfg.Enumeration)
	return s, nil
}

// ID implements pipeline.Stage.
func (s *Stage) ID() string { return ID }

// resolve returns the operation key and path parameters of the exchange,
// as the gateway's operation matcher found them.
func (s *Stage) resolve(x *pipeline.Exchange) (string, map[string]string) {
	return x.Operation, x.PathParams
}

// Request implements pipeline.Stage.
func (s *Stage) Request(ctx context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	op, params := s.resolve(x)
	if d := s.enumerate(ctx, x, op, params); d != nil {
		return d, nil
	}
	r := s.ops[op]
	p := x.Principal
	needPrincipal := s.base.principal
	if r != nil {
		if r.anonymous {
			needPrincipal = false
		}
		needPrincipal = needPrincipal || r.principal
	}
	if p == nil && needPrincipal {
		return &pipeline.Denial{
			Status:   http.StatusUnauthorized,
			Reason:   "authentication is required",
			Rules:    []string{RuleUnauthenticated},
			Headers:  http.Header{"Www-Authenticate": {s.challenge}},
			Severity: events.SeverityLow,
		}, nil
	}
	if p != nil {
		if r == nil || !r.anonymous {
			if !hasAll(p, s.base.scopes) {
				return s.insufficientScope(s.base.scopes, RuleScope), nil
			}
			if len(s.base.roles) > 0 && !hasAnyRole(p, s.base.roles) {
				return roleDenial(), nil
			}
		}
		if r != nil {
			if !hasAll(p, r.scopes) {
				return s.insufficientScope(r.scopes, RuleScope), nil
			}
			if len(r.roles) > 0 && !hasAnyRole(p, r.roles) {
				return roleDenial(), nil
			}
			if r.security != nil && !r.secAnon && !satisfies(p, r.security) {
				return s.insufficientScope(firstScopes(r.security), RuleOpenAPIScope), nil
			}
		}
	}
	if len(s.policies) == 0 {
		return nil, nil
	}
	var kbuf [512]byte
	dkey := s.decisionKey(kbuf[:0], x, op)
	if dkey != nil {
		if d, ok := s.decisions.get(dkey); ok {
			return d.Clone(), nil
		}
	}
	req, ents, err := s.cedarRequest(x, op, params, types.Record{})
	if err != nil {
		return err, nil
	}
	d := s.decide(s.policyList, ents, req)
	if dkey != nil {
		s.decisions.put(dkey, d.Clone())
	}
	return d, nil
}

func hasAll(p *pipeline.Principal, scopes []string) bool {
	for _, sc := range scopes {
		if !slices.Contains(p.Scopes, sc) {
			return false
		}
	}
	return true
}

func hasAnyRole(p *pipeline.Principal, roles []string) bool {
	for _, r := range roles {
		if slices.Contains(p.Roles, r) {
			return true
		}
	}
	return false
}

// satisfies reports whether p meets one alternative: every scope it lists,
// held as a scope or a role (OpenAPI 3.1 lets non-OAuth schemes list role
// names).
func satisfies(p *pipeline.Principal, alts []SecurityRequirement) bool {
	for _, alt := range alts {
		ok := true
		for _, scopes := range alt {
			for _, sc := range scopes {
				if !slices.Contains(p.Scopes, sc) && !slices.Contains(p.Roles, sc) {
					ok = false
				}
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func firstScopes(alts []SecurityRequirement) []string {
	var out []string
	for _, alt := range alts {
		for _, sc := range alt {
			out = append(out, sc...)
		}
		if len(out) > 0 {
			return out
		}
	}
	return out
}

func (s *Stage) insufficientScope(scopes []string, rule string) *pipeline.Denial {
	d := &pipeline.Denial{
		Status: http.StatusForbidden,
		Reason: "the caller lacks a scope this operation requires",
		Rules:  []string{rule},
		Detail: "required scopes: " + strings.Join(scopes, " "),
	}
	if len(scopes) > 0 && safeLiteral(strings.Join(scopes, " ")) {
		// RFC 6750 section 3.1.
		d.Headers = http.Header{"Www-Authenticate": {`Bearer error="insufficient_scope", scope="` + strings.Join(scopes, " ") + `"`}}
	}
	return d
}

func roleDenial() *pipeline.Denial {
	return &pipeline.Denial{
		Status: http.StatusForbidden,
		Reason: "the caller's role may not perform this operation",
		Rules:  []string{RuleRole},
	}
}

// decide evaluates policies and turns a Deny into a denial naming the
// policies that decided. A forbid policy that fails to evaluate denies too:
// Cedar skips policies that error, and a skipped forbid must not allow.
func (s *Stage) decide(policies cedar.PolicyIterator, ents types.EntityGetter, req cedar.Request) *pipeline.Denial {
	dec, diag := cedar.Authorize(policies, ents, req)
	var errored []string
	for _, e := range diag.Errors {
		if s.forbids[e.PolicyID] {
			errored = append(errored, string(e.PolicyID))
		}
	}
	if dec == cedar.Allow && len(errored) == 0 {
		return nil
	}
	d := &pipeline.Denial{
		Status:   http.StatusForbidden,
		Reason:   "the caller may not access this resource",
		Severity: events.SeverityHigh,
	}
	switch {
	case dec == cedar.Allow:
		d.Rules = append([]string{RuleCedarError}, errored...)
		d.Detail = "forbid policies failed to evaluate: " + strings.Join(errored, ", ")
	case len(diag.Reasons) > 0:
		for _, r := range diag.Reasons {
			d.Rules = append(d.Rules, string(r.PolicyID))
		}
		slices.Sort(d.Rules)
		d.Detail = "forbidden by " + strings.Join(d.Rules, ", ")
	default:
		d.Rules = []string{RuleNoPermit}
		d.Detail = "no permit policy matched"
		d.Severity = events.SeverityMedium
	}
	return d
}

// entities serves the request's entities to Cedar without building a map.
type entities struct {
	principal types.Entity
	roles     []types.EntityUID
	action    types.Entity
	method    types.EntityUID
	resource  types.Entity
	api       types.EntityUID
}

// Get implements types.EntityGetter.
func (e *entities) Get(uid types.EntityUID) (types.Entity, bool) {
	switch {
	case uid == e.principal.UID:
		return e.principal, true
	case uid == e.action.UID:
		return e.action, true
	case uid == e.resource.UID:
		return e.resource, true
	case uid == e.method || uid == e.api:
		return types.Entity{UID: uid}, true
	case uid.Type == RoleType && slices.Contains(e.roles, uid):
		return types.Entity{UID: uid}, true
	}
	return types.Entity{}, false
}

var anonymousUID = types.NewEntityUID(AnonymousType, "anonymous")

// maxCachedPath is the longest request path a decision without an
// operation is cached for.
const maxCachedPath = 128

// decisionKey appends to key the exact encoding of every input of the
// request-policy decision for x, when the decision depends on nothing but
// cached inputs: the principal's entity, the context record (method,
// operation, authentication, client address) and the action and resource
// (the operation, or a short request path). It returns nil otherwise.
func (s *Stage) decisionKey(key []byte, x *pipeline.Exchange, op string) []byte {
	if !s.cacheContext || s.reads.resource || x.Request == nil ||
		len(s.bodyFields) > 0 && (s.bodyOps == nil || s.bodyOps[op]) {
		return nil
	}
	path := x.Request.URL.Path
	if op == "" && len(path) > maxCachedPath {
		return nil // a client spraying long paths must not fill the cache
	}
	var cbuf [128]byte
	ckey := s.contextKey(cbuf[:0], x, x.Request.Method, op)
	key = strconv.AppendInt(key, int64(len(ckey)), 10)
	key = append(append(key, ':'), ckey...)
	if p := x.Principal; p != nil {
		var ok bool
		if key, ok = s.principalKey(key, p); !ok {
			return nil
		}
	} else {
		key = append(key, '-')
	}
	if op == "" {
		key = appendField(append(key, 'P'), path)
	}
	return key
}

// contextKey appends to key an exact encoding of what a cacheable context
// record holds: the method, the operation, whether the caller is
// authenticated and its address.
func (s *Stage) contextKey(key []byte, x *pipeline.Exchange, method, op string) []byte {
	key = appendField(key, method)
	key = appendField(key, op)
	if x.Principal != nil {
		key = append(key, 'a')
	} else {
		key = append(key, '-')
	}
	if s.reads.ip && x.ClientIP.IsValid() {
		a := x.ClientIP.Unmap()
		b16 := a.As16()
		key = append(key, byte(a.BitLen()))
		key = append(key, b16[:]...)
		key = appendField(key, a.Zone())
	}
	return key
}

// cedarRequest builds the Cedar request and entities for the exchange
// (see docs/authz.md for the model). response, when not nil, becomes
// context.response.
func (s *Stage) cedarRequest(x *pipeline.Exchange, op string, params map[string]string, response types.Record) (cedar.Request, *entities, *pipeline.Denial) {
	e := &entities{api: s.apiUID}
	method := ""
	path := ""
	if x.Request != nil {
		method = x.Request.Method
		path = x.Request.URL.Path
	}
	if p := x.Principal; p != nil {
		var pbuf [512]byte
		pkey, cacheable := s.principalKey(pbuf[:0], p)
		e.principal, e.roles = s.principal(p, pkey, cacheable)
	} else {
		e.principal = types.Entity{UID: anonymousUID}
	}
	template := path
	if _, t, ok := strings.Cut(op, " "); ok {
		template = t
	}
	if op != "" {
		oe := s.operation(method, op, template)
		e.method, e.action, e.resource = oe.method, oe.action, oe.resource
	} else {
		// The resource is the request path: not cached, as it is the
		// client's choice.
		e.method = types.NewEntityUID(ActionType, types.String(method))
		e.action = types.Entity{UID: e.method}
		e.resource = types.Entity{UID: types.NewEntityUID(RouteType, types.String(template)), Parents: s.apiParents}
	}
	var paramRec types.Record
	if s.reads.params {
		pm := make(types.RecordMap, len(params))
		for k, v := range params {
			pm[types.String(k)] = types.String(v)
		}
		paramRec = types.NewRecord(pm)
	}
	if s.reads.resource {
		e.resource.Attributes = types.NewRecord(types.RecordMap{
			"api":      types.String(s.opts.API),
			"path":     types.String(path),
			"template": types.String(template),
			"params":   paramRec,
		})
	}
	needBody := len(s.bodyFields) > 0 && (s.bodyOps == nil || s.bodyOps[op])
	// A context that holds nothing but the method, operation, whether the
	// caller is authenticated and its address is shared between requests.
	// The key encodes all four exactly, so a cached record is only ever
	// the one this request would build.
	var buf [128]byte
	var key []byte
	if s.cacheContext && !needBody && response.Len() == 0 {
		key = s.contextKey(buf[:0], x, method, op)
		if rec, ok := s.ctxCache.get(key); ok {
			return cedar.Request{Principal: e.principal.UID, Action: e.action.UID, Resource: e.resource.UID, Context: rec}, e, nil
		}
	}
	c := make(types.RecordMap, s.contextSize)
	if s.reads.method {
		c["method"] = types.String(method)
	}
	if s.reads.operation {
		c["operation"] = types.String(op)
	}
	if s.reads.path {
		c["path"] = types.String(path)
	}
	if s.reads.params {
		c["params"] = paramRec
	}
	if s.reads.authenticated {
		c["authenticated"] = types.Boolean(x.Principal != nil)
	}
	if s.reads.time {
		now := s.now()
		c["time"] = types.NewDatetime(now)
		c["unix"] = types.Long(now.Unix())
	}
	if s.reads.ip && x.ClientIP.IsValid() {
		a := x.ClientIP.Unmap()
		c["ip"] = types.IPAddr(netip.PrefixFrom(a, a.BitLen()))
	}
	if x.Request != nil && s.reads.query {
		q := x.Request.URL.Query()
		qm := make(types.RecordMap, len(q))
		for k, vs := range q {
			if len(vs) > 0 {
				qm[types.String(k)] = types.String(vs[0])
			}
		}
		c["query"] = types.NewRecord(qm)
	}
	if x.Request != nil && s.reads.headers {
		hm := make(types.RecordMap, len(s.headers))
		for _, h := range s.headers {
			if v := x.Request.Header.Get(h); v != "" {
				hm[types.String(h)] = types.String(v)
			}
		}
		c["headers"] = types.NewRecord(hm)
	}
	if needBody {
		body, d := s.bodyRecord(x)
		if d != nil {
			return cedar.Request{}, nil, d
		}
		c["body"] = body
	}
	if response.Len() > 0 {
		c["response"] = response
	}
	rec := types.NewRecord(c)
	if key != nil {
		s.ctxCache.put(key, rec)
	}
	return cedar.Request{Principal: e.principal.UID, Action: e.action.UID, Resource: e.resource.UID, Context: rec}, e, nil
}

// bodyRecord extracts the configured JSON pointers from the request body.
// A body that cannot be read (too large) is refused; a body that is not
// JSON yields an empty record, so owner rules on it forbid.
func (s *Stage) bodyRecord(x *pipeline.Exchange) (types.Record, *pipeline.Denial) {
	b, err := x.Body()
	if err != nil {
		if errors.Is(err, pipeline.ErrBodyTooLarge) {
			return types.Record{}, &pipeline.Denial{Status: http.StatusRequestEntityTooLarge,
				Reason: "the request body is too large", Rules: []string{"authz.body"}, Location: "body"}
		}
		return types.Record{}, &pipeline.Denial{Status: http.StatusBadRequest,
			Reason: "the request body could not be read", Rules: []string{"authz.body"}, Location: "body"}
	}
	return pointers(b, s.bodyFields), nil
}

// pointers decodes a JSON document and returns the values at ptrs.
func pointers(b []byte, ptrs []string) types.Record {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if len(b) == 0 || dec.Decode(&doc) != nil {
		return types.Record{}
	}
	m := make(types.RecordMap, len(ptrs))
	for _, p := range ptrs {
		v, ok := lookup(doc, p)
		if !ok {
			continue
		}
		if n, isNum := v.(json.Number); isNum {
			if i, err := n.Int64(); err == nil {
				m[types.String(p)] = types.Long(i)
			} else {
				m[types.String(p)] = types.String(n.String())
			}
			continue
		}
		switch v.(type) {
		case string, bool:
			cv, _ := value(v, 0)
			m[types.String(p)] = cv
		}
	}
	return types.NewRecord(m)
}

// lookup resolves an RFC 6901 JSON pointer.
func lookup(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := doc.(type) {
		case map[string]any:
			v, ok := t[tok]
			if !ok {
				return nil, false
			}
			doc = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			doc = t[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

// Response implements pipeline.ResponseStage: owner rules with
// ResponseField, evaluated on 2xx JSON responses of their operations.
func (s *Stage) Response(ctx context.Context, x *pipeline.Exchange, resp *http.Response) (*pipeline.Denial, error) {
	if len(s.respOps) == 0 || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil
	}
	op, params := s.resolve(x)
	if !s.respOps[op] {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return &pipeline.Denial{Status: http.StatusForbidden, Reason: "the caller may not access this resource",
			Rules: []string{RuleCedarError}, Detail: "owner rule: response is not JSON", Severity: events.SeverityHigh}, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading response for owner rule: %w", err)
	}
	if len(b) > MaxResponseBytes {
		return nil, fmt.Errorf("response for owner rule larger than %d bytes", MaxResponseBytes)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	var ptrs []string
	for _, o := range s.cfg.Owners {
		if o.ResponseField != "" && canonicalOp(o.Operation) == op {
			ptrs = append(ptrs, o.ResponseField)
		}
	}
	rec := pointers(b, ptrs)
	if rec.Len() == 0 {
		rec = types.NewRecord(types.RecordMap{"": types.String("")}) // present but without the field: forbid
	}
	req, ents, d := s.cedarRequest(x, op, params, rec)
	if d != nil {
		return d, nil
	}
	return s.decide(s.respPolicyList, ents, req), nil
}

// words adds every identifier and every word inside string literals of
// Cedar text to set. It over-approximates what a policy reads, which is
// safe: an attribute is only left out when no policy names it anywhere.
func words(text []byte, set map[string]bool) {
	start := -1
	for i := 0; i <= len(text); i++ {
		word := i < len(text) && (text[i] == '_' || text[i] >= 'a' && text[i] <= 'z' || text[i] >= 'A' && text[i] <= 'Z' || text[i] >= '0' && text[i] <= '9')
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			set[string(text[start:i])] = true
			start = -1
		}
	}
}
