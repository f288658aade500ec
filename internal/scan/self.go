package scan

import (
	"context"
	"net/http"
	"regexp"
	"strings"
)

// An identity's own identifiers (its user name, email, id) are what a
// tester types into the requests they send as that user: the scanner
// learns them from the identity's login body and from the object a
// "who am I" read answers (GET /profile, /me, /users/me), and fills them
// into the requests it plans, so that a write meant for "my account"
// really names it, and so that the cross-identity checks can put the
// other identity's value in its place.

// idMember names members that identify an account.
var idMember = regexp.MustCompile(`(?i)^(user(_?name)?|login|e-?mail|account(_?name)?|user_?id|owner|customer(_?id)?|member(_?id)?|handle)$`)

// ownValues returns identity i's known identifiers by member name
// (lowercase), from its login body and its self object.
func (s *scanner) ownValues(i int) map[string]string {
	out := map[string]string{}
	if i < 0 || i >= len(s.cfg.Identities) {
		return out
	}
	if l := s.cfg.Identities[i].Login; l != nil {
		for k, v := range objectOf(map[string]any(l.Body)) {
			if str, ok := v.(string); ok && idMember.MatchString(k) && str != "" {
				out[strings.ToLower(k)] = str
			}
		}
	}
	s.mu.Lock()
	self := s.self[i]
	s.mu.Unlock()
	for k, v := range self {
		if isScalar(v) && (idMember.MatchString(k) || strings.EqualFold(k, "id")) && scalarString(v) != "" {
			if _, ok := out[strings.ToLower(k)]; !ok {
				out[strings.ToLower(k)] = scalarString(v)
			}
		}
	}
	return out
}

// ownValue returns identity i's value for a member or parameter name:
// the same name, or a synonym (username ~ user ~ login).
func (s *scanner) ownValue(i int, name string) (string, bool) {
	vals := s.ownValues(i)
	n := strings.ToLower(name)
	if v, ok := vals[n]; ok {
		return v, true
	}
	if !idMember.MatchString(name) {
		return "", false
	}
	syn := [][]string{{"username", "user_name", "user", "login", "handle", "account", "account_name"}, {"email", "e-mail", "mail"}, {"user_id", "userid", "id"}}
	for _, group := range syn {
		if !containsFold(group, n) {
			continue
		}
		for _, alt := range group {
			if v, ok := vals[alt]; ok {
				return v, true
			}
		}
	}
	return "", false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// isPasswordMember reports whether a member holds a password.
func isPasswordMember(name string) bool {
	return passField.MatchString(name) || strings.Contains(strings.ToLower(name), "password")
}

// ownPassword is identity i's login password, when it logs in with one.
func (s *scanner) ownPassword(i int) (string, bool) {
	if i < 0 || i >= len(s.cfg.Identities) || s.cfg.Identities[i].Login == nil {
		return "", false
	}
	for k, v := range objectOf(map[string]any(s.cfg.Identities[i].Login.Body)) {
		if str, ok := v.(string); ok && passField.MatchString(k) {
			return str, true
		}
	}
	return "", false
}

// isSelfRead reports whether op is a "who am I" read: a secured GET
// without path parameters.
func isSelfRead(o *opState) bool {
	return o.op.Method == http.MethodGet && !o.op.Public() && !strings.Contains(o.op.Path, "{")
}

// learnSelf keeps identity 1's answer to a "who am I" read: a JSON object
// that holds one of its login identifiers.
func (s *scanner) learnSelf(o *opState) {
	if !isSelfRead(o) || !o.res.ok() || o.req.ident != 0 {
		return
	}
	obj := objectOf(o.res.json())
	if obj == nil || !holdsAny(obj, s.ownValues(0)) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.self[0] == nil {
		s.self[0] = obj
		s.selfOp = o
	}
}

// holdsAny reports whether obj has a member whose value is one of vals.
func holdsAny(obj map[string]any, vals map[string]string) bool {
	for _, v := range obj {
		if !isScalar(v) {
			continue
		}
		for _, want := range vals {
			if scalarString(v) == want {
				return true
			}
		}
	}
	return false
}

// readSelf asks identity i's "who am I" read and returns its object (nil
// when there is none or it failed). It also keeps it as the identity's
// self object.
func (s *scanner) readSelf(ctx context.Context, i int) map[string]any {
	s.mu.Lock()
	o := s.selfOp
	s.mu.Unlock()
	if o == nil || i >= len(s.ids) {
		return nil
	}
	r := o.req.clone()
	r.ident = i
	res := s.send(ctx, r)
	obj := objectOf(res.json())
	if !res.ok() || obj == nil {
		return nil
	}
	s.mu.Lock()
	s.self[i] = obj
	s.mu.Unlock()
	return obj
}

// fillOwn puts identity ident's identifiers into the identifying members
// of a planned body and the identifying path parameters (a write "to my
// account" names the account).
func (s *scanner) fillOwn(r *request) {
	if r.ident < 0 {
		return
	}
	s.mu.Lock()
	self := s.self[r.ident]
	s.mu.Unlock()
	if obj, at := r.object(); obj != nil {
		for k, v := range obj {
			if _, isStr := v.(string); isStr && isPasswordMember(k) {
				// "My password" is the one the identity logs in with: a
				// planned password change changes nothing.
				if own, ok := s.ownPassword(r.ident); ok {
					obj[k] = own
					continue
				}
			}
			if _, isStr := v.(string); isStr && idMember.MatchString(k) {
				if own, ok := s.ownValue(r.ident, k); ok {
					obj[k] = own
					delete(r.fresh, at+"/"+escapePointer(k))
					continue
				}
			}
			// A member the account already has keeps its current value, so
			// that the plan's write to "my account" changes nothing: a
			// made-up role written into the identity's own account could
			// lock it out of the API for the rest of the scan.
			if cur, ok := self[k]; ok && isScalar(cur) && isScalar(v) {
				obj[k] = cur
			}
		}
	}
	for name := range r.path {
		if !idMember.MatchString(name) {
			continue
		}
		if own, ok := s.ownValue(r.ident, name); ok {
			r.path[name] = own
		}
	}
}
