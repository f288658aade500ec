package scan

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

var (
	checkAuthzForeignWrite = define(CheckInfo{ID: "authz.foreign-write", Group: "authorization", OWASP: OWASPBOLA, CWE: 639, Severity: SeverityHigh,
		Title:       "Broken object level authorization: one user changes another user's account or data",
		Remediation: "Take the account a write applies to from the caller's credentials, never from a user name or id in the request; check ownership of every object written."})
	checkAuthzBolaDelete = define(CheckInfo{ID: "authz.bola-delete", Group: "authorization", OWASP: OWASPBOLA, CWE: 639, Severity: SeverityHigh,
		Title:       "Broken object level authorization: another identity deletes the object",
		Remediation: "Check on every delete that the caller owns (or may delete) the object the id names."})
)

// newPasswordFor is the password the foreign-write probe sets, strong
// enough for the usual password rules.
func newPasswordFor() string { return "Pcscan-" + randomTag() + "-9x!" }

// foreignWrites: identity 1 sends each of its successful writes that name
// its own account (a user name in the body, a user id in the path) with
// identity 2's identifier instead and marker values in the other members.
// It is judged by effect, never by status alone: identity 2 reads its own
// account and finds a marker, or logs in with the password identity 1 set
// (after which the old password is put back).
func (s *scanner) foreignWrites(ctx context.Context) {
	if len(s.ids) < 2 || !s.identitiesUp(2) {
		return
	}
	for _, o := range s.ops {
		if ctx.Err() != nil || s.exhausted.Load() {
			return
		}
		switch o.op.Method {
		case http.MethodPut, http.MethodPatch, http.MethodPost:
		default:
			continue
		}
		if !o.res.ok() || o.req.ident != 0 || s.isLogin(o) {
			continue
		}
		s.foreignWrite(ctx, o)
	}
}

func (s *scanner) foreignWrite(ctx context.Context, o *opState) {
	r := o.req.clone()
	r.fresh = nil
	var where []string
	// The identifiers of identity 1 in the request become identity 2's.
	for name, v := range r.path {
		if own, ok := s.ownValue(0, name); ok && own == v {
			if other, ok := s.ownValue(1, name); ok && other != own {
				r.path[name] = other
				where = append(where, "path:"+name)
			}
		}
	}
	obj, at := r.object()
	for k, v := range obj {
		str, isStr := v.(string)
		if !isStr {
			continue
		}
		if own, ok := s.ownValue(0, k); ok && own == str {
			if other, ok := s.ownValue(1, k); ok && other != own {
				obj[k] = other
				where = append(where, "body:"+at+"/"+k)
			}
		}
	}
	if len(where) == 0 {
		return
	}
	slices.Sort(where)
	// Other string members carry markers that show where the write landed;
	// a password member gets a new password.
	markers := map[string]string{}
	newPass := ""
	passMember := ""
	for k, v := range obj {
		if _, isStr := v.(string); !isStr || slices.Contains(where, "body:/"+k) {
			continue
		}
		if passField.MatchString(k) || strings.Contains(strings.ToLower(k), "password") {
			newPass = newPasswordFor()
			passMember = k
			obj[k] = newPass
			continue
		}
		if idMember.MatchString(k) || privName.MatchString(k) {
			// Identifiers stay; privilege members keep identity 1's own
			// value (see mayGarble).
			continue
		}
		m := "pcx" + randomTag()
		obj[k] = m
		markers[k] = m
	}
	if newPass == "" && len(markers) == 0 {
		return
	}
	r.ident = 0
	res := s.send(ctx, r)
	loc := strings.Join(where, ",")
	if gatewayRefusal(res) {
		s.reportBlocked(checkAuthzForeignWrite, o, loc, res)
		return
	}
	if !res.ok() {
		return
	}
	if newPass != "" {
		if s.loginWorks(ctx, 1, passMember, newPass) {
			restored := s.restorePassword(ctx, r, passMember)
			detail := fmt.Sprintf("%s set a new password for %s's account (%s) with %d, and %s could then log in with it", s.ids[0].name, s.ids[1].name, loc, res.status, s.ids[1].name)
			if !restored {
				detail += "; putting the old password back FAILED: the account needs a reset"
				s.note("%s's password was changed by the %s probe on %s and could not be put back", s.ids[1].name, checkAuthzForeignWrite.ID, o.key())
			}
			s.report(checkAuthzForeignWrite, o, loc, ConfidenceCertain, s.evidence(res, detail))
			return
		}
	}
	if len(markers) == 0 {
		return
	}
	other := s.readSelf(ctx, 1)
	for k, m := range markers {
		for ok, ov := range other {
			if str, isStr := ov.(string); isStr && strings.Contains(str, m) {
				s.report(checkAuthzForeignWrite, o, loc, ConfidenceCertain, s.evidence(res,
					fmt.Sprintf("%s wrote %q into %s of %s's account (%s); %s's own read shows it in %s", s.ids[0].name, m, k, s.ids[1].name, loc, s.ids[1].name, ok)))
				return
			}
		}
	}
}

