package authz

import (
	"slices"
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

// principalEntry is a principal's Cedar entity, built once per cache key.
type principalEntry struct {
	uid     types.EntityUID
	roles   []types.EntityUID
	parents types.EntityUIDSet
	attrs   types.Record
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

// maxKeyBytes bounds the key of a cached principal (its claims included):
// a principal with larger claims is built for every request instead, so
// the cache never holds more than maxCached × maxKeyBytes of keys.
const maxKeyBytes = 2048

// principalKey appends to key an exact encoding of everything p's Cedar
// entity is built from (id, kind, roles, scopes and, when a policy reads
// claims, the attributes). cacheable is false when the attributes have no
// exact encoding or the key would be too long.
func (s *Stage) principalKey(key []byte, p *pipeline.Principal) (_ []byte, cacheable bool) {
	key = appendField(key, p.ID)
	key = appendField(key, p.Kind)
	key = appendList(key, p.Roles)
	key = appendList(key, p.Scopes)
	cacheable = true
	if s.reads.claims {
		key = append(key, 'C')
		key, cacheable = appendValue(key, p.Attributes, 0)
		cacheable = cacheable && len(key) <= maxKeyBytes
	}
	return key, cacheable
}

// principal returns the Cedar entity of p, cached under key (from
// principalKey) when cacheable, so a cached entity is only ever the one
// this principal would get.
func (s *Stage) principal(p *pipeline.Principal, key []byte, cacheable bool) (types.Entity, []types.EntityUID) {
	if cacheable {
		if en, ok := s.principals.get(key); ok {
			return types.Entity{UID: en.uid, Parents: en.parents, Attributes: en.attrs}, en.roles
		}
	}
	en := s.newPrincipalEntry(p)
	if cacheable {
		s.principals.put(key, en)
	}
	return types.Entity{UID: en.uid, Parents: en.parents, Attributes: en.attrs}, en.roles
}

// appendValue appends an encoding of v to key that is exact as far as
// value (the Cedar conversion) can tell values apart: two values with the
// same encoding convert to the same Cedar value. ok is false for a value
// without an encoding (fmt.Stringer and other types), which is then not
// cached.
func appendValue(key []byte, v any, depth int) ([]byte, bool) {
	if depth > 8 { // value drops these
		return append(key, 'x'), true
	}
	switch t := v.(type) {
	case nil:
		return append(key, 'n'), true
	case string:
		return appendField(append(key, 's'), t), true
	case bool:
		if t {
			return append(key, 'T'), true
		}
		return append(key, 'F'), true
	case int:
		return append(strconv.AppendInt(append(key, 'i'), int64(t), 10), ';'), true
	case int64:
		return append(strconv.AppendInt(append(key, 'i'), t, 10), ';'), true
	case float64:
		return append(strconv.AppendFloat(append(key, 'd'), t, 'g', -1, 64), ';'), true
	case []string:
		return appendList(append(key, 'S'), t), true
	case []any:
		key = strconv.AppendInt(append(key, 'A'), int64(len(t)), 10)
		key = append(key, '[')
		for _, e := range t {
			var ok bool
			if key, ok = appendValue(key, e, depth+1); !ok {
				return key, false
			}
		}
		return key, true
	case map[string]any:
		var arr [16]string
		keys := arr[:0]
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		key = strconv.AppendInt(append(key, 'M'), int64(len(t)), 10)
		key = append(key, '{')
		for _, k := range keys {
			key = appendField(key, k)
			var ok bool
			if key, ok = appendValue(key, t[k], depth+1); !ok {
				return key, false
			}
		}
		return key, true
	}
	return key, false
}

func (s *Stage) newPrincipalEntry(p *pipeline.Principal) *principalEntry {
	en := &principalEntry{uid: types.NewEntityUID(PrincipalType, types.String(p.ID))}
	en.roles = make([]types.EntityUID, len(p.Roles))
	for i, r := range p.Roles {
		en.roles[i] = types.NewEntityUID(RoleType, types.String(r))
	}
	en.parents = types.NewEntityUIDSet(en.roles...)
	m := types.RecordMap{"id": types.String(p.ID), "kind": types.String(p.Kind)}
	if s.reads.claims {
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
	}
	if s.reads.scopes {
		m["scopes"], _ = value(p.Scopes, 0)
	}
	if s.reads.roles {
		m["roles"], _ = value(p.Roles, 0)
	}
	en.attrs = types.NewRecord(m)
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
