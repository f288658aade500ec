// Package authz is the authorization stage: RBAC (scopes and roles), ABAC and
// object-level authorization with Cedar policies, and BOLA enumeration
// detection.
//
// Every decision is taken in this order, and the first refusal wins:
//
//  1. Enumeration detection (counts distinct object ids per principal and
//     operation; blocks only when Enumeration.Block is set).
//  2. Authentication required (a rule below needs a principal, or
//     Authenticated is set) and no principal: 401 with WWW-Authenticate.
//  3. RBAC: the API's and the operation's scopes and roles, and the OpenAPI
//     security requirements when OpenAPIScopes is set: 403.
//  4. Cedar: the policies of Policies and PolicyFiles plus the policies
//     compiled from Owners, over the entity model described in docs/authz.md:
//     403 naming the deciding policy.
//  5. On the response: owner rules with ResponseField, compiled to Cedar too.
package authz

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/redact"
)

// Config is an API's `authz` block: what the caller may do (scopes, roles,
// Cedar policies, owner rules, enumeration detection). Default: none.
type Config struct {
	// Authenticated requires a principal on every operation that is not
	// marked anonymous; a request without one gets 401. Default false: only
	// operations with scopes, roles, owner rules or OpenAPI security
	// requirements need a principal.
	Authenticated bool `yaml:"authenticated,omitempty" json:"authenticated,omitempty"`
	// Scopes are required, all of them, on every operation of the API.
	// Default empty: no scope is required.
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	// Roles: the principal needs at least one of them on every operation of
	// the API. Default empty: no role is required.
	Roles []string `yaml:"roles,omitempty" json:"roles,omitempty"`
	// Operations adds requirements per operation, keyed by method and path
	// template as in the OpenAPI description ("DELETE /pets/{id}"). They add
	// to the API-wide Scopes and Roles. Function-level protection (admin-only
	// operations) is `{"DELETE /pets/{id}": {roles: [admin]}}`. Without an
	// OpenAPI description the gateway matches these templates itself.
	// Default empty.
	Operations map[string]Operation `yaml:"operations,omitempty" json:"operations,omitempty"`
	// OpenAPIScopes takes required scopes from the OpenAPI `security`
	// requirements of each operation (or the document's default): the
	// principal must satisfy one of the alternatives, that is hold every
	// scope it lists (as a scope or a role); an empty alternative (`{}`) or
	// `security: []` allows anonymous calls. Needs `openapi`. Default false.
	OpenAPIScopes bool `yaml:"openapi_scopes,omitempty" json:"openapi_scopes,omitempty"`
	// Policies is Cedar policy text, for small policies kept in the config.
	// Default "" (none).
	Policies string `yaml:"policies,omitempty" json:"policies,omitempty"`
	// PolicyFiles are Cedar policy files (relative paths are relative to the
	// config file). Each is parsed and checked at load; a syntax error is
	// reported as file:line:column. Default empty.
	PolicyFiles []string `yaml:"policy_files,omitempty" json:"policy_files,omitempty"`
	// Default is what Cedar decides when no permit policy matches: "deny" or
	// "allow". Default "deny" when Policies or PolicyFiles are set (Cedar's
	// own default-deny), "allow" when the only Cedar policies are the ones
	// compiled from Owners (which only forbid).
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
	// Owners are object-level (BOLA) rules in a short form; each compiles to
	// one Cedar forbid policy named in denials. Default empty.
	Owners []Owner `yaml:"owners,omitempty" json:"owners,omitempty"`
	// AdminRoles bypass every owner rule that does not list its own
	// BypassRoles. Default ["admin"]; an empty list after defaults cannot be
	// expressed, use BypassRoles per rule to narrow it.
	AdminRoles []string `yaml:"admin_roles,omitempty" json:"admin_roles,omitempty"`
	// ContextHeaders are the request headers (lower-case names) exposed to
	// Cedar as context.headers. Credentials (Authorization, Cookie, API key
	// headers) are refused. Default ["accept", "content-type", "origin",
	// "user-agent"].
	ContextHeaders []string `yaml:"context_headers,omitempty" json:"context_headers,omitempty"`
	// BodyFields are JSON pointers into a JSON request body exposed to Cedar
	// as context.body["/pointer"] (strings, numbers, booleans). Reading the
	// body costs time; list only what policies use. Owner rules with
	// BodyField add theirs. Default empty.
	BodyFields []string `yaml:"body_fields,omitempty" json:"body_fields,omitempty"`
	// Enumeration detects a principal that walks through object ids (BOLA
	// enumeration). Default: off.
	Enumeration *Enumeration `yaml:"enumeration,omitempty" json:"enumeration,omitempty"`
	// Challenge is the WWW-Authenticate value sent with 401. Default
	// `Bearer realm="<api name>"`.
	Challenge string `yaml:"challenge,omitempty" json:"challenge,omitempty"`
}