// loginWorks reports whether identity i's login succeeds with its
// password member set to pass.
func (s *scanner) loginWorks(ctx context.Context, i int, passMember, pass string) bool {
	if i >= len(s.cfg.Identities) || s.cfg.Identities[i].Login == nil {
		return false
	}
	l := *s.cfg.Identities[i].Login
	whole, _ := deepCopy(map[string]any(l.Body)).(map[string]any)
	body := objectOf(whole)
	set := false
	for k := range body {
		if passField.MatchString(k) || strings.EqualFold(k, passMember) {
			body[k] = pass
			set = true
		}
	}
	if !set {
		return false
	}
	l.Body = whole
	_, err := s.loginOnce(ctx, s.ids[i].name, &l)
	return err == nil
}

// restorePassword sends the foreign write again with identity 2's own
// password and reports whether identity 2 can log in with it again.
func (s *scanner) restorePassword(ctx context.Context, r *request, passMember string) bool {
	if len(s.cfg.Identities) < 2 || s.cfg.Identities[1].Login == nil {
		return false
	}
	old := ""
	for k, v := range s.cfg.Identities[1].Login.Body {
		if str, ok := v.(string); ok && passField.MatchString(k) {
			old = str
		}
	}
	if old == "" {
		return false
	}
	back := r.clone()
	if obj, _ := back.object(); obj != nil {
		obj[passMember] = old
	}
	s.send(ctx, back)
	return s.loginWorks(ctx, 1, passMember, old)
}

// bolaDeletes: identity 1 creates an object, identity 2 deletes it, and
// identity 1 finds it gone. Only with AllowDestructive, and only on
// objects the scan itself created.
func (s *scanner) bolaDeletes(ctx context.Context) {
	if !s.cfg.AllowDestructive || len(s.ids) < 2 || !s.identitiesUp(2) {
		return
	}
	for _, op := range s.spec.Operations() {
		if op.Method != http.MethodDelete || !s.allowed(op) || strings.Count(op.Path, "{") != 1 || ctx.Err() != nil {
			continue
		}
		var create, read *opState
		coll := strings.TrimSuffix(op.Path[:strings.Index(op.Path, "{")], "/")
		for _, x := range s.ops {
			switch {
			case x.op.Method == http.MethodPost && x.op.Path == coll && x.res.ok():
				create = x
			case x.op.Method == http.MethodGet && x.op.Path == op.Path:
				read = x
			}
		}
		if create == nil || read == nil {
			continue
		}
		made := s.send(ctx, create.req.clone())
		obj := objectOf(made.json())
		if !made.ok() || obj == nil {
			continue
		}
		name := pathParamName(op.Path)
		v, ok := obj[name]
		if !ok {
			v, ok = obj["id"]
		}
		if !ok || !isScalar(v) {
			continue
		}
		del := &request{op: op, method: op.Method, path: map[string]string{name: scalarString(v)}, header: http.Header{}, ident: 1}
		res := s.send(ctx, del)
		o := &opState{op: op, req: del}
		if gatewayRefusal(res) {
			s.reportBlocked(checkAuthzBolaDelete, o, "identity:2", res)
			continue
		}
		if !res.ok() {
			continue
		}
		check := read.req.clone()
		check.path = map[string]string{name: scalarString(v)}
		check.ident = 0
		after := s.send(ctx, check)
		if after.status == http.StatusNotFound || after.status == http.StatusGone {
			s.report(checkAuthzBolaDelete, o, "identity:2", ConfidenceCertain, s.evidence(res,
				fmt.Sprintf("%s deleted %s's new object %v (%d); %s's own read then got %d", s.ids[1].name, s.ids[0].name, v, res.status, s.ids[0].name, after.status)))
		}
	}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// pathParamName is the name of the first path parameter of a template.
func pathParamName(p string) string {
	if m := pathParam.FindStringSubmatch(p); m != nil {
		return m[1]
	}
	return ""
}
