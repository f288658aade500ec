// Package jsonedit walks a JSON document once and rewrites it on the way:
// members and array elements can be dropped and scalar values replaced,
// while everything else is copied byte for byte (key order, spacing and
// number spelling are kept). It is how the response stages filter
// undeclared properties (internal/stage/contract) and mask sensitive
// values (internal/stage/mask) without decoding the document into a tree
// and encoding it again.
//
// Nothing is allocated for a document that is not changed: Rewrite
// returns the input itself. The walker validates the document as it goes
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
	// Stop ends the walk at once; Rewrite returns ErrStopped.
	Stop
)

// Visitor decides, for each part of the document, what to keep. C is the
// context a container passes to its children (a schema, a path, a field
// rule); the root gets the context given to Rewrite.
type Visitor[C any] interface {
	// Member is called for each member of an object with its decoded name
	// (valid until Rewrite returns; it must not be changed). It returns the context of the
	// member's value and Keep, Drop or Stop.
	Member(parent C, name []byte) (C, Action)
	// Element is called for each element of an array.
	Element(parent C, index int) (C, Action)
	// Scalar is called for each string, number, boolean and null. raw is
	// the value as written (a string with its quotes). It returns Keep,
	// Stop, Replace with the new value's JSON text, or Drop to remove the
	// member or element holding the value (a scalar at the root becomes
	// null).
	Scalar(ctx C, kind Kind, raw []byte) ([]byte, Action)
}

// ErrStopped is returned by Rewrite when the visitor asked to stop.
var ErrStopped = errors.New("jsonedit: stopped by the visitor")

// SyntaxError is a malformed document: what was expected at which offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("jsonedit: offset %d: %s", e.Offset, e.Msg) }

// DefaultMaxDepth is the nesting limit when Rewrite is given 0.
const DefaultMaxDepth = 128

// Rewrite walks src with v. It returns the rewritten document (appended
// to dst[:0]) and true when the visitor dropped or replaced anything, or
// src itself and false when nothing changed. A malformed document, one
// nested deeper than maxDepth (0: DefaultMaxDepth) or a Stop returns an
// error.
func Rewrite[C any](src []byte, root C, v Visitor[C], dst []byte, maxDepth int) ([]byte, bool, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	w := &walker[C]{src: src, v: v, max: maxDepth}
	if dst != nil {
		w.out = dst[:0]
	}
	w.ws()
	start := w.i
	dropped, err := w.value(root, 0)
	if err != nil {
		return nil, false, err
	}
	if dropped { // a scalar at the root has no holder to drop: it becomes null
		w.changed = true
		w.emit(start)
		w.out = append(w.out, "null"...)
		w.last = w.i
	}
	w.ws()
	if w.i != len(src) {
		return nil, false, w.errf("data after the document")
	}
	if !w.changed {
		return src, false, nil
	}
	w.out = append(w.out, src[w.last:]...)
	return w.out, true, nil
}

type walker[C any] struct {
	src     []byte
	i       int
	v       Visitor[C]
	out     []byte
	last    int // src[last:] has not been copied to out yet
	skip    bool
	changed bool
	max     int
}

// errf is never inlined: a syntax error is rare, and its formatting
// inlined at each of the walker's checks made the hot functions too big
// for the compiler to inline their own small calls.
//
//go:noinline
func (w *walker[C]) errf(format string, a ...any) error {
	return &SyntaxError{Offset: w.i, Msg: fmt.Sprintf(format, a...)}
}