// Operation holds the requirements of one operation.
type Operation struct {
	// Scopes are required, all of them. Default empty.
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	// Roles: the principal needs at least one. Default empty.
	Roles []string `yaml:"roles,omitempty" json:"roles,omitempty"`
	// Anonymous lets calls without a principal through, lifting the
	// API-wide Authenticated, Scopes and Roles for this operation (owner
	// rules and Cedar policies still apply). Default false.
	Anonymous bool `yaml:"anonymous,omitempty" json:"anonymous,omitempty"`
}

// Owner is an object-level rule: on Operation, the object named by a path
// parameter, a request body field or a response body field must belong to
// the principal, that is equal the principal's Claim. Exactly one of Param,
// BodyField and ResponseField is set. Principals with one of the bypass
// roles pass. A request without a principal gets 401.
type Owner struct {
	// ID names the compiled Cedar policy in denials and events. Default
	// "authz.bola.owner-" + a slug of the operation and field
	// ("authz.bola.owner-users-id").
	ID string `yaml:"id,omitempty" json:"id,omitempty"`
	// Operation is the method and path template ("GET /users/{id}").
	// Required.
	Operation string `yaml:"operation" json:"operation"`
	// Param is a path parameter of Operation holding the owner's id
	// (`/users/{id}`: the user is the object).
	Param string `yaml:"param,omitempty" json:"param,omitempty"`
	// BodyField is a JSON pointer into the JSON request body holding the
	// owner ("/owner" for POST /orders). A body that is not JSON or lacks
	// the field is refused.
	BodyField string `yaml:"body_field,omitempty" json:"body_field,omitempty"`
	// ResponseField is a JSON pointer into the upstream's JSON response
	// holding the owner ("/owner" for GET /orders/{id}). The response is
	// checked before it reaches the client and replaced by a 403 when the
	// object is someone else's. Only 2xx JSON responses are checked; use it
	// for reads (a write has happened by the time the response is seen).
	ResponseField string `yaml:"response_field,omitempty" json:"response_field,omitempty"`
	// Claim is the principal claim compared with the owner: a key of the
	// principal's attributes; "sub" falls back to the principal id.
	// Default "sub".
	Claim string `yaml:"claim,omitempty" json:"claim,omitempty"`
	// BypassRoles pass this rule. Default: AdminRoles.
	BypassRoles []string `yaml:"bypass_roles,omitempty" json:"bypass_roles,omitempty"`
}

// Enumeration configures BOLA enumeration detection: a principal (or, when
// anonymous, a client IP) that touches more than Threshold distinct object
// ids (path parameter values) of one operation within Window raises a
// high-severity "authz.enumeration" event, once per window.
type Enumeration struct {
	// Threshold is the number of distinct ids allowed per window; the next
	// new id raises the event. Required, more than 0.
	Threshold int64 `yaml:"threshold" json:"threshold"`
	// Window is how long distinct ids are remembered, counted from the
	// first. Default 1m.
	Window time.Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// Operations limits detection to these operations. Default empty: every
	// operation with path parameters.
	Operations []string `yaml:"operations,omitempty" json:"operations,omitempty"`
	// Block refuses (403) requests past the threshold until the window ends,
	// instead of only reporting them. Default false.
	Block bool `yaml:"block,omitempty" json:"block,omitempty"`
}

