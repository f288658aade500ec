package scan

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/portcullis/portcullis/internal/openapi"
)

// massField is the undeclared member every mass-assignment probe sets:
// a name no API declares, so that storing it proves the API binds
// whatever it is given.
const (
	massField = "pcscan_extra"
	massValue = "pcx-mass-assigned"
)

// privName names members that grant privileges or trust.
var privName = regexp.MustCompile(`(?i)^(is_?)?(admin|administrator|super_?user|staff|root|verified|email_?verified|approved|role|roles|permissions?|privileges?|groups?|scopes?|account_?type|user_?type|tier|plan)$`)

// bookkeeping are members a server sets itself and that no probe should
// touch: ids, timestamps, versions, links.
var bookkeeping = regexp.MustCompile(`(?i)^(id|_id|uuid|guid|.*_id|created(_?at|_?on)?|updated(_?at|_?on)?|modified(_?at)?|deleted(_?at)?|version|etag|href|links?|_links|self|url|password.*|token.*|.*_hash|hash)$`)

// privilegeDictionary are members that grant privileges in common
// frameworks, with the value that would grant them.
var privilegeDictionary = []candidate{
	{name: "admin", value: true}, {name: "isAdmin", value: true}, {name: "is_admin", value: true},
	{name: "role", value: "admin"}, {name: "roles", value: []any{"admin"}}, {name: "permissions", value: []any{"admin"}},
	{name: "is_staff", value: true}, {name: "is_superuser", value: true}, {name: "superuser", value: true},
	{name: "verified", value: true}, {name: "is_verified", value: true}, {name: "email_verified", value: true},
	{name: "approved", value: true}, {name: "account_type", value: "admin"}, {name: "user_type", value: "admin"},
	{name: "group", value: "admin"},
}

// privilegedRoles are role names that mean more rights than a normal
// user's, tried in the case the API itself uses.
var privilegedRoles = []string{"admin", "administrator", "superuser", "root", "owner", "staff", "manager", "employee", "moderator", "editor"}

// candidate is one member a write probe sets.
type candidate struct {
	name  string
	value any
	// why is where the name came from (dictionary, response schema, an
	// object returned…).
	why string
}

// writeCheck runs a property-level write check on every write operation:
// privilege members (privilege, authz.privilege-field) or other
// undeclared and read-only members (property.mass-assignment) are set in
// the baseline write and the object is read back.
//
// It runs in two phases. First the controls of every operation (read
// only): the object as it is, so that a member that already holds the
// probe's value proves nothing. Only then are the probes sent, the
// operations of one path one after the other. The order matters because
// operations share objects: PUT /notes/{id} writes the very note the
// baseline of POST /notes created. With controls and probes of all
// operations interleaved, the control of POST /notes could read that note
// after the PUT probe had written into it, take the values for the
// server's own, and skip the probe: a planted flaw went unreported
// whenever the scheduler (a loaded machine) ran the PUT probe first.
func (s *scanner) writeCheck(ctx context.Context, id *check, privilege bool) {
	var mu sync.Mutex
	before := map[*opState]map[string]any{}
	raised := false
	s.eachOp(ctx, func(ctx context.Context, o *opState) {
		if !s.writable(o) {
			return
		}
		obj := s.readBack(ctx, o, o.res)
		if obj == nil {
			obj, _ = o.res.json().(map[string]any)
		}
		if obj == nil {
			obj = map[string]any{}
		}
		mu.Lock()
		before[o] = obj
		mu.Unlock()
	})
	s.eachKey(ctx, s.readBackKey, func(ctx context.Context, o *opState) {
		b, ok := before[o]
		if ok && s.readsSelf(o) {
			// Several writes show in the identity's own account: its state
			// before this probe is what the probes before it left.
			if fresh := s.readBack(ctx, o, o.res); fresh != nil {
				b = fresh
			}
		}
		if ok && s.writeProbe(ctx, o, id, privilege, b) {
			mu.Lock()
			raised = true
			mu.Unlock()
		}
	})
	if privilege && raised {
		// Once every probe is done (no probe of this group runs at the same
		// time), the operations that refused identity 1 are asked again.
		if works := s.privilegeWorks(ctx); works != "" {
			s.appendDetail(id, "; and the privilege works: "+works)
		}
	}
}

