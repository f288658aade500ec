package openapi

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pb33f/go-yaml"
)

// This file turns the YAML nodes libopenapi parsed into the plain JSON
// values the rest of the package works with. libopenapi's own renderer
// (SchemaProxy.RenderInline) refuses recursive schemas, and Schema.Raw
// promises them as shared cycles, so the small conversion below is ours;
// the $ref lookups inside it are libopenapi's (SpecIndex.SearchIndexForReference).

// place is where a node sits: the absolute path of its file and its JSON
// pointer in that file.
type place struct {
	file, ptr string
}

// mapPlaces records the JSON pointer of every node of one file.
func mapPlaces(places map[*yaml.Node]place, file string, root *yaml.Node) {
	var walk func(n *yaml.Node, ptr string, depth int)
	walk = func(n *yaml.Node, ptr string, depth int) {
		if n == nil || depth > 10000 {
			return
		}
		if _, seen := places[n]; seen {
			return // an alias target already recorded at its first position
		}
		places[n] = place{file, ptr}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, ptr, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], ptr+"/"+escapeToken(n.Content[i].Value), depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, ptr+"/"+strconv.Itoa(i), depth+1)
			}
		}
	}
	walk(root, "", 0)
}

// plainKeys are schema keywords whose values are data, not schemas: they
// are copied as written (no nullable folding, no $ref resolution).
var plainKeys = map[string]bool{"example": true, "examples": true, "default": true, "enum": true, "const": true}

// nameKeys are schema keywords whose values map names to schemas: their
// keys are names, never keywords ("schemas" is components.schemas).
var nameKeys = map[string]bool{"schemas": true, "properties": true, "patternProperties": true, "$defs": true, "definitions": true, "dependentSchemas": true}

// converter turns nodes into JSON values.
type converter struct {
	// fold rewrites OpenAPI 3.0 `nullable: true` into the null type.
	fold bool
	// resolve is called for a map holding a string $ref when refs are
	// being resolved; nil keeps $ref maps as written.
	resolve func(at *yaml.Node, ref string) (*yaml.Node, bool)
	// v31 wraps a $ref with sibling keywords in allOf (3.1 semantics;
	// 3.0 ignores siblings of $ref).
	v31 bool
	// memo holds the resolved map of each $ref target node, shared so that
	// recursive schemas become cycles.
	memo map[*yaml.Node]map[string]any
}

// data converts a node as plain data (examples, link values, extensions).
func data(n *yaml.Node) any {
	return (&converter{}).value(n, false, 0)
}

// value converts n; schema tells whether n is in schema position (folding
// and $ref resolution apply).
func (c *converter) value(n *yaml.Node, schema bool, depth int) any {
	if n == nil || depth > 512 {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0], schema, depth+1)
	case yaml.AliasNode:
		return c.value(n.Alias, schema, depth+1)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, x := range n.Content {
			out[i] = c.value(x, schema, depth+1)
		}
		return out
	case yaml.MappingNode:
		return c.mapping(n, schema, false, depth)
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil
}

func (c *converter) mapping(n *yaml.Node, schema, names bool, depth int) any {
	if schema && !names && c.resolve != nil {
		if ref, ok := refOf(n); ok {
			if target, ok := c.resolve(n, ref); ok {
				res := c.shared(target, depth+1)
				if c.v31 && len(n.Content) > 2 {
					out := map[string]any{"allOf": []any{res}}
					for i := 0; i+1 < len(n.Content); i += 2 {
						if k := n.Content[i].Value; k != "$ref" {
							out[k] = c.child(k, n.Content[i+1], depth)
						}
					}
					c.foldNullable(out)
					return out
				}
				return res
			}
		}
	}
	out := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" {
			continue
		}
		switch {
		case !schema:
			out[k.Value] = c.value(v, false, depth+1)
		case names:
			out[k.Value] = c.value(v, true, depth+1)
		default:
			out[k.Value] = c.child(k.Value, v, depth)
		}
	}
	// YAML merge keys: entries written in the map win.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == "<<" && k.Tag == "!!merge" {
			for _, src := range mergeSources(n.Content[i+1]) {
				if m, ok := c.mapping(src, schema, names, depth+1).(map[string]any); ok {
					for mk, mv := range m {
						if _, set := out[mk]; !set {
							out[mk] = mv
						}
					}
				}
			}
		}
	}
	if schema && !names {
		c.foldNullable(out)
	}
	return out
}

// shared returns the one map of the schema at node n: every $ref to n, and
// the schema itself, get the same map, so recursion becomes a cycle.
func (c *converter) shared(n *yaml.Node, depth int) map[string]any {
	if res, ok := c.memo[n]; ok {
		return res
	}
	res := map[string]any{}
	c.memo[n] = res
	switch v := c.value(n, true, depth).(type) {
	case map[string]any:
		for k, x := range v {
			res[k] = x
		}
	case bool:
		if !v {
			res["not"] = map[string]any{}
		}
	}
	return res
}

// child converts the value of keyword k of a schema.
func (c *converter) child(k string, v *yaml.Node, depth int) any {
	switch {
	case plainKeys[k]:
		return c.value(v, false, depth+1)
	case nameKeys[k] && v.Kind == yaml.MappingNode:
		return c.mapping(v, true, true, depth+1)
	}
	return c.value(v, true, depth+1)
}

func mergeSources(n *yaml.Node) []*yaml.Node {
	switch n.Kind {
	case yaml.AliasNode:
		return mergeSources(n.Alias)
	case yaml.MappingNode:
		return []*yaml.Node{n}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, x := range n.Content {
			out = append(out, mergeSources(x)...)
		}
		return out
	}
	return nil
}

// foldNullable rewrites OpenAPI 3.0 `nullable: true` into JSON Schema: the
// null type (and null in an enum) is added.
func (c *converter) foldNullable(t map[string]any) {
	if !c.fold {
		return
	}
	b, ok := t["nullable"].(bool)
	if !ok {
		return
	}
	delete(t, "nullable")
	if !b {
		return
	}
	switch ty := t["type"].(type) {
	case string:
		t["type"] = []any{ty, "null"}
	case []any:
		t["type"] = append(ty, "null")
	}
	if e, ok := t["enum"].([]any); ok && !slices.Contains(e, nil) {
		t["enum"] = append(e, nil)
	}
}

// refOf returns the string $ref of a mapping node.
func refOf(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.MappingNode {
		return "", false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "$ref" && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value, true
		}
	}
	return "", false
}

// scalar converts a scalar by its resolved YAML tag: numbers become
// json.Number (as encoding/json with UseNumber would give), so that
// validation and examples see the same values as in a JSON document.
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			return n.Value
		}
		return b
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if isInteger(strings.TrimPrefix(s, "+")) {
			return json.Number(strings.TrimPrefix(s, "+"))
		}
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		return n.Value
	case "!!float":
		s := strings.TrimPrefix(n.Value, "+")
		if isNumber(s) {
			return json.Number(s)
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
		return n.Value
	}
	return n.Value
}
