package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/limits"
	"github.com/portcullis/portcullis/internal/stage/validate"
)

// TestValidateEndToEnd runs the real gateway in front of the demo API with
// its own description and checks that each kind of undeclared request is
// refused with a precise error, and never reaches the upstream.
func TestValidateEndToEnd(t *testing.T) {
	up := demo.NewAPI(demo.APIOptions{})
	hits := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		up.ServeHTTP(w, r)
	}))
	defer ts.Close()
	spec := filepath.Join(t.TempDir(), "openapi.yaml")
	// The demo's request schemas declare no readOnly property; declare the
	// server-assigned id on NewPet, as descriptions that share one schema
	// between requests and responses do.
	anchor := "    NewPet:\n      type: object\n      additionalProperties: false\n      required: [name]\n      properties:\n"
	doc := string(demo.OpenAPI())
	if !strings.Contains(doc, anchor) {
		t.Fatal("the demo description changed: NewPet anchor not found")
	}
	doc = strings.Replace(doc, anchor, anchor+"        id:\n          type: integer\n          readOnly: true\n", 1)
	if err := os.WriteFile(spec, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(ts.URL)
	config.BlockOf[limits.Config](cfg.Stages).MaxQueryParams = 0
	cfg.APIs[0].PathPrefix = "/shop"
	cfg.APIs[0].StripPrefix = true
	cfg.APIs[0].OpenAPI = spec
	cfg.APIs[0].Stages.Set(&validate.Config{StrictObjects: true})
	tg := start(t, cfg)

	cases := []struct {
		name, method, path, body string
		status                   int
		errors                   []pipeline.FieldError
		allow                    string
	}{
		{name: "declared", method: "GET", path: "/shop/pets/1", status: 200},
		{name: "unknown path", method: "GET", path: "/shop/admin", status: 404},
		{name: "wrong method", method: "PATCH", path: "/shop/pets/1", status: 405, allow: "GET, PUT, DELETE, HEAD"},
		{name: "wrong type", method: "GET", path: "/shop/pets/abc", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/path/id", Reason: "must be integer"}}},
		{name: "out of range", method: "GET", path: "/shop/pets?limit=1000", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/limit", Reason: "must be <= 100"}}},
		{name: "missing required", method: "POST", path: "/shop/orders", body: `{"owner":"alice"}`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/pet_id", Reason: "is required"}}},
		{name: "mass assignment", method: "POST", path: "/shop/pets", body: `{"name":"Rex","is_admin":true}`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/is_admin", Reason: "is not an allowed property"}}},
		{name: "readOnly property", method: "POST", path: "/shop/pets", body: `{"name":"Rex","id":7}`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/id", Reason: "is read-only and must not be sent"}}},
		{name: "valid post", method: "POST", path: "/shop/pets", body: `{"name":"Rex","tag":"dog"}`, status: 201},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := hits
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, _ := http.NewRequest(c.method, tg.base+c.path, body)
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.status {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status: got %d, want %d (%s)", resp.StatusCode, c.status, b)
			}
			if c.status < 400 {
				return
			}
			if hits != before {
				t.Errorf("a refused request reached the upstream")
			}
			if c.allow != "" && resp.Header.Get("Allow") != c.allow {
				t.Errorf("Allow: got %q, want %q", resp.Header.Get("Allow"), c.allow)
			}
			var p pipeline.Problem
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Stage != "validate" {
				t.Errorf("stage: got %q, want validate", p.Stage)
			}
			if c.errors != nil && !reflect.DeepEqual(p.Errors, c.errors) {
				t.Errorf("errors: got %v, want %v", p.Errors, c.errors)
			}
		})
	}
	tg.flush(t)
	var denials int
	for _, e := range tg.sink.all() {
		if e.Type == events.TypeDenial && e.Stage == "validate" {
			denials++
		}
	}
	if denials != 7 {
		t.Errorf("validate denial events: got %d, want 7", denials)
	}
}

func TestValidateWithoutOpenAPIIsAnError(t *testing.T) {
	cfg := baseConfig("http://127.0.0.1:1")
	cfg.APIs[0].Stages.Set(&validate.Config{})
	cfg.WithDefaults()
	_, err := New(cfg, Deps{Metrics: metrics.New()})
	if err == nil || !strings.Contains(err.Error(), "requires apis[].openapi") {
		t.Errorf("got %v, want an error saying validate requires openapi", err)
	}
}
