package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

var testNow = time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)

func fixedNow() time.Time { return testNow }

type apiCase struct {
	name        string
	method      string
	route       string // the route pattern the request should hit ("" for none)
	target      string
	body        string
	contentType string // default application/json when body is set
	wantStatus  int
	wantBody    string // exact body, when set
	wantHeader  map[string]string
	wantIn      []string // substrings of the body
}

// do sends one request straight to the handler and checks the answer
// against the case and, when the route is declared, against openapi.yaml.
func (c apiCase) do(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
	if c.body != "" {
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != c.wantStatus {
		t.Fatalf("%s %s: got status %d, want %d (body %s)", c.method, c.target, rec.Code, c.wantStatus, rec.Body)
	}
	if c.wantBody != "" && rec.Body.String() != c.wantBody {
		t.Errorf("%s %s: got body %s, want %s", c.method, c.target, rec.Body, c.wantBody)
	}
	for _, s := range c.wantIn {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("%s %s: got body %s, want it to contain %s", c.method, c.target, rec.Body, s)
		}
	}
	for k, v := range c.wantHeader {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s %s: got header %s %q, want %q", c.method, c.target, k, got, v)
		}
	}
	if rec.Code >= 400 {
		if got := rec.Header().Get("Content-Type"); got != "application/problem+json" {
			t.Errorf("%s %s: got error Content-Type %q, want application/problem+json", c.method, c.target, got)
		}
		var p problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Title == "" {
			t.Errorf("%s %s: got problem %s (%v), want status %d and a title", c.method, c.target, rec.Body, err, rec.Code)
		}
	}
	if c.route != "" {
		mustSpec(t).checkResponse(t, c.method, c.route, rec.Code, rec.Header(), rec.Body.Bytes())
	}
	return rec
}

const (
	rex      = `{"id":1,"name":"Rex","tag":"dog","status":"available","created_at":"2024-01-02T03:04:05Z"}`
	whiskers = `{"id":2,"name":"Whiskers","tag":"cat","status":"available","created_at":"2024-01-02T03:04:05Z"}`
	fido     = `{"id":5,"name":"Fido","tag":"dog","status":"available","created_at":"2024-01-02T03:04:05Z"}`
	alice    = `{"id":"alice","name":"Alice Liddell","email":"alice@example.com","role":"user"}`
	ord1001  = `{"id":"ord-1001","owner":"alice","pet_id":1,"quantity":1,"status":"placed","created_at":"2024-01-02T03:04:05Z"}`
	ord1003  = `{"id":"ord-1003","owner":"alice","pet_id":3,"quantity":2,"status":"placed","created_at":"2024-01-02T03:04:05Z"}`
)

