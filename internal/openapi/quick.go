package openapi

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/jsonedit"
)

// quick accepts, without the general validator, the values of the
// commonest schemas: strings (length bounds, enum, pattern, format date),
// integers and numbers (integral bounds, formats int32/int64/float/
// double), booleans, arrays of them (item bounds) and objects of them
// (properties, required, additionalProperties true or false). It only
// accepts: a value it is not sure of goes to the validator, which decides
// and words the errors. Any keyword it does not know (allOf, const,
// nullable types, exclusive bounds, multipleOf, …) leaves the schema
// without a quick form. The validator's generic walk (big.Rat for every
// number bound, a scope per keyword) cost about a third of the validate
// stage on a JSON body and half of it on a GET with a free-text query
// (TestQuickAgrees checks that quick never accepts what the validator
// refuses).
type quick struct {
	kind quickKind

	// strings
	minLen, maxLen int // maxLen < 0: none
	enum           []string
	pattern        *regexp.Regexp
	date           bool

	// integers and numbers: integral bounds within ±2^53
	min, max       int64
	hasMin, hasMax bool

	// arrays
	items              *quick // nil with itemsAny false: no item is accepted
	itemsAny           bool   // no items keyword
	minItems, maxItems int    // maxItems < 0: none

	// objects
	props    map[string]*quick // a nil value: present, never accepted
	required []string
	closed   bool // additionalProperties: false
}

type quickKind uint8

const (
	quickString quickKind = iota
	quickInteger
	quickNumber
	quickBoolean
	quickArray
	quickObject
)

// quickDepth bounds quickOf over recursive schemas (Raw has cycles).
const quickDepth = 16

// quickKeys are the keywords any quick schema may have besides its own:
// annotations that assert nothing.
var quickKeys = map[string]bool{"type": true, "description": true, "title": true, "example": true, "examples": true,
	"default": true, "deprecated": true, "readOnly": true, "writeOnly": true, "$comment": true}

// quickOf returns the quick form of raw, or nil.
func quickOf(raw map[string]any) *quick { return quickAt(raw, 0) }

func quickAt(raw map[string]any, depth int) *quick {
	if raw == nil || depth > quickDepth {
		return nil
	}
	q := &quick{maxLen: -1, maxItems: -1, itemsAny: true}
	switch raw["type"] {
	case "string":
		q.kind = quickString
	case "integer":
		q.kind = quickInteger
	case "number":
		q.kind = quickNumber
	case "boolean":
		q.kind = quickBoolean
	case "array":
		q.kind = quickArray
	case "object":
		q.kind = quickObject
	default:
		return nil
	}
	for k, v := range raw {
		if quickKeys[k] || strings.HasPrefix(k, "x-") {
			continue
		}
		if !q.keyword(k, v, depth) {
			return nil
		}
	}
	return q
}

// keyword reads one asserting keyword of raw into q; false when quick
// cannot take it.
func (q *quick) keyword(k string, v any, depth int) bool {
	var ok bool
	switch q.kind {
	case quickString:
		switch k {
		case "minLength":
			q.minLen, ok = quickCount(v)
		case "maxLength":
			q.maxLen, ok = quickCount(v)
		case "enum":
			list, isList := v.([]any)
			if !isList || len(list) == 0 {
				return false
			}
			for _, e := range list {
				s, isString := e.(string)
				if !isString {
					return false // a non-string member: the validator compares
				}
				q.enum = append(q.enum, s)
			}
			ok = true
		case "pattern":
			// The validator compiles patterns with Go's regexp
			// (jsonschema's default engine), so the same expression
			// decides the same way.
			p, isString := v.(string)
			if !isString {
				return false
			}
			re, err := regexp.Compile(p)
			q.pattern, ok = re, err == nil
		case "format":
			switch v {
			case "date":
				q.date, ok = true, true
			}
		}
	case quickInteger, quickNumber:
		switch k {
		case "minimum":
			q.min, ok = quickInt(v)
			q.hasMin = ok
		case "maximum":
			q.max, ok = quickInt(v)
			q.hasMax = ok
		case "format":
			switch v {
			case "int64", "int32":
				// int64: every integer ParseInt reads is in range; int32
				// is two more bounds.
				ok = q.kind == quickInteger
				if v == "int32" {
					q.tighten(-1<<31, 1<<31-1)
				}
			case "float", "double":
				ok = q.kind == quickNumber // OpenAPI annotations
			}
		}
	case quickArray:
		switch k {
		case "items":
			sub, isMap := v.(map[string]any)
			if !isMap {
				return false // tuple form (draft 4)
			}
			q.items, q.itemsAny, ok = quickAt(sub, depth+1), false, true
		case "minItems":
			q.minItems, ok = quickCount(v)
		case "maxItems":
			q.maxItems, ok = quickCount(v)
		}
	case quickObject:
		switch k {
		case "properties":
			props, isMap := v.(map[string]any)
			if !isMap {
				return false
			}
			q.props = make(map[string]*quick, len(props))
			for name, p := range props {
				sub, _ := p.(map[string]any)
				q.props[name] = quickAt(sub, depth+1)
			}
			ok = true
		case "required":
			list, isList := v.([]any)
			if !isList {
				return false
			}
			for _, e := range list {
				s, isString := e.(string)
				if !isString {
					return false
				}
				q.required = append(q.required, s)
			}
			ok = true
		case "additionalProperties":
			b, isBool := v.(bool)
			q.closed, ok = !b, isBool
		}
	}
	return ok
}