// keepRaised makes a privilege that stuck part of o's baseline, so that
// later probes of o (which carry the baseline's members) keep the raised
// privilege instead of writing the old value back.
func keepRaised(o *opState, c candidate) {
	if body, _ := o.req.object(); body != nil {
		if _, declared := body[c.name]; declared {
			body[c.name] = c.value
		}
	}
}

// appendDetail adds text to the detail of every real finding of c.
func (s *scanner) appendDetail(c *check, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.findings {
		if s.findings[i].CheckID == c.ID && !s.findings[i].Blocked {
			s.findings[i].Evidence.Detail += text
		}
	}
}

// readsSelf reports whether o's object is read back through the
// identity's own read (no read of its own path).
func (s *scanner) readsSelf(o *opState) bool {
	for _, x := range s.ops {
		if x.op.Method != http.MethodGet {
			continue
		}
		if o.op.Method != http.MethodPost && x.op.Path == o.op.Path ||
			o.op.Method == http.MethodPost && strings.HasPrefix(x.op.Path, o.op.Path+"/{") && strings.Count(x.op.Path, "{") == 1 {
			return false
		}
	}
	return o.op.Method != http.MethodPost || strings.Contains(o.op.Path, "{")
}

// readBackKey groups the write probes that read the same object back: the
// operations of one path, and every write that shows in the identity's own
// account together with that account's path.
func (s *scanner) readBackKey(o *opState) string {
	s.mu.Lock()
	self := s.selfOp
	s.mu.Unlock()
	if self != nil && s.readsSelf(o) {
		return self.op.Path
	}
	return o.op.Path
}

// writable reports whether o is a write with a JSON object body that the
// identity may call: its baseline was not refused for lack of rights (a
// 400 or 5xx baseline may be the scanner's own made-up values; the probe
// values may be what the operation wants).
func (s *scanner) writable(o *opState) bool {
	switch o.op.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return false
	}
	if body, _ := o.req.object(); body == nil || o.req.contentType == formType || s.isLogin(o) {
		return false
	}
	r := o.res
	return r != nil && r.err == nil && r.status != http.StatusUnauthorized && r.status != http.StatusForbidden &&
		r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed && !gatewayRefusal(r)
}

