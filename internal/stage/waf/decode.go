package waf

import (
	"encoding/base64"
	"html"
	"strings"
	"unicode/utf8"
)

// Decoders are small, separate functions so that each can be fuzzed on its
// own. Each returns the decoded string and whether anything changed; none
// of them ever fails: an invalid escape is kept as it was, which is what a
// lenient upstream parser would also do.

// maxDecodeRounds bounds how many layers of encoding Variants peels off
// (double and triple URL encoding, URL inside HTML entities...). Each round
// only shrinks the string, so the bound is about cost, not termination;
// a round that changes nothing ends the loop, so ordinary values pay for
// one. Six: the CRLF lists already triple-encode ("%25250a"), and a
// client's own encoding and the place's come on top.
const maxDecodeRounds = 6

// URLDecode decodes %XX and IIS-style %uXXXX escapes. '+' is kept: query
// and form values arrive with '+' already turned into spaces by their
// parsers, and in other places '+' is a literal plus.
func URLDecode(s string) (string, bool) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	changed := false
	for ; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			changed = true
			continue
		}
		if i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') &&
			ishex(s[i+2]) && ishex(s[i+3]) && ishex(s[i+4]) && ishex(s[i+5]) {
			r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
			b.WriteRune(fullwidthToASCII(r))
			i += 5
			changed = true
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), changed
}

// HTMLDecode decodes HTML character references (&lt; &#60; &#x3c;).
func HTMLDecode(s string) (string, bool) {
	if strings.IndexByte(s, '&') < 0 {
		return s, false
	}
	d := html.UnescapeString(s)
	return d, d != s
}

// charRef is the length of the HTML character reference at s[i] (&lt;,
// &#39;, &#x3c;: a number or a name HTML knows, and the ';' that ends
// it), 0 where there is none.
func charRef(s string, i int) int {
	if i+3 >= len(s) || s[i] != '&' {
		return 0
	}
	j := i + 1
	if s[j] == '#' {
		j++
		hex := s[j] == 'x' || s[j] == 'X'
		if hex {
			j++
		}
		start := j
		for j < len(s) && j-start < 7 && (s[j] >= '0' && s[j] <= '9' || hex && ishex(s[j])) {
			j++
		}
		if j == start || j >= len(s) || s[j] != ';' {
			return 0
		}
		return j + 1 - i
	}
	for j < len(s) && j-i <= 32 && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || j > i+1 && s[j] >= '0' && s[j] <= '9') {
		j++
	}
	if j-i < 3 || j >= len(s) || s[j] != ';' {
		return 0
	}
	if ref := s[i : j+1]; html.UnescapeString(ref) == ref {
		return 0 // not a name HTML knows ("&copy;" is, "&foo;" is not)
	}
	return j + 1 - i
}

// refsAsText returns s with its HTML character references decoded, and
// whether it had any. Pages and APIs escape text this way ("it&#39;s",
// "&lt;nick&gt;"); read as written, a reference's '&', '#' and ';' are
// a background job, a MySQL comment and a command separator to the
// shell and SQL readers, and ordinary escaped prose was refused. Those
// readers read the text the references stand for instead, which is
// what a reference is (the decoded variant is that text too, so the
// readers lose nothing a reference can carry).
func refsAsText(s string) (string, bool) {
	for i := strings.IndexByte(s, '&'); i >= 0 && i < len(s); {
		if charRef(s, i) > 0 {
			return html.UnescapeString(s), true
		}
		k := strings.IndexByte(s[i+1:], '&')
		if k < 0 {
			break
		}
		i += 1 + k
	}
	return s, false
}

