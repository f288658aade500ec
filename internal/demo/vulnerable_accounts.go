package demo

// The lab's accounts, named lists and the destructive reset: the flaws a
// scanner only finds when it uses the identifiers it created or read, when
// it judges writes by their effect, and when it does not destroy its own
// test data.

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type labAccount struct {
	Password string
	Email    string
	Admin    bool
}

type labList struct {
	Name  string
	Owner string
	Items []string
}

// seed (re)creates the seed accounts and forgets everything else.
func (l *lab) seed() {
	l.notes = map[int64]*labNote{}
	l.profiles = map[string]map[string]any{}
	l.accounts = map[string]*labAccount{}
	l.lists = map[string]*labList{}
	for _, u := range slices.Sorted(maps.Keys(LabUsers)) {
		role := "user"
		if u == "admin" {
			role = "admin"
		}
		l.profiles[u] = map[string]any{"id": u, "name": strings.ToUpper(u[:1]) + u[1:], "email": u + "@example.com", "role": role, "bio": ""}
		l.accounts[u] = &labAccount{Password: LabUsers[u], Email: u + "@example.com", Admin: u == "admin"}
	}
}

func (l *lab) known(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.accounts[user]
	return ok
}

func (l *lab) generation() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen
}

func (l *lab) password(user string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.accounts[user]
	if !ok {
		return "", false
	}
	return a.Password, true
}

// matchLogin is the vulnerable login's lookup: NoSQL-style matching
// (objects are operators) over every account.
func (l *lab) matchLogin(in map[string]any) (matched string, userKnown bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range slices.Sorted(maps.Keys(l.accounts)) {
		if !nosqlMatch(in["username"], u) {
			continue
		}
		userKnown = true
		if nosqlMatch(in["password"], l.accounts[u].Password) {
			return u, true
		}
	}
	return "", userKnown
}

type loginOutcome int

const (
	loginOK loginOutcome = iota
	loginFailed
	loginLocked
)

// checkLogin is the fixed login: a lockout per account name after
// labMaxFailures failures within labFailWindow, and a constant-time
// comparison made even for unknown users, so that neither the answer nor
// its timing tells them apart.
func (l *lab) checkLogin(user, pass string) loginOutcome {
	now := l.now()
	l.mu.Lock()
	fails := l.failures[user]
	for len(fails) > 0 && now.Sub(fails[0]) >= labFailWindow {
		fails = fails[1:]
	}
	l.failures[user] = fails
	locked := len(fails) >= labMaxFailures
	l.mu.Unlock()
	if locked {
		return loginLocked
	}
	pw, known := l.password(user)
	if !known {
		pw = "\x00never-matches"
	}
	if !known || !hmac.Equal([]byte(pw), []byte(pass)) {
		l.mu.Lock()
		l.failures[user] = append(l.failures[user], now)
		l.mu.Unlock()
		return loginFailed
	}
	return loginOK
}

// loginV2 answers 200 whatever the outcome. Planted (vulnerable): the
// message tells an unknown user from a wrong password, and there is no
// lockout.
func (l *lab) loginV2(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if l.vuln {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if json.Unmarshal(body, &in) != nil || in.Username == nil || in.Password == nil {
			labProblem(w, http.StatusBadRequest, "username and password are required")
			return
		}
		pw, known := l.password(*in.Username)
		switch {
		case !known:
			labJSON(w, http.StatusOK, map[string]any{"ok": false, "message": "no account with this user name"})
		case pw != *in.Password:
			labJSON(w, http.StatusOK, map[string]any{"ok": false, "message": "the password is wrong"})
		default:
			labJSON(w, http.StatusOK, map[string]any{"ok": true, "message": "welcome", "token": l.token(*in.Username)})
		}
		return
	}
	user, outcome, ok := l.fixedLogin(w, r)
	switch {
	case !ok:
	case outcome == loginFailed:
		labJSON(w, http.StatusOK, map[string]any{"ok": false, "message": "invalid username or password"})
	default:
		labJSON(w, http.StatusOK, map[string]any{"ok": true, "message": "welcome", "token": l.token(user)})
	}
}

