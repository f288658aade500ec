package openapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Schema is one compiled schema of the description.
type Schema struct {
	// Raw is the schema as a JSON value with every $ref resolved: a $ref
	// is replaced by the map it points to (shared, not copied) or, when it
	// has sibling keywords, by {"allOf": [target], ...siblings}. Recursive
	// schemas therefore contain cycles: bound any recursion over Raw. For
	// OpenAPI 3.0 documents `nullable: true` has been folded into `type`
	// (["string", "null"]). Read-only.
	Raw map[string]any
	// Location is the schema's absolute location
	// ("file:///srv/api.yaml#/components/schemas/Pet"). For a schema that
	// is only a $ref it is the target's location (every use of the target
	// shares one *Schema); a $ref with sibling keywords keeps its own.
	Location string

	v *jsonschema.Schema
	q *quick // nil: every value goes to v
}

// ValidationError is one way a value fails its schema.
type ValidationError struct {
	// Pointer is the JSON pointer of the failing value relative to the
	// validated value ("" for the value itself, "/items/0/name"). For a
	// missing required property it points at the property.
	Pointer string
	// Reason describes the constraint that failed ("must be integer",
	// "must match pattern ^[a-z]+$"). It never contains the value.
	Reason string
}

// Validate checks v (a value as decoded by encoding/json with UseNumber, or
// built from strings with json.Number for numbers) against the schema and
// returns at most max errors (all of them when max <= 0). Nil means valid.
// The schema was compiled at load; Validate compiles nothing.
func (s *Schema) Validate(v any, max int) []ValidationError {
	if s == nil || s.v == nil || s.q.accepts(v) {
		return nil
	}
	err := s.v.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []ValidationError{{Reason: "could not be validated"}}
	}
	var out []ValidationError
	collectErrors(ve, &out, max)
	if len(out) == 0 {
		out = append(out, ValidationError{Pointer: pointer(ve.InstanceLocation), Reason: "is invalid"})
	}
	return out
}

func collectErrors(ve *jsonschema.ValidationError, out *[]ValidationError, max int) {
	if max > 0 && len(*out) >= max {
		return
	}
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collectErrors(c, out, max)
		}
		return
	}
	ptr := pointer(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			if max > 0 && len(*out) >= max {
				return
			}
			*out = append(*out, ValidationError{Pointer: ptr + "/" + escapeToken(m), Reason: "is required"})
		}
		return
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			if max > 0 && len(*out) >= max {
				return
			}
			*out = append(*out, ValidationError{Pointer: ptr + "/" + escapeToken(p), Reason: "is not an allowed property"})
		}
		return
	}
	*out = append(*out, ValidationError{Pointer: ptr, Reason: reason(ve.ErrorKind)})
}

