package limits

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonProblem is what scanJSON found wrong with a document.
type jsonProblem uint8

const (
	jsonOK            jsonProblem = iota
	jsonMalformed                 // not RFC 8259 JSON, or invalid UTF-8
	jsonTooDeep                   // nesting deeper than the limit
	jsonTooMany                   // more values than the limit
	jsonDuplicate                 // one object has the same key twice
	jsonCaseDuplicate             // one object has two keys equal but for case
)

// jsonResult is the outcome of scanJSON.
type jsonResult struct {
	problem jsonProblem
	// offset is the byte offset of the problem: the bad byte, or the start
	// of the value that went over a limit.
	offset int
	// depth is the deepest nesting seen and elements the number of values
	// seen, up to the point where the scan stopped.
	depth, elements int
	// value is, for a duplicate key, the offset of its value (for the
	// pointer: jsonPointerAt(b, value) ends with the key).
	value int
}

// scanJSON checks that b is one JSON value (RFC 8259: surrounding
// whitespace allowed, strings valid UTF-8) and measures its nesting depth and
// number of values (objects, arrays and scalars; keys are not values). It
// stops at the first problem. maxDepth or maxElements of zero or less means
// no limit.
//
// It is a single pass that never recurses: the open containers are kept in
// a bit stack (one bit per level, object or array), so a megabyte of "[[[["
// costs 16KiB at most and cannot exhaust the goroutine stack. Documents up
// to 512 levels deep do not allocate at all.
//
// It also refuses an object that has the same key twice (jsonDuplicate,
// keys compared after unescaping) or two keys equal under Unicode case
// folding (jsonCaseDuplicate, the way Go's encoding/json matches struct
// fields), with the offset of the second key. See keySet.
func scanJSON(b []byte, maxDepth, maxElements int) jsonResult {
	var small [8]uint64
	stack := small[:]
	depth, elements, deepest := 0, 0, 0
	var (
		keyArr [32]keyRef
		lvlArr [16]int
	)
	keys := keySet{refs: keyArr[:0], levels: lvlArr[:0]}
	fail := func(p jsonProblem, off int) jsonResult {
		return jsonResult{problem: p, offset: off, depth: deepest, elements: elements}
	}
	i := skipWS(b, 0)
value:
	for {
		// A value starts at i.
		if i >= len(b) {
			return fail(jsonMalformed, i)
		}
		elements++
		if maxElements > 0 && elements > maxElements {
			return fail(jsonTooMany, i)
		}
		switch c := b[i]; c {
		case '{', '[':
			depth++
			if maxDepth > 0 && depth > maxDepth {
				return fail(jsonTooDeep, i)
			}
			deepest = max(deepest, depth)
			w, bit := (depth-1)>>6, uint64(1)<<((depth-1)&63)
			if w >= len(stack) {
				stack = append(stack, 0)
			}
			if c == '{' {
				stack[w] |= bit
			} else {
				stack[w] &^= bit
			}
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == c+2 { // '{'+2 == '}', '['+2 == ']'
				depth--
				i++
				break // to "after a value"
			}
			if c == '{' {
				keys = keys.open()
				ks := i
				var ok bool
				if i, ok = scanKey(b, i); !ok {
					return fail(jsonMalformed, i)
				}
				var v keyVerdict
				if keys, v = keys.add(b, ks); v != keyNew {
					return jsonResult{problem: v.problem(), offset: ks, value: i, depth: deepest, elements: elements}
				}
			}
			continue value
		case '"':
			var ok bool
			if i, ok = scanString(b, i); !ok {
				return fail(jsonMalformed, i)
			}
		case 't':
			if !hasLiteral(b, i, "true") {
				return fail(jsonMalformed, i)
			}
			i += 4
		case 'f':
			if !hasLiteral(b, i, "false") {
				return fail(jsonMalformed, i)
			}
			i += 5
		case 'n':
			if !hasLiteral(b, i, "null") {
				return fail(jsonMalformed, i)
			}
			i += 4
		default:
			var ok bool
			if i, ok = scanNumber(b, i); !ok {
				return fail(jsonMalformed, i)
			}
		}
		// After a value: close containers, or find the next value.
		for {
			i = skipWS(b, i)
			if depth == 0 {
				if i != len(b) {
					return fail(jsonMalformed, i)
				}
				return jsonResult{depth: deepest, elements: elements}
			}
			if i >= len(b) {
				return fail(jsonMalformed, i)
			}
			inObject := stack[(depth-1)>>6]&(uint64(1)<<((depth-1)&63)) != 0
			switch c := b[i]; {
			case c == ',':
				i = skipWS(b, i+1)
				if inObject {
					ks := i
					var ok bool
					if i, ok = scanKey(b, i); !ok {
						return fail(jsonMalformed, i)
					}
					var v keyVerdict
					if keys, v = keys.add(b, ks); v != keyNew {
						return jsonResult{problem: v.problem(), offset: ks, value: i, depth: deepest, elements: elements}
					}
				}
				continue value
			case c == '}' && inObject, c == ']' && !inObject:
				if inObject {
					keys = keys.close()
				}
				depth--
				i++
			default:
				return fail(jsonMalformed, i)
			}
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// scanKey reads `"key" :` and the whitespace after it; i is at the key.
func scanKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := scanString(b, i)
	if !ok {
		return i, false
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipWS(b, i+1), true
}

// scanString reads a string starting at the quote at b[i] and returns the
// offset after the closing quote, or the offset of the bad byte.
func scanString(b []byte, i int) (int, bool) {
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= len(b) {
				return i + 1, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(b) || !isHex(b[i+k]) {
						return i + k, false
					}
				}
				i += 6
			default:
				return i + 1, false
			}
		case c < 0x20:
			return i, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return i, false
			}
			i += size
		}
	}
	return i, false
}

