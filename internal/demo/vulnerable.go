package demo

// The scanner lab: operations described by openapi-vulnerable.yaml, served
// in front of the pet shop when APIOptions.Vulnerable or Lab is set. In
// vulnerable mode each operation carries planted flaws that `portcullis
// scan` must find; in lab (fixed) mode the same operations are written
// correctly and a scan must report nothing.
//
// SAFETY: nothing here touches the real system. The "database", the
// "shell", the "template engine" and the "file system" are simulations
// over in-memory data; the SSRF fetcher only fetches loopback URLs (the
// flaw is reaching internal services, and the demo must not become an open
// proxy); every simulated delay is capped at 5 s.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed openapi-vulnerable.yaml
var openAPIVulnerable []byte

// OpenAPIVulnerable returns the OpenAPI 3.1 description (YAML) of the lab
// operations served with APIOptions.Vulnerable or Lab. The caller gets its
// own copy.
func OpenAPIVulnerable() []byte { return slices.Clone(openAPIVulnerable) }

// WeakJWTSecret is the HS256 key of the vulnerable mode: a common word
// found in public lists of JWT secrets, which is one of the planted flaws.
const WeakJWTSecret = "lavender"

// LabUsers are the lab's accounts (user name → password). alice and bob are
// normal users, admin is an administrator.
var LabUsers = map[string]string{"alice": "alice-password", "bob": "bob-password", "admin": "admin-password"}

// Lab limits of the fixed mode.
const (
	labMaxBody      = 64 << 10
	labMaxFailures  = 5                // failed logins per account per window
	labFailWindow   = 15 * time.Minute // lockout window
	labRateLimit    = 5000             // requests per client per window
	labRateWindow   = 10 * time.Second
	labMaxPageSize  = 50
	labCatalogItems = 120
	maxSimDelay     = 5 * time.Second
)

type labNote struct {
	ID    int64
	Owner string
	Title string
	Text  string
	Extra map[string]any // vulnerable mode stores undeclared members
}

type lab struct {
	vuln   bool
	next   http.Handler
	mux    *http.ServeMux
	now    func() time.Time
	secret []byte

	mu       sync.Mutex
	notes    map[int64]*labNote
	nextNote int64
	profiles map[string]map[string]any
	accounts map[string]*labAccount // user name → account (seed and registered)
	lists    map[string]*labList    // list name → list
	gen      int64                  // bumped by a database reset: older tokens stop working
	failures map[string][]time.Time // fixed mode: failed logins per user name
	hits     map[string][]time.Time // fixed mode: requests per client
}

func newLab(next http.Handler, vuln bool, now func() time.Time) http.Handler {
	l := &lab{vuln: vuln, next: next, mux: http.NewServeMux(), now: now,
		failures: map[string][]time.Time{}, hits: map[string][]time.Time{}}
	if vuln {
		l.secret = []byte(WeakJWTSecret)
	} else {
		l.secret = make([]byte, 32)
		_, _ = rand.Read(l.secret)
	}
	l.seed()
	routes := map[string]http.HandlerFunc{
		"POST /login":                    l.login,
		"POST /v2/login":                 l.loginV2,
		"POST /users":                    l.register,
		"GET /users/{username}":          l.auth(l.getUser),
		"PUT /users/{username}/password": l.auth(l.changePassword),
		"POST /lists":                    l.auth(l.createList),
		"GET /lists/{name}":              l.auth(l.getList),
		"GET /admin/reset-db":            l.auth(l.resetDB),
		"GET /search":                    l.search,
		"GET /ping":                      l.auth(l.ping),
		"GET /greet":                     l.greet,
		"GET /files":                     l.files,
		"GET /redirect":                  l.redirect,
		"GET /reports":                   l.reports,
		"GET /announcements":             l.announcements,
		"GET /profile":                   l.auth(l.getProfile),
		"PUT /profile":                   l.auth(l.putProfile),
		"POST /notes":                    l.auth(l.createNote),
		"GET /notes/{id}":                l.auth(l.getNote),
		"PUT /notes/{id}":                l.auth(l.putNote),
		"DELETE /notes/{id}":             l.auth(l.deleteNote),
		"GET /admin/users":               l.auth(l.adminUsers),
		"GET /check-email":               l.checkEmail,
		"GET /fetch":                     l.fetch,
		"GET /openapi-vulnerable.yaml":   l.spec,
		"GET /debug/vars":                l.debugVars,
	}
	for pattern, h := range routes {
		l.mux.HandleFunc(pattern, h)
	}
	l.mux.Handle("/", next)
	return l
}

