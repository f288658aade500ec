package openapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestLoad31MultiFile covers what libopenapi resolves for us across files
// (a path item in another file, schemas in a parent directory, a
// recursive schema there) and what stays ours: $ref siblings in 3.1, YAML
// merge keys, shared cycles in Raw.
func TestLoad31MultiFile(t *testing.T) {
	s := mustLoad(t, "testdata/v31/openapi.yaml")
	var keys []string
	for _, op := range s.Operations() {
		keys = append(keys, op.Key())
	}
	if want := []string{"GET /pages", "GET /things", "POST /things"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("operations: got %v, want %v", keys, want)
	}
	pages := s.OperationByID("listPages")
	thing := s.OperationByID("createThing").RequestBody.Content["application/json"].Schema
	if !strings.HasSuffix(thing.Location, "/testdata/shared/schemas.yaml#/Thing") {
		t.Errorf("Thing location: got %q, want the shared file", thing.Location)
	}
	if got := s.OperationByID("listThings").Responses["200"].Content["application/json"].Schema; ItemsSchema(got.Raw)["properties"] == nil {
		t.Errorf("listThings items: got %v, want the resolved Thing", got.Raw)
	}
	cases := []struct {
		name   string
		schema *Schema
		value  any
		want   []ValidationError
	}{
		{"merge key keeps the anchor's minimum", pages.Parameter("page", "query").Schema, json.Number("0"), []ValidationError{{"", "must be >= 1"}}},
		{"merge key adds maximum", pages.Parameter("page", "query").Schema, json.Number("51"), []ValidationError{{"", "must be <= 50"}}},
		{"ref target applies", pages.Parameter("code", "query").Schema, "ab", []ValidationError{{"", "must match pattern ^[A-Z]+$"}}},
		{"ref sibling applies (3.1)", pages.Parameter("code", "query").Schema, "ABCD", []ValidationError{{"", "must be at most 3 characters long"}}},
		{"valid code", pages.Parameter("code", "query").Schema, "ABC", nil},
		{"nested sibling", thing, map[string]any{"name": "a", "size": json.Number("11")}, []ValidationError{{"/size", "must be <= 10"}}},
		{"nested ref target", thing, map[string]any{"name": "a", "size": json.Number("-1")}, []ValidationError{{"/size", "must be >= 0"}}},
		{"recursion", thing, map[string]any{"name": "a", "parts": []any{map[string]any{"parts": []any{}}}}, []ValidationError{{"/parts/0/name", "is required"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.schema.Validate(c.value, 0); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	code := pages.Parameter("code", "query").Schema.Raw
	if all, ok := code["allOf"].([]any); !ok || len(all) != 1 || code["maxLength"] == nil {
		t.Errorf("code raw: got %v, want allOf [Code] beside maxLength", code)
	}
	parts, _ := PropertySchema(thing.Raw, "parts")
	if item := ItemsSchema(parts); reflect.ValueOf(item).Pointer() != reflect.ValueOf(thing.Raw).Pointer() {
		t.Errorf("Thing.parts items: got a copy, want the shared Thing map (a cycle)")
	}
	size, _ := PropertySchema(thing.Raw, "size")
	if !TypedSchema(size) || size["maximum"] == nil {
		t.Errorf("Thing.size raw: got %v, want typed with its sibling maximum", size)
	}
}

func TestLoadErrorsLibopenapi(t *testing.T) {
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
		{"empty", write("empty.yaml", "\n"), []string{"empty.yaml", "empty"}},
		{"no version", write("nov.yaml", "info: {title: x}\npaths: {}\n"), []string{"nov.yaml", "`openapi`"}},
		{"3.2", write("v32.yaml", "openapi: 3.2.0\n"), []string{"v32.yaml", "3.2.0"}},
		{"json syntax", write("bad.json", "{\"openapi\": \"3.1.0\",\n \"paths\": {\"/a\": [1,}}"), []string{"bad.json:2:"}},
		{"missing file", write("xref.yaml", "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      parameters:\n        - $ref: 'other.yaml#/P'\n"),
			[]string{"xref.yaml:6:", "#/paths/~1a/get/parameters/0", "other.yaml#/P"}},
		{"missing schema", write("sref.yaml", "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      parameters:\n        - {name: q, in: query, schema: {$ref: '#/components/schemas/Nope'}}\n"),
			[]string{"sref.yaml:6:", "#/paths/~1a/get/parameters/0/schema", "Nope"}},
		{"parameter loop", write("loop.yaml", "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      parameters:\n        - $ref: '#/components/parameters/A'\ncomponents:\n  parameters:\n    A: {$ref: '#/components/parameters/B'}\n    B: {$ref: '#/components/parameters/A'}\n"),
			[]string{"loop.yaml:", "circular"}},
		{"duplicate operationId", write("dup.yaml", "openapi: 3.1.0\npaths:\n  /a:\n    get: {operationId: x}\n  /b:\n    get: {operationId: x}\n"),
			[]string{"dup.yaml:6:", "#/paths/~1b/get", `"x"`, "GET /a"}},
		{"bad in", write("in.yaml", "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      parameters:\n        - {name: q, in: body}\n"),
			[]string{"in.yaml:6:", "`in`"}},
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

// TestLoadSchemaLoopIsNotAnError: libopenapi calls a loop through required
// properties infinite; it is still a legal schema and loads.
func TestLoadSchemaLoopIsNotAnError(t *testing.T) {
	doc := "openapi: 3.1.0\npaths:\n  /a:\n    post:\n      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/N'}}}}\n" +
		"components:\n  schemas:\n    N: {type: [object, 'null'], required: [n], properties: {n: {$ref: '#/components/schemas/N'}}}\n"
	s, err := Parse([]byte(doc), t.TempDir())
	if err != nil {
		t.Fatalf("got %v, want the description to load", err)
	}
	n := s.Operations()[0].RequestBody.Content["application/json"].Schema
	if errs := n.Validate(map[string]any{"n": map[string]any{"n": nil}}, 0); errs != nil {
		t.Errorf("got %v, want valid", errs)
	}
}

func TestScalar(t *testing.T) {
	s, err := Parse([]byte("openapi: 3.0.3\npaths:\n  /a:\n    get:\n      parameters:\n"+
		"        - {name: q, in: query, schema: {type: integer, default: 0x10, maximum: 1_000, example: 12}, example: 1.50}\n"+
		"        - {name: d, in: query, schema: {type: string, format: date, nullable: true, enum: [2024-01-02, ~]}}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	q := s.Operations()[0].Parameter("q", "query")
	if q.Example != json.Number("1.50") || q.Schema.Raw["default"] != json.Number("16") || q.Schema.Raw["maximum"] != json.Number("1000") {
		t.Errorf("q: got example %#v, raw %#v", q.Example, q.Schema.Raw)
	}
	d := s.Operations()[0].Parameter("d", "query")
	if want := []any{"2024-01-02", nil}; !reflect.DeepEqual(d.Schema.Raw["enum"], want) {
		t.Errorf("d enum: got %#v, want %#v (a date stays a string, nullable adds no second null)", d.Schema.Raw["enum"], want)
	}
	if errs := d.Schema.Validate(nil, 0); errs != nil {
		t.Errorf("d null: got %v, want valid", errs)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/v30.yaml", "testdata/v31/openapi.yaml", "../demo/openapi.yaml", "testdata/bad.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"openapi":"3.1.0","paths":{"/x/{id}":{"get":{"parameters":[{"name":"id","in":"path","schema":{"$ref":"#/components/schemas/A"}}]}}},"components":{"schemas":{"A":{"anyOf":[{"$ref":"#/components/schemas/A"}]}}}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, dir)
		if err != nil {
			if s != nil {
				t.Fatalf("got a spec and an error %v", err)
			}
			return
		}
		for _, op := range s.Operations() {
			s.Match(op.Method, op.Path)
		}
	})
}
