package openapi

import (
	"encoding/json"
	"strings"
)

// Decode turns the raw values of a parameter (every value of a query
// parameter in order, or the one value of a path, header or cookie
// parameter) into the JSON value its schema describes, following the
// parameter's style and explode: "5" becomes the number 5 for an integer
// schema, "a,b" a two-item array for an array schema in style simple or
// non-exploded form, a `content: application/json` parameter is decoded as
// JSON. A string that does not parse as the declared type stays a string,
// so that Schema.Validate reports the type mismatch. Several values for a
// parameter that is not an array are returned as an array of strings (the
// schema then refuses them: parameter pollution).
func (p *Parameter) Decode(values []string) any {
	if len(values) == 0 {
		return nil
	}
	var raw map[string]any
	if p.Schema != nil {
		raw = p.Schema.Raw
	}
	if p.ContentType != "" && strings.Contains(p.ContentType, "json") {
		if len(values) != 1 {
			return stringsToAny(values)
		}
		dec := json.NewDecoder(strings.NewReader(values[0]))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil || dec.More() {
			return values[0]
		}
		return v
	}
	types := SchemaTypes(raw)
	if hasType(types, "array") {
		var parts []string
		sep := ","
		switch p.Style {
		case "spaceDelimited":
			sep = " "
		case "pipeDelimited":
			sep = "|"
		}
		if p.In == "query" && p.Explode && (p.Style == "form" || p.Style == "") {
			parts = values
		} else {
			for _, v := range values {
				if v == "" {
					continue
				}
				parts = append(parts, strings.Split(v, sep)...)
			}
		}
		items := ItemsSchema(raw)
		out := make([]any, len(parts))
		for i, s := range parts {
			out[i] = Coerce(s, items)
		}
		return out
	}
	if len(values) > 1 {
		return stringsToAny(values)
	}
	if hasType(types, "object") && (p.Style == "simple" || p.Style == "form" && !p.Explode) {
		// "k1,v1,k2,v2" (or "k1=v1,k2=v2" exploded in style simple).
		obj := map[string]any{}
		parts := strings.Split(values[0], ",")
		if p.Explode {
			for _, kv := range parts {
				k, v, _ := strings.Cut(kv, "=")
				sub, _ := PropertySchema(raw, k)
				obj[k] = Coerce(v, sub)
			}
			return obj
		}
		if len(parts)%2 != 0 {
			return values[0]
		}
		for i := 0; i+1 < len(parts); i += 2 {
			sub, _ := PropertySchema(raw, parts[i])
			obj[parts[i]] = Coerce(parts[i+1], sub)
		}
		return obj
	}
	return Coerce(values[0], raw)
}

func stringsToAny(values []string) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}

func hasType(types []string, t string) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// Coerce converts one textual value (from a query string, path segment,
// header or form field) to the JSON type a raw schema declares: a
// json.Number for integer and number, a bool for boolean, nil for "" when
// the schema allows null and not string, and the string itself otherwise (a
// string that is not a valid number stays a string so that validation
// reports "must be integer").
func Coerce(s string, raw map[string]any) any {
	types := SchemaTypes(raw)
	if len(types) == 0 {
		return s
	}
	for _, t := range types {
		switch t {
		case "integer":
			if isInteger(s) {
				return json.Number(s)
			}
		case "number":
			if isNumber(s) {
				return json.Number(s)
			}
		case "boolean":
			if s == "true" {
				return true
			}
			if s == "false" {
				return false
			}
		case "string":
			return s
		}
	}
	if s == "" && hasType(types, "null") {
		return nil
	}
	return s
}

func isInteger(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[0] == '-' {
		i = 1
	}
	if i == len(s) || len(s)-i > 40 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isNumber accepts JSON number syntax.
func isNumber(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	i := 0
	if s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start || s[start] == '0' && i-start > 1 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}
