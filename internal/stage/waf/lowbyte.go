package waf

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3"
)

// The CRS reads a value's characters beyond Latin-1 through two
// transformations (utf8toUnicode, then urlDecodeUni, on 942100, the XSS
// rules 941100-941300, the traversal rules and 933200): each becomes a %u
// escape, and each escape one byte. A character with an ASCII look-alike
// gets that look-alike (fullwidth ＜ is '<', ʼ is '\''): the attack it is
// there for, a decoder downstream that folds it to ASCII. Every other
// character gets the low byte of its code point, which is what no decoder
// of UTF-8 text does, and which makes other scripts' words syntax: 是 is
// '/', 一 a NUL, 个 '*', so 是一个 is a SQL comment; Cyrillic м and о are
// '<' and '>', Devanagari न and ऩ '(' and ')'. Text with any markup in it
// is not prose, so it went to the CRS as it is, and a Hindi sentence in a
// <p> was SQL injection.
//
// lowByteNeutral gives the CRS such a value with each character that the
// low-byte reading would turn into a byte replaced by one of the same
// length in UTF-8 whose reading is a letter, so every other reading of
// the value (its length, its words, its markup, its ASCII) is as it was,
// and the look-alikes are kept. The table of which characters have a
// look-alike is Coraza's own, read from Coraza once (lowByteReadings).
// The stage's own detectors and libinjection still read the value as
// sent; custom rules (feedAll) get it as sent too, since they may name
// such characters.

// lowByteTable says which characters from U+0100 to U+FFFF the CRS reads
// as their low byte (set), and holds the replacements.
type lowByteTable struct {
	low [0x10000 / 64]uint64
	// r2, r3 and r4 are a two-, a three- and a four-byte character read
	// as the letter x (r4: as a letter and a hex digit).
	r2, r3, r4 rune
}

func (t *lowByteTable) lowByte(c rune) bool {
	return c >= 0x100 && c < 0x10000 && t.low[c/64]&(1<<(c%64)) != 0
}

// lowByteReadings is Coraza's reading of every character from U+0100 to
// U+FFFF (surrogates aside), as one transaction's ARGS through
// t:utf8toUnicode,t:urlDecodeUni: one byte per character. Nil when the
// reading is not that shape (a Coraza that reads these otherwise): values
// then go to the CRS as sent.
var lowByteReadings = sync.OnceValue(readLowBytes)

func readLowBytes() *lowByteTable {
	var b strings.Builder
	n := 0
	for c := rune(0x100); c < 0x10000; c++ {
		if c >= 0xD800 && c <= 0xDFFF {
			continue
		}
		b.WriteRune(c)
		n++
	}
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(
		`SecRuleEngine On
SecArgumentsLimit 10
SecRule ARGS:v "@rx ^" "id:1,phase:1,pass,log,t:none,t:utf8toUnicode,t:urlDecodeUni"`))
	if err != nil {
		return nil
	}
	tx := w.NewTransaction()
	defer tx.Close()
	tx.AddGetRequestArgument("v", b.String())
	tx.ProcessRequestHeaders()
	var read string
	for _, mr := range tx.MatchedRules() {
		for _, md := range mr.MatchedDatas() {
			read = md.Value()
		}
	}
	if len(read) != n {
		return nil
	}
	t := &lowByteTable{}
	i := 0
	for c := rune(0x100); c < 0x10000; c++ {
		if c >= 0xD800 && c <= 0xDFFF {
			continue
		}
		if read[i] == byte(c) {
			t.low[c/64] |= 1 << (c % 64)
			switch {
			case t.r2 == 0 && c >= 0x400 && c < 0x800 && byte(c) == 'x':
				t.r2 = c
			case t.r3 == 0 && c >= 0x4E00 && byte(c) == 'x':
				t.r3 = c
			}
		}
		i++
	}
	// A character above U+FFFF is "%u" and five or six hex digits, of
	// which urlDecodeUni reads four: U+20780 (CJK Extension B) is read as
	// U+2078's byte and '0'.
	for c := rune(0x20000); c <= 0x2A6DF && t.r4 == 0; c++ {
		if t.lowByte(c>>4) && asciiLetter(byte(c>>4)) {
			t.r4 = c
		}
	}
	if t.r2 == 0 || t.r3 == 0 || t.r4 == 0 {
		return nil
	}
	return t
}

// lowByteNeutral returns v with every character the CRS would read as its
// low byte (see lowByteTable) replaced by a character read as the letter
// x, of the same UTF-8 length. Characters above U+FFFF are read as the
// low byte of their code point without its last hex digit, then that
// digit ("%u1f600": 😀 is '`' and '0'): they get a four-byte character
// read as a letter and a digit. v itself when it has none.
func lowByteNeutral(v string) string {
	first := 0
	for first < len(v) && v[first] < 0xC4 {
		first++ // nothing below U+0100 is replaced (0xC4 leads U+0100)
	}
	if first == len(v) {
		return v
	}
	t := lowByteReadings()
	if t == nil {
		return v
	}
	var b []byte
	i := 0 // v[:i] is in b
	for j := first; j < len(v); {
		if v[j] < 0xC4 {
			j++
			continue
		}
		c, n := utf8.DecodeRuneInString(v[j:])
		if c == utf8.RuneError && n == 1 {
			j++ // not UTF-8: Coraza's reading of it is its own
			continue
		}
		var r rune
		switch {
		case n == 4 && (c < 0x100000 && t.lowByte(c>>4) || c >= 0x100000 && t.lowByte(c>>8)):
			r = t.r4
		case n < 4 && t.lowByte(c):
			r = t.r2
			if n == 3 {
				r = t.r3
			}
		}
		if r != 0 {
			if b == nil {
				b = make([]byte, 0, len(v))
			}
			b = append(b, v[i:j]...)
			b = utf8.AppendRune(b, r)
			i = j + n
		}
		j += n
	}
	if b == nil {
		return v
	}
	return string(append(b, v[i:]...))
}
