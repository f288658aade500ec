package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/units"
)

// The descriptions of every config type and field come from the Go doc
// comments of config.go and of the stage packages' config types, copied
// into descriptions.go by `go test ./internal/config -run TestGenerated
// -update` (a test fails when they drift). Schema and Reference both use
// them, so the editor hints, docs/config.md and the code say the same.

// durationPattern matches what time.ParseDuration accepts, without a sign.
const durationPattern = `^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

// sizePattern matches what units.ParseBytes accepts.
const sizePattern = `^\s*-?[0-9]+\s*([bB]|[kKmMgG]([iI]?[bB])?)?\s*$`

// schemaExtras adds constraints the Go types cannot express, by
// "pkg.Type.Field".
var schemaExtras = map[string]map[string]any{
	"config.Config.APIs":                    {"minItems": 1},
	"config.API.Name":                       {"pattern": `^[a-z0-9][a-z0-9_-]*$`},
	"config.API.PathPrefix":                 {"pattern": `^/`},
	"config.Upstream.Targets":               {"minItems": 1, "items": map[string]any{"type": "string", "pattern": `^(?:https?://[^/?#]+|\$\{)`}},
	"config.TLS.MinVersion":                 {"enum": []any{"1.2", "1.3"}},
	"config.TLS.ClientAuth":                 {"enum": []any{"required", "optional"}},
	"config.Log.Level":                      {"enum": []any{"debug", "info", "warn", "error"}},
	"config.HealthCheck.Path":               {"pattern": `^/`},
	"config.Events.QueueSize":               {"minimum": 0},
	"config.Events.ClientBurst":             {"minimum": -1},
	"config.Events.ClientRate":              {"minimum": 0},
	"config.Upstream.MaxIdleConnsPerHost":   {"minimum": 0},
	"config.HealthCheck.HealthyThreshold":   {"minimum": 0},
	"config.HealthCheck.UnhealthyThreshold": {"minimum": 0},
	"config.CircuitBreaker.Failures":        {"minimum": 0},
}

// SchemaID is the JSON Schema's $id. Editors take the schema from the
// file `portcullis config schema` writes, named on a config's first line:
//
//	# yaml-language-server: $schema=portcullis.schema.json
const SchemaID = "https://portcullis.dev/schemas/config.schema.json"

// Schema returns a JSON Schema (draft 2020-12) of the config file,
// generated from the Go types: every object has additionalProperties:
// false so that editors flag unknown keys, and every property carries its
// doc comment and default. Durations are strings such as "10s", sizes an
// integer or a string such as "1MiB".
func Schema() ([]byte, error) {
	return schemaJSON(descriptions)
}

func schemaJSON(desc map[string]string) ([]byte, error) {
	g := &schemaGen{desc: desc, defaults: defaultValues()}
	root := g.typeSchema(reflect.TypeFor[Config]())
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "Portcullis configuration"
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encoding schema: %w", err)
	}
	return b.Bytes(), nil
}

type schemaGen struct {
	desc     map[string]string
	defaults map[string]any
}

// typeKey is the descriptions key of a named type: "config.TLS".
func typeKey(t reflect.Type) string { return t.String() }

func (g *schemaGen) typeSchema(t reflect.Type) map[string]any {
	switch {
	case t == durationType:
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "string", "pattern": durationPattern},
			map[string]any{"const": 0},
		}}
	case t == bytesType:
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "integer"},
			map[string]any{"type": "string", "pattern": sizePattern},
		}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typeSchema(t.Elem())
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for _, f := range fieldsOf(t) {
			key := f.descKey(t)
			ps := g.typeSchema(f.typ)
			if d := g.desc[key]; d != "" {
				ps["description"] = d
			}
			if def, ok := g.defaults[key]; ok {
				ps["default"] = def
			}
			for k, v := range schemaExtras[key] {
				ps[k] = v
			}
			props[f.name] = ps
			if !f.optional {
				required = append(required, f.name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if d := g.desc[typeKey(t)]; d != "" {
			s["description"] = d
		}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.typeSchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.typeSchema(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	if isNumberKind(t.Kind()) {
		return map[string]any{"type": "integer"}
	}
	return map[string]any{}
}

// defaultValues returns the default of every field that WithDefaults
// fills, keyed "pkg.Type.Field", as JSON values (durations and sizes as
// their YAML strings).
func defaultValues() map[string]any {
	out := map[string]any{}
	// The top level's own fields come from an empty config (the default
	// listener); nested types from a sample with every optional block
	// present, so that their defaults show.
	top := (&Config{}).WithDefaults()
	rv := reflect.ValueOf(top).Elem()
	t := rv.Type()
	for _, f := range fieldsOf(t) {
		fv := f.get(rv)
		if f.name == "apis" || f.block != "" || fv.IsZero() || (!isLeaf(fv.Type()) && fv.Kind() != reflect.Slice) {
			continue
		}
		out[f.descKey(t)] = jsonValue(fv)
	}
	// Stage blocks own their defaults (their constructors apply them), so
	// the sample's blocks are empty: a default shows only where a block's
	// type fills it in itself.
	sample := &Config{
		Listeners: []Listener{{TLS: &TLS{ClientCA: "ca.pem"}}},
		APIs: []API{{
			Upstream: Upstream{TLS: &UpstreamTLS{}, HealthCheck: &HealthCheck{}},
		}},
	}
	// ClientCA is set only to make ClientAuth's default show; it has no
	// default of its own.
	sample.WithDefaults()
	sample.Listeners[0].TLS.ClientCA = ""
	seen := map[reflect.Type]bool{t: true}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Struct:
			vt := v.Type()
			record := !seen[vt] && vt != durationType
			seen[vt] = true
			for _, f := range fieldsOf(vt) {
				fv := f.get(v)
				if record && !fv.IsZero() && isLeaf(fv.Type()) {
					out[f.descKey(vt)] = jsonValue(fv)
				}
				walk(fv)
			}
		}
	}
	walk(reflect.ValueOf(sample).Elem())
	return out
}

// isLeaf reports whether a field holds a value rather than a block.
func isLeaf(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct, reflect.Pointer, reflect.Slice, reflect.Map:
		return false
	}
	return true
}

// jsonValue renders a Go config value as it would be written in YAML.
func jsonValue(v reflect.Value) any {
	switch {
	case v.Type() == durationType:
		return formatDuration(time.Duration(v.Int()))
	case v.Type() == bytesType:
		return units.Bytes(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return jsonValue(v.Elem())
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i))
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		for _, f := range fieldsOf(v.Type()) {
			if fv := f.get(v); !fv.IsZero() {
				out[f.name] = jsonValue(fv)
			}
		}
		return out
	}
	return v.Interface()
}

// formatDuration writes d the short way: "60s" → "1m", "8760h0m0s" →
// "8760h".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