// reason describes a failed constraint without the offending value.
func reason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return "must be " + strings.Join(k.Want, " or ")
	case *kind.Enum:
		return "must be one of " + clip(jsonList(k.Want), 120)
	case *kind.Const:
		return "must be " + clip(jsonString(k.Want), 120)
	case *kind.Format:
		return "must be a valid " + k.Want
	case *kind.Pattern:
		return "must match pattern " + clip(k.Want, 120)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.Minimum:
		return "must be >= " + ratString(k.Want)
	case *kind.Maximum:
		return "must be <= " + ratString(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + ratString(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + ratString(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + ratString(k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items", k.Want)
	case *kind.UniqueItems:
		return "must not contain duplicate items"
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d properties", k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d properties", k.Want)
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.Not:
		return "must not match the excluded schema"
	case *kind.OneOf:
		if len(k.Subschemas) > 1 {
			return "must match exactly one schema of oneOf, matches several"
		}
		return "must match exactly one schema of oneOf"
	case *kind.AnyOf:
		return "must match at least one schema of anyOf"
	case *kind.Contains, *kind.MinContains, *kind.MaxContains:
		return "does not contain the required items"
	case *kind.PropertyNames:
		return "has a property name that is not allowed"
	case *kind.Dependency, *kind.DependentRequired:
		return "misses a property that another property requires"
	case *kind.AdditionalItems:
		return "has more items than allowed"
	case *kind.InvalidJsonValue:
		return "is not a valid JSON value"
	}
	return "is invalid"
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}

func jsonList(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = jsonString(v)
	}
	return strings.Join(parts, ", ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return ""
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// escapeToken escapes a JSON pointer reference token (RFC 6901).
func escapeToken(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
}

// Typed reports whether values of this schema are proven harmless by their
// type once they validate: integer, number, boolean, an enum (or const),
// or a string of format uuid, date or date-time. Signature detection skips
// such values; free-text strings are still scanned.
func (s *Schema) Typed() bool { return s != nil && TypedSchema(s.Raw) }

// Types returns the schema's JSON types (following a lone allOf), or nil
// when it does not restrict the type.
func (s *Schema) Types() []string {
	if s == nil {
		return nil
	}
	return SchemaTypes(s.Raw)
}

// TypedSchema is Schema.Typed for a raw (resolved) schema.
func TypedSchema(m map[string]any) bool {
	return typedDepth(m, 0)
}

func typedDepth(m map[string]any, depth int) bool {
	if m == nil || depth > 16 {
		return false
	}
	if _, ok := m["enum"]; ok {
		return true
	}
	if _, ok := m["const"]; ok {
		return true
	}
	types := ownTypes(m)
	if len(types) > 0 {
		for _, t := range types {
			switch t {
			case "integer", "number", "boolean", "null":
			case "string":
				switch f, _ := m["format"].(string); f {
				case "uuid", "date", "date-time":
				default:
					return false
				}
			default:
				return false
			}
		}
		return true
	}
	// No own type: typed when some allOf member is typed (allOf narrows).
	if all, ok := m["allOf"].([]any); ok {
		for _, a := range all {
			if sub, ok := a.(map[string]any); ok && typedDepth(sub, depth+1) {
				return true
			}
		}
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		alts, ok := m[k].([]any)
		if !ok || len(alts) == 0 {
			continue
		}
		for _, a := range alts {
			sub, ok := a.(map[string]any)
			if !ok || !typedDepth(sub, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

func ownTypes(m map[string]any) []string {
	switch t := m["type"].(type) {
	case string:
		if one, ok := singleTypes[t]; ok {
			return one // shared: every parameter of every request asks
		}
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// singleTypes are the slices ownTypes returns for a schema of one JSON
// type, made once. Callers only read what SchemaTypes returns.
var singleTypes = map[string][]string{
	"string": {"string"}, "integer": {"integer"}, "number": {"number"}, "boolean": {"boolean"},
	"array": {"array"}, "object": {"object"}, "null": {"null"},
}

// SchemaTypes returns the JSON types a raw schema allows: its own `type`,
// or that of its allOf members, or nil when unrestricted. The slice is
// shared and must not be changed.
func SchemaTypes(m map[string]any) []string {
	return typesDepth(m, 0)
}

func typesDepth(m map[string]any, depth int) []string {
	if m == nil || depth > 16 {
		return nil
	}
	if t := ownTypes(m); t != nil {
		return t
	}
	if all, ok := m["allOf"].([]any); ok {
		for _, a := range all {
			if sub, ok := a.(map[string]any); ok {
				if t := typesDepth(sub, depth+1); t != nil {
					return t
				}
			}
		}
	}
	if _, ok := m["properties"]; ok {
		return singleTypes["object"]
	}
	return nil
}

// PropertySchema returns the raw schema of property name of an object
// schema, looking into `properties`, then allOf/oneOf/anyOf members, then
// `additionalProperties` when it is a schema. declared tells whether the
// name is declared by `properties` (or matches no restriction because
// additionalProperties is absent or true: then it returns nil, false).
func PropertySchema(m map[string]any, name string) (sub map[string]any, declared bool) {
	return propDepth(m, name, 0)
}

func propDepth(m map[string]any, name string, depth int) (map[string]any, bool) {
	if m == nil || depth > 16 {
		return nil, false
	}
	if props, ok := m["properties"].(map[string]any); ok {
		if p, ok := props[name].(map[string]any); ok {
			return p, true
		}
		if b, ok := props[name].(bool); ok && b {
			return map[string]any{}, true
		}
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		if alts, ok := m[k].([]any); ok {
			for _, a := range alts {
				if sub, ok := a.(map[string]any); ok {
					if p, ok := propDepth(sub, name, depth+1); ok {
						return p, true
					}
				}
			}
		}
	}
	if ap, ok := m["additionalProperties"].(map[string]any); ok {
		return ap, false
	}
	return nil, false
}

// ItemsSchema returns the raw schema of an array schema's items (following
// a lone allOf), or nil.
func ItemsSchema(m map[string]any) map[string]any {
	for depth := 0; m != nil && depth < 16; depth++ {
		if it, ok := m["items"].(map[string]any); ok {
			return it
		}
		all, ok := m["allOf"].([]any)
		if !ok || len(all) == 0 {
			return nil
		}
		var next map[string]any
		for _, a := range all {
			if sub, ok := a.(map[string]any); ok {
				if _, ok := sub["items"]; ok {
					next = sub
					break
				}
				if next == nil {
					next = sub
				}
			}
		}
		m = next
	}
	return nil
}

// ReadOnly reports whether a raw schema (or one of its allOf members) is
// marked readOnly.
func ReadOnly(m map[string]any) bool { return flagDepth(m, "readOnly", 0) }

// WriteOnly reports whether a raw schema (or one of its allOf members) is
// marked writeOnly.
func WriteOnly(m map[string]any) bool { return flagDepth(m, "writeOnly", 0) }

func flagDepth(m map[string]any, key string, depth int) bool {
	if m == nil || depth > 16 {
		return false
	}
	if b, ok := m[key].(bool); ok && b {
		return true
	}
	if all, ok := m["allOf"].([]any); ok {
		for _, a := range all {
			if sub, ok := a.(map[string]any); ok && flagDepth(sub, key, depth+1) {
				return true
			}
		}
	}
	return false
}

// ClosedObject reports whether a raw object schema says what happens to
// undeclared properties: additionalProperties or patternProperties or
// unevaluatedProperties is present (on it or an allOf member). Strict
// object mode only adds `additionalProperties: false` where this is false.
func ClosedObject(m map[string]any) bool { return closedDepth(m, 0) }

func closedDepth(m map[string]any, depth int) bool {
	if m == nil || depth > 16 {
		return false
	}
	for _, k := range []string{"additionalProperties", "patternProperties", "unevaluatedProperties"} {
		if _, ok := m[k]; ok {
			return true
		}
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		if alts, ok := m[k].([]any); ok {
			for _, a := range alts {
				if sub, ok := a.(map[string]any); ok && closedDepth(sub, depth+1) {
					return true
				}
			}
		}
	}
	return false
}

// extraFormats are the OpenAPI formats JSON Schema does not define.
var extraFormats = []*jsonschema.Format{
	{Name: "int32", Validate: intRange(32)},
	{Name: "int64", Validate: intRange(64)},
	{Name: "byte", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			if _, err2 := base64.RawStdEncoding.DecodeString(s); err2 != nil {
				return errors.New("not base64")
			}
		}
		return nil
	}},
}

func intRange(bits uint) func(any) error {
	lo := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), bits-1))
	hi := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), bits-1), big.NewInt(1))
	return func(v any) error {
		var s string
		switch n := v.(type) {
		case json.Number:
			s = string(n)
		case int, int64, int32, uint64, float64:
			s = fmt.Sprint(n)
		default:
			return nil
		}
		i, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil // not an integer literal; `type` reports it
		}
		if i.Cmp(lo) < 0 || i.Cmp(hi) > 0 {
			return fmt.Errorf("out of int%d range", bits)
		}
		return nil
	}
}
