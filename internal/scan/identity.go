package scan

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/openapi"
)

// identity is one set of credentials ready to send. Its headers change
// when it logs in again, so they are read through header().
type identity struct {
	name  string
	login *Login

	mu       sync.Mutex
	headers  http.Header
	down     bool     // credentials stopped working and could not be renewed
	health   *request // a secured read it answered 2xx, asked again to check it
	relogins int
}

// header returns the identity's current headers (a copy).
func (id *identity) header() http.Header {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.headers.Clone()
}

func (id *identity) isDown() bool {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.down
}

// maxRelogins bounds how often one identity logs in again: a target that
// revokes every token it hands out would otherwise turn the scan into a
// login loop.
const maxRelogins = 5

// login obtains every identity's credentials.
func (s *scanner) login(ctx context.Context) error {
	for i, c := range s.cfg.Identities {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("identity %d", i+1)
		}
		id := &identity{name: name, login: c.Login, headers: http.Header{}}
		for k, v := range c.Headers {
			id.headers.Set(k, v)
		}
		if c.Login != nil {
			h, err := s.loginOnce(ctx, name, c.Login)
			if err != nil {
				return err
			}
			for k, v := range h {
				id.headers[k] = v
			}
		}
		s.ids = append(s.ids, id)
	}
	return nil
}

// loginOnce calls the login operation and returns the header that carries
// the token it answered.
func (s *scanner) loginOnce(ctx context.Context, name string, l *Login) (http.Header, error) {
	op := s.findOperation(l.Operation)
	if op == nil {
		return nil, fmt.Errorf("login of %s: no operation %q in the description", name, l.Operation)
	}
	r := s.baseline(op)
	r.ident = -1
	if l.Body != nil {
		r.body = deepCopy(map[string]any(l.Body))
	}
	res := s.send(ctx, r)
	if res.err != nil {
		return nil, fmt.Errorf("login of %s: %w", name, res.err)
	}
	if !res.ok() {
		return nil, fmt.Errorf("login of %s: %s answered %d", name, op.Method+" "+op.Path, res.status)
	}
	ptr := l.Token
	if ptr == "" {
		ptr = "/token"
	}
	tok, ok := pointerGet(res.json(), ptr)
	if !ok || scalarString(tok) == "" {
		return nil, fmt.Errorf("login of %s: no token at %s in the answer", name, ptr)
	}
	header := l.Header
	if header == "" {
		header = "Authorization"
	}
	prefix := ""
	if l.Prefix != nil {
		prefix = *l.Prefix
	} else if strings.EqualFold(header, "Authorization") {
		prefix = "Bearer "
	}
	h := http.Header{}
	h.Set(header, prefix+scalarString(tok))
	return h, nil
}

// pickHealthChecks gives each identity a health check: the first secured
// read (in plan order) that answered identity 1's baseline with 2xx and
// no credentials with 401/403, asked as that identity.
func (s *scanner) pickHealthChecks(ctx context.Context) {
	o := s.authProbe()
	if o == nil {
		return
	}
	for i, id := range s.ids {
		r := o.req.clone()
		r.ident = i
		if i > 0 {
			// Identity 2's answer is not known yet: it must work now to
			// tell later whether it stopped working.
			if res := s.send(ctx, r); !res.ok() {
				continue
			}
		}
		id.mu.Lock()
		id.health = r
		id.mu.Unlock()
	}
}

// checkIdentities asks every identity's health check again (before a
// group runs). An identity whose credentials stopped working logs in
// again when it has a login; otherwise, or when that fails, it is marked
// down, which the groups that need it respect. Every change is a note in
// the report.
func (s *scanner) checkIdentities(ctx context.Context, before string) {
	for _, id := range s.ids {
		id.mu.Lock()
		h, down := id.health, id.down
		id.mu.Unlock()
		if h == nil || down {
			continue
		}
		res := s.send(ctx, h.clone())
		if res.err != nil || res.ok() || res.status != http.StatusUnauthorized && res.status != http.StatusForbidden && res.status < 500 {
			// Still working, or a refusal that says nothing about the
			// credentials (429, a 404 of an object another probe deleted).
			continue
		}
		s.relogin(ctx, id, fmt.Sprintf("%s %s answered %d", h.method, h.op.Path, res.status), before)
	}
}