// candidates lists what o's probe sets.
func (s *scanner) candidates(o *opState, before map[string]any, privilege bool) []candidate {
	reqSchema := map[string]any(nil)
	if mt := bodyMedia(o.op.RequestBody.Content); mt != nil && mt.Schema != nil {
		reqSchema = mt.Schema.Raw
	}
	body, at := o.req.object()
	reqSchema = schemaAt(reqSchema, at)
	writableDeclared := func(name string) bool {
		sub, ok := openapi.PropertySchema(reqSchema, name)
		return ok && !openapi.ReadOnly(sub)
	}
	seen := map[string]bool{}
	var out, extra []candidate
	add := func(c candidate) {
		k := strings.ToLower(c.name)
		if seen[k] || c.value == nil {
			return
		}
		seen[k] = true
		out = append(out, c)
	}
	roles := s.observedRoles(before)
	// Members the API shows but does not let a caller write: from the
	// answer schemas of the operation, of its read-back and of the
	// identity's own read, and from the objects actually returned.
	shown := map[string]map[string]any{}
	for _, x := range s.relatedReads(o) {
		for name, sub := range schemaProperties(responseSchemaOf(x.op)) {
			shown[name] = sub
		}
	}
	for name, sub := range schemaProperties(responseSchemaOf(o.op)) {
		shown[name] = sub
	}
	for name := range before {
		if _, ok := shown[name]; !ok {
			shown[name] = nil
		}
	}
	for _, name := range slices.Sorted(maps.Keys(shown)) {
		if bookkeeping.MatchString(name) || idMember.MatchString(name) || writableDeclared(name) {
			continue
		}
		if _, inBody := body[name]; inBody {
			continue
		}
		isPriv := privName.MatchString(name)
		if isPriv != privilege {
			continue
		}
		add(candidate{name: name, value: probeValue(name, before[name], shown[name], roles), why: "shown in answers, not writable in the request"})
	}
	if privilege {
		// Declared privilege members the caller may send (a role in an
		// "update role" body): a more privileged value than its own.
		for _, name := range slices.Sorted(maps.Keys(body)) {
			if !privName.MatchString(name) {
				continue
			}
			cur := before[name]
			if cur == nil {
				cur = body[name]
			}
			str, isStr := cur.(string)
			if !isStr {
				if pv := probeValue(name, cur, nil, roles); pv != nil && scalarString(pv) != scalarString(body[name]) {
					add(candidate{name: name, value: pv, why: "a declared privilege member"})
				}
				continue
			}
			// A role string: every privileged role name, one at a time
			// after the first (the all-at-once probe takes the first).
			sub, _ := openapi.PropertySchema(reqSchema, name)
			for i, r := range roleValues(str, sub, roles) {
				c := candidate{name: name, value: r, why: "a declared privilege member"}
				if i == 0 {
					add(c)
				} else {
					extra = append(extra, c)
				}
			}
		}
		// The other values of declared members come before the
		// dictionary: a declared role is the likelier way in.
		out, extra = append(out, extra...), nil
		for _, c := range privilegeDictionary {
			if _, inBody := body[c.name]; inBody || writableDeclared(c.name) {
				continue
			}
			v := c.value
			if str, ok := v.(string); ok && len(roles) > 0 {
				v = styled(str, roles[0])
			}
			add(candidate{name: c.name, value: v, why: "common privilege member"})
		}
	} else {
		add(candidate{name: massField, value: massValue, why: "a member no API declares"})
	}
	return append(out, extra...)
}

// mayGarble reports whether probes may put arbitrary values (wrong types,
// injection payloads, long strings) at loc. Not into the privilege
// members of a write (role, is_admin…): when the write names the
// identity's own account, a role of "'" or 12345 that the API stores
// locks that identity out of every later request (its account no longer
// loads). Those members are probed by the privilege check, with values
// that mean something.
func (s *scanner) mayGarble(o *opState, loc location) bool {
	if o.op.Method == http.MethodGet || o.op.Method == http.MethodHead || loc.in != "body" || s.isLogin(o) {
		// A login stores nothing: its members are fair game.
		return true
	}
	parts := splitPointer(loc.name)
	if len(parts) == 0 {
		return true
	}
	last := parts[len(parts)-1]
	// Nor into the identifiers of the identity's own account (its user
	// name, its address): many tokens name the account by them, and a
	// probe that renames it ends the identity's session, or its next login.
	if idMember.MatchString(last) {
		if own, ok := s.ownValue(o.req.ident, last); ok && o.req.get(loc) == own {
			return false
		}
	}
	// Nor into password members: a probe that changes the identity's own
	// password keeps it from logging in again when its token expires.
	return !privName.MatchString(last) && !isPasswordMember(last)
}

// probeValue is the value a probe sets for a member: the opposite of a
// false flag, a privileged role name, a changed number, a marker.
func probeValue(name string, cur any, sc map[string]any, roles []string) any {
	types := openapi.SchemaTypes(sc)
	switch v := cur.(type) {
	case bool:
		if v {
			return nil // already true: setting it proves nothing
		}
		return true
	case float64, int64:
		return 7919
	case string:
		if privName.MatchString(name) {
			return privilegedRole(v, sc, roles)
		}
		return "pcx" + randomTag()
	case []any:
		if privName.MatchString(name) {
			r := privilegedRole("", sc, roles)
			if r == nil {
				return nil
			}
			return []any{r}
		}
		return nil
	case nil:
		switch {
		case slices.Contains(types, "boolean"):
			return true
		case slices.Contains(types, "integer"), slices.Contains(types, "number"):
			return 7919
		case slices.Contains(types, "array"):
			if privName.MatchString(name) {
				return []any{"admin"}
			}
			return nil
		case privName.MatchString(name):
			if r := privilegedRole("", sc, roles); r != nil {
				return r
			}
			return true
		case slices.Contains(types, "string"), types == nil:
			return "pcx" + randomTag()
		}
	}
	return nil
}