// emit copies the source up to pos into the output.
func (w *walker[C]) emit(pos int) {
	if w.out == nil {
		w.out = make([]byte, 0, len(w.src)) // the rewrite is rarely larger
	}
	w.out = append(w.out, w.src[w.last:pos]...)
	w.last = pos
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

func (w *walker[C]) ws() {
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

// value walks one value. It reports whether the visitor asked to drop
// the scalar it is (the caller drops the member or element).
func (w *walker[C]) value(ctx C, depth int) (bool, error) {
	if w.i >= len(w.src) {
		return false, w.errf("unexpected end, expected a value")
	}
	switch c := w.src[w.i]; {
	case c == '{':
		return false, w.object(ctx, depth+1)
	case c == '[':
		return false, w.array(ctx, depth+1)
	case c == '"':
		start := w.i
		if err := w.str(); err != nil {
			return false, err
		}
		return w.scalar(ctx, String, start)
	case c == '-' || c >= '0' && c <= '9':
		start := w.i
		if err := w.number(); err != nil {
			return false, err
		}
		return w.scalar(ctx, Number, start)
	case c == 't':
		return w.literal(ctx, "true", Bool)
	case c == 'f':
		return w.literal(ctx, "false", Bool)
	case c == 'n':
		return w.literal(ctx, "null", Null)
	}
	return false, w.errf("unexpected %q, expected a value", w.src[w.i])
}

func (w *walker[C]) literal(ctx C, lit string, k Kind) (bool, error) {
	start := w.i
	if len(w.src)-w.i < len(lit) || string(w.src[w.i:w.i+len(lit)]) != lit {
		return false, w.errf("expected %s", lit)
	}
	w.i += len(lit)
	return w.scalar(ctx, k, start)
}

func (w *walker[C]) scalar(ctx C, k Kind, start int) (bool, error) {
	repl, act := w.v.Scalar(ctx, k, w.src[start:w.i])
	switch act {
	case Stop:
		return false, ErrStopped
	case Drop:
		return true, nil
	case Replace:
		w.changed = true
		w.emit(start)
		w.out = append(w.out, repl...)
		w.last = w.i
	}
	return false, nil
}

func (w *walker[C]) object(ctx C, depth int) error {
	if depth > w.max {
		return w.errf("nested deeper than %d", w.max)
	}
	// The index lives in i between the visitor's calls (w.i is written
	// before each and read after): the loop does not reload it at every
	// check.
	src := w.src
	i := skipWS(src, w.i+1) // after the {
	if i < len(src) && src[i] == '}' {
		w.i = i + 1
		return nil
	}
	kept := false   // a member of this object has been written
	skipping := -1  // dropping a first member: where the output resumes is the next member
	prevComma := -1 // the comma before the current member
	for {
		if i >= len(src) || src[i] != '"' {
			w.i = i
			return w.errf("expected a member name")
		}
		mstart := i
		if skipping >= 0 {
			w.last = mstart // resume the copy at this member
			skipping = -1
		}
		end, escaped := ScanString(src, i)
		if end < 0 {
			return w.strErr(end)
		}
		name := src[mstart+1 : end-1]
		if escaped {
			name = AppendUnquoted(nil, name) // rare: a copy the visitor may keep
		}
		i = end
		if i >= len(src) || src[i] != ':' { // compact JSON: the colon follows the name
			i = skipWS(src, i)
			if i >= len(src) || src[i] != ':' {
				w.i = i
				return w.errf("expected ':' after a member name")
			}
		}
		i = skipWS(src, i+1)
		child, act := w.v.Member(ctx, name)
		var drop bool
		var err error
		switch {
		case act == Stop:
			return ErrStopped
		case act != Drop && i < len(src) && src[i] == '"':
			// A string, the most common value, walked here: one call
			// less per member.
			end, _ := ScanString(src, i)
			if end < 0 {
				return w.strErr(end)
			}
			w.i = end
			drop, err = w.scalar(child, String, i)
		default:
			w.i = i
			drop, err = w.entry(child, act, depth)
		}
		if err != nil {
			return err
		}
		if drop {
			skipping = w.drop(mstart, prevComma, kept)
		} else {
			kept = true
		}
		i = skipWS(src, w.i)
		if i >= len(src) {
			w.i = i
			return w.errf("unexpected end in an object")
		}
		switch src[i] {
		case ',':
			prevComma = i
			i = skipWS(src, i+1)
		case '}':
			if skipping >= 0 {
				w.last = i // every member so far was dropped
			}
			w.i = i + 1
			return nil
		default:
			w.i = i
			return w.errf("expected ',' or '}' in an object")
		}
	}
}

// entry walks the value of a member or element (or steps over it when
// the visitor said Drop) and reports whether it is to be left out. A
// string, the most common value, is walked here: one call less per
// member.
func (w *walker[C]) entry(child C, act Action, depth int) (bool, error) {
	switch {
	case act == Drop:
		return true, w.skipValue(depth)
	case w.i < len(w.src) && w.src[w.i] == '"':
		start := w.i
		end, _ := ScanString(w.src, start)
		if end < 0 {
			return false, w.strErr(end)
		}
		w.i = end
		return w.scalar(child, String, start)
	}
	return w.value(child, depth)
}

// drop leaves out the entry that started at start and ends at w.i.
// Nothing of it has been written yet: it goes with the comma before it,
// or for a first entry the output resumes at the next one (the position
// returned, the caller's skipping; -1 when the entry was not first).
func (w *walker[C]) drop(start, prevComma int, kept bool) int {
	w.changed = true
	skipping := -1
	if kept {
		w.emit(prevComma)
	} else {
		w.emit(start)
		skipping = start
	}
	w.last = w.i
	return skipping
}

func (w *walker[C]) array(ctx C, depth int) error {
	if depth > w.max {
		return w.errf("nested deeper than %d", w.max)
	}
	w.i++ // [
	w.ws()
	if w.i < len(w.src) && w.src[w.i] == ']' {
		w.i++
		return nil
	}
	kept, skipping, prevComma := false, -1, -1
	for index := 0; ; index++ {
		estart := w.i
		if skipping >= 0 {
			w.last = estart
			skipping = -1
		}
		child, act := w.v.Element(ctx, index)
		if act == Stop {
			return ErrStopped
		}
		drop, err := w.entry(child, act, depth)
		if err != nil {
			return err
		}
		if drop {
			skipping = w.drop(estart, prevComma, kept)
		} else {
			kept = true
		}
		src := w.src
		i := skipWS(src, w.i)
		if i >= len(src) {
			w.i = i
			return w.errf("unexpected end in an array")
		}
		switch src[i] {
		case ',':
			prevComma = i
			w.i = skipWS(src, i+1)
		case ']':
			if skipping >= 0 {
				w.last = i
			}
			w.i = i + 1
			return nil
		default:
			w.i = i
			return w.errf("expected ',' or ']' in an array")
		}
	}
}

// skipValue validates and steps over a value without visiting it.
func (w *walker[C]) skipValue(depth int) error {
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

func (w *walker[C]) skipLiteral(lit string) error {
	if len(w.src)-w.i < len(lit) || string(w.src[w.i:w.i+len(lit)]) != lit {
		return w.errf("expected %s", lit)
	}
	w.i += len(lit)
	return nil
}

func (w *walker[C]) str() error {
	_, err := w.strEsc()
	return err
}

// strEsc steps over a string (w.i at its opening quote) and reports
// whether it has escapes.
func (w *walker[C]) strEsc() (bool, error) {
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
func (w *walker[C]) strErr(end int) error {
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

func (w *walker[C]) number() error {
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
