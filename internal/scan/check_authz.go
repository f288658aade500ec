package scan

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/openapi"
)

// The checks of the authorization group.
var (
	checkAuthzBola = define(CheckInfo{ID: "authz.bola", Group: "authorization", OWASP: OWASPBOLA, CWE: 639, Severity: SeverityHigh,
		Title:       "Broken object level authorization: another identity reaches the object",
		Remediation: "Check on every request that the caller owns (or may access) the object the id names."})
	checkAuthzBfla = define(CheckInfo{ID: "authz.bfla", Group: "authorization", OWASP: OWASPBFLA, CWE: 285, Severity: SeverityHigh,
		Title:       "Broken function level authorization: a normal user calls an admin operation",
		Remediation: "Check the caller's role for every administrative operation; deny by default."})
	checkAuthzPrivilegeField = define(CheckInfo{ID: "authz.privilege-field", Group: "authorization", OWASP: OWASPProperty, CWE: 915, Severity: SeverityHigh,
		Title:       "Privilege field (role, is_admin) can be set by the caller",
		Remediation: "Never bind privilege fields from request bodies; change roles only through an admin operation."})
)

var _ = runs("authorization", runAuthorization)

// ownerField names the members that say who owns an object.
var ownerField = regexp.MustCompile(`(?i)^(owner|owner_?id|user_?id|user|created_?by|author|account_?id)$`)

// adminPath marks administrative operations.
var adminPath = regexp.MustCompile(`(?i)(^|/)(admin|admins|internal|manage|management|staff|superuser|root)(/|$)`)

func runAuthorization(ctx context.Context, s *scanner) {
	if len(s.ids) >= 2 {
		s.eachOp(ctx, s.bola)
	} else if len(s.ids) == 1 {
		s.note("BOLA checks skipped: they need a second identity (--auth2)")
	}
	s.eachOp(ctx, s.bfla)
	s.siblingDeletes(ctx)
	s.foreignWrites(ctx)
	s.bolaDeletes(ctx)
	s.writeCheck(ctx, checkAuthzPrivilegeField, true)
}

// owner returns the owner member of a JSON object answer, if any.
func owner(res *result) (string, any, bool) {
	obj, ok := res.json().(map[string]any)
	if !ok {
		return "", nil, false
	}
	for k, v := range obj {
		if ownerField.MatchString(k) && isScalar(v) {
			return k, v, true
		}
	}
	return "", nil, false
}

// bola: identity 2 asks for an object identity 1 owns.
func (s *scanner) bola(ctx context.Context, o *opState) {
	if !strings.Contains(o.op.Path, "{") || o.op.Public() || !o.res.ok() {
		return
	}
	field, who, ok := owner(o.res)
	if !ok {
		// No owner member: an object that names identity 1's own account
		// (its user name, email) is identity 1's all the same.
		obj, isObj := o.res.json().(map[string]any)
		own := s.ownValues(0)
		other := s.ownValues(1)
		for k, v := range obj {
			if !isScalar(v) || !idMember.MatchString(k) {
				continue
			}
			for _, want := range own {
				if scalarString(v) == want && !slices.Contains(slices.Collect(maps.Values(other)), want) {
					field, who, ok = k, v, true
				}
			}
		}
		if !isObj || !ok {
			return
		}
	}
	r := o.req.clone()
	r.ident = 1
	res := s.send(ctx, r)
	if gatewayRefusal(res) {
		s.reportBlocked(checkAuthzBola, o, "identity:2", res)
		return
	}
	if !res.ok() {
		return
	}
	if obj2 := objectOf(res.json()); obj2 != nil && isScalar(obj2[field]) && scalarString(obj2[field]) == scalarString(who) {
		s.report(checkAuthzBola, o, "identity:2", ConfidenceFirm, s.evidence(res,
			fmt.Sprintf("%s got %s's object (%s %v) with %d", s.ids[1].name, s.ids[0].name, field, who, res.status)))
	}
}

// adminOp reports whether an operation is administrative by its path,
// tags or an x-admin / x-roles extension.
func adminOp(op *openapi.Operation) bool {
	if adminPath.MatchString(op.Path) || slices.ContainsFunc(op.Tags, func(t string) bool { return strings.EqualFold(t, "admin") }) {
		return true
	}
	if v, ok := op.Extensions["x-admin"].(bool); ok && v {
		return true
	}
	if roles, ok := op.Extensions["x-roles"].([]any); ok {
		for _, r := range roles {
			if s, ok := r.(string); ok && strings.EqualFold(s, "admin") {
				return true
			}
		}
	}
	return false
}