// ServeHTTP applies the mode's response headers and (fixed mode) the
// client rate limit, then routes.
func (l *lab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if l.vuln {
		// Planted: CORS reflects any origin with credentials; no security
		// headers at all; the server's name and version in X-Powered-By.
		h.Set("X-Powered-By", "LabServer/1.4.2")
		if o := r.Header.Get("Origin"); o != "" {
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	} else {
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		h.Set("RateLimit-Policy", fmt.Sprintf("%d;w=%d", labRateLimit, int(labRateWindow.Seconds())))
		if !l.allowClient(r) {
			h.Set("Retry-After", strconv.Itoa(int(labRateWindow.Seconds())))
			labProblem(w, http.StatusTooManyRequests, "too many requests")
			return
		}
	}
	l.mux.ServeHTTP(w, r)
}

func (l *lab) allowClient(r *http.Request) bool {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	hs := l.hits[host]
	for len(hs) > 0 && now.Sub(hs[0]) >= labRateWindow {
		hs = hs[1:]
	}
	if len(hs) >= labRateLimit {
		l.hits[host] = hs
		return false
	}
	l.hits[host] = append(hs, now)
	return true
}

func (l *lab) spec(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPIVulnerable)
}

// --- encoding ---

func labJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func labProblem(w http.ResponseWriter, status int, detail string) {
	b, _ := json.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// stackTrace is what the vulnerable mode answers on internal errors.
func stackTrace(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, "panic: %s\n\ngoroutine 42 [running]:\nmain.(*server).handle(0xc0000a6000)\n\t/app/server.go:88 +0x1d\nnet/http.HandlerFunc.ServeHTTP(...)\n", msg)
}

// decodeStrict decodes a JSON object body into v with unknown members
// refused (fixed mode), answering the client on failure.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		labProblem(w, http.StatusUnsupportedMediaType, "the body must be application/json")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, labMaxBody))
	if err != nil {
		labProblem(w, http.StatusRequestEntityTooLarge, "the body is too large")
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		labProblem(w, http.StatusBadRequest, "the body must be one JSON object with the documented fields and types")
		return false
	}
	return true
}

// decodeLoose is the vulnerable decoder: any JSON object, any size (up to
// 8 MiB), any members; a syntax error is a stack trace.
func decodeLoose(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		stackTrace(w, "json: "+err.Error())
		return nil, false
	}
	return m, true
}

// --- JWT ---

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (l *lab) token(user string) string {
	role, _ := l.profile(user)["role"].(string)
	now := l.now()
	head := b64(map[string]any{"alg": "HS256", "typ": "JWT"}) + "." +
		b64(map[string]any{"sub": user, "role": role, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "gen": l.generation()})
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte(head))
	return head + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the token's subject. Vulnerable mode accepts alg none,
// an empty signature and expired tokens.
func (l *lab) verify(tok string) (string, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", false
	}
	var head struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
		Gen int64  `json:"gen"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &head) != nil || json.Unmarshal(cb, &claims) != nil {
		return "", false
	}
	if !l.known(claims.Sub) || claims.Gen != l.generation() {
		// Unknown users, and tokens issued before a database reset.
		return "", false
	}
	if l.vuln && (strings.EqualFold(head.Alg, "none") || parts[2] == "") {
		return claims.Sub, true // planted: alg none and stripped signatures
	}
	if head.Alg != "HS256" {
		return "", false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", false
	}
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(m.Sum(nil), sig) {
		return "", false
	}
	if !l.vuln && l.now().Unix() >= claims.Exp {
		return "", false // the vulnerable mode never checks exp
	}
	return claims.Sub, true
}

// auth requires a valid bearer token and passes the user in the request
// header X-Lab-User (set here only, after removing any sent by the client).
func (l *lab) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("X-Lab-User")
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		user := ""
		if ok {
			user, ok = l.verify(strings.TrimSpace(tok))
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lab"`)
			labProblem(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		r.Header.Set("X-Lab-User", user)
		h(w, r)
	}
}

