package openapi

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestQuickAgrees: whenever the quick path accepts a value, the validator
// (compiled as the loader compiles, for OpenAPI 3.0 and 3.1) accepts it
// too, over random nested schemas of every kind quick knows, mixed with
// keywords it does not, and values near their bounds (multi-byte and
// invalid UTF-8, integers written as 1.0, 1e2, 007, -0, huge; numbers
// that round onto a bound; impossible dates; missing, extra and
// wrong-typed properties); and it does accept most valid values, or it
// buys nothing.
func TestQuickAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	accepted, valid := 0, 0
	for i := range 1500 {
		raw := genSchema(rng, 0)
		q := quickOf(raw)
		draft := jsonschema.Draft2020
		if i%3 == 0 {
			draft = jsonschema.Draft4
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(draft)
		c.AssertFormat()
		for _, f := range extraFormats {
			c.RegisterFormat(f)
		}
		if err := c.AddResource("s.json", raw); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile("s.json")
		if err != nil {
			t.Fatalf("schema %v: %v", raw, err)
		}
		for range 40 {
			v := genValue(rng, raw, 0)
			ok := sch.Validate(v) == nil
			if ok {
				valid++
			}
			if q.accepts(v) {
				accepted++
				if !ok {
					t.Fatalf("schema %s: quick accepts %s, the validator refuses it", show(raw), show(v))
				}
			}
		}
	}
	// The misses are schemas with keywords quick does not know, integers
	// written 1.0 or 1e2 and numbers that round onto a bound.
	if accepted < valid/2 {
		t.Fatalf("quick accepted %d of %d valid values", accepted, valid)
	}
	t.Logf("quick accepted %d of %d valid values", accepted, valid)
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

var (
	quickPatterns = []string{"^p-[0-9]+$", "^[a-z]{2,4}$", "é", "^$", "a|b", `^\d+$`}
	quickStrings  = []string{"", "a", "ab", "abcd", "é", "✓✓", "\xff", "😀x", "p-1", "p-", "p-12a", "12", "2024-02-29",
		"2023-02-29", "2024-13-01", "2024-1-01", " 2024-01-01", "2024-01-01T00:00:00Z", "b", "zz"}
	quickNumbers = []string{"0", "-0", "1", "5", "-5", "10", "1.5", "0.1", "-1e-400", "1e400", "1e2", "1.0", "007", "2.5e0",
		"4.999999999999999999999", "5.0000000000000000001", "9007199254740993", "99999999999999999999", "2147483648",
		"-2147483649", "0x10", "1_0", "Inf", "NaN", ".5", "5.", "+1", "1e", "-"}
)

func genSchema(rng *rand.Rand, depth int) map[string]any {
	kinds := []string{"string", "integer", "number", "boolean", "array", "object"}
	if depth >= 3 {
		kinds = kinds[:4]
	}
	kind := kinds[rng.IntN(len(kinds))]
	raw := map[string]any{"type": kind, "description": "x"}
	maybe := func() bool { return rng.IntN(3) == 0 }
	num := func(lo, n int) json.Number { return json.Number(strconv.Itoa(rng.IntN(n) + lo)) }
	switch kind {
	case "string":
		if maybe() {
			raw["minLength"] = num(0, 4)
		}
		if maybe() {
			raw["maxLength"] = num(0, 8)
		}
		if maybe() {
			a := rng.IntN(len(quickStrings))
			raw["enum"] = []any{quickStrings[a], quickStrings[(a+1+rng.IntN(len(quickStrings)-1))%len(quickStrings)]}
		}
		if maybe() {
			raw["pattern"] = quickPatterns[rng.IntN(len(quickPatterns))]
		}
		if maybe() {
			raw["format"] = []string{"date", "date-time", "email", "uuid", "byte"}[rng.IntN(5)]
		}
	case "integer", "number":
		if maybe() {
			raw["minimum"] = num(-10, 20)
		}
		if maybe() {
			raw["maximum"] = num(-5, 20)
		}
		if maybe() {
			raw["format"] = []string{"int32", "int64", "float", "double"}[rng.IntN(4)]
		}
		if rng.IntN(8) == 0 {
			raw["minimum"] = 1.5
		}
	case "array":
		if rng.IntN(4) > 0 {
			raw["items"] = genSchema(rng, depth+1)
		}
		if maybe() {
			raw["minItems"] = num(0, 3)
		}
		if maybe() {
			raw["maxItems"] = num(0, 4)
		}
	case "object":
		props := map[string]any{}
		for _, name := range []string{"a", "b", "c"}[:rng.IntN(4)] {
			props[name] = genSchema(rng, depth+1)
		}
		raw["properties"] = props
		if maybe() && len(props) > 0 {
			raw["required"] = []any{"a"}
		}
		switch rng.IntN(4) {
		case 0:
			raw["additionalProperties"] = false
		case 1:
			raw["additionalProperties"] = true
		case 2:
			raw["additionalProperties"] = map[string]any{"type": "string"}
		}
	}
	// A keyword quick does not know, now and then.
	if rng.IntN(10) == 0 {
		k := []string{"const", "multipleOf", "minProperties", "uniqueItems"}[rng.IntN(4)]
		raw[k] = map[string]any{"const": "a", "multipleOf": json.Number("2"), "minProperties": json.Number("1"), "uniqueItems": true}[k]
	}
	return raw
}

func genValue(rng *rand.Rand, raw map[string]any, depth int) any {
	kind, _ := raw["type"].(string)
	if rng.IntN(12) == 0 || depth > 4 { // the wrong type
		kind = []string{"string", "integer", "boolean", "null", "array", "object"}[rng.IntN(6)]
	}
	switch kind {
	case "string":
		if e, ok := raw["enum"].([]any); ok && rng.IntN(2) == 0 {
			return e[rng.IntN(len(e))]
		}
		return quickStrings[rng.IntN(len(quickStrings))]
	case "integer", "number":
		if rng.IntN(2) == 0 {
			return json.Number(strconv.Itoa(rng.IntN(30) - 15))
		}
		lit := quickNumbers[rng.IntN(len(quickNumbers))]
		if !isNumber(lit) {
			return lit // what Coerce leaves a string; json.Number only holds number literals
		}
		return json.Number(lit)
	case "boolean":
		return rng.IntN(2) == 0
	case "null":
		return nil
	case "array":
		items, _ := raw["items"].(map[string]any)
		if items == nil {
			items = map[string]any{"type": "string"}
		}
		a := make([]any, rng.IntN(5))
		for i := range a {
			a[i] = genValue(rng, items, depth+1)
		}
		return a
	default:
		props, _ := raw["properties"].(map[string]any)
		o := map[string]any{}
		for name, p := range props {
			if rng.IntN(4) > 0 {
				sub, _ := p.(map[string]any)
				o[name] = genValue(rng, sub, depth+1)
			}
		}
		if rng.IntN(4) == 0 {
			o["extra"] = "x"
		}
		return o
	}
}

// TestQuickOnlyForKnownSchemas: a keyword quick does not know leaves the
// value to the validator.
func TestQuickOnlyForKnownSchemas(t *testing.T) {
	for _, raw := range []map[string]any{
		{"type": "string", "format": "email"}, {"type": "string", "enum": []any{"a", json.Number("1")}},
		{"type": []any{"string", "null"}}, {"type": "integer", "exclusiveMinimum": json.Number("1")},
		{"type": "integer", "multipleOf": json.Number("2")}, {"type": "number", "minimum": 1.5},
		{"type": "string", "maxLength": -1}, {"type": "integer", "maximum": "5"}, {"type": "string", "const": "x"},
		{"type": "array", "items": []any{map[string]any{"type": "string"}}}, {"type": "array", "uniqueItems": true},
		{"type": "object", "additionalProperties": map[string]any{"type": "string"}}, {"type": "object", "patternProperties": map[string]any{}},
		{"type": "string", "pattern": "(?<=a)"}, {"allOf": []any{map[string]any{"type": "string"}}},
	} {
		if q := quickOf(raw); q != nil {
			t.Errorf("quick form for %v: %+v, want none", raw, q)
		}
	}
	if q := quickOf(map[string]any{"type": "integer", "minimum": 1, "maximum": float64(100), "x-note": "y"}); q == nil || q.min != 1 || q.max != 100 {
		t.Errorf("quick form of a plain integer schema: %+v", q)
	}
}

// TestJSONNumber: the literal check is RFC 8259's grammar.
func TestJSONNumber(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "10", "1.5", "-1e-400", "1E+2", "0.0e0"} {
		var v any
		if !jsonNumber(s) || json.Unmarshal([]byte(s), &v) != nil {
			t.Errorf("%q: want a number", s)
		}
	}
	for _, s := range []string{"", "-", "007", "0x10", "1_0", "Inf", ".5", "5.", "+1", "1e", "1e+", " 1", "1 "} {
		var v any
		if jsonNumber(s) || json.Unmarshal([]byte(s), &v) == nil && s != " 1" && s != "1 " {
			t.Errorf("%q: want not a number", s)
		}
	}
}
