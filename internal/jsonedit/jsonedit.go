// Package jsonedit walks a JSON document once and rewrites it on the way:
// members and array elements can be dropped and scalar values replaced,
// while everything else is copied byte for byte (key order, spacing and
// number spelling are kept). It is how the response stages filter
// undeclared properties (internal/stage/contract) and mask sensitive
// values (internal/stage/mask) without decoding the document into a tree
// and encoding it again. Filter is the walk those two stages share: the
// contract's shapes and the masking's gates applied in one pass, with no
// call per part for what nothing changes. (The generic walker with a
// visitor that came before it, Rewrite, is kept in the tests as the
// reference FuzzFilter holds Filter to.)
//
// Nothing is allocated for a document that is not changed: Filter.Run
// returns the input itself. The walk validates the document as it goes
// (RFC 8259 grammar, UTF-8 is not checked) and stops at a nesting depth
// limit, so that a hostile upstream cannot exhaust the stack.
package jsonedit

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the kind of a scalar value.
type Kind uint8

// The scalar kinds.
const (
	String Kind = iota
	Number
	Bool
	Null
)

// Action is what the visitor wants done with a member, an element or a
// value.
type Action uint8

const (
	// Keep leaves it as it is (and walks into it).
	Keep Action = iota
	// Drop removes a member (name and value) or an array element.
	Drop
	// Replace puts the returned bytes (a JSON value) in place of a scalar.
	Replace
	// Stop ends the walk at once; Filter.Run returns ErrStopped.
	Stop
)

// ErrStopped is returned when the walk was asked to stop.
var ErrStopped = errors.New("jsonedit: stopped by the visitor")

// SyntaxError is a malformed document: what was expected at which offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("jsonedit: offset %d: %s", e.Offset, e.Msg) }

// DefaultMaxDepth is the nesting limit when none is given.
const DefaultMaxDepth = 128

// scanner steps over JSON: the validating skips Filter uses for what it
// does not visit, and its errors.
type scanner struct {
	src []byte
	i   int
	max int
}

// errf is never inlined: a syntax error is rare, and its formatting
// inlined at each of the walker's checks made the hot functions too big
// for the compiler to inline their own small calls.
//
//go:noinline
func (w *scanner) errf(format string, a ...any) error {
	return &SyntaxError{Offset: w.i, Msg: fmt.Sprintf(format, a...)}
}

// skipWS returns the index of the first byte at or after i that is not
// JSON whitespace. Every whitespace byte is at most ' ': one comparison
// returns for compact JSON.
func skipWS(src []byte, i int) int {
	if i >= len(src) || src[i] > ' ' {
		return i
	}
	for i < len(src) && (src[i] == ' ' || src[i] == '\n' || src[i] == '\t' || src[i] == '\r') {
		i++
	}
	return i
}

func (w *scanner) ws() {
	src, i := w.src, w.i
	// Every whitespace byte is at most ' ': one comparison ends the call
	// for compact JSON, where it is made at each name, colon and value.
	if i >= len(src) || src[i] > ' ' {
		return
	}
	for i < len(src) && (src[i] == ' ' || src[i] == '\n' || src[i] == '\t' || src[i] == '\r') {
		i++
	}
	w.i = i
}