func (l *lab) profile(user string) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := map[string]any{}
	for k, v := range l.profiles[user] {
		p[k] = v
	}
	return p
}

// --- login ---

func (l *lab) login(w http.ResponseWriter, r *http.Request) {
	if l.vuln {
		in, ok := decodeLoose(w, r)
		if !ok {
			return
		}
		// Planted: NoSQL-style matching (objects are operators), distinct
		// errors for unknown users and wrong passwords, no lockout.
		matched, userKnown := l.matchLogin(in)
		switch {
		case matched != "":
			labJSON(w, http.StatusOK, map[string]any{"token": l.token(matched)})
		case !userKnown:
			labProblem(w, http.StatusNotFound, "no such user")
		default:
			labProblem(w, http.StatusUnauthorized, "wrong password")
		}
		return
	}
	user, outcome, ok := l.fixedLogin(w, r)
	switch {
	case !ok:
	case outcome == loginFailed:
		labProblem(w, http.StatusUnauthorized, "invalid username or password")
	default:
		labJSON(w, http.StatusOK, map[string]any{"token": l.token(user)})
	}
}

// nosqlMatch matches v against want like a naive document store: strings
// compare, {"$ne": x} and {"$gt": x} are operators.
func nosqlMatch(v any, want string) bool {
	switch x := v.(type) {
	case string:
		return x == want
	case map[string]any:
		if ne, ok := x["$ne"]; ok {
			s, _ := ne.(string)
			return s != want
		}
		if gt, ok := x["$gt"]; ok {
			s, _ := gt.(string)
			return want > s
		}
	}
	return false
}

// --- search (SQL) ---

var (
	sqlSleep     = regexp.MustCompile(`(?i)(?:sleep|pg_sleep)\((\d+)\)`)
	sqlCondition = regexp.MustCompile(`(?i)'\s*(and|or)\s*'([^']*)'\s*=\s*'([^']*)'?$`)
)

func catalogItem(i int) map[string]any {
	return map[string]any{"id": i, "name": fmt.Sprintf("Widget %d", i), "price": 5 + i%40}
}

func (l *lab) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	term := q.Get("q")
	limit := 10
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case l.vuln && err != nil:
			stackTrace(w, "strconv.Atoi: parsing "+strconv.Quote(s)+": invalid syntax")
			return
		case l.vuln && n == 0:
			// Planted: a page size of 0 divides by zero.
			stackTrace(w, "runtime error: integer divide by zero")
			return
		case l.vuln:
			limit = n // planted: no upper bound
		case err != nil || n < 1 || n > labMaxPageSize:
			labProblem(w, http.StatusBadRequest, fmt.Sprintf("limit must be an integer from 1 to %d", labMaxPageSize))
			return
		default:
			limit = n
		}
	}
	if !l.vuln && len(term) > 64 {
		labProblem(w, http.StatusBadRequest, "q must be at most 64 characters")
		return
	}
	match := func(s string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(term)) }
	if l.vuln {
		// Planted: the term is pasted into SQL. The simulation parses just
		// enough of it: quotes, comments, SLEEP() and 'a'='b' conditions.
		query := "SELECT id, name, price FROM items WHERE name LIKE '%" + term + "%' LIMIT " + strconv.Itoa(limit)
		if i := strings.Index(query, "--"); i >= 0 {
			query = query[:i]
		}
		if strings.Count(query, "'")%2 == 1 {
			labProblem(w, http.StatusInternalServerError, `sqlite3: near "`+term+`": syntax error: unterminated quoted string`)
			return
		}
		if m := sqlSleep.FindStringSubmatch(term); m != nil {
			n, _ := strconv.Atoi(m[1])
			time.Sleep(min(time.Duration(n)*time.Second, maxSimDelay))
		}
		prefix, _, _ := strings.Cut(term, "'")
		match = func(s string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(prefix)) }
		if i := strings.Index(term, "'"); i >= 0 {
			rest := strings.TrimRight(strings.TrimSpace(sqlSleep.ReplaceAllString(term[i:], "")), " ")
			if m := sqlCondition.FindStringSubmatch(strings.TrimSuffix(rest, "'") + "'"); m != nil {
				cond := m[2] == m[3]
				switch {
				case strings.EqualFold(m[1], "or") && cond:
					match = func(string) bool { return true }
				case strings.EqualFold(m[1], "and") && !cond:
					match = func(string) bool { return false }
				}
			}
		}
	}
	items := []any{}
	for i := 1; i <= labCatalogItems && len(items) < limit; i++ {
		it := catalogItem(i)
		if match(it["name"].(string)) {
			items = append(items, it)
		}
	}
	labJSON(w, http.StatusOK, items)
}

