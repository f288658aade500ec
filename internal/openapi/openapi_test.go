package openapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustLoad(t testing.TB, path string) *Spec {
	t.Helper()
	s, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return s
}

func demoSpec(t testing.TB) *Spec {
	return mustLoad(t, filepath.Join("..", "demo", "openapi.yaml"))
}

func TestLoadDemo(t *testing.T) {
	s := demoSpec(t)
	if s.Version != "3.1.0" {
		t.Errorf("version: got %q, want 3.1.0", s.Version)
	}
	var keys []string
	for _, op := range s.Operations() {
		keys = append(keys, op.Key())
	}
	want := []string{"GET /healthz", "GET /orders", "POST /orders", "GET /orders/{id}", "GET /pets", "POST /pets",
		"GET /pets/{id}", "PUT /pets/{id}", "DELETE /pets/{id}", "GET /users", "GET /users/{id}"}
	// The demo may gain operations; these must be there, in this order.
	i := 0
	for _, k := range keys {
		if i < len(want) && k == want[i] {
			i++
		}
	}
	if i != len(want) {
		t.Errorf("operations: got %v, want them to include %v in this order", keys, want)
	}
	if !s.OperationByID("healthz").Public() {
		t.Errorf("healthz: got not public, want public (security: [])")
	}
	get := s.OperationByID("getPet")
	if get.Public() || len(get.Security) != 2 {
		t.Errorf("getPet security: got %v, want the two top-level requirements", get.Security)
	}
	id := get.Parameter("id", "path")
	if id == nil || !id.Required || !id.Schema.Typed() || id.Example == nil {
		t.Fatalf("getPet id parameter: got %+v", id)
	}
	if got := s.SecuritySchemes["bearerAuth"]; got == nil || got.Scheme != "bearer" || got.BearerFormat != "JWT" {
		t.Errorf("bearerAuth: got %+v", got)
	}
	if got := s.SecuritySchemes["apiKey"]; got == nil || got.In != "header" || got.Name != "X-Api-Key" {
		t.Errorf("apiKey: got %+v", got)
	}
	body := s.OperationByID("createPet").RequestBody
	if body == nil || !body.Required || body.Content["application/json"] == nil || body.Content["application/json"].Example == nil {
		t.Fatalf("createPet body: got %+v", body)
	}
	pet := s.OperationByID("getPet").Responses["200"].Content["application/json"].Schema.Raw
	idSchema, declared := PropertySchema(pet, "id")
	if !declared || !ReadOnly(idSchema) || !TypedSchema(idSchema) {
		t.Errorf("Pet.id: got declared=%v readOnly=%v typed=%v, want all true", declared, ReadOnly(idSchema), TypedSchema(idSchema))
	}
	if _, err := json.Marshal(pet); err != nil {
		t.Errorf("raw schema does not marshal: %v", err)
	}
}

