package waf

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrJSON is wrapped by every error WalkJSON returns.
var ErrJSON = errors.New("invalid json")

// WalkJSON calls fn for every object key and every string value in data,
// in document order, with the JSON pointer (RFC 6901) of the member or
// element: for a key, the pointer of the member it names; for a string
// value, its own pointer. String contents are unescaped (\n, \uXXXX,
// surrogate pairs) before fn sees them. Numbers, booleans and null carry
// no text to inspect and are only checked for syntax.
//
// The walker is a single pass over the bytes with an explicit stack, not a
// recursive descent, so that nesting depth costs heap, never goroutine
// stack, and a hostile body cannot crash the process. It rejects what
// encoding/json rejects (trailing data, invalid UTF-8, control characters
// in strings, bad escapes) with an error wrapping ErrJSON. The ptr slice
// is only valid during the call.
func WalkJSON(data []byte, fn func(ptr []byte, s string, key bool)) error {
	w := jsonWalker{data: data, fn: fn}
	return w.run()
}

type jsonFrame struct {
	object bool
	index  int
	base   int // length of ptr before this container's member segment
}

type jsonWalker struct {
	data  []byte
	pos   int
	ptr   []byte
	stack []jsonFrame
	buf   []byte
	fn    func(ptr []byte, s string, key bool)
}

func (w *jsonWalker) errf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrJSON, fmt.Sprintf(format, args...), w.pos)
}

func (w *jsonWalker) ws() {
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

func (w *jsonWalker) run() error {
	w.ws()
	for {
		// Expect a value.
		if w.pos >= len(w.data) {
			return w.errf("unexpected end")
		}
		switch c := w.data[w.pos]; {
		case c == '{':
			w.pos++
			w.stack = append(w.stack, jsonFrame{object: true, base: len(w.ptr)})
			w.ws()
			if w.pos < len(w.data) && w.data[w.pos] == '}' {
				w.pos++
				w.stack = w.stack[:len(w.stack)-1]
				break
			}
			if err := w.key(); err != nil {
				return err
			}
			continue
		case c == '[':
			w.pos++
			w.stack = append(w.stack, jsonFrame{base: len(w.ptr)})
			w.ws()
			if w.pos < len(w.data) && w.data[w.pos] == ']' {
				w.pos++
				w.stack = w.stack[:len(w.stack)-1]
				break
			}
			w.ptr = append(w.ptr, "/0"...)
			continue
		case c == '"':
			s, err := w.str()
			if err != nil {
				return err
			}
			w.fn(w.ptr, s, false)
		case c == 't':
			if err := w.lit("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := w.lit("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := w.lit("null"); err != nil {
				return err
			}
		case c == '-' || c >= '0' && c <= '9':
			if err := w.num(); err != nil {
				return err
			}
		default:
			return w.errf("unexpected character %q", c)
		}
		// After a value: close containers or move to the next member.
		for {
			w.ws()
			if len(w.stack) == 0 {
				if w.pos != len(w.data) {
					return w.errf("data after the top-level value")
				}
				return nil
			}
			if w.pos >= len(w.data) {
				return w.errf("unexpected end")
			}
			top := &w.stack[len(w.stack)-1]
			c := w.data[w.pos]
			w.pos++
			switch {
			case c == ',' && top.object:
				w.ptr = w.ptr[:top.base]
				w.ws()
				if err := w.key(); err != nil {
					return err
				}
			case c == ',':
				top.index++
				w.ptr = append(w.ptr[:top.base], '/')
				w.ptr = strconv.AppendInt(w.ptr, int64(top.index), 10)
				w.ws()
			case c == '}' && top.object, c == ']' && !top.object:
				w.ptr = w.ptr[:top.base]
				w.stack = w.stack[:len(w.stack)-1]
				continue
			default:
				w.pos--
				return w.errf("unexpected character %q", c)
			}
			break
		}
	}
}

// key reads `"name" :` and extends the pointer with the escaped name.
func (w *jsonWalker) key() error {
	if w.pos >= len(w.data) || w.data[w.pos] != '"' {
		return w.errf("expected an object key")
	}
	k, err := w.str()
	if err != nil {
		return err
	}
	w.ptr = append(w.ptr, '/')
	for i := 0; i < len(k); i++ {
		switch k[i] {
		case '~':
			w.ptr = append(w.ptr, '~', '0')
		case '/':
			w.ptr = append(w.ptr, '~', '1')
		default:
			w.ptr = append(w.ptr, k[i])
		}
	}
	w.fn(w.ptr, k, true)
	w.ws()
	if w.pos >= len(w.data) || w.data[w.pos] != ':' {
		return w.errf("expected ':'")
	}
	w.pos++
	w.ws()
	return nil
}

func (w *jsonWalker) lit(s string) error {
	if len(w.data)-w.pos < len(s) || string(w.data[w.pos:w.pos+len(s)]) != s {
		return w.errf("invalid literal")
	}
	w.pos += len(s)
	return nil
}

func (w *jsonWalker) num() error {
	d := w.data
	i := w.pos
	if d[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(d) && d[i] == '0' {
		i++
	} else if digits() == 0 {
		return w.errf("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			return w.errf("invalid number")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			return w.errf("invalid number")
		}
	}
	w.pos = i
	return nil
}

// str reads a string starting at the opening quote and returns it
// unescaped.
func (w *jsonWalker) str() (string, error) {
	d := w.data
	start := w.pos + 1
	i := start
	// Fast path: no escapes, ASCII or valid UTF-8.
	for i < len(d) {
		c := d[i]
		if c == '"' {
			s := d[start:i]
			if !utf8.Valid(s) {
				return "", w.errf("invalid UTF-8 in a string")
			}
			w.pos = i + 1
			return string(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			w.pos = i
			return "", w.errf("control character in a string")
		}
		i++
	}
	w.buf = append(w.buf[:0], d[start:i]...)
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			if !utf8.Valid(w.buf) {
				return "", w.errf("invalid UTF-8 in a string")
			}
			w.pos = i + 1
			return string(w.buf), nil
		case c < 0x20:
			w.pos = i
			return "", w.errf("control character in a string")
		case c != '\\':
			w.buf = append(w.buf, c)
			i++
			continue
		}
		if i+1 >= len(d) {
			break
		}
		if c, ok := jsonEscape(d[i+1]); ok {
			w.buf = append(w.buf, c)
			i += 2
			continue
		}
		switch d[i+1] {
		case 'u':
			r, ok := hex4(d, i+2)
			if !ok {
				w.pos = i
				return "", w.errf("invalid \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(d, i+4); ok && i+3 < len(d) && d[i+2] == '\\' && d[i+3] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			w.buf = utf8.AppendRune(w.buf, r)
		default:
			w.pos = i
			return "", w.errf("invalid escape")
		}
		i += 2
	}
	w.pos = len(d)
	return "", w.errf("unterminated string")
}

// jsonEscape is the byte a one-character escape of a JSON string (and of
// a GraphQL string, whose escapes are JSON's) stands for: \" \\ \/ \b \f
// \n \r \t.
func jsonEscape(e byte) (byte, bool) {
	switch e {
	case '"', '\\', '/':
		return e, true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	}
	return 0, false
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		if !ishex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, true
}