// skipValue validates and steps over a value without visiting it.
func (w *scanner) skipValue(depth int) error {
	if w.i >= len(w.src) {
		return w.errf("unexpected end, expected a value")
	}
	switch c := w.src[w.i]; {
	case c == '{' || c == '[':
		if depth+1 > w.max {
			return w.errf("nested deeper than %d", w.max)
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		w.i++
		w.ws()
		if w.i < len(w.src) && w.src[w.i] == closer {
			w.i++
			return nil
		}
		for {
			if c == '{' {
				if w.i >= len(w.src) || w.src[w.i] != '"' {
					return w.errf("expected a member name")
				}
				if err := w.str(); err != nil {
					return err
				}
				w.ws()
				if w.i >= len(w.src) || w.src[w.i] != ':' {
					return w.errf("expected ':' after a member name")
				}
				w.i++
				w.ws()
			}
			if err := w.skipValue(depth + 1); err != nil {
				return err
			}
			w.ws()
			if w.i >= len(w.src) {
				return w.errf("unexpected end")
			}
			if w.src[w.i] == closer {
				w.i++
				return nil
			}
			if w.src[w.i] != ',' {
				return w.errf("expected ',' or %q", closer)
			}
			w.i++
			w.ws()
		}
	case c == '"':
		return w.str()
	case c == '-' || c >= '0' && c <= '9':
		return w.number()
	case c == 't':
		return w.skipLiteral("true")
	case c == 'f':
		return w.skipLiteral("false")
	case c == 'n':
		return w.skipLiteral("null")
	}
	return w.errf("unexpected %q, expected a value", w.src[w.i])
}

func (w *scanner) skipLiteral(lit string) error {
	if len(w.src)-w.i < len(lit) || string(w.src[w.i:w.i+len(lit)]) != lit {
		return w.errf("expected %s", lit)
	}
	w.i += len(lit)
	return nil
}

func (w *scanner) str() error {
	_, err := w.strEsc()
	return err
}

// strEsc steps over a string (w.i at its opening quote) and reports
// whether it has escapes.
func (w *scanner) strEsc() (bool, error) {
	end, escaped := ScanString(w.src, w.i)
	if end < 0 {
		return false, w.strErr(end)
	}
	w.i = end
	return escaped, nil
}

// String errors, as scanString returns them: -(offset+1)*8 - code.
const (
	errStrEnd = 1 + iota
	errStrU
	errStrEscape
	errStrControl
)

// strErr turns what scanString returned for a bad string into the
// walker's error, at the offending offset.
//
//go:noinline
func (w *scanner) strErr(end int) error {
	code, off := (-end)%8, (-end)/8-1
	w.i = off
	switch code {
	case errStrU:
		return w.errf("bad \\u escape")
	case errStrEscape:
		return w.errf("bad escape \\%c", w.src[off+1])
	case errStrControl:
		return w.errf("control character in a string")
	}
	return w.errf("unexpected end in a string")
}

// ScanString steps over the JSON string that opens at src[i] (its
// quote) and returns the index after its closing quote and whether it has
// escapes, or a negative number for a bad string (a control byte, a bad
// escape, no end; strErr reads which). AppendUnquoted decodes what it
// accepts. A function of its
// arguments alone: its loop, the walker's hottest, keeps everything in
// registers.
func ScanString(src []byte, i int) (int, bool) {
	i++
	escaped := false
	for {
		// Eight bytes at a time, and the first special byte of a word is
		// found from its mask without a byte loop: member names and most
		// values are shorter than eight bytes, and a document goes on
		// after each of them, so nearly every string ends in this loop.
		for i+8 <= len(src) {
			if m := special8(load64(src[i : i+8])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
			i += 8
		}
		for i < len(src) && !strSpecial[src[i]] { // the document's last bytes
			i++
		}
	special:
		if i >= len(src) {
			return -(i+1)*8 - errStrEnd, false
		}
		switch src[i] {
		case '"':
			return i + 1, escaped
		case '\\':
			escaped = true
			if i+1 >= len(src) {
				return -(i+1)*8 - errStrEnd, false
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(src)-i < 6 || !isHex(src[i+2]) || !isHex(src[i+3]) || !isHex(src[i+4]) || !isHex(src[i+5]) {
					return -(i+1)*8 - errStrU, false
				}
				i += 6
			default:
				return -(i+1)*8 - errStrEscape, false
			}
		default:
			return -(i+1)*8 - errStrControl, false
		}
	}
}

// load64 reads eight bytes, the lowest first (one load: the compiler
// combines the shifts; encoding/binary's call was not inlined here).
func load64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// special8 returns a mask with the high bit of each of the eight bytes
// of x (little endian: the lowest first) that may be a quote, a backslash
// or a control character (below 0x20), with the SWAR tests "has a zero
// byte" (on x^quotes and x^backslashes) and "has a byte below 0x20" (on
// x). The mask is zero exactly when there is none, and its lowest set bit
// is always a real one: a false bit can only come from a borrow out of a
// real hit below it.
func special8(x uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((q-ones)&^q | (b-ones)&^b | (x-ones*0x20)&^x) & highs
}

// strSpecial are the bytes that end the fast scan of a string.
var strSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func (w *scanner) number() error {
	end := ScanNumber(w.src, w.i)
	if end < 0 {
		w.i = -end - 1
		return w.errf("bad number")
	}
	w.i = end
	return nil
}

// ScanNumber steps over the JSON number literal at s[i] (RFC 8259's
// grammar) and returns the index after it, or -(offset+1) of the byte
// that makes it bad.
func ScanNumber(s []byte, i int) int {
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return -i - 1
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return -i - 1
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return -i - 1
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i
}

// AppendUnquoted appends the decoded content of a JSON string (raw is what
// is between the quotes, already validated) to dst. Lone surrogates become
// U+FFFD, as encoding/json decodes them.
func AppendUnquoted(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(raw[i+1:]))
			i += 4
			if utf16.IsSurrogate(r) {
				// A pair is written as two escapes: \ud83d\ude00.
				if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2 := rune(hex4(raw[i+3:]))
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						i += 6
						dst = utf8.AppendRune(dst, d)
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
	}
	return dst
}

func hex4(b []byte) int {
	v := 0
	for _, c := range b[:4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c-'a') + 10
		default:
			v |= int(c-'A') + 10
		}
	}
	return v
}