// --- ping (OS command) ---

var (
	hostPattern = regexp.MustCompile(`^[a-z0-9.-]{1,64}$`)
	arith       = regexp.MustCompile(`\$\(\((\d+)\s*\*\s*(\d+)\)\)`)
	subshell    = regexp.MustCompile(`\$\(([^()]*(?:\(\([^)]*\)\)[^()]*)*)\)`)
)

func (l *lab) ping(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Query().Get("host")
	if !l.vuln {
		if !hostPattern.MatchString(host) {
			labProblem(w, http.StatusBadRequest, "host must be a host name")
			return
		}
		labJSON(w, http.StatusOK, map[string]any{"host": host, "output": "PING " + host + ": 1 packet transmitted, 1 received"})
		return
	}
	// Planted: `sh -c "ping -c1 " + host`, simulated.
	labJSON(w, http.StatusOK, map[string]any{"host": host, "output": simulateShell("ping -c1 " + host)})
}

// simulateShell evaluates a tiny subset of sh: ; | && separators, $(...),
// $((a*b)), echo, sleep (capped) and ping.
func simulateShell(line string) string {
	line = subshell.ReplaceAllStringFunc(line, func(m string) string {
		if strings.HasPrefix(m, "$((") {
			return m
		}
		return strings.TrimSpace(simulateShell(m[2 : len(m)-1]))
	})
	line = arith.ReplaceAllStringFunc(line, func(m string) string {
		p := arith.FindStringSubmatch(m)
		a, _ := strconv.Atoi(p[1])
		b, _ := strconv.Atoi(p[2])
		return strconv.Itoa(a * b)
	})
	var out strings.Builder
	for _, cmd := range regexp.MustCompile(`;|\|\||&&|\|`).Split(line, -1) {
		f := strings.Fields(cmd)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "echo":
			out.WriteString(strings.Join(f[1:], " ") + "\n")
		case "sleep":
			if len(f) > 1 {
				n, _ := strconv.Atoi(f[1])
				time.Sleep(min(time.Duration(n)*time.Second, maxSimDelay))
			}
		case "ping":
			out.WriteString("PING " + f[len(f)-1] + ": 1 packet transmitted, 1 received\n")
		case "id":
			out.WriteString("uid=0(root) gid=0(root) groups=0(root)\n")
		default:
			out.WriteString("sh: " + f[0] + ": not found\n")
		}
	}
	return out.String()
}

// --- greet (SSTI, XSS) ---

var template = regexp.MustCompile(`(?:\{\{|\$\{|<%=)\s*(\d+)\s*\*\s*(\d+)\s*(?:\}\}|\}|%>)`)