// UnescapeJS decodes \uXXXX, \u{X...}, \xXX, \r and \n escapes as JavaScript,
// JSON-in-a-string and many template engines read them.
func UnescapeJS(s string) (string, bool) {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	changed := false
	for ; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case 'u', 'U':
			if i+5 < len(s) && ishex(s[i+2]) && ishex(s[i+3]) && ishex(s[i+4]) && ishex(s[i+5]) {
				r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
				b.WriteRune(fullwidthToASCII(r))
				i += 5
				changed = true
				continue
			}
			if i+3 < len(s) && s[i+2] == '{' {
				j := i + 3
				var r rune
				for j < len(s) && j < i+3+6 && ishex(s[j]) {
					r = r<<4 | rune(unhex(s[j]))
					j++
				}
				if j < len(s) && s[j] == '}' && j > i+3 && r <= utf8.MaxRune {
					b.WriteRune(fullwidthToASCII(r))
					i = j
					changed = true
					continue
				}
			}
		case 'r':
			b.WriteByte('\r')
			i++
			changed = true
			continue
		case 'n':
			b.WriteByte('\n')
			i++
			changed = true
			continue
		case 'x', 'X':
			if i+3 < len(s) && ishex(s[i+2]) && ishex(s[i+3]) {
				b.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
				i += 3
				changed = true
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String(), changed
}

// Base64Text decodes s when it looks like base64 (standard or URL alphabet,
// padded or not) of mostly printable text: at least 8 characters, only the
// alphabet, and a decoding that is valid UTF-8 with at least 90% printable
// characters. Binary data and ordinary words stay as they are.
//
// A value whose '+' signs became spaces (base64 put into a query or form
// without escaping, then form-decoded) is read with the spaces as '+'
// again, when spaces are all that is not in the alphabet.
func Base64Text(s string) (string, bool) {
	if !base64Bytes(s) {
		return "", false // what no reading below can take for base64
	}
	if strings.IndexByte(s, ' ') > 0 && len(s) >= 16 {
		s = strings.ReplaceAll(strings.TrimRight(s, " "), " ", "+")
	}
	padded := strings.HasSuffix(s, "=")
	s = strings.TrimRight(s, "=")
	// Padding says base64 on its own; without it, short tokens ("Paris")
	// need more length before they are worth decoding.
	if len(s) < 8 && !(padded && len(s) >= 3) || len(s)%4 == 1 {
		return "", false
	}
	url, std := false, false
	hasDigitOrUpper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			hasDigitOrUpper = true
		case c == '+' || c == '/':
			std = true
		case c == '-' || c == '_':
			url = true
		default:
			return "", false
		}
	}
	if (url && std) || !hasDigitOrUpper {
		return "", false
	}
	enc := base64.RawStdEncoding
	if url {
		enc = base64.RawURLEncoding
	}
	d, err := enc.DecodeString(s)
	if err != nil || len(d) == 0 || !utf8.Valid(d) {
		return "", false
	}
	printable, total := 0, 0
	for _, r := range string(d) {
		total++
		if r >= 0x20 && r != 0x7f || r == '\t' || r == '\n' || r == '\r' {
			printable++
		}
	}
	if printable*10 < total*9 {
		return "", false
	}
	return string(d), true
}

// Decode peels layers of URL, HTML-entity and JavaScript escapes off s
// until nothing changes (at most maxDecodeRounds rounds) and returns the
// result and whether it differs from s.
func Decode(s string) (string, bool) {
	out := s
	for round := 0; round < maxDecodeRounds; round++ {
		changed := false
		var c bool
		if out, c = URLDecode(out); c {
			changed = true
		}
		if out, c = HTMLDecode(out); c {
			changed = true
		}
		if out, c = UnescapeJS(out); c {
			changed = true
		}
		if out, c = Overlong(out); c {
			changed = true
		}
		if !changed {
			break
		}
	}
	return out, out != s
}

