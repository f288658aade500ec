package authz

import (
	"strconv"
	"sync"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// maxCached bounds each entity cache. A full cache is emptied and refilled
// rather than evicted entry by entry: the working set of a gateway (its
// operations, its active principals) is far smaller, and a client that
// sends many distinct identities only costs rebuilding.
const maxCached = 4096

// cache is a bounded map of immutable values built once and shared by
// concurrent decisions. Cedar entities, records and UID sets are immutable,
// so sharing them between requests is safe.
type cache[V any] struct {
	mu sync.RWMutex
	m  map[string]V
}

// get returns the value cached under key (a byte slice, so that looking up
// does not allocate).
func (c *cache[V]) get(key []byte) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[string(key)]
	c.mu.RUnlock()
	return v, ok
}

// put caches v under key.
func (c *cache[V]) put(key []byte, v V) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]V)
	}
	c.m[string(key)] = v
	c.mu.Unlock()
}

// principalEntry is the part of a principal's Cedar entity that depends
// only on what its cache key holds.
type principalEntry struct {
	uid     types.EntityUID
	roles   []types.EntityUID
	parents types.EntityUIDSet
	scopes  types.Value  // nil unless a policy reads scopes
	roleSet types.Value  // nil unless a policy reads roles
	attrs   types.Record // the whole attribute record; valid when !claims
}

// appendField appends s to key with its length first, so that no two
// different field lists encode to the same key (no principal can be taken
// for another).
func appendField(key []byte, s string) []byte {
	key = strconv.AppendInt(key, int64(len(s)), 10)
	key = append(key, ':')
	return append(key, s...)
}

func appendList(key []byte, l []string) []byte {
	key = strconv.AppendInt(key, int64(len(l)), 10)
	key = append(key, '[')
	for _, s := range l {
		key = appendField(key, s)
	}
	return key
}

// principal returns the Cedar entity of p. Everything but the claims record
// is cached under an exact encoding of what it is built from (id, kind,
// roles, and scopes); claims, which carry per-token values such as exp and
// jti, are rebuilt for every request when a policy reads them.
func (s *Stage) principal(p *pipeline.Principal) (types.Entity, []types.EntityUID) {
	var buf [256]byte
	key := appendField(buf[:0], p.ID)
	key = appendField(key, p.Kind)
	key = appendList(key, p.Roles)
	key = appendList(key, p.Scopes)
	en, ok := s.principals.get(key)
	if !ok {
		en = s.newPrincipalEntry(p)
		s.principals.put(key, en)
	}
	attrs := en.attrs
	if s.reads.claims {
		m := types.RecordMap{"id": types.String(p.ID), "kind": types.String(p.Kind)}
		claims := make(types.RecordMap, len(p.Attributes)+1)
		for k, v := range p.Attributes {
			if cv, ok := value(v, 0); ok {
				claims[types.String(k)] = cv
			}
		}
		if _, ok := claims["sub"]; !ok {
			claims["sub"] = types.String(p.ID)
		}
		m["claims"] = types.NewRecord(claims)
		if en.scopes != nil {
			m["scopes"] = en.scopes
		}
		if en.roleSet != nil {
			m["roles"] = en.roleSet
		}
		attrs = types.NewRecord(m)
	}
	return types.Entity{UID: en.uid, Parents: en.parents, Attributes: attrs}, en.roles
}

func (s *Stage) newPrincipalEntry(p *pipeline.Principal) *principalEntry {
	en := &principalEntry{uid: types.NewEntityUID(PrincipalType, types.String(p.ID))}
	en.roles = make([]types.EntityUID, len(p.Roles))
	for i, r := range p.Roles {
		en.roles[i] = types.NewEntityUID(RoleType, types.String(r))
	}
	en.parents = types.NewEntityUIDSet(en.roles...)
	m := types.RecordMap{"id": types.String(p.ID), "kind": types.String(p.Kind)}
	if s.reads.scopes {
		en.scopes, _ = value(p.Scopes, 0)
		m["scopes"] = en.scopes
	}
	if s.reads.roles {
		en.roleSet, _ = value(p.Roles, 0)
		m["roles"] = en.roleSet
	}
	if !s.reads.claims {
		en.attrs = types.NewRecord(m)
	}
	return en
}

// opEntities are the action and (attribute-less) resource entities of one
// method and operation.
type opEntities struct {
	method   types.EntityUID
	action   types.Entity
	resource types.Entity
}

// operation returns the action and resource entities of a request with
// method whose operation key is op (not ""), building them once.
func (s *Stage) operation(method, op, template string) *opEntities {
	var buf [128]byte
	key := appendField(buf[:0], method)
	key = append(key, op...)
	if oe, ok := s.opEntities.get(key); ok {
		return oe
	}
	oe := &opEntities{method: types.NewEntityUID(ActionType, types.String(method))}
	oe.action = types.Entity{UID: types.NewEntityUID(ActionType, types.String(op)), Parents: types.NewEntityUIDSet(oe.method)}
	oe.resource = types.Entity{
		UID:     types.NewEntityUID(RouteType, types.String(template)),
		Parents: s.apiParents,
	}
	s.opEntities.put(key, oe)
	return oe
}