func TestLoad30CrossFile(t *testing.T) {
	s := mustLoad(t, "testdata/v30.yaml")
	if len(s.Servers) != 1 || s.Servers[0].BasePath != "/v1" || s.Servers[0].URL != "https://api.example.com/v1" {
		t.Fatalf("servers: got %+v", s.Servers)
	}
	list := s.OperationByID("listItems")
	limit := list.Parameter("limit", "query")
	if limit == nil || limit.Schema == nil || !strings.Contains(limit.Schema.Location, "common.yaml") {
		t.Fatalf("limit: got %+v", limit)
	}
	if errs := limit.Schema.Validate(json.Number("101"), 0); len(errs) != 1 || errs[0].Reason != "must be <= 100" {
		t.Errorf("limit 101: got %v, want must be <= 100", errs)
	}
	note := list.Parameter("note", "query")
	if errs := note.Schema.Validate(nil, 0); errs != nil {
		t.Errorf("nullable note: got %v, want null accepted", errs)
	}
	if got := s.OperationByID("createItem"); !got.Public() || got.Security == nil {
		t.Errorf("createItem: got security %v, want explicit empty (public)", got.Security)
	}
	if got := s.OperationByID("getItem"); len(got.Security) != 1 || got.Security[0]["key"] == nil {
		t.Errorf("getItem: got security %v, want inherited [key]", got.Security)
	}
	link := list.Responses["200"].Links["first"]
	if link == nil || link.OperationID != "getItem" || link.Parameters["id"] != "$response.body#/0/id" {
		t.Errorf("link: got %+v", link)
	}
	if f := s.SecuritySchemes["oauth"].Flows["clientCredentials"]; f == nil || f.TokenURL == "" || f.Scopes["read"] == "" {
		t.Errorf("oauth flow: got %+v", f)
	}
	item := s.OperationByID("createItem").RequestBody.Content["application/json"].Schema
	cases := []struct {
		name string
		body string
		want []ValidationError
	}{
		{"valid", `{"name":"a","color":null,"price":1.5}`, nil},
		{"missing required", `{}`, []ValidationError{{"/name", "is required"}}},
		{"enum", `{"name":"a","color":"green"}`, []ValidationError{{"/color", `must be one of "red", "blue", null`}}},
		{"type", `{"name":5}`, []ValidationError{{"/name", "must be string"}}},
		{"uuid format", `{"name":"a","id":"nope"}`, []ValidationError{{"/id", "must be a valid uuid"}}},
		{"minimum", `{"name":"a","price":-1}`, []ValidationError{{"/price", "must be >= 0"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v any
			dec := json.NewDecoder(strings.NewReader(c.body))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if got := item.Validate(v, 10); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	// The recursive schema resolves into a cycle, and still validates.
	tree := s.OperationByID("postTree").RequestBody.Content["application/json"].Schema
	if errs := tree.Validate(map[string]any{"name": "a", "children": []any{map[string]any{"name": 1}}}, 0); len(errs) != 1 || errs[0].Pointer != "/children/0/name" {
		t.Errorf("tree: got %v, want one error at /children/0/name", errs)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, file string
		want       []string
	}{
		{"yaml syntax", "testdata/bad.yaml", []string{"bad.yaml", "4"}},
		{"missing file", filepath.Join(dir, "none.yaml"), []string{"none.yaml"}},
		{"swagger 2", write("sw.yaml", "swagger: '2.0'\n"), []string{"sw.yaml", "Swagger 2.0"}},
		{"bad version", write("v4.yaml", "openapi: 4.0.0\n"), []string{"v4.yaml", "4.0.0"}},
		{"broken ref", write("ref.yaml", "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      parameters:\n        - $ref: '#/components/parameters/Nope'\n"),
			[]string{"ref.yaml", "/paths/~1a/get/parameters/0", "Nope"}},
		{"undeclared path param", write("pp.yaml", "openapi: 3.1.0\npaths:\n  /a/{id}:\n    get: {}\n"), []string{"pp.yaml", `"id"`}},
		{"bad schema", write("bs.yaml", "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      parameters:\n        - {name: q, in: query, schema: {type: 5}}\n"),
			[]string{"bs.yaml", "schema"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.file)
			if err == nil {
				t.Fatalf("got nil error, want one mentioning %v", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestMatch(t *testing.T) {
	s := mustLoad(t, "testdata/v30.yaml")
	cases := []struct {
		method, path string
		status       MatchStatus
		key          string
		params       map[string]string
		allow        []string
	}{
		{"GET", "/v1/items", Found, "GET /items", nil, nil},
		{"GET", "/v1/items/42", Found, "GET /items/{id}", map[string]string{"id": "42"}, nil},
		{"GET", "/v1/items/mine", Found, "GET /items/mine", nil, nil},
		{"GET", "/v1/items/a%2Fb", Found, "GET /items/{id}", map[string]string{"id": "a/b"}, nil},
		{"HEAD", "/v1/items/1", Found, "GET /items/{id}", map[string]string{"id": "1"}, nil},
		{"GET", "/v1/files/report.json", Found, "GET /files/{name}.json", map[string]string{"name": "report"}, nil},
		{"GET", "/v1/files/report.xml", PathNotFound, "", nil, nil},
		{"DELETE", "/v1/items", MethodNotAllowed, "", nil, []string{"GET", "POST", "HEAD"}},
		{"GET", "/items", PathNotFound, "", nil, nil},
		{"GET", "/v1/items/", PathNotFound, "", nil, nil},
		{"GET", "/v1/items/1/2", PathNotFound, "", nil, nil},
		{"GET", "/v1/items//", PathNotFound, "", nil, nil},
		{"GET", "/v1x/items", PathNotFound, "", nil, nil},
		{"GET", "", PathNotFound, "", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			op, params, res := s.Match(c.method, c.path)
			if res.Status != c.status {
				t.Fatalf("status: got %v, want %v", res.Status, c.status)
			}
			if c.status == Found && (op == nil || op.Key() != c.key || res.Operation != op) {
				t.Fatalf("operation: got %v, want %s", op, c.key)
			}
			if !reflect.DeepEqual(params, c.params) {
				t.Errorf("params: got %v, want %v", params, c.params)
			}
			if !reflect.DeepEqual(res.Allow, c.allow) {
				t.Errorf("allow: got %v, want %v", res.Allow, c.allow)
			}
		})
	}
	// A stripped gateway prefix is removed before the server base path.
	mounted := s.WithStrippedPrefix("/shop/")
	if _, _, res := mounted.Match("GET", "/shop/v1/items"); res.Status != Found {
		t.Errorf("mounted: got %v, want found", res.Status)
	}
	if _, _, res := mounted.Match("GET", "/v1/items"); res.Status != PathNotFound {
		t.Errorf("mounted without prefix: got %v, want path-not-found", res.Status)
	}
}

func TestTypedAndCoerce(t *testing.T) {
	cases := []struct {
		name   string
		schema string
		typed  bool
		in     string
		want   any
	}{
		{"integer", `{"type":"integer"}`, true, "12", json.Number("12")},
		{"integer garbage", `{"type":"integer"}`, true, "12a", "12a"},
		{"number", `{"type":"number"}`, true, "-1.5e3", json.Number("-1.5e3")},
		{"boolean", `{"type":"boolean"}`, true, "true", true},
		{"enum", `{"type":"string","enum":["a"]}`, true, "a", "a"},
		{"uuid", `{"type":"string","format":"uuid"}`, true, "x", "x"},
		{"date-time", `{"type":"string","format":"date-time"}`, true, "x", "x"},
		{"free text", `{"type":"string"}`, false, "x", "x"},
		{"email is free text", `{"type":"string","format":"email"}`, false, "x", "x"},
		{"allOf typed", `{"allOf":[{"type":"integer"}],"readOnly":true}`, true, "3", json.Number("3")},
		{"nullable integer empty", `{"type":["integer","null"]}`, true, "", nil},
		{"object", `{"type":"object"}`, false, "x", "x"},
		{"untyped", `{}`, false, "x", "x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var raw map[string]any
			if err := json.Unmarshal([]byte(c.schema), &raw); err != nil {
				t.Fatal(err)
			}
			if got := TypedSchema(raw); got != c.typed {
				t.Errorf("typed: got %v, want %v", got, c.typed)
			}
			if got := Coerce(c.in, raw); !reflect.DeepEqual(got, c.want) {
				t.Errorf("coerce: got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestParameterDecode(t *testing.T) {
	s := mustLoad(t, "testdata/v30.yaml")
	list := s.OperationByID("listItems")
	cases := []struct {
		name   string
		in     string
		values []string
		want   any
	}{
		{"exploded array", "ids", []string{"1", "2"}, []any{json.Number("1"), json.Number("2")}},
		{"comma array", "csv", []string{"a,b"}, []any{"a", "b"}},
		{"scalar", "limit", []string{"5"}, json.Number("5")},
		{"repeated scalar", "limit", []string{"5", "6"}, []any{"5", "6"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := list.Parameter(c.in, "query")
			if got := p.Decode(c.values); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
		})
	}
	if errs := list.Parameter("limit", "query").Schema.Validate(list.Parameter("limit", "query").Decode([]string{"5", "6"}), 0); len(errs) == 0 {
		t.Errorf("repeated scalar: got valid, want a type error")
	}
}

func TestParseInMemory(t *testing.T) {
	s, err := Parse([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/x":{"get":{"responses":{"200":{"description":"ok"}}}}}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, res := s.Match("GET", "/x"); res.Status != Found {
		t.Errorf("got %v, want found", res.Status)
	}
	if s.File != "" {
		t.Errorf("File: got %q, want empty", s.File)
	}
}

func BenchmarkMatch(b *testing.B) {
	s := demoSpec(b)
	paths := []struct{ m, p string }{{"GET", "/pets"}, {"GET", "/pets/12"}, {"PUT", "/pets/12"}, {"GET", "/orders/ord-1001"}, {"GET", "/nope/x"}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := paths[i%len(paths)]
		s.Match(c.m, c.p)
	}
}

func FuzzMatch(f *testing.F) {
	s := mustLoad(f, "testdata/v30.yaml")
	for _, p := range []string{"/v1/items", "/v1/items/1", "/v1/files/a.json", "/v1/%zz", "//", ""} {
		f.Add("GET", p)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		op, params, res := s.Match(method, path)
		if (res.Status == Found) != (op != nil) {
			t.Fatalf("status %v with operation %v", res.Status, op)
		}
		if op == nil && params != nil {
			t.Fatalf("params without operation")
		}
	})
}