func (l *lab) greet(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if !l.vuln && (len(name) > 64 || !r.URL.Query().Has("name")) {
		labProblem(w, http.StatusBadRequest, "name must be at most 64 characters")
		return
	}
	if l.vuln {
		// Planted: the name is compiled as a template and not escaped.
		name = template.ReplaceAllStringFunc(name, func(m string) string {
			p := template.FindStringSubmatch(m)
			a, _ := strconv.Atoi(p[1])
			b, _ := strconv.Atoi(p[2])
			return strconv.Itoa(a * b)
		})
	} else {
		name = html.EscapeString(name)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>Hello</title><h1>Hello %s</h1>\n", name)
}

// --- files (path traversal) ---

var (
	filePattern = regexp.MustCompile(`^[a-z0-9-]+\.txt$`)
	labFiles    = map[string]string{
		"/srv/files/readme.txt":    "Welcome to the lab.\n",
		"/srv/files/changelog.txt": "1.0: first release\n",
		"/etc/passwd":              "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
	}
)

func (l *lab) files(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if !l.vuln && !filePattern.MatchString(name) {
		labProblem(w, http.StatusBadRequest, "name must be a .txt file name")
		return
	}
	// Planted (vulnerable): the name is joined to the directory as is.
	p := path.Join("/srv/files", name)
	if !l.vuln {
		p = "/srv/files/" + name
	}
	content, ok := labFiles[p]
	if !ok {
		labProblem(w, http.StatusNotFound, "no such file")
		return
	}
	labJSON(w, http.StatusOK, map[string]any{"name": name, "content": content})
}

// --- redirect (CRLF) ---

var redirectPattern = regexp.MustCompile(`^/[a-z0-9/_-]{0,128}$`)

func (l *lab) redirect(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	if l.vuln {
		// Planted: the value goes into the header block as is (simulated:
		// net/http itself would refuse the line break).
		lines := strings.Split(to, "\r\n")
		w.Header().Set("Location", lines[0])
		for _, extra := range lines[1:] {
			if k, v, ok := strings.Cut(extra, ":"); ok {
				w.Header().Set(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
		w.WriteHeader(http.StatusFound)
		return
	}
	if !redirectPattern.MatchString(to) {
		labProblem(w, http.StatusBadRequest, "to must be a local path")
		return
	}
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusFound)
}

// --- reports (missing authentication) ---

func (l *lab) reports(w http.ResponseWriter, r *http.Request) {
	if !l.vuln {
		l.auth(func(w http.ResponseWriter, r *http.Request) {
			labJSON(w, http.StatusOK, map[string]any{"orders": 3, "revenue": 1234})
		})(w, r)
		return
	}
	// Planted: no authentication although the description requires it,
	// and a content type the description does not declare.
	b, _ := json.Marshal(map[string]any{"orders": 3, "revenue": 1234})
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(b)
}

// --- announcements (optional authentication) ---

// announcements answers anyone, and a caller who presents a token gets
// the announcements addressed to them too; a token that is presented
// must be valid (a wrong one is refused, not taken for none). The
// description declares bearerAuth as required, as FastAPI's does for an
// optional credential: a scan must tell this from a forgotten check, in
// both modes.
func (l *lab) announcements(w http.ResponseWriter, r *http.Request) {
	items := []string{"The lab is open."}
	if authz := r.Header.Get("Authorization"); authz != "" {
		tok, ok := strings.CutPrefix(authz, "Bearer ")
		user := ""
		if ok {
			user, ok = l.verify(strings.TrimSpace(tok))
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lab", error="invalid_token"`)
			labProblem(w, http.StatusUnauthorized, "the bearer token is not valid")
			return
		}
		items = append(items, "Welcome back, "+user+".")
	}
	labJSON(w, http.StatusOK, map[string]any{"items": items})
}

// --- profile (exposure, privilege fields) ---

func (l *lab) getProfile(w http.ResponseWriter, r *http.Request) {
	user := r.Header.Get("X-Lab-User")
	p := l.profile(user)
	if l.vuln {
		// Planted: internals and secrets in the answer.
		p["password_hash"] = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
		p["ssn"] = "078-05-1120"
	}
	labJSON(w, http.StatusOK, p)
}

func (l *lab) putProfile(w http.ResponseWriter, r *http.Request) {
	user := r.Header.Get("X-Lab-User")
	if l.vuln {
		in, ok := decodeLoose(w, r)
		if !ok {
			return
		}
		if bio, ok := in["bio"].(string); ok {
			slowBio(bio)
		}
		l.mu.Lock()
		for k, v := range in {
			if k != "id" {
				l.profiles[user][k] = v // planted: binds role, is_admin, anything
			}
		}
		l.mu.Unlock()
		labJSON(w, http.StatusOK, l.profile(user))
		return
	}
	var in struct {
		Name  *string `json:"name"`
		Email *string `json:"email"`
		Bio   *string `json:"bio"`
	}
	if !decodeStrict(w, r, &in) {
		return
	}
	if in.Name == nil || len(*in.Name) < 1 || len(*in.Name) > 64 || in.Email != nil && (len(*in.Email) > 254 || !strings.Contains(*in.Email, "@")) || in.Bio != nil && len(*in.Bio) > 500 {
		labProblem(w, http.StatusBadRequest, "name (1 to 64 characters) is required; email must be an address; bio is at most 500 characters")
		return
	}
	l.mu.Lock()
	if in.Bio != nil {
		l.profiles[user]["bio"] = *in.Bio
	}
	l.profiles[user]["name"] = *in.Name
	if in.Email != nil {
		l.profiles[user]["email"] = *in.Email
	}
	l.mu.Unlock()
	labJSON(w, http.StatusOK, l.profile(user))
}

// slowBio is the vulnerable profile's bio check: `^(\w+\s?)*\.$`, "a bio
// is words ending in a full stop", which backtracks exponentially on a long
// run of words that does not end in one (simulated: Go's regexp is
// linear). Planted: a ReDoS in a PUT body member.
func slowBio(bio string) {
	if strings.HasSuffix(bio, ".") {
		return
	}
	run := 0
	for _, c := range bio {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '_' {
			run++
		}
	}
	if run > 20 {
		time.Sleep(min(time.Duration(1<<min(run-20, 20))*time.Millisecond, 3*time.Second))
	}
}

// --- notes (BOLA, mass assignment, large bodies) ---

func (n *labNote) json() map[string]any {
	m := map[string]any{}
	for k, v := range n.Extra {
		m[k] = v
	}
	m["id"], m["owner"], m["title"], m["text"] = n.ID, n.Owner, n.Title, n.Text
	return m
}

// noteInput reads a note body: strictly (fixed) or anything goes
// (vulnerable).
func (l *lab) noteInput(w http.ResponseWriter, r *http.Request) (*labNote, bool) {
	if l.vuln {
		in, ok := decodeLoose(w, r)
		if !ok {
			return nil, false
		}
		n := &labNote{Extra: map[string]any{}}
		for k, v := range in {
			switch k {
			case "title":
				n.Title = fmt.Sprint(v)
			case "text":
				n.Text = fmt.Sprint(v)
			case "id", "owner":
			default:
				n.Extra[k] = v // planted: mass assignment
			}
		}
		return n, true
	}
	var in struct {
		Title *string `json:"title"`
		Text  *string `json:"text"`
	}
	if !decodeStrict(w, r, &in) {
		return nil, false
	}
	if in.Title == nil || len(*in.Title) < 1 || len(*in.Title) > 100 || in.Text != nil && len(*in.Text) > 1000 {
		labProblem(w, http.StatusBadRequest, "title (1 to 100 characters) is required; text is at most 1000 characters")
		return nil, false
	}
	n := &labNote{Title: *in.Title}
	if in.Text != nil {
		n.Text = *in.Text
	}
	return n, true
}

func (l *lab) createNote(w http.ResponseWriter, r *http.Request) {
	n, ok := l.noteInput(w, r)
	if !ok {
		return
	}
	l.mu.Lock()
	if len(l.notes) >= MaxOrders {
		l.mu.Unlock()
		labProblem(w, http.StatusInsufficientStorage, "the lab store is full")
		return
	}
	l.nextNote++
	n.ID = l.nextNote
	n.Owner = r.Header.Get("X-Lab-User")
	l.notes[n.ID] = n
	out := n.json()
	l.mu.Unlock()
	w.Header().Set("Location", "/notes/"+strconv.FormatInt(n.ID, 10))
	labJSON(w, http.StatusCreated, out)
}

// note finds the note of the path; the fixed mode hides other users'
// notes (404, not 403: their existence is not confirmed either).
func (l *lab) note(w http.ResponseWriter, r *http.Request) (*labNote, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		labProblem(w, http.StatusBadRequest, "id must be a positive integer")
		return nil, false
	}
	l.mu.Lock()
	n, ok := l.notes[id]
	l.mu.Unlock()
	if !ok || !l.vuln && n.Owner != r.Header.Get("X-Lab-User") { // planted (vulnerable): no owner check
		labProblem(w, http.StatusNotFound, "no note with this id")
		return nil, false
	}
	return n, true
}

func (l *lab) getNote(w http.ResponseWriter, r *http.Request) {
	n, ok := l.note(w, r)
	if !ok {
		return
	}
	l.mu.Lock()
	out := n.json()
	l.mu.Unlock()
	labJSON(w, http.StatusOK, out)
}

func (l *lab) putNote(w http.ResponseWriter, r *http.Request) {
	n, ok := l.note(w, r)
	if !ok {
		return
	}
	in, ok := l.noteInput(w, r)
	if !ok {
		return
	}
	l.mu.Lock()
	n.Title, n.Text = in.Title, in.Text
	if l.vuln {
		for k, v := range in.Extra {
			n.Extra[k] = v
		}
	}
	out := n.json()
	l.mu.Unlock()
	labJSON(w, http.StatusOK, out)
}

func (l *lab) deleteNote(w http.ResponseWriter, r *http.Request) {
	n, ok := l.note(w, r)
	if !ok {
		return
	}
	l.mu.Lock()
	delete(l.notes, n.ID)
	l.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// --- admin (BFLA) ---

func (l *lab) adminUsers(w http.ResponseWriter, r *http.Request) {
	user := r.Header.Get("X-Lab-User")
	if role, _ := l.profile(user)["role"].(string); !l.vuln && role != "admin" { // planted (vulnerable): no role check
		labProblem(w, http.StatusForbidden, "administrators only")
		return
	}
	var out []any
	for _, u := range []string{"alice", "bob", "admin"} {
		p := l.profile(u)
		out = append(out, map[string]any{"id": p["id"], "role": p["role"]})
	}
	labJSON(w, http.StatusOK, out)
}

// --- check-email (ReDoS) ---

var emailPattern = regexp.MustCompile(`^[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9.-]{1,190}\.[a-zA-Z]{2,24}$`)

func (l *lab) checkEmail(w http.ResponseWriter, r *http.Request) {
	email := r.URL.Query().Get("email")
	if !l.vuln && (len(email) > 254 || !r.URL.Query().Has("email")) {
		labProblem(w, http.StatusBadRequest, "email must be at most 254 characters")
		return
	}
	if l.vuln && !strings.Contains(email, "@") {
		// Planted: `^([a-zA-Z0-9]+)*@...` backtracks exponentially on a
		// long run of letters with no @ (simulated: Go's regexp is linear).
		run := 0
		for _, c := range email {
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				run++
			}
		}
		if run > 20 {
			time.Sleep(min(time.Duration(1<<min(run-20, 20))*time.Millisecond, 3*time.Second))
		}
	}
	labJSON(w, http.StatusOK, map[string]any{"email": email, "valid": emailPattern.MatchString(email)})
}

// --- fetch (SSRF) ---

func (l *lab) fetch(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("url")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		labProblem(w, http.StatusBadRequest, "url must be an http(s) URL")
		return
	}
	if u.Hostname() == "example.com" {
		labJSON(w, http.StatusOK, map[string]any{"url": raw, "status": 200, "title": "Example Domain"})
		return
	}
	ip := net.ParseIP(u.Hostname())
	if !l.vuln || ip == nil || !ip.IsLoopback() {
		labProblem(w, http.StatusUnprocessableEntity, "this host is not allowed")
		return
	}
	// Planted: the server fetches a loopback URL given by the client.
	c := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u.String())
	if err != nil {
		labProblem(w, http.StatusBadGateway, "fetch failed")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	labJSON(w, http.StatusOK, map[string]any{"url": raw, "status": resp.StatusCode, "title": string(body)})
}

// --- debug endpoint (improper inventory) ---

func (l *lab) debugVars(w http.ResponseWriter, r *http.Request) {
	if !l.vuln {
		l.next.ServeHTTP(w, r)
		return
	}
	// Planted: an undocumented debug endpoint.
	labJSON(w, http.StatusOK, map[string]any{"cmdline": []string{"/app/server", "-debug"}, "env": map[string]any{"DB_HOST": "10.0.0.5"}})
}
