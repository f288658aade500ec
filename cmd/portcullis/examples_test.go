package main

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/portcullis/portcullis/internal/config"
)

// schemaKeys returns the property names of the JSON Schema object at
// path (a list of property names; "[]" steps into array items).
func schemaKeys(t *testing.T, schema map[string]any, path ...string) []string {
	t.Helper()
	cur := schema
	for _, p := range path {
		var next any
		if p == "[]" {
			next = cur["items"]
		} else {
			next = cur["properties"].(map[string]any)[p]
		}
		m, ok := next.(map[string]any)
		if !ok {
			t.Fatalf("schema has no object at %v", path)
		}
		// Optional blocks are anyOf [{type: null}, {...}] or $ref'd.
		for _, alt := range []string{"anyOf", "oneOf"} {
			if l, ok := m[alt].([]any); ok {
				for _, a := range l {
					if am, ok := a.(map[string]any); ok && am["properties"] != nil {
						m = am
					}
				}
			}
		}
		cur = m
	}
	props, ok := cur["properties"].(map[string]any)
	if !ok {
		t.Fatalf("schema object at %v has no properties", path)
	}
	var out []string
	for k := range props {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestFullExampleCoversTheSchema: examples/full.yaml sets every top-level
// key of the config and every per-API key (in at least one API), as the
// JSON Schema lists them, so "every block" stays true when keys are added.
func TestFullExampleCoversTheSchema(t *testing.T) {
	b, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	if schema["$id"] != config.SchemaID || config.SchemaID == "" {
		t.Errorf("schema $id = %v", schema["$id"])
	}
	top, api := schemaKeys(t, schema), schemaKeys(t, schema, "apis", "[]")
	if len(top) < 10 || len(api) < 12 {
		t.Fatalf("schema walk found only %v and %v", top, api)
	}

	raw, err := os.ReadFile("../../examples/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range top {
		if _, ok := doc[k]; !ok {
			t.Errorf("examples/full.yaml lacks the top-level key %q", k)
		}
	}
	seen := map[string]bool{}
	apis, _ := doc["apis"].([]any)
	for _, a := range apis {
		m, _ := a.(map[string]any)
		for k := range m {
			seen[k] = true
		}
	}
	for _, k := range api {
		if !seen[k] {
			t.Errorf("no API in examples/full.yaml sets %q", k)
		}
	}
	for k := range doc {
		if !slices.Contains(top, k) {
			t.Errorf("examples/full.yaml sets %q, which the schema does not know", k)
		}
	}
}
