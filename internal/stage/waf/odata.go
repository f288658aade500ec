package waf

import "strings"

// OData (issue 17's realistic API traffic). OData services (Microsoft
// Graph, SharePoint, Dynamics, SAP) take their queries as system query
// options in the query string: "$filter=Price gt 5 and contains(Name,'x')",
// "$orderby=Name desc", "$top=10". To the CRS, "$filter", "$top",
// "$count", "$expand" and "$orderby" are MongoDB operators (942290, which
// reads "$orderby" as "$or"), and "contains(Name,'East') or ..." reads as
// XPath to the stage's own detector. The option names are fixed by the
// protocol (OData v4.01 Part 2 §5), not chosen by the client, and top-level
// query parameters named so are no operator a MongoDB query takes at its
// top level ($where, $expr, $or, $and, $nor, $text, $comment). So an
// option's name is not inspected as a name, and a value that is one OData
// expression (identifiers, numbers, dates, operators, functions, paths and
// punctuation of the grammar) is inspected as its string literals; one
// with anything else (a quote left open, "--", '#', '<', a SQL statement
// word) is inspected whole, as are the server's opaque $skiptoken and
// $deltatoken. Path segments the protocol reserves ("$count", "$ref",
// "$filter(@f)", "$crossjoin(Products,Sales)") are read the same way.

// odataOptions are the system query options of OData v4.01 (Part 2 §5),
// lower case, without the '$'.
var odataOptions = map[string]bool{
	"filter": true, "select": true, "expand": true, "orderby": true,
	"top": true, "skip": true, "count": true, "search": true,
	"format": true, "compute": true, "apply": true, "index": true,
	"levels": true, "schemaversion": true, "skiptoken": true,
	"deltatoken": true, "id": true,
}

// odataOption reports whether name is a system query option ("$filter";
// OData 4.01 reads the names case-insensitively) and returns it without
// the '$'.
func odataOption(name string) (string, bool) {
	if len(name) < 3 || name[0] != '$' || len(name) > len("$schemaversion") {
		return "", false
	}
	n := strings.ToLower(name[1:])
	return n, odataOptions[n]
}

// odataExprOption reports whether the option's value is an expression of
// the grammar (see odataStrings; $search's terms, phrases, AND, OR, NOT
// and parentheses are tokens of it too); the tokens and $id are opaque.
func odataExprOption(opt string) bool {
	switch opt {
	case "skiptoken", "deltatoken", "id":
		return false
	}
	return true
}

// odataSQLWords are SQL statement words no OData expression uses: a value
// naming one is inspected whole.
var odataSQLWords = map[string]bool{
	"union": true, "select": true, "insert": true, "update": true,
	"delete": true, "drop": true, "truncate": true, "alter": true,
	"create": true, "exec": true, "execute": true, "declare": true,
	"sleep": true, "benchmark": true, "waitfor": true, "pg_sleep": true,
	"information_schema": true, "xp_cmdshell": true, "having": true,
	"like": true, "where": true, "into": true, "script": true,
	"javascript": true,
}

// odataStrings returns the string literals of v ('…' with ” for a quote,
// and the "…" strings of JSON arrays and objects the grammar allows) when v
// is made only of OData expression tokens; ok is false otherwise.
func odataStrings(v string) (lits []string, ok bool) {
	lits = []string{}
	depth := 0
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				k := strings.IndexByte(v[j:], '\'')
				if k < 0 {
					return nil, false
				}
				b.WriteString(v[j : j+k])
				j += k + 1
				if j < len(v) && v[j] == '\'' {
					b.WriteByte('\'')
					j++
					continue
				}
				break
			}
			lits = append(lits, b.String())
			i = j
		case c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(v) && v[j] != '"' {
				if v[j] == '\\' && j+1 < len(v) {
					j++
				}
				b.WriteByte(v[j])
				j++
			}
			if j >= len(v) {
				return nil, false
			}
			lits = append(lits, b.String())
			i = j + 1
		case c == '$' || c == '@' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(v) && (gqlNameByte(v[j]) || v[j] == '.' || v[j] == '*' || v[j] == '#' && c == '@') {
				j++ // '#' qualifies an annotation: @Core.Description#Short
			}
			if odataSQLWords[strings.ToLower(v[i:j])] {
				return nil, false
			}
			i = j
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(v) && v[i+1] >= '0' && v[i+1] <= '9':
			// Numbers, dates, times, durations' parts and GUIDs.
			j := i + 1
			for j < len(v) && (gqlNameByte(v[j]) || v[j] == ':' || v[j] == '.' || v[j] == '+' || v[j] == '-' && (j+1 >= len(v) || v[j+1] != '-')) {
				j++
			}
			i = j
		case c == '(' || c == '[' || c == '{':
			depth++
			i++
		case c == ')' || c == ']' || c == '}':
			if depth--; depth < 0 {
				return nil, false
			}
			i++
		case c == ',' || c == '/' || c == ':' || c == ';' || c == '=' || c == '*':
			if c == '/' && i+1 < len(v) && (v[i+1] == '/' || v[i+1] == '*' && strings.Contains(v[i+2:], "*/")) {
				return nil, false // a comment, not a path or "Address/*"
			}
			i++
		default:
			return nil, false
		}
	}
	if depth != 0 {
		return nil, false
	}
	return lits, true
}

// odataSegments are the path segments OData reserves (Part 2 §4).
var odataSegments = map[string]bool{
	"$all": true, "$batch": true, "$count": true, "$crossjoin": true,
	"$each": true, "$entity": true, "$filter": true, "$metadata": true,
	"$query": true, "$ref": true, "$value": true, "$root": true,
}

// odataSegment returns the literals of a path segment that starts with a
// reserved name ("$filter(@foo)", "$crossjoin(A,B)", "$count") and is
// made of OData expression tokens; ok is false for any other segment.
func odataSegment(seg string) ([]string, bool) {
	if len(seg) < 4 || seg[0] != '$' {
		return nil, false
	}
	n := len(seg)
	if i := strings.IndexByte(seg, '('); i > 0 {
		n = i
	}
	if !odataSegments[strings.ToLower(seg[:n])] {
		return nil, false
	}
	return odataStrings(seg)
}
