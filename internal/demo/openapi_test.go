package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// spec is openapi.yaml parsed once, with a JSON Schema compiler that
// resolves "#/components/..." references inside it.
type spec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
}

const specURL = "file:///demo/openapi.json"

var loadSpec = sync.OnceValues(func() (*spec, error) {
	var raw any
	if err := yaml.Unmarshal(OpenAPI(), &raw); err != nil {
		return nil, fmt.Errorf("parsing openapi.yaml: %w", err)
	}
	// Round trip through JSON so the document has exactly JSON's types.
	js, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("converting openapi.yaml to json: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, fmt.Errorf("decoding openapi json: %w", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi.yaml is a %T, want a mapping", doc)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(specURL, doc); err != nil {
		return nil, fmt.Errorf("adding openapi resource: %w", err)
	}
	return &spec{doc: m, compiler: c, schemas: map[string]*jsonschema.Schema{}}, nil
})

func mustSpec(t *testing.T) *spec {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get walks a JSON pointer-like path of keys.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// deref follows a local "$ref" (one level at a time, until none is left).
func (s *spec) deref(v any) any {
	for {
		ref, ok := get(v, "$ref").(string)
		if !ok {
			return v
		}
		keys := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		v = get(s.doc, keys...)
	}
}

// schema compiles the schema at a JSON pointer in the document.
func (s *spec) schema(t *testing.T, ptr string) *jsonschema.Schema {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[ptr]; ok {
		return sch
	}
	sch, err := s.compiler.Compile(specURL + "#" + ptr)
	if err != nil {
		t.Fatalf("compiling schema %s: %v", ptr, err)
	}
	s.schemas[ptr] = sch
	return sch
}

var specMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// operations returns "METHOD /path" for every operation in the spec.
func (s *spec) operations() []string {
	var ops []string
	paths, _ := s.doc["paths"].(map[string]any)
	for p, item := range paths {
		for _, m := range specMethods {
			if get(item, m) != nil {
				ops = append(ops, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(ops)
	return ops
}

// escapePointer escapes one JSON pointer token.
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// checkResponse asserts that the response is declared for the operation:
// its status is listed, its media type is the declared one, and its body
// validates against the declared schema.
func (s *spec) checkResponse(t *testing.T, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	opPtr := "/paths/" + escapePointer(path) + "/" + strings.ToLower(method)
	op := get(s.doc, "paths", path, strings.ToLower(method))
	if op == nil {
		t.Fatalf("%s %s is not in openapi.yaml", method, path)
	}
	code := strconv.Itoa(status)
	resp := get(op, "responses", code)
	if resp == nil {
		t.Fatalf("%s %s answered %d, which openapi.yaml does not declare (body %s)", method, path, status, body)
	}
	respPtr := opPtr + "/responses/" + code
	if ref, ok := get(resp, "$ref").(string); ok {
		respPtr = strings.TrimPrefix(ref, "#")
		resp = s.deref(resp)
	}
	content, _ := get(resp, "content").(map[string]any)
	if len(content) == 0 {
		if len(body) != 0 {
			t.Errorf("%s %s %d: got body %q, want none", method, path, status, body)
		}
		return
	}
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("%s %s %d: bad Content-Type %q: %v", method, path, status, header.Get("Content-Type"), err)
	}
	if content[mt] == nil {
		t.Fatalf("%s %s %d: got Content-Type %q, want one of %v", method, path, status, mt, keys(content))
	}
	if get(content[mt], "schema") == nil {
		return
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s %d: body is not JSON: %v: %s", method, path, status, err, body)
	}
	sch := s.schema(t, respPtr+"/content/"+escapePointer(mt)+"/schema")
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s %s %d: body does not match the declared schema: %v\nbody: %s", method, path, status, err, body)
	}
}

func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestOpenAPIDocument(t *testing.T) {
	s := mustSpec(t)
	version, _ := s.doc["openapi"].(string)
	if !strings.HasPrefix(version, "3.1.") {
		t.Errorf("openapi: got %q, want 3.1.x", version)
	}
	for _, name := range []string{"Pet", "NewPet", "User", "Order", "NewOrder", "Problem"} {
		t.Run("schema "+name, func(t *testing.T) {
			ptr := "/components/schemas/" + name
			if get(s.doc, "components", "schemas", name) == nil {
				t.Fatalf("components.schemas.%s is missing", name)
			}
			sch := s.schema(t, ptr)
			// Every schema's own example must be valid against it.
			ex := get(s.doc, "components", "schemas", name, "example")
			if ex == nil {
				t.Fatalf("components.schemas.%s has no example", name)
			}
			if err := sch.Validate(ex); err != nil {
				t.Errorf("example of %s: %v", name, err)
			}
		})
	}
	// The schemas are strict enough to catch what the handler must not send.
	bad := map[string]any{"id": 1, "name": "Rex", "status": "available", "created_at": "2024-01-02T03:04:05Z", "owner": "alice"}
	if err := s.schema(t, "/components/schemas/Pet").Validate(bad); err == nil {
		t.Errorf("Pet with an undeclared field: got valid, want invalid")
	}
	bad = map[string]any{"id": 1, "name": "Rex", "status": "available", "created_at": "yesterday"}
	if err := s.schema(t, "/components/schemas/Pet").Validate(bad); err == nil {
		t.Errorf("Pet with a bad created_at: got valid, want invalid")
	}
	for _, name := range []string{"Pet", "NewPet", "User", "Order", "NewOrder"} {
		if got := get(s.doc, "components", "schemas", name, "additionalProperties"); got != false {
			t.Errorf("%s additionalProperties: got %v, want false", name, got)
		}
	}
	for _, name := range []string{"Pet", "User", "Order"} {
		if got := get(s.doc, "components", "schemas", name, "properties", "id", "readOnly"); got != true {
			t.Errorf("%s.id readOnly: got %v, want true", name, got)
		}
	}
	if got := get(s.doc, "components", "securitySchemes", "apiKey", "name"); got != "X-Api-Key" {
		t.Errorf("apiKey header: got %v, want X-Api-Key", got)
	}
	if got := get(s.doc, "components", "securitySchemes", "bearerAuth", "bearerFormat"); got != "JWT" {
		t.Errorf("bearer format: got %v, want JWT", got)
	}
	limit := s.deref(get(s.doc, "components", "parameters", "Limit"))
	if got, want := fmt.Sprint(get(limit, "schema", "minimum"), "..", get(limit, "schema", "maximum")), "1..100"; got != want {
		t.Errorf("limit range: got %v, want %v", got, want)
	}
	// Every operation has a tag that is declared at the top.
	var declared []string
	for _, tag := range s.doc["tags"].([]any) {
		declared = append(declared, get(tag, "name").(string))
	}
	for _, op := range s.operations() {
		method, path, _ := strings.Cut(op, " ")
		tags, _ := get(s.doc, "paths", path, strings.ToLower(method), "tags").([]any)
		if len(tags) == 0 {
			t.Errorf("%s has no tags", op)
		}
		for _, tag := range tags {
			if !slices.Contains(declared, tag.(string)) {
				t.Errorf("%s: tag %v is not declared", op, tag)
			}
		}
	}
}

// TestOpenAPIRoutesMatch checks that the spec and the handler describe the
// same set of operations.
func TestOpenAPIRoutesMatch(t *testing.T) {
	s := mustSpec(t)
	var served []string
	for _, rt := range routes {
		served = append(served, rt.method+" "+rt.path)
	}
	sort.Strings(served)
	declared := s.operations()
	for _, op := range served {
		if !slices.Contains(declared, op) {
			t.Errorf("%s is served but not in openapi.yaml", op)
		}
	}
	for _, op := range declared {
		if !slices.Contains(served, op) {
			t.Errorf("%s is in openapi.yaml but not served", op)
		}
	}
}

// TestOpenAPIExamples calls every declared operation on a fresh API, with
// the spec's example values, and checks the answer is a declared success
// whose body matches the declared schema.
func TestOpenAPIExamples(t *testing.T) {
	s := mustSpec(t)
	for _, op := range s.operations() {
		t.Run(op, func(t *testing.T) {
			method, path, _ := strings.Cut(op, " ")
			item := get(s.doc, "paths", path)
			operation := get(item, strings.ToLower(method))

			var params []any
			if ps, ok := get(item, "parameters").([]any); ok {
				params = append(params, ps...)
			}
			if ps, ok := get(operation, "parameters").([]any); ok {
				params = append(params, ps...)
			}
			target := path
			query := url.Values{}
			for _, p := range params {
				p = s.deref(p)
				name, _ := get(p, "name").(string)
				ex := get(p, "example")
				if ex == nil {
					t.Fatalf("parameter %s has no example", name)
				}
				val := fmt.Sprint(ex)
				switch get(p, "in") {
				case "path":
					target = strings.ReplaceAll(target, "{"+name+"}", url.PathEscape(val))
				case "query":
					query.Set(name, val)
				default:
					t.Fatalf("parameter %s: unexpected location %v", name, get(p, "in"))
				}
			}
			if strings.Contains(target, "{") {
				t.Fatalf("path %s has undeclared parameters", path)
			}
			if len(query) > 0 {
				target += "?" + query.Encode()
			}

			var body io.Reader
			if rb := get(operation, "requestBody"); rb != nil {
				ex := get(rb, "content", "application/json", "example")
				if ex == nil {
					t.Fatalf("request body has no application/json example")
				}
				// The example must satisfy the declared request schema.
				sch := s.schema(t, "/paths/"+escapePointer(path)+"/"+strings.ToLower(method)+"/requestBody/content/application~1json/schema")
				if err := sch.Validate(ex); err != nil {
					t.Fatalf("request example does not match its schema: %v", err)
				}
				js, err := json.Marshal(ex)
				if err != nil {
					t.Fatal(err)
				}
				body = bytes.NewReader(js)
			}

			srv := httptest.NewServer(NewAPI(APIOptions{Now: fixedNow}))
			defer srv.Close()
			req, err := http.NewRequest(method, srv.URL+target, body)
			if err != nil {
				t.Fatal(err)
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if get(operation, "x-demo-fails") == true {
				// Deliberately broken (leaky.go): it must fail, with the
				// stack trace the scrub stage exists for.
				if resp.StatusCode != http.StatusInternalServerError || !bytes.Contains(got, []byte("goroutine")) {
					t.Errorf("%s %s: got %d %s, want the deliberate 500 with a stack trace", method, target, resp.StatusCode, got)
				}
				return
			}
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				t.Errorf("%s %s: got status %d, want a success (body %s)", method, target, resp.StatusCode, got)
			}
			s.checkResponse(t, method, path, resp.StatusCode, resp.Header, got)
		})
	}
}
