package openapi

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestQuickAgrees: whenever the quick path accepts a value, the validator
// accepts it too, over random string and integer schemas and values near
// their bounds (multi-byte and invalid UTF-8, integers written as 1.0, 1e2,
// 007, -0, huge); and it does accept most valid values, or it buys nothing.
func TestQuickAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	accepted, valid := 0, 0
	for i := range 400 {
		raw := map[string]any{"description": "x"}
		if i%2 == 0 {
			raw["type"] = "string"
			if rng.IntN(3) > 0 {
				raw["minLength"] = json.Number(strconv.Itoa(rng.IntN(4)))
			}
			if rng.IntN(3) > 0 {
				raw["maxLength"] = json.Number(strconv.Itoa(rng.IntN(8)))
			}
		} else {
			raw["type"] = "integer"
			if rng.IntN(3) > 0 {
				raw["minimum"] = json.Number(strconv.Itoa(rng.IntN(20) - 10))
			}
			if rng.IntN(3) > 0 {
				raw["maximum"] = json.Number(strconv.Itoa(rng.IntN(20) - 5))
			}
		}
		q := quickOf(raw)
		if q == nil {
			t.Fatalf("no quick form for %v", raw)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("s.json", raw); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile("s.json")
		if err != nil {
			t.Fatal(err)
		}
		for range 60 {
			var v any
			if i%2 == 0 {
				var b strings.Builder
				for range rng.IntN(10) {
					b.WriteString([]string{"a", "é", "✓", "\xff", " ", "😀"}[rng.IntN(6)])
				}
				v = b.String()
			} else {
				v = json.Number([]string{strconv.Itoa(rng.IntN(30) - 15), "1.0", "1e2", "007", "-0", "99999999999999999999", "2.5", "0x10"}[min(rng.IntN(12), 7)])
			}
			ok := sch.Validate(v) == nil
			if ok {
				valid++
			}
			if q.accepts(v) {
				accepted++
				if !ok {
					t.Fatalf("schema %v: quick accepts %q, the validator refuses it", raw, v)
				}
			}
		}
	}
	if accepted < valid/2 { // the misses are integers written 1.0, 1e2 or past int64, left to the validator
		t.Fatalf("quick accepted %d of %d valid values", accepted, valid)
	}
	t.Logf("quick accepted %d of %d valid values", accepted, valid)
}

// TestQuickOnlyForPlainSchemas: a keyword that asserts more than type and
// bounds leaves the value to the validator.
func TestQuickOnlyForPlainSchemas(t *testing.T) {
	for _, raw := range []map[string]any{
		{"type": "string", "format": "date"}, {"type": "string", "pattern": "^a"}, {"type": "string", "enum": []any{"a"}},
		{"type": []any{"string", "null"}}, {"type": "integer", "exclusiveMinimum": json.Number("1")},
		{"type": "integer", "multipleOf": json.Number("2")}, {"type": "number"}, {"type": "integer", "minimum": 1.5},
		{"type": "string", "maxLength": -1}, {"type": "integer", "maximum": "5"}, {"type": "string", "const": "x"},
	} {
		if q := quickOf(raw); q != nil {
			t.Errorf("quick form for %v: %+v, want none", raw, q)
		}
	}
	if q := quickOf(map[string]any{"type": "integer", "minimum": 1, "maximum": float64(100), "x-note": "y"}); q == nil || q.min != 1 || q.max != 100 {
		t.Errorf("quick form of a plain integer schema: %+v", q)
	}
}
