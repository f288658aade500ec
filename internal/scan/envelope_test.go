package scan

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/openapi"
)

func TestUnwrapFindsTheEnvelopedObject(t *testing.T) {
	inner := map[string]any{"email": "a@example.com", "password": "x"}
	tests := []struct {
		name string
		v    any
		want map[string]any
		ptr  string
	}{
		{"one envelope", map[string]any{"user": inner}, inner, "/user"},
		{"two envelopes", map[string]any{"data": map[string]any{"user": inner}}, inner, "/data/user"},
		{"plain object", inner, inner, ""},
		{"one scalar member", map[string]any{"role": "admin"}, map[string]any{"role": "admin"}, ""},
		{"a list member is not an envelope", map[string]any{"tags": []any{"a"}}, map[string]any{"tags": []any{"a"}}, ""},
		{"two members", map[string]any{"user": inner, "count": 1}, map[string]any{"user": inner, "count": 1}, ""},
		{"not an object", []any{inner}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ptr := unwrap(tt.v)
			if !reflect.DeepEqual(got, tt.want) || ptr != tt.ptr {
				t.Errorf("unwrap(%v) = %v, %q; want %v, %q", tt.v, got, ptr, tt.want, tt.ptr)
			}
		})
	}
}

func TestPresentTellsValuesFromNothing(t *testing.T) {
	for v, want := range map[any]bool{"4426111122223333": true, "": false, "****": false, "xxxx-xxxx": false, "s3cret": true, false: false, true: true, 7.0: true} {
		if got := present(v); got != want {
			t.Errorf("present(%#v) = %v, want %v", v, got, want)
		}
	}
	if present(nil) {
		t.Error("present(nil) = true, want false")
	}
}

// envelopeSpec describes an API under /api whose bodies and answers are
// wrapped ({"user": …}, {"article": …}), with a second version's login,
// a list without a declared maximum page size and a command runner. The
// old login, the admin page and the page size limit are what the
// vulnerable mode gets wrong.
const envelopeSpec = `openapi: 3.0.3
info: {title: envelopes, version: "1"}
components:
  securitySchemes:
    token: {type: apiKey, in: header, name: Authorization}
  schemas:
    Login:
      type: object
      required: [user]
      properties:
        user:
          type: object
          required: [email, password]
          properties:
            email: {type: string, format: email}
            password: {type: string}
    UserAnswer:
      type: object
      properties:
        user:
          type: object
          properties:
            email: {type: string}
            token: {type: string}
paths:
  /api/v2/users/login:
    post:
      operationId: login
      requestBody: {required: true, content: {application/json: {schema: {$ref: '#/components/schemas/Login'}}}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/UserAnswer'}}}}
        "400": {description: wrong}
  /api/articles:
    get:
      operationId: listArticles
      security: [{token: []}]
      parameters:
        - {name: limit, in: query, schema: {type: integer, default: 20}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  articles: {type: array, items: {type: object, properties: {slug: {type: string}}}}
                  articlesCount: {type: integer}
  /api/run:
    post:
      operationId: run
      security: [{token: []}]
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [body], properties: {body: {type: object, required: [command], properties: {command: {type: string}}}}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: object, properties: {stdout: {type: string}}}}}}
        "400": {description: refused}
`