// AppendQuoted appends s as a JSON string (with its quotes) to dst,
// escaping what JSON requires and <, >, & as encoding/json does (so a
// rewritten value is safe inside HTML too).
func AppendQuoted(dst []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			dst = append(dst, '\\', 'u', '2', '0', '2', hexd[r&15])
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// Pointer tracks the JSON pointer of the value a visitor is at, at no cost
// per member: a visitor sets the token of each depth as it goes (the name
// Member got, kept as is) and builds the pointer only when it reports
// something.
type Pointer struct {
	toks []ptok
	buf  [8]ptok // toks' first backing array: no allocation for shallow documents
}

type ptok struct {
	name  []byte
	index int
}

func (p *Pointer) set(d int, t ptok) {
	if d < len(p.toks) {
		// The common case, a sibling or a parent's next member: the slot
		// exists, so it is overwritten and the rest cut, without append.
		p.toks[d] = t
		p.toks = p.toks[:d+1]
		return
	}
	if p.toks == nil {
		p.toks = p.buf[:0]
	}
	for len(p.toks) < d {
		p.toks = append(p.toks, ptok{})
	}
	p.toks = append(p.toks, t)
}

// Name sets the token at depth d (0 for the root's members) to a member
// name as Member got it.
func (p *Pointer) Name(d int, name []byte) { p.set(d, ptok{name: name}) }

// Index sets the token at depth d to an array index.
func (p *Pointer) Index(d, i int) { p.set(d, ptok{index: i}) }

// String returns the pointer down to depth d, escaped as RFC 6901
// requires.
func (p *Pointer) String(d int) string {
	if d < 0 || d >= len(p.toks) {
		return ""
	}
	return string(p.Append(nil, d))
}

// Append appends the pointer down to depth d (String) to b: a visitor
// that reports several pointers keeps them in one buffer.
func (p *Pointer) Append(b []byte, d int) []byte {
	if d < 0 || d >= len(p.toks) {
		return b
	}
	for _, t := range p.toks[:d+1] {
		b = append(b, '/')
		if t.name == nil {
			b = strconv.AppendInt(b, int64(t.index), 10)
			continue
		}
		for _, c := range t.name {
			switch c {
			case '~':
				b = append(b, '~', '0')
			case '/':
				b = append(b, '~', '1')
			default:
				b = append(b, c)
			}
		}
	}
	return b
}