// roleValues are the privileged role names to try instead of cur: the
// schema's enum values that name one, else privilegedRoles, in the case
// style of the roles seen.
func roleValues(cur string, sc map[string]any, seen []string) []string {
	var out []string
	if e, ok := sc["enum"].([]any); ok {
		for _, want := range privilegedRoles {
			for _, x := range e {
				if str, ok := x.(string); ok && strings.EqualFold(str, want) && !strings.EqualFold(str, cur) {
					out = append(out, str)
				}
			}
		}
		return out
	}
	style := cur
	if style == "" && len(seen) > 0 {
		style = seen[0]
	}
	for _, r := range privilegedRoles {
		if !strings.EqualFold(r, cur) {
			out = append(out, styled(r, style))
		}
	}
	return out
}

// privilegedRole picks a role more privileged than cur: from the schema's
// enum, else from privilegedRoles, in the case style of the roles seen.
func privilegedRole(cur string, sc map[string]any, seen []string) any {
	if e, ok := sc["enum"].([]any); ok {
		for _, want := range privilegedRoles {
			for _, x := range e {
				if str, ok := x.(string); ok && strings.EqualFold(str, want) && !strings.EqualFold(str, cur) {
					return str
				}
			}
		}
		return nil
	}
	style := cur
	if style == "" && len(seen) > 0 {
		style = seen[0]
	}
	for _, r := range privilegedRoles {
		if !strings.EqualFold(r, cur) {
			return styled(r, style)
		}
	}
	return nil
}

// styled writes word in the case style of example ("Customer" →
// "Admin", "USER" → "ADMIN").
func styled(word, example string) string {
	switch {
	case example == "":
		return word
	case strings.ToUpper(example) == example && strings.ToLower(example) != example:
		return strings.ToUpper(word)
	case unicode.IsUpper([]rune(example)[0]):
		return strings.ToUpper(word[:1]) + word[1:]
	}
	return word
}

// observedRoles are the role values seen in answers (the identity's own
// role first), used for the case style of probe values.
func (s *scanner) observedRoles(before map[string]any) []string {
	var out []string
	if v, ok := before["role"].(string); ok {
		out = append(out, v)
	}
	s.mu.Lock()
	self := s.self[0]
	s.mu.Unlock()
	if v, ok := self["role"].(string); ok {
		out = append(out, v)
	}
	if v, ok := s.values.field("role"); ok {
		out = append(out, scalarString(v))
	}
	return out
}

// relatedReads are the reads that show o's object: GET on its path (or on
// path/{id} for a creation) and the identity's own read.
func (s *scanner) relatedReads(o *opState) []*opState {
	var out []*opState
	for _, x := range s.ops {
		if x.op.Method != http.MethodGet {
			continue
		}
		if x.op.Path == o.op.Path || o.op.Method == http.MethodPost && strings.HasPrefix(x.op.Path, o.op.Path+"/{") {
			out = append(out, x)
		}
	}
	s.mu.Lock()
	if s.selfOp != nil && !slices.Contains(out, s.selfOp) {
		out = append(out, s.selfOp)
	}
	s.mu.Unlock()
	return out
}

func responseSchemaOf(op *openapi.Operation) map[string]any {
	for _, code := range []string{"200", "201", "2XX", "default"} {
		if r, ok := op.Responses[code]; ok {
			if mt := jsonMedia(r.Content); mt != nil && mt.Schema != nil {
				return mt.Schema.Raw
			}
		}
	}
	return nil
}