// relogin renews id's credentials after they stopped working (why), or
// marks it down.
func (s *scanner) relogin(ctx context.Context, id *identity, why, before string) {
	id.mu.Lock()
	if id.login == nil || id.relogins >= maxRelogins {
		id.down = true
		id.mu.Unlock()
		s.note("the credentials of %s stopped working before the %s checks (%s) and could not be renewed (no login, or %d logins already): checks that need %s were skipped from then on", id.name, before, why, maxRelogins, id.name)
		return
	}
	id.relogins++
	l := id.login
	id.mu.Unlock()
	h, err := s.loginOnce(ctx, id.name, l)
	id.mu.Lock()
	defer id.mu.Unlock()
	if err != nil {
		id.down = true
		s.note("the credentials of %s stopped working before the %s checks (%s) and logging in again failed (%v): checks that need %s were skipped from then on", id.name, before, why, err, id.name)
		return
	}
	for k, v := range h {
		id.headers[k] = v
	}
	health := id.health
	id.mu.Unlock()
	again := s.send(ctx, health.clone())
	id.mu.Lock()
	if !again.ok() {
		id.down = true
		s.note("the credentials of %s stopped working before the %s checks (%s); it logged in again, but %s %s still answered %d: checks that need %s were skipped from then on", id.name, before, why, health.method, health.op.Path, again.status, id.name)
		return
	}
	s.note("the credentials of %s stopped working before the %s checks (%s); it logged in again", id.name, before, why)
}

// identitiesUp reports whether the first n identities are usable.
func (s *scanner) identitiesUp(n int) bool {
	if len(s.ids) < n {
		return false
	}
	for _, id := range s.ids[:n] {
		if id.isDown() {
			return false
		}
	}
	return true
}

// Change is what the scan changed on the target through one operation:
// every write (POST, PUT, PATCH, DELETE) that was answered 2xx.
type Change struct {
	// Operation is "METHOD /path/template".
	Operation string `json:"operation"`
	// Kind is created (POST), updated (PUT, PATCH) or deleted (DELETE).
	Kind string `json:"kind"`
	// Count is how many such writes succeeded.
	Count int `json:"count"`
	// Objects are up to 5 of the objects written: their path, and the id
	// the answer gave a created object.
	Objects []string `json:"objects,omitempty"`
}

// changeLog collects the scan's successful writes.
type changeLog struct {
	mu  sync.Mutex
	by  map[string]*Change
	ord []string
}

// record notes a 2xx answer to a write.
func (c *changeLog) record(op *openapi.Operation, r *request, res *result, urlPath string) {
	kind := ""
	switch op.Method {
	case http.MethodPost:
		kind = "created"
	case http.MethodPut, http.MethodPatch:
		kind = "updated"
	case http.MethodDelete:
		kind = "deleted"
	default:
		return
	}
	obj := urlPath
	if kind == "created" {
		if m := objectOf(res.json()); m != nil {
			for _, k := range []string{"id", "uuid", "_id", "name", "username"} {
				if v, ok := m[k]; ok && isScalar(v) {
					obj += " (" + k + " " + scalarString(v) + ")"
					break
				}
			}
		}
	}
	key := op.Method + " " + op.Path
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[string]*Change{}
	}
	ch := c.by[key]
	if ch == nil {
		ch = &Change{Operation: key, Kind: kind}
		c.by[key] = ch
		c.ord = append(c.ord, key)
	}
	ch.Count++
	if len(ch.Objects) < 5 && !slices.Contains(ch.Objects, obj) {
		ch.Objects = append(ch.Objects, obj)
	}
}

func (c *changeLog) list() []Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Change, 0, len(c.ord))
	for _, k := range c.ord {
		out = append(out, *c.by[k])
	}
	return out
}

// identitiesNeeded is how many identities each group's checks act as:
// when one of them is down, the group does not run.
var identitiesNeeded = map[string]int{"authentication": 1, "authorization": 2, "property": 1}

// isLogin reports whether o is a login: an identity's login operation, or
// a POST that looks like one (login in its path or id, a user and a
// password member).
func (s *scanner) isLogin(o *opState) bool {
	if s.loginOpOf(o.op) != nil {
		return true
	}
	if o.op.Method != http.MethodPost || !loginPath.MatchString(o.op.Path+" "+o.op.ID) {
		return false
	}
	obj, _ := o.req.object()
	user, pass := false, false
	for k := range obj {
		user = user || userField.MatchString(k)
		pass = pass || passField.MatchString(k)
	}
	return user && pass
}

// loginOpOf returns the login of the identity whose login operation is op
// (a login is not a change the scan made).
func (s *scanner) loginOpOf(op *openapi.Operation) *Login {
	for _, c := range s.cfg.Identities {
		if c.Login != nil && s.findOperation(c.Login.Operation) == op {
			return c.Login
		}
	}
	return nil
}