// Variants appends to dst the decoded forms of s worth inspecting besides s
// itself: the fully decoded form, and the decoding of a base64 value
// (itself fully decoded, and decoded once more when it is base64 again).
// Detection is case-insensitive in every detector, so mixed case needs no
// variant of its own.
func Variants(dst []string, s string, base64Hint bool) []string {
	var d string
	var changed bool
	if strings.IndexByte(s, '%') >= 0 && strings.IndexByte(s, '+') >= 0 && !strings.Contains(s, "%20") {
		// Form-style percent-encoding ('+' for spaces, as url.QueryEscape
		// writes) in a place that does not decode it: the text it encodes
		// has the '+' as spaces. Keeping them as '+' would inspect a string
		// nobody reads, in which English reads as arithmetic to SQL
		// tokenizers.
		d = strings.ReplaceAll(s, "+", " ")
		d, _ = Decode(d)
		changed = d != s
	} else {
		d, changed = Decode(s)
	}
	if changed {
		dst = append(dst, d)
		// Form-style '+' that only appeared in a deeper layer (double
		// encoding): the spaces it stands for, too.
		if strings.IndexByte(s, '+') < 0 && strings.IndexByte(d, '+') >= 0 {
			dst = append(dst, strings.ReplaceAll(d, "+", " "))
		}
	}
	b, isB64 := Base64Text(d)
	if !isB64 && strings.IndexByte(s, '+') >= 0 && strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, ' ') < 0 {
		// '+' for spaces with nothing else encoded ("+ORDER+BY+9",
		// "sleep+5"): what an upstream that form-decodes the value reads.
		if p := strings.ReplaceAll(d, "+", " "); p != d {
			dst = append(dst, p)
		}
	}
	if ok := isB64; ok || base64Hint {
		if !ok {
			var err error
			var raw []byte
			if raw, err = base64.StdEncoding.DecodeString(d); err == nil && utf8.Valid(raw) {
				b, ok = string(raw), true
			}
		}
		if ok {
			// The decoding is a value of its own, read the way a value
			// is: form-style percent-encoding inside base64 ("%26%26dir+c:")
			// has its '+' as spaces too.
			if strings.IndexByte(b, '%') >= 0 && strings.IndexByte(b, '+') >= 0 && !strings.Contains(b, "%20") {
				b = strings.ReplaceAll(b, "+", " ")
			}
			if bd, _ := Decode(b); bd != "" {
				dst = append(dst, bd)
				// Base64 inside base64 (a value an application decodes
				// twice, or a base64 payload put into a base64 field):
				// one layer more, as URL encodings are peeled more than
				// once.
				if b2, ok := Base64Text(bd); ok {
					if bd2, _ := Decode(b2); bd2 != "" {
						dst = append(dst, bd2)
					}
				}
			}
		}
	}
	return dst
}

// overlongReplacer maps the overlong UTF-8 forms of '.', '/' and '\'
// (C0 AE, C0 AF, C1 9C and their three-byte forms, which old decoders
// accepted), the invalid C0 2F / C0 5C that some servers fold the same
// way, and the Unicode division slash and set minus (U+2215, U+2216) that
// some file APIs normalise to '/' and '\', to the ASCII character: the
// disguises of path traversal.
var overlongReplacer = strings.NewReplacer(
	"\xc0\xae", ".", "\xc0\xaf", "/", "\xc1\x9c", "\\", "\xc0\x2f", "/", "\xc0\x5c", "\\", "\xc0\x2e", ".",
	"\xe0\x80\xae", ".", "\xe0\x80\xaf", "/", "\xe0\x81\x9c", "\\",
	"\u2215", "/", "\u2216", "\\", "\u2044", "/", "\uff0f", "/", "\uff3c", "\\", "\uff0e", ".")

// Overlong decodes overlong and look-alike forms of '.', '/' and '\' (see
// overlongReplacer).
func Overlong(s string) (string, bool) {
	lead := false
	// Every form starts with one of these bytes; IndexByte scans a word
	// at a time, a byte loop testing five values cost 3% of the stage on
	// prose.
	for _, c := range [...]byte{0xc0, 0xc1, 0xe0, 0xe2, 0xef} {
		if strings.IndexByte(s, c) >= 0 {
			lead = true
			break
		}
	}
	if !lead {
		return s, false
	}
	d := overlongReplacer.Replace(s)
	return d, d != s
}

// fullwidthToASCII maps fullwidth forms (U+FF01-U+FF5E), which some
// back ends fold to ASCII, to their ASCII counterparts.
func fullwidthToASCII(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		return r - 0xFF01 + '!'
	}
	return r
}

func ishex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// base64Bytes reports whether s is made only of bytes Base64Text can read
// as base64: both alphabets, padding, and the spaces it reads as '+'.
func base64Bytes(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '+' || c == '/' || c == '-' || c == '_' || c == '=' || c == ' ':
		default:
			return false
		}
	}
	return true
}