// scanNumber reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Pointer rendering limits: a location is for logs, so it stays short and
// carries only a bounded, printable excerpt of attacker-chosen keys.
const (
	maxPointerSegments = 16
	maxPointerKeyLen   = 32
)

// jsonPointerAt returns the JSON pointer ("/items/0/name") of the value that
// starts at offset off in b, where b[:off] was accepted by scanJSON. Deep
// pointers are cut after maxPointerSegments segments with "/…". It runs
// only when a denial is being built, so it may allocate.
func jsonPointerAt(b []byte, off int) string {
	type level struct {
		object  bool
		index   int
		key     string
		wantKey bool
	}
	var stack []level
	deep := 0 // levels beyond maxPointerSegments, not stored
	i := 0
	for i < off && i < len(b) {
		c := b[i]
		switch c {
		case '{', '[':
			if len(stack) < maxPointerSegments {
				stack = append(stack, level{object: c == '{', wantKey: c == '{'})
			} else {
				deep++
			}
			i++
		case '}', ']':
			if deep > 0 {
				deep--
			} else if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			i++
		case ',':
			if deep == 0 && len(stack) > 0 {
				top := &stack[len(stack)-1]
				if top.object {
					top.wantKey = true
				} else {
					top.index++
				}
			}
			i++
		case '"':
			end, _ := scanString(b, i)
			if deep == 0 && len(stack) > 0 && stack[len(stack)-1].wantKey {
				top := &stack[len(stack)-1]
				top.key = pointerKey(b[i+1 : max(i+1, end-1)])
				top.wantKey = false
			}
			i = end
		default:
			i++
		}
	}
	var sb strings.Builder
	for _, l := range stack {
		sb.WriteByte('/')
		if l.object {
			sb.WriteString(l.key)
		} else {
			sb.WriteString(strconv.Itoa(l.index))
		}
	}
	if deep > 0 {
		sb.WriteString("/…")
	}
	return sb.String()
}

// pointerKey renders a raw (still escaped) key as a pointer segment: "~" and
// "/" escaped per RFC 6901, anything outside printable ASCII replaced by
// "?", and cut at maxPointerKeyLen bytes.
func pointerKey(raw []byte) string {
	if bytes.IndexByte(raw, '\\') >= 0 {
		// Show the key as readers see it ("own\u0065r" is "owner").
		var s string
		if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) == nil {
			raw = []byte(s)
		}
	}
	var sb strings.Builder
	for n, c := range raw {
		if n == maxPointerKeyLen {
			sb.WriteString("…")
			break
		}
		switch {
		case c == '~':
			sb.WriteString("~0")
		case c == '/':
			sb.WriteString("~1")
		case c < 0x20 || c >= 0x7f || c == '"' || c == '\\':
			sb.WriteByte('?')
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