// tighten narrows integer bounds to [lo, hi].
func (q *quick) tighten(lo, hi int64) {
	if !q.hasMin || q.min < lo {
		q.min, q.hasMin = lo, true
	}
	if !q.hasMax || q.max > hi {
		q.max, q.hasMax = hi, true
	}
}

// quickCount reads a length or item bound.
func quickCount(v any) (int, bool) {
	n, ok := quickInt(v)
	if !ok || n < 0 || n >= 1<<31 {
		return 0, false
	}
	return int(n), true
}

// quickInt reads an integral schema number within ±2^53 (exact as a
// float64 too).
func quickInt(v any) (int64, bool) {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		if x > 1<<53 {
			return 0, false
		}
		n = int64(x)
	case float64:
		if x != float64(int64(x)) {
			return 0, false
		}
		n = int64(x)
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, false
		}
		n = i
	default:
		return 0, false
	}
	if n > 1<<53 || n < -(1<<53) {
		return 0, false
	}
	return n, true
}

// accepts reports whether v certainly satisfies the schema.
func (q *quick) accepts(v any) bool {
	if q == nil {
		return false
	}
	switch q.kind {
	case quickString:
		s, ok := v.(string)
		return ok && q.acceptsString(s)
	case quickInteger:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		return err == nil && (!q.hasMin || i >= q.min) && (!q.hasMax || i <= q.max)
	case quickNumber:
		n, ok := v.(json.Number)
		return ok && q.acceptsNumber(string(n))
	case quickBoolean:
		_, ok := v.(bool)
		return ok
	case quickArray:
		a, ok := v.([]any)
		if !ok || len(a) < q.minItems || (q.maxItems >= 0 && len(a) > q.maxItems) {
			return false
		}
		if q.itemsAny {
			return true
		}
		for _, e := range a {
			if !q.items.accepts(e) {
				return false
			}
		}
		return true
	case quickObject:
		o, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for _, name := range q.required {
			if _, ok := o[name]; !ok {
				return false
			}
		}
		for name, e := range o {
			p, declared := q.props[name]
			switch {
			case declared:
				if !p.accepts(e) {
					return false
				}
			case q.closed:
				return false
			}
		}
		return true
	}
	return false
}

func (q *quick) acceptsString(s string) bool {
	if q.minLen > 0 || (q.maxLen >= 0 && len(s) > q.maxLen) {
		// Only count runes when bytes do not settle it: no string
		// has more runes than bytes.
		n := utf8.RuneCountInString(s)
		if n < q.minLen || (q.maxLen >= 0 && n > q.maxLen) {
			return false
		}
	}
	if q.enum != nil {
		found := false
		for _, e := range q.enum {
			if s == e {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if q.date {
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return false
		}
	}
	return q.pattern == nil || q.pattern.MatchString(s)
}

// acceptsNumber: lit must be a JSON number literal (the validator reads
// it exactly); a float64 strictly inside the integral bounds is exactly
// inside them too, since rounding is monotonic and the bounds are
// representable. A value that rounds onto a bound goes to the validator.
func (q *quick) acceptsNumber(lit string) bool {
	if !jsonNumber(lit) {
		return false
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return false // out of float64 range
	}
	return (!q.hasMin || f > float64(q.min)) && (!q.hasMax || f < float64(q.max))
}

// jsonNumber reports whether s is a number literal of RFC 8259.
func jsonNumber(s string) bool { return s != "" && jsonedit.ScanNumber([]byte(s), 0) == len(s) }