// fixedLogin reads a fixed-mode login body and checks it (checkLogin). It
// answers the client itself for a bad body and a locked account (ok is
// false then); the caller answers the other outcomes its own way.
func (l *lab) fixedLogin(w http.ResponseWriter, r *http.Request) (string, loginOutcome, bool) {
	var in struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if !decodeStrict(w, r, &in) {
		return "", 0, false
	}
	if in.Username == nil || in.Password == nil || len(*in.Username) > 64 || len(*in.Password) > 128 {
		labProblem(w, http.StatusBadRequest, "username and password are required")
		return "", 0, false
	}
	outcome := l.checkLogin(*in.Username, *in.Password)
	if outcome == loginLocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(labFailWindow.Seconds())))
		labProblem(w, http.StatusTooManyRequests, "too many failed logins; try again later")
		return "", outcome, false
	}
	return *in.Username, outcome, true
}

var (
	userNamePattern = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	listNamePattern = regexp.MustCompile(`^[a-z0-9-]{1,48}$`)
)

// maxAccounts and maxLists bound what anyone can create.
const (
	maxAccounts = 10000
	maxLists    = 10000
)

func (a *labAccount) json(name string) map[string]any {
	return map[string]any{"username": name, "email": a.Email, "admin": a.Admin}
}

// register creates an account. Planted (vulnerable): any member is bound,
// admin included.
func (l *lab) register(w http.ResponseWriter, r *http.Request) {
	var name, pass, email string
	admin := false
	if l.vuln {
		in, ok := decodeLoose(w, r)
		if !ok {
			return
		}
		name, _ = in["username"].(string)
		pass, _ = in["password"].(string)
		email, _ = in["email"].(string)
		admin, _ = in["admin"].(bool) // planted: mass assignment of the privilege
	} else {
		var in struct {
			Username *string `json:"username"`
			Password *string `json:"password"`
			Email    *string `json:"email"`
		}
		if !decodeStrict(w, r, &in) {
			return
		}
		if in.Username == nil || in.Password == nil || in.Email == nil || !userNamePattern.MatchString(*in.Username) ||
			len(*in.Password) < 8 || len(*in.Password) > 128 || len(*in.Email) > 254 || !strings.Contains(*in.Email, "@") {
			labProblem(w, http.StatusBadRequest, "username (a-z, 0-9, _ and -), password (8 to 128 characters) and email are required")
			return
		}
		name, pass, email = *in.Username, *in.Password, *in.Email
	}
	if name == "" {
		labProblem(w, http.StatusBadRequest, "username is required")
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, taken := l.accounts[name]; taken {
		labProblem(w, http.StatusConflict, "this user name is taken")
		return
	}
	if len(l.accounts) >= maxAccounts {
		labProblem(w, http.StatusInsufficientStorage, "the lab store is full")
		return
	}
	a := &labAccount{Password: pass, Email: email, Admin: admin}
	l.accounts[name] = a
	role := "user"
	if admin {
		role = "admin"
	}
	l.profiles[name] = map[string]any{"id": name, "name": name, "email": email, "role": role, "bio": ""}
	labJSON(w, http.StatusCreated, a.json(name))
}

// getUser reads an account by its name. Planted (vulnerable): any caller
// reads any account. Fixed: only the caller's own (404 otherwise, so that
// names are not confirmed either).
func (l *lab) getUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	if !l.vuln && (!userNamePattern.MatchString(name) || name != r.Header.Get("X-Lab-User")) {
		labProblem(w, http.StatusNotFound, "no such account")
		return
	}
	l.mu.Lock()
	a, ok := l.accounts[name]
	var out map[string]any
	if ok {
		out = a.json(name)
	}
	l.mu.Unlock()
	if !ok {
		labProblem(w, http.StatusNotFound, "no such account")
		return
	}
	labJSON(w, http.StatusOK, out)
}