// envelopeAPI serves envelopeSpec; vulnerable plants an old login that
// takes any password, an admin page any user reads, any page size and a
// command runner that hands what follows "date" to a (simulated) shell.
// Fixed, the old paths are gone, a page over 100 is refused and only the
// exact allowed command runs.
func envelopeAPI(vulnerable bool) http.Handler {
	var mu sync.Mutex
	var failed int
	users := map[string]string{"alice@example.com": "alice-pw", "bob@example.com": "bob-pw"}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	authed := func(r *http.Request) bool { return strings.HasPrefix(r.Header.Get("Authorization"), "Token tok-") }
	login := func(w http.ResponseWriter, r *http.Request, checkPassword bool) {
		var in struct {
			User struct{ Email, Password string } `json:"user"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, 400, map[string]any{"error": "bad json"})
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !vulnerable && failed >= 5 {
			writeJSON(w, 429, map[string]any{"error": "slow down"})
			return
		}
		pw, known := users[in.User.Email]
		if !known || checkPassword && pw != in.User.Password {
			failed++
			writeJSON(w, 400, map[string]any{"error": "incorrect email or password"})
			return
		}
		writeJSON(w, 200, map[string]any{"user": map[string]any{"email": in.User.Email, "token": "tok-" + strings.Repeat(in.User.Email[:1], 20)}})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/users/login", func(w http.ResponseWriter, r *http.Request) { login(w, r, true) })
	mux.HandleFunc("GET /api/articles", func(w http.ResponseWriter, r *http.Request) {
		if !authed(r) {
			writeJSON(w, 403, map[string]any{"error": "authentication required"})
			return
		}
		limit := 20
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || !vulnerable && n > 100 {
				writeJSON(w, 422, map[string]any{"error": "limit must be 1 to 100"})
				return
			}
			limit = n
		}
		items := []any{}
		for i := range min(limit, 3) {
			items = append(items, map[string]any{"slug": "article-" + strconv.Itoa(i)})
		}
		writeJSON(w, 200, map[string]any{"articles": items, "articlesCount": len(items)})
	})
	mux.HandleFunc("POST /api/run", func(w http.ResponseWriter, r *http.Request) {
		if !authed(r) {
			writeJSON(w, 403, map[string]any{"error": "authentication required"})
			return
		}
		var in struct {
			Body struct{ Command string } `json:"body"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		cmd := in.Body.Command
		switch {
		case cmd == "date":
			writeJSON(w, 200, map[string]any{"stdout": "Thu Jan  1 00:00:00 UTC 1970"})
		case vulnerable && strings.HasPrefix(cmd, "date"):
			// The simulated shell runs what follows: an echo of an
			// arithmetic expansion prints its value.
			out := "Thu Jan  1 00:00:00 UTC 1970"
			if strings.Contains(cmd, "echo pcx$((9137*7))x") {
				out += "\npcx63959x"
			}
			writeJSON(w, 200, map[string]any{"stdout": out})
		default:
			writeJSON(w, 400, map[string]any{"error": map[string]any{"allowed": []string{"date"}}})
		}
	})
	if vulnerable {
		mux.HandleFunc("POST /api/v1/users/login", func(w http.ResponseWriter, r *http.Request) { login(w, r, false) })
		mux.HandleFunc("GET /api/admin", func(w http.ResponseWriter, r *http.Request) {
			if !authed(r) {
				writeJSON(w, 403, map[string]any{"error": "authentication required"})
				return
			}
			writeJSON(w, 200, map[string]any{"users": 2, "secret": "admin page"})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 404, map[string]any{"detail": "Not Found"}) })
	return mux
}

// TestEnvelopeAPIFlawsFoundAndFixedTwinClean scans the envelope API: the
// vulnerable mode's old login, admin page, unbounded page size, command
// injection behind an allow-list and missing login limit are found
// through wrapped bodies, and the fixed mode reports none of them.
func TestEnvelopeAPIFlawsFoundAndFixedTwinClean(t *testing.T) {
	t.Parallel()
	spec, err := openapi.Parse([]byte(envelopeSpec), "")
	if err != nil {
		t.Fatalf("parsing: %v", err)
	}
	prefix := "Token "
	cfg := func(url string) Config {
		return Config{
			Spec: "envelope.yaml", Target: url, Concurrency: 4,
			Identities: []Identity{
				{Name: "alice", Login: &Login{Operation: "login", Body: map[string]any{"user": map[string]any{"email": "alice@example.com", "password": "alice-pw"}}, Token: "/user/token", Prefix: &prefix}},
				{Name: "bob", Login: &Login{Operation: "login", Body: map[string]any{"user": map[string]any{"email": "bob@example.com", "password": "bob-pw"}}, Token: "/user/token", Prefix: &prefix}},
			},
		}
	}
	want := map[string]string{
		"misconfig.old-version":  "POST /api/v1/users/login",
		"authz.bfla":             "GET /api/admin",
		"resource.page-size":     "GET /api/articles",
		"injection.command":      "POST /api/run",
		"authn.login-rate-limit": "POST /api/v2/users/login",
	}
	for _, vulnerable := range []bool{true, false} {
		srv := httptest.NewServer(envelopeAPI(vulnerable))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		rep, err := Run(ctx, cfg(srv.URL), Options{Spec: spec})
		cancel()
		srv.Close()
		if err != nil {
			t.Fatalf("scan (vulnerable %v): %v", vulnerable, err)
		}
		got := map[string][]string{}
		for _, f := range rep.Findings {
			if !f.Blocked {
				got[f.CheckID] = append(got[f.CheckID], f.Operation)
			}
		}
		for id, op := range want {
			found := slices.Contains(got[id], op)
			if vulnerable && !found {
				t.Errorf("vulnerable: got %s on %v, want it on %s", id, got[id], op)
			}
			if !vulnerable && len(got[id]) > 0 {
				t.Errorf("fixed: got %s on %v, want none", id, got[id])
			}
		}
		if !vulnerable && len(rep.Notes) > 0 {
			t.Errorf("fixed: notes %v, want none (no identity lost)", rep.Notes)
		}
	}
}