// Defaults used when a field is zero.
const (
	DefaultClaim             = "sub"
	DefaultEnumerationWindow = time.Minute
)

// DefaultAdminRoles bypass owner rules when AdminRoles is empty.
var DefaultAdminRoles = []string{"admin"}

// DefaultContextHeaders are exposed to Cedar when ContextHeaders is empty.
var DefaultContextHeaders = []string{"accept", "content-type", "origin", "user-agent"}

var builtinRedactor = redact.New(nil, nil)

// Validate reports problems with the block, with paths relative to it. It
// parses Policies and every policy file, so that a Cedar syntax error is
// reported at load as file:line:column.
func (c Config) Validate() field.List {
	var errs field.List
	for op := range c.Operations {
		if _, err := parseOperation(op); err != nil {
			errs = append(errs, field.Errorf("operations."+op, "%v", err))
		}
	}
	switch c.Default {
	case "", "allow", "deny":
	default:
		errs = append(errs, field.Errorf("default", "%q is not allow or deny", c.Default))
	}
	for i, h := range c.ContextHeaders {
		if h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, " :\"\\") {
			errs = append(errs, field.Errorf(idx("context_headers", i), "%q is not a lower-case header name", h))
		} else if builtinRedactor.SecretHeader(h) {
			errs = append(errs, field.Errorf(idx("context_headers", i), "%q carries credentials and cannot be exposed to policies", h))
		}
	}
	for i, p := range c.BodyFields {
		if err := checkPointer(p); err != nil {
			errs = append(errs, field.Errorf(idx("body_fields", i), "%v", err))
		}
	}
	seen := map[string]bool{}
	ownerIDs := ownerPolicyIDs(c.Owners)
	for i, o := range c.Owners {
		path := idx("owners", i)
		op, err := parseOperation(o.Operation)
		if err != nil {
			errs = append(errs, field.Errorf(path+".operation", "%v", err))
		}
		n := 0
		for _, s := range []string{o.Param, o.BodyField, o.ResponseField} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			errs = append(errs, field.Errorf(path, "set exactly one of param, body_field and response_field"))
		}
		if o.Param != "" && err == nil && !slices.Contains(op.params, o.Param) {
			errs = append(errs, field.Errorf(path+".param", "%q is not a parameter of %q", o.Param, o.Operation))
		}
		for _, f := range []struct{ name, v string }{{"body_field", o.BodyField}, {"response_field", o.ResponseField}} {
			if f.v != "" {
				if err := checkPointer(f.v); err != nil {
					errs = append(errs, field.Errorf(path+"."+f.name, "%v", err))
				}
			}
		}
		if !safeLiteral(o.Claim) || !safeLiteral(o.ID) {
			errs = append(errs, field.Errorf(path, "id and claim may not contain quotes, backslashes or control characters"))
		}
		id := ownerIDs[i]
		if seen[id] {
			errs = append(errs, field.Errorf(path+".id", "duplicate policy id %q", id))
		}
		seen[id] = true
		for j, r := range o.BypassRoles {
			if r == "" || !safeLiteral(r) {
				errs = append(errs, field.Errorf(idx(path+".bypass_roles", j), "invalid role %q", r))
			}
		}
	}
	for j, r := range c.AdminRoles {
		if r == "" || !safeLiteral(r) {
			errs = append(errs, field.Errorf(idx("admin_roles", j), "invalid role %q", r))
		}
	}
	if e := c.Enumeration; e != nil {
		if e.Threshold <= 0 {
			errs = append(errs, field.Errorf("enumeration.threshold", "must be more than 0"))
		}
		for i, op := range e.Operations {
			if _, err := parseOperation(op); err != nil {
				errs = append(errs, field.Errorf(idx("enumeration.operations", i), "%v", err))
			}
		}
	}
	if c.Policies != "" {
		if _, err := parsePolicies("policies", []byte(c.Policies)); err != nil {
			errs = append(errs, field.Errorf("policies", "%v", err))
		}
	}
	for i, f := range c.PolicyFiles {
		if f == "" {
			errs = append(errs, field.Errorf(idx("policy_files", i), "empty path"))
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, field.Errorf(idx("policy_files", i), "reading policy file: %v", err))
			continue
		}
		if _, err := parsePolicies(f, b); err != nil {
			errs = append(errs, field.Errorf(idx("policy_files", i), "%v", err))
		}
	}
	return errs
}