// TestAPIRequests runs each case on a fresh, freshly seeded API.
func TestAPIRequests(t *testing.T) {
	cases := []apiCase{
		// pets: list
		{name: "list pets", method: "GET", route: "/pets", target: "/pets", wantStatus: 200, wantIn: []string{rex, fido}},
		{name: "list pets limit", method: "GET", route: "/pets", target: "/pets?limit=2", wantStatus: 200, wantBody: "[" + rex + "," + whiskers + "]"},
		{name: "list pets tag", method: "GET", route: "/pets", target: "/pets?tag=dog", wantStatus: 200, wantBody: "[" + rex + "," + fido + "]"},
		{name: "list pets tag and limit", method: "GET", route: "/pets", target: "/pets?tag=dog&limit=1", wantStatus: 200, wantBody: "[" + rex + "]"},
		{name: "list pets unknown tag", method: "GET", route: "/pets", target: "/pets?tag=dragon", wantStatus: 200, wantBody: "[]"},
		{name: "list pets limit 100", method: "GET", route: "/pets", target: "/pets?limit=100", wantStatus: 200},
		{name: "limit zero", method: "GET", route: "/pets", target: "/pets?limit=0", wantStatus: 400},
		{name: "limit 101", method: "GET", route: "/pets", target: "/pets?limit=101", wantStatus: 400},
		{name: "limit not a number", method: "GET", route: "/pets", target: "/pets?limit=ten", wantStatus: 400},
		{name: "limit twice", method: "GET", route: "/pets", target: "/pets?limit=1&limit=2", wantStatus: 400},
		{name: "tag with quote", method: "GET", route: "/pets", target: "/pets?tag=dog%27--", wantStatus: 400},
		{name: "tag too long", method: "GET", route: "/pets", target: "/pets?tag=" + strings.Repeat("a", 33), wantStatus: 400},
		{name: "unknown query ignored", method: "GET", route: "/pets", target: "/pets?color=red", wantStatus: 200},

		// pets: one
		{name: "get pet", method: "GET", route: "/pets/{id}", target: "/pets/1", wantStatus: 200, wantBody: rex},
		{name: "get missing pet", method: "GET", route: "/pets/{id}", target: "/pets/99", wantStatus: 404},
		{name: "get pet id zero", method: "GET", route: "/pets/{id}", target: "/pets/0", wantStatus: 400},
		{name: "get pet id negative", method: "GET", route: "/pets/{id}", target: "/pets/-1", wantStatus: 400},
		{name: "get pet id plus sign", method: "GET", route: "/pets/{id}", target: "/pets/+1", wantStatus: 400},
		{name: "get pet id text", method: "GET", route: "/pets/{id}", target: "/pets/rex", wantStatus: 400},
		{name: "get pet id overflow", method: "GET", route: "/pets/{id}", target: "/pets/99999999999999999999", wantStatus: 400},

		// pets: create
		{name: "create pet", method: "POST", route: "/pets", target: "/pets", body: `{"name":"Luna","tag":"cat"}`, wantStatus: 201,
			wantBody:   `{"id":6,"name":"Luna","tag":"cat","status":"available","created_at":"2025-06-07T08:09:10Z"}`,
			wantHeader: map[string]string{"Location": "/pets/6", "Content-Type": "application/json"}},
		{name: "create pet with status", method: "POST", route: "/pets", target: "/pets", body: `{"name":"Luna","status":"pending"}`, wantStatus: 201,
			wantBody: `{"id":6,"name":"Luna","status":"pending","created_at":"2025-06-07T08:09:10Z"}`},
		{name: "create pet content type with charset", method: "POST", route: "/pets", target: "/pets", body: `{"name":"Luna"}`, contentType: "application/json; charset=utf-8", wantStatus: 201},
		{name: "create pet without name", method: "POST", route: "/pets", target: "/pets", body: `{"tag":"cat"}`, wantStatus: 400},
		{name: "create pet blank name", method: "POST", route: "/pets", target: "/pets", body: `{"name":"  "}`, wantStatus: 400},
		{name: "create pet long name", method: "POST", route: "/pets", target: "/pets", body: `{"name":"` + strings.Repeat("n", 65) + `"}`, wantStatus: 400},
		{name: "create pet bad status", method: "POST", route: "/pets", target: "/pets", body: `{"name":"Luna","status":"lost"}`, wantStatus: 400},
		{name: "create pet bad tag", method: "POST", route: "/pets", target: "/pets", body: `{"name":"Luna","tag":"<b>"}`, wantStatus: 400},
		{name: "create pet unknown field", method: "POST", route: "/pets", target: "/pets", body: `{"name":"Luna","id":1}`, wantStatus: 400},
		{name: "create pet wrong type", method: "POST", route: "/pets", target: "/pets", body: `{"name":7}`, wantStatus: 400},
		{name: "create pet not json", method: "POST", route: "/pets", target: "/pets", body: `name=Luna`, wantStatus: 400},
		{name: "create pet array", method: "POST", route: "/pets", target: "/pets", body: `[{"name":"Luna"}]`, wantStatus: 400},
		{name: "create pet trailing data", method: "POST", route: "/pets", target: "/pets", body: `{"name":"Luna"}{"name":"Sol"}`, wantStatus: 400},
		{name: "create pet without content type", method: "POST", route: "/pets", target: "/pets", wantStatus: 415},
		{name: "create pet form", method: "POST", route: "/pets", target: "/pets", body: `name=Luna`, contentType: "application/x-www-form-urlencoded", wantStatus: 415},
		{name: "create pet too large", method: "POST", route: "/pets", target: "/pets", body: `{"name":"Luna","tag":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, wantStatus: 413},

		// pets: replace and delete
		{name: "replace pet", method: "PUT", route: "/pets/{id}", target: "/pets/1", body: `{"name":"Rex","status":"sold"}`, wantStatus: 200,
			wantBody: `{"id":1,"name":"Rex","status":"sold","created_at":"2024-01-02T03:04:05Z"}`},
		{name: "replace missing pet", method: "PUT", route: "/pets/{id}", target: "/pets/99", body: `{"name":"Rex"}`, wantStatus: 404},
		{name: "replace pet bad id", method: "PUT", route: "/pets/{id}", target: "/pets/x", body: `{"name":"Rex"}`, wantStatus: 400},
		{name: "replace pet bad body", method: "PUT", route: "/pets/{id}", target: "/pets/1", body: `{}`, wantStatus: 400},
		{name: "delete pet", method: "DELETE", route: "/pets/{id}", target: "/pets/2", wantStatus: 204, wantHeader: map[string]string{"Content-Type": ""}},
		{name: "delete missing pet", method: "DELETE", route: "/pets/{id}", target: "/pets/99", wantStatus: 404},

		// users
		{name: "list users", method: "GET", route: "/users", target: "/users", wantStatus: 200, wantIn: []string{alice, `"id":"bob"`, `"role":"admin"`}},
		{name: "get user", method: "GET", route: "/users/{id}", target: "/users/alice", wantStatus: 200, wantBody: alice},
		{name: "get admin", method: "GET", route: "/users/{id}", target: "/users/admin", wantStatus: 200, wantIn: []string{`"role":"admin"`}},
		{name: "get missing user", method: "GET", route: "/users/{id}", target: "/users/mallory", wantStatus: 404},
		{name: "get user bad id", method: "GET", route: "/users/{id}", target: "/users/Alice%27", wantStatus: 400},

		// orders
		{name: "list orders", method: "GET", route: "/orders", target: "/orders", wantStatus: 200, wantIn: []string{ord1001, `"owner":"bob"`, ord1003}},
		{name: "list orders of alice", method: "GET", route: "/orders", target: "/orders?owner=alice", wantStatus: 200, wantBody: "[" + ord1001 + "," + ord1003 + "]"},
		{name: "list orders of nobody", method: "GET", route: "/orders", target: "/orders?owner=mallory", wantStatus: 200, wantBody: "[]"},
		{name: "list orders bad owner", method: "GET", route: "/orders", target: "/orders?owner=%3Cscript%3E", wantStatus: 400},
		{name: "get order", method: "GET", route: "/orders/{id}", target: "/orders/ord-1001", wantStatus: 200, wantBody: ord1001},
		{name: "get missing order", method: "GET", route: "/orders/{id}", target: "/orders/ord-9999", wantStatus: 404},
		{name: "get order bad id", method: "GET", route: "/orders/{id}", target: "/orders/1001", wantStatus: 400},
		{name: "create order", method: "POST", route: "/orders", target: "/orders", body: `{"owner":"bob","pet_id":5,"quantity":3}`, wantStatus: 201,
			wantBody:   `{"id":"ord-1004","owner":"bob","pet_id":5,"quantity":3,"status":"placed","created_at":"2025-06-07T08:09:10Z"}`,
			wantHeader: map[string]string{"Location": "/orders/ord-1004"}},
		{name: "create order default quantity", method: "POST", route: "/orders", target: "/orders", body: `{"owner":"bob","pet_id":5}`, wantStatus: 201, wantIn: []string{`"quantity":1`}},
		{name: "create order without owner", method: "POST", route: "/orders", target: "/orders", body: `{"pet_id":5}`, wantStatus: 400},
		{name: "create order without pet", method: "POST", route: "/orders", target: "/orders", body: `{"owner":"bob"}`, wantStatus: 400},
		{name: "create order bad owner", method: "POST", route: "/orders", target: "/orders", body: `{"owner":"B0B!","pet_id":5}`, wantStatus: 400},
		{name: "create order quantity zero", method: "POST", route: "/orders", target: "/orders", body: `{"owner":"bob","pet_id":5,"quantity":0}`, wantStatus: 400},
		{name: "create order quantity 101", method: "POST", route: "/orders", target: "/orders", body: `{"owner":"bob","pet_id":5,"quantity":101}`, wantStatus: 400},
		{name: "create order pet zero", method: "POST", route: "/orders", target: "/orders", body: `{"owner":"bob","pet_id":0}`, wantStatus: 400},
		{name: "create order unknown owner", method: "POST", route: "/orders", target: "/orders", body: `{"owner":"mallory","pet_id":5}`, wantStatus: 422},
		{name: "create order unknown pet", method: "POST", route: "/orders", target: "/orders", body: `{"owner":"bob","pet_id":77}`, wantStatus: 422},
		{name: "create order unknown field", method: "POST", route: "/orders", target: "/orders", body: `{"owner":"bob","pet_id":5,"status":"delivered"}`, wantStatus: 400},

		// health and fallbacks
		{name: "healthz", method: "GET", route: "/healthz", target: "/healthz", wantStatus: 200, wantBody: `{"status":"ok"}`},
		{name: "unknown path", method: "GET", target: "/admin", wantStatus: 404},
		{name: "root", method: "GET", target: "/", wantStatus: 404},
		{name: "trailing slash", method: "GET", target: "/pets/", wantStatus: 404},
		{name: "method not allowed on collection", method: "PATCH", target: "/pets", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, POST"}},
		{name: "method not allowed on item", method: "POST", target: "/pets/1", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, PUT, DELETE"}},
		{name: "delete user not allowed", method: "DELETE", target: "/users/alice", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.do(t, NewAPI(APIOptions{Now: fixedNow}))
		})
	}
}

// TestAPISequences checks that writes are visible to later reads.
func TestAPISequences(t *testing.T) {
	tests := []struct {
		name  string
		steps []apiCase
	}{
		{name: "create then read", steps: []apiCase{
			{method: "POST", route: "/pets", target: "/pets", body: `{"name":"Luna","tag":"cat"}`, wantStatus: 201},
			{method: "GET", route: "/pets/{id}", target: "/pets/6", wantStatus: 200, wantIn: []string{`"name":"Luna"`}},
			{method: "GET", route: "/pets", target: "/pets?tag=cat", wantStatus: 200, wantIn: []string{`"name":"Whiskers"`, `"name":"Luna"`}},
		}},
		{name: "replace then read", steps: []apiCase{
			{method: "PUT", route: "/pets/{id}", target: "/pets/3", body: `{"name":"Nemo","tag":"fish","status":"sold"}`, wantStatus: 200},
			{method: "GET", route: "/pets/{id}", target: "/pets/3", wantStatus: 200, wantBody: `{"id":3,"name":"Nemo","tag":"fish","status":"sold","created_at":"2024-01-02T03:04:05Z"}`},
		}},
		{name: "delete then read", steps: []apiCase{
			{method: "DELETE", route: "/pets/{id}", target: "/pets/1", wantStatus: 204},
			{method: "GET", route: "/pets/{id}", target: "/pets/1", wantStatus: 404},
			{method: "DELETE", route: "/pets/{id}", target: "/pets/1", wantStatus: 404},
			{method: "GET", route: "/pets", target: "/pets?tag=dog", wantStatus: 200, wantBody: "[" + fido + "]"},
			{method: "POST", route: "/orders", target: "/orders", body: `{"owner":"alice","pet_id":1}`, wantStatus: 422},
		}},
		{name: "ids are not reused", steps: []apiCase{
			{method: "DELETE", route: "/pets/{id}", target: "/pets/5", wantStatus: 204},
			{method: "POST", route: "/pets", target: "/pets", body: `{"name":"Luna"}`, wantStatus: 201, wantHeader: map[string]string{"Location": "/pets/6"}},
		}},
		{name: "order then list", steps: []apiCase{
			{method: "POST", route: "/orders", target: "/orders", body: `{"owner":"bob","pet_id":4}`, wantStatus: 201},
			{method: "GET", route: "/orders/{id}", target: "/orders/ord-1004", wantStatus: 200, wantIn: []string{`"owner":"bob"`, `"pet_id":4`}},
			{method: "GET", route: "/orders", target: "/orders?owner=bob", wantStatus: 200, wantIn: []string{`"ord-1002"`, `"ord-1004"`}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewAPI(APIOptions{Now: fixedNow})
			for _, step := range tt.steps {
				step.do(t, h)
			}
		})
	}
}

func TestAPIStoreFull(t *testing.T) {
	h := NewAPI(APIOptions{Now: fixedNow})
	create := apiCase{method: "POST", target: "/pets", body: `{"name":"Clone"}`, wantStatus: 201}
	for range MaxPets - 5 {
		create.do(t, h)
	}
	full := create
	full.route, full.wantStatus = "/pets", http.StatusInsufficientStorage
	full.do(t, h)
	// Deleting one makes room again.
	apiCase{method: "DELETE", target: "/pets/1", wantStatus: 204}.do(t, h)
	create.do(t, h)
}

func TestAPIDefaultClock(t *testing.T) {
	h := NewAPI(APIOptions{})
	before := time.Now().UTC().Add(-time.Second)
	rec := apiCase{method: "POST", target: "/pets", body: `{"name":"Luna"}`, wantStatus: 201}.do(t, h)
	var p Pet
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.CreatedAt.Before(before) {
		t.Errorf("created_at: got %v, want after %v", p.CreatedAt, before)
	}
}

// TestAPIConcurrent exercises the store's locking under -race.
func TestAPIConcurrent(t *testing.T) {
	h := NewAPI(APIOptions{Now: fixedNow})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				body := fmt.Sprintf(`{"name":"p%d-%d"}`, i, j)
				for _, c := range []apiCase{
					{method: "POST", target: "/pets", body: body, wantStatus: 201},
					{method: "GET", target: "/pets?limit=100", wantStatus: 200},
					{method: "PUT", target: "/pets/1", body: body, wantStatus: 200},
					{method: "POST", target: "/orders", body: `{"owner":"alice","pet_id":1}`, wantStatus: 201},
					{method: "GET", target: "/orders", wantStatus: 200},
				} {
					req := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != c.wantStatus {
						t.Errorf("%s %s: got %d, want %d", c.method, c.target, rec.Code, c.wantStatus)
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestOpenAPIReturnsCopy(t *testing.T) {
	a := OpenAPI()
	a[0] = 'X'
	if b := OpenAPI(); b[0] == 'X' {
		t.Errorf("got a shared slice, want a copy")
	}
}

func BenchmarkGetPet(b *testing.B) {
	h := NewAPI(APIOptions{})
	req := httptest.NewRequest("GET", "/pets/1", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func BenchmarkListPets(b *testing.B) {
	h := NewAPI(APIOptions{})
	req := httptest.NewRequest("GET", "/pets?limit=5", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// FuzzWriteBodies feeds arbitrary bodies to the endpoints that parse JSON:
// the answer is always a declared status, never a panic.
func FuzzWriteBodies(f *testing.F) {
	for _, s := range []string{
		`{"name":"Luna","tag":"cat"}`, `{"owner":"bob","pet_id":5}`, `{"name":null}`, `null`, `[]`,
		`{"name":"a","name":"b"}`, `{"pet_id":1e400}`, `{"quantity":-1}`, "{\"name\":\"\xff\"}", `{"name":"Luna"} x`,
	} {
		f.Add(s)
	}
	h := NewAPI(APIOptions{Now: fixedNow})
	s, err := loadSpec()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, rt := range [][2]string{{"POST", "/pets"}, {"PUT", "/pets/{id}"}, {"POST", "/orders"}} {
			target := strings.Replace(rt[1], "{id}", "1", 1)
			req := httptest.NewRequest(rt[0], target, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			s.checkResponse(t, rt[0], rt[1], rec.Code, rec.Header(), rec.Body.Bytes())
		}
	})
}
