package authz

import (
	"fmt"
	"iter"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	cedar "github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
)

// The entity model (documented in docs/authz.md).
const (
	// PrincipalType is the type of an authenticated principal:
	// Portcullis::Principal::"<principal id>".
	PrincipalType = types.EntityType("Portcullis::Principal")
	// AnonymousType is the type of the principal of a request without one:
	// Portcullis::Anonymous::"anonymous".
	AnonymousType = types.EntityType("Portcullis::Anonymous")
	// RoleType is the type of a principal's roles, which are its parents:
	// `principal in Portcullis::Role::"admin"`.
	RoleType = types.EntityType("Portcullis::Role")
	// ActionType is the type of actions. The action is the operation
	// (Portcullis::Action::"GET /users/{id}"), whose parent is the method
	// action (Portcullis::Action::"GET"); a request that matches no known
	// operation has the method action itself.
	ActionType = types.EntityType("Portcullis::Action")
	// RouteType is the type of the resource: Portcullis::Route::"<path
	// template>" (or the request path when no operation matched), child of
	// Portcullis::API::"<api name>".
	RouteType = types.EntityType("Portcullis::Route")
	// APIType is the type of the API a route belongs to.
	APIType = types.EntityType("Portcullis::API")
)

// policy is one compiled Cedar policy with the name Portcullis reports.
type policy struct {
	id     cedar.PolicyID // the @id annotation, or file:line:column
	policy *cedar.Policy
}

// parsePolicies parses Cedar text. name is the file name used in errors
// and default policy ids. Parse errors read "name:line:col: message".
func parsePolicies(name string, text []byte) ([]policy, error) {
	list, err := cedar.NewPolicyListFromBytes(name, text)
	if err != nil {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "parser error: ")
		if rest, ok := strings.CutPrefix(msg, "parse error at <input>:"); ok {
			// rest is `LINE:COL "TOKEN": MESSAGE`.
			if pos, tail, ok := strings.Cut(rest, " "); ok {
				return nil, fmt.Errorf("%s:%s: at %s", name, pos, tail)
			}
			return nil, fmt.Errorf("%s:%s", name, rest)
		}
		return nil, fmt.Errorf("%s: %s", name, strings.ReplaceAll(msg, "<input>", name))
	}
	out := make([]policy, 0, len(list))
	for _, p := range list {
		id := string(p.Annotations()["id"])
		if id == "" {
			pos := p.Position()
			id = filepath.Base(name) + ":" + strconv.Itoa(pos.Line) + ":" + strconv.Itoa(pos.Column)
		}
		out = append(out, policy{id: cedar.PolicyID(id), policy: p})
	}
	return out, nil
}

// ownerPolicy compiles an owner rule to Cedar text. The condition is written
// so that a missing attribute makes the forbid apply rather than raise an
// evaluation error (Cedar skips policies that error, and a skipped forbid
// would allow).
func ownerPolicy(o Owner, admin []string) string {
	bypass := o.BypassRoles
	if len(bypass) == 0 {
		bypass = admin
	}
	var owner string
	switch {
	case o.Param != "":
		owner = `resource.params`
	case o.BodyField != "":
		owner = `context.body`
	default:
		owner = `context.response`
	}
	key := o.Param + o.BodyField + o.ResponseField
	claim := o.claim()
	var b strings.Builder
	fmt.Fprintf(&b, "@id(%s)\nforbid (principal, action == %s::%s, resource)\nunless {\n  principal is %s &&\n  (", lit(o.policyID()), ActionType, lit(canonicalOp(o.Operation)), PrincipalType)
	for _, r := range bypass {
		fmt.Fprintf(&b, "principal in %s::%s ||\n   ", RoleType, lit(r))
	}
	if owner != "resource.params" {
		fmt.Fprintf(&b, "(context has %s && ", owner[len("context."):])
	} else {
		b.WriteString("(")
	}
	fmt.Fprintf(&b, "%s has %s && principal.claims has %s && %s[%s] == principal.claims[%s]))\n};\n", owner, lit(key), lit(claim), owner, lit(key), lit(claim))
	return b.String()
}

// lit quotes s as a Cedar string literal. Config validation (safeLiteral)
// guarantees s needs no escaping; Go's %q is not used because its escapes
// (\xff, \u00a0) are not Cedar's.
func lit(s string) string { return `"` + s + `"` }

func canonicalOp(s string) string {
	op, err := parseOperation(s)
	if err != nil {
		return s
	}
	return op.key
}

// value converts a decoded JSON or principal attribute value to Cedar.
// Numbers that are whole become Longs, other numbers strings; nil and
// unsupported values are left out (ok false).
func value(v any, depth int) (types.Value, bool) {
	if depth > 8 {
		return nil, false
	}
	switch t := v.(type) {
	case string:
		return types.String(t), true
	case bool:
		return types.Boolean(t), true
	case int:
		return types.Long(t), true
	case int64:
		return types.Long(t), true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return types.Long(int64(t)), true
		}
		return types.String(strconv.FormatFloat(t, 'g', -1, 64)), true
	case []string:
		vs := make([]types.Value, len(t))
		for i, s := range t {
			vs[i] = types.String(s)
		}
		return types.NewSet(vs...), true
	case []any:
		vs := make([]types.Value, 0, len(t))
		for _, e := range t {
			if cv, ok := value(e, depth+1); ok {
				vs = append(vs, cv)
			}
		}
		return types.NewSet(vs...), true
	case map[string]any:
		m := make(types.RecordMap, len(t))
		for k, e := range t {
			if cv, ok := value(e, depth+1); ok {
				m[types.String(k)] = cv
			}
		}
		return types.NewRecord(m), true
	case fmt.Stringer:
		return types.String(t.String()), true
	}
	return nil, false
}

// policyList is a cedar.PolicyIterator over a slice, in policy id order.
type policyList []policy

func newPolicyList(m cedar.PolicyMap) *policyList {
	l := make(policyList, 0, len(m))
	for id, p := range m {
		l = append(l, policy{id: id, policy: p})
	}
	slices.SortFunc(l, func(a, b policy) int { return strings.Compare(string(a.id), string(b.id)) })
	return &l
}

// All implements cedar.PolicyIterator.
func (l *policyList) All() iter.Seq2[cedar.PolicyID, *cedar.Policy] {
	return func(yield func(cedar.PolicyID, *cedar.Policy) bool) {
		for _, p := range *l {
			if !yield(p.id, p.policy) {
				return
			}
		}
	}
}