// bfla: a normal identity calls an administrative operation. The
// identities given to the scanner are taken to be normal users.
func (s *scanner) bfla(ctx context.Context, o *opState) {
	if len(s.ids) == 0 || o.op.Public() || !adminOp(o.op) {
		return
	}
	res := o.res
	if gatewayRefusal(res) {
		s.reportBlocked(checkAuthzBfla, o, "", res)
		return
	}
	if res.ok() {
		s.report(checkAuthzBfla, o, "identity:1", ConfidenceFirm, s.evidence(res,
			fmt.Sprintf("%s (a normal user) called an administrative operation and got %d", s.ids[0].name, res.status)))
	}
}

// readBack fetches the object a write produced: GET on the same path for
// PUT/PATCH, GET on path/{id} of the created object for POST.
func (s *scanner) readBack(ctx context.Context, o *opState, res *result) map[string]any {
	created, _ := res.json().(map[string]any)
	for _, x := range s.ops {
		if x.op.Method != http.MethodGet {
			continue
		}
		var r *request
		switch {
		case o.op.Method != http.MethodPost && x.op.Path == o.op.Path:
			r = x.req.clone()
			r.path = o.req.clone().path
		case o.op.Method == http.MethodPost && created != nil && strings.HasPrefix(x.op.Path, o.op.Path+"/{") && strings.Count(x.op.Path, "{") == 1:
			name := x.op.Path[len(o.op.Path)+2 : len(x.op.Path)-1]
			v, ok := created[name]
			if !ok {
				v, ok = created["id"]
			}
			if !ok || strings.Contains(name, "/") {
				continue
			}
			r = x.req.clone()
			r.path = map[string]string{name: scalarString(v)}
		default:
			continue
		}
		r.ident = o.req.ident
		got := s.send(ctx, r)
		if obj := objectOf(got.json()); obj != nil && got.ok() {
			return obj
		}
	}
	if o.req.ident == 0 && !(o.op.Method == http.MethodPost && !strings.Contains(o.op.Path, "{")) {
		// A write to "my account" with no read of its own (PUT
		// /users/update_role): the identity's own read shows the account.
		return s.readSelf(ctx, 0)
	}
	return nil
}

// resourceRoot is the collection a path belongs to: the path up to its
// first parameter ("/menu/{id}/image" → "/menu").
func resourceRoot(p string) string {
	if i := strings.Index(p, "{"); i >= 0 {
		p = p[:i]
	}
	return strings.TrimSuffix(p, "/")
}

// siblingRefused judges a write identity 1 was allowed (o) against the
// other writes on the same resource: when creating or changing that kind
// of object is refused to identity 1 for lack of rights (403, while an
// anonymous call gets something else) yet this write succeeded, the
// write lacks the function-level check its siblings have (a customer who
// may not add a menu item deletes one).
func (s *scanner) siblingRefused(o *opState) {
	for _, x := range s.ops {
		if x == o || x.req.ident != 0 || resourceRoot(x.op.Path) != resourceRoot(o.op.Path) || x.res == nil {
			continue
		}
		switch x.op.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue
		}
		if x.first == nil || x.first.status != http.StatusForbidden || x.anon != nil && x.anon.status == http.StatusForbidden {
			continue
		}
		s.report(checkAuthzBfla, o, "identity:1", ConfidenceFirm, s.evidence(o.res, fmt.Sprintf(
			"%s is refused %s on this resource (%d: no rights) but %s succeeded (%d): the operation lacks the role check its siblings have",
			s.ids[0].name, x.key(), x.first.status, o.key(), o.res.status)))
		return
	}
}

// siblingDeletes sends, as identity 1 and before any probe may raise its
// privileges, the DELETE operations of resources whose other writes
// refused it for lack of rights (siblingRefused judges the answer). Only
// with AllowDestructive; the object deleted is the one the plan would
// delete at cleanup.
func (s *scanner) siblingDeletes(ctx context.Context) {
	if !s.cfg.AllowDestructive || len(s.ids) == 0 {
		return
	}
	for _, op := range s.spec.Operations() {
		if op.Method != http.MethodDelete || !s.allowed(op) || ctx.Err() != nil {
			continue
		}
		refused := false
		for _, x := range s.ops {
			if x.req.ident == 0 && x.first != nil && x.first.status == http.StatusForbidden && resourceRoot(x.op.Path) == resourceRoot(op.Path) {
				refused = true
			}
		}
		if !refused {
			continue
		}
		o := &opState{op: op, req: s.baseline(op)}
		o.res = s.send(ctx, o.req)
		o.first = o.res
		if gatewayRefusal(o.res) {
			s.reportBlocked(checkAuthzBfla, o, "identity:1", o.res)
			continue
		}
		if o.res.ok() {
			s.siblingRefused(o)
		}
	}
}