// schemaProperties returns an object schema's properties (those of its
// items for an array schema).
func schemaProperties(sc map[string]any) map[string]map[string]any {
	if sc == nil {
		return nil
	}
	if slices.Contains(openapi.SchemaTypes(sc), "array") {
		sc = openapi.ItemsSchema(sc)
	}
	out := map[string]map[string]any{}
	props, _ := sc["properties"].(map[string]any)
	for k, v := range props {
		sub, _ := v.(map[string]any)
		out[k] = sub
	}
	if all, ok := sc["allOf"].([]any); ok {
		for _, a := range all {
			sub, _ := a.(map[string]any)
			maps.Copy(out, schemaProperties(sub))
		}
	}
	if len(out) == 1 {
		// An envelope ({"user": {…}}, see unwrap): the inner object's.
		for _, sub := range out {
			if inner := schemaProperties(sub); len(inner) > 0 && !slices.Contains(openapi.SchemaTypes(sub), "array") {
				return inner
			}
		}
	}
	return out
}

// writeProbe sends o's baseline with the candidates, all at once and, if
// that is refused, one by one, and reads the object back. It reports
// whether a member stuck.
func (s *scanner) writeProbe(ctx context.Context, o *opState, id *check, privilege bool, before map[string]any) bool {
	cands := s.candidates(o, before, privilege)
	if len(cands) == 0 {
		return false
	}
	send := func(cs []candidate) *result {
		r := o.req.clone()
		body, _ := r.object()
		set := map[string]bool{}
		for _, c := range cs {
			if !set[c.name] {
				body[c.name] = c.value
				set[c.name] = true
			}
		}
		return s.send(ctx, r)
	}
	var stuck []string
	var proof *result
	judge := func(cs []candidate, res *result) {
		read := s.readBack(ctx, o, res)
		how := "read back"
		if read == nil {
			read, _ = res.json().(map[string]any)
			how = "in the answer"
		}
		for i, c := range cs {
			if slices.ContainsFunc(cs[:i], func(p candidate) bool { return p.name == c.name }) {
				continue // not sent: the first value of a member was
			}
			got, ok := read[c.name]
			if !ok || sameValue(got, before[c.name]) || !sameValue(got, c.value) {
				continue
			}
			stuck = append(stuck, fmt.Sprintf("%s = %s (%s; %s)", c.name, scalarString(c.value), c.why, how))
			proof = res
			if privilege {
				keepRaised(o, c)
			}
		}
	}
	res := send(cands)
	switch {
	case gatewayRefusal(res):
		s.reportBlocked(id, o, "body", res)
		return false
	case res.ok():
		judge(cands, res)
	default:
		for i, c := range cands {
			if i >= 32 || s.exhausted.Load() || len(stuck) > 0 {
				// Stop at the first member that sticks: a later probe
				// carries the baseline's own value of that member and would
				// undo it.
				break
			}
			one := send([]candidate{c})
			if one.ok() {
				judge([]candidate{c}, one)
			}
		}
	}
	if len(stuck) == 0 {
		return false
	}
	s.report(id, o, "body", ConfidenceFirm, s.evidence(proof, "stored after the write: "+strings.Join(stuck, "; ")))
	return true
}

func sameValue(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if x, ok := b.([]any); ok {
		y, ok := a.([]any)
		if !ok {
			return false
		}
		for _, e := range x {
			if !slices.ContainsFunc(y, func(f any) bool { return scalarString(f) == scalarString(e) }) {
				return false
			}
		}
		return true
	}
	return scalarString(a) == scalarString(b)
}

// privilegeWorks asks again, as identity 1, the operations that refused
// it (401/403) at plan time; those that now answer 2xx prove the raised
// privilege, and their new answer replaces the baseline so that later
// checks probe them.
func (s *scanner) privilegeWorks(ctx context.Context) string {
	var now []string
	for _, o := range s.ops {
		if o.req.ident != 0 || o.res == nil || o.res.status != http.StatusForbidden && o.res.status != http.StatusUnauthorized {
			continue
		}
		if o.anon != nil && o.anon.status == o.res.status {
			// Refused with and without credentials alike: not about rights.
			continue
		}
		res := s.send(ctx, o.req.clone())
		if res.ok() {
			now = append(now, fmt.Sprintf("%s now answers %d (was %d)", o.key(), res.status, o.res.status))
			o.res = res
			s.values.observe(o.op, res.status, res.json())
		}
	}
	return strings.Join(now, ", ")
}