// ResolvePaths rewrites PolicyFiles with abs (the config loader makes them
// absolute against the config file's directory).
func (c *Config) ResolvePaths(abs func(string) string) {
	for i, p := range c.PolicyFiles {
		c.PolicyFiles[i] = abs(p)
	}
}

func idx(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

func (o Owner) claim() string {
	if o.Claim == "" {
		return DefaultClaim
	}
	return o.Claim
}

// ownerPolicyIDs returns the policy id of every owner rule. A default id
// that an earlier rule already has gets the method appended, so rules on
// one path with different methods (GET and PUT /notes/{id}) stay apart.
func ownerPolicyIDs(owners []Owner) []string {
	ids := make([]string, len(owners))
	methodOf := map[string]string{} // default id → method of the rule that has it
	for i, o := range owners {
		id := o.policyID()
		if op, err := parseOperation(o.Operation); err == nil && o.ID == "" {
			if m, taken := methodOf[id]; taken && m != op.method {
				id += "-" + strings.ToLower(op.method)
			}
			methodOf[id] = op.method
		}
		ids[i] = id
	}
	return ids
}

func (o Owner) policyID() string {
	if o.ID != "" {
		return o.ID
	}
	op, err := parseOperation(o.Operation)
	if err != nil {
		return "authz.bola.owner"
	}
	var parts []string
	for _, s := range op.segs {
		s = strings.Trim(s, "{}")
		if s != "" && !(o.Param != "" && s == o.Param) {
			parts = append(parts, s)
		}
	}
	switch {
	case o.Param != "":
		parts = append(parts, o.Param)
	case o.BodyField != "":
		parts = append(parts, "body", strings.ReplaceAll(strings.Trim(o.BodyField, "/"), "/", "-"))
	case o.ResponseField != "":
		parts = append(parts, "response", strings.ReplaceAll(strings.Trim(o.ResponseField, "/"), "/", "-"))
	}
	return "authz.bola.owner-" + slug(strings.Join(parts, "-"))
}

func slug(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
	return strings.Trim(s, "-")
}

// safeLiteral reports whether s can be put between double quotes in Cedar
// text without escaping: valid UTF-8 without quotes, backslashes or control
// characters.
func safeLiteral(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return false
		}
	}
	return true
}

func checkPointer(p string) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("%q is not a JSON pointer (expected /field or /a/b)", p)
	}
	if !safeLiteral(p) {
		return fmt.Errorf("%q may not contain quotes, backslashes or control characters", p)
	}
	return nil
}

// OperationKeys implements pipeline.OperationNamer: every operation the
// block names (operations, owners, enumeration.operations).
func (c *Config) OperationKeys() []string {
	var out []string
	for k := range c.Operations {
		out = append(out, k)
	}
	slices.Sort(out)
	for _, o := range c.Owners {
		out = append(out, o.Operation)
	}
	if c.Enumeration != nil {
		out = append(out, c.Enumeration.Operations...)
	}
	return out
}