// changePassword sets an account's password. Planted (vulnerable): the
// account is the one the path names, whoever calls.
func (l *lab) changePassword(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	var in struct {
		Password *string `json:"password"`
	}
	if l.vuln {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if json.Unmarshal(body, &in) != nil || in.Password == nil {
			labProblem(w, http.StatusBadRequest, "password is required")
			return
		}
	} else {
		if name != r.Header.Get("X-Lab-User") {
			labProblem(w, http.StatusForbidden, "you may change your own password only")
			return
		}
		if !decodeStrict(w, r, &in) {
			return
		}
		if in.Password == nil || len(*in.Password) < 8 || len(*in.Password) > 128 {
			labProblem(w, http.StatusBadRequest, "password must be 8 to 128 characters")
			return
		}
	}
	l.mu.Lock()
	a, ok := l.accounts[name]
	if ok {
		a.Password = *in.Password
	}
	l.mu.Unlock()
	if !ok {
		labProblem(w, http.StatusNotFound, "no such account")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (x *labList) json() map[string]any {
	items := make([]any, 0, len(x.Items))
	for _, it := range x.Items {
		items = append(items, it)
	}
	return map[string]any{"name": x.Name, "owner": x.Owner, "items": items}
}

// createList creates a named list owned by the caller.
func (l *lab) createList(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name  *string  `json:"name"`
		Items []string `json:"items"`
	}
	if l.vuln {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if json.Unmarshal(body, &in) != nil || in.Name == nil || *in.Name == "" {
			labProblem(w, http.StatusBadRequest, "name is required")
			return
		}
	} else {
		if !decodeStrict(w, r, &in) {
			return
		}
		if in.Name == nil || !listNamePattern.MatchString(*in.Name) || len(in.Items) > 50 || slices.ContainsFunc(in.Items, func(s string) bool { return len(s) > 100 }) {
			labProblem(w, http.StatusBadRequest, "name (a-z, 0-9 and -, at most 48) is required; at most 50 items of 100 characters")
			return
		}
	}
	x := &labList{Name: *in.Name, Owner: r.Header.Get("X-Lab-User"), Items: in.Items}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, taken := l.lists[x.Name]; taken {
		labProblem(w, http.StatusConflict, "a list with this name exists")
		return
	}
	if len(l.lists) >= maxLists {
		labProblem(w, http.StatusInsufficientStorage, "the lab store is full")
		return
	}
	l.lists[x.Name] = x
	labJSON(w, http.StatusCreated, x.json())
}

// getList reads a list by its name. Planted (vulnerable): no owner check.
func (l *lab) getList(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	l.mu.Lock()
	x, ok := l.lists[name]
	var out map[string]any
	if ok {
		out = x.json()
	}
	l.mu.Unlock()
	if !ok || !l.vuln && x.Owner != r.Header.Get("X-Lab-User") {
		labProblem(w, http.StatusNotFound, "no list with this name")
		return
	}
	labJSON(w, http.StatusOK, out)
}

// resetDB drops everything and recreates the seed accounts; tokens issued
// before stop working. Planted (vulnerable): anyone with a token may call
// it, and it is a GET. A scanner that calls it as a harmless read destroys
// its own test data and identities. Fixed: administrators only.
func (l *lab) resetDB(w http.ResponseWriter, r *http.Request) {
	if !l.vuln {
		if role, _ := l.profile(r.Header.Get("X-Lab-User"))["role"].(string); role != "admin" {
			labProblem(w, http.StatusForbidden, "administrators only")
			return
		}
	}
	l.mu.Lock()
	l.gen++
	l.nextNote = 0
	l.failures = map[string][]time.Time{}
	l.seed()
	l.mu.Unlock()
	labJSON(w, http.StatusOK, map[string]any{"reset": true})
}
