package limits

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// maxDecodeLayers is how many layers of percent-encoding CheckPath peels
// off. A path that still holds an escape after that many decodings is
// refused: no client encodes a path four times, but an attacker probing for
// a component that decodes one layer more than the gateway does will.
const maxDecodeLayers = 4

// DecodePath percent-decodes a raw request path once, strictly: every "%"
// must be followed by two hex digits. "+" is left alone (it is only a space
// in query strings). A path without "%" is returned as is, without
// allocating. The error gives the offset of the bad escape, never the input.
func DecodePath(raw string) (string, error) {
	n := 0
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' {
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return "", errors.New("invalid percent-encoding at byte " + strconv.Itoa(i))
			}
			n++
			i += 2
		}
	}
	if n == 0 {
		return raw, nil
	}
	out, _ := decodeLenient(raw, len(raw)-2*n)
	return out, nil
}

// decodeLenient decodes every valid %XX escape in s and leaves anything else
// (a "%" not followed by two hex digits) as it is. size is a capacity hint.
func decodeLenient(s string, size int) (string, bool) {
	buf := make([]byte, 0, size)
	changed := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
			changed = true
		}
		buf = append(buf, c)
	}
	return string(buf), changed
}

// hasEscape reports whether s holds a valid %XX escape.
func hasEscape(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2]) {
			return true
		}
	}
	return false
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

// Path rule results returned by CheckPath.
const (
	reasonBadEncoding  = "the request path is not validly encoded"
	reasonLayers       = "the request path is encoded too many times"
	reasonControl      = "the request path contains control characters"
	reasonTraversal    = "the request path contains a path traversal sequence"
	reasonBackslash    = "the request path contains a backslash"
	reasonOverlongUTF8 = "the request path contains an overlong UTF-8 encoding"
)

// CheckPath checks a raw (still percent-encoded) request path, as sent by
// the client, for the tricks used to reach files or routes that a
// normalising upstream would treat differently from the gateway. It returns
// ok, or the rule id that fired and a reason safe to show to the client.
//
// It decodes the path once strictly (a bad escape is RuleBadEncoding) and
// then again while escapes remain, up to maxDecodeLayers, so that double
// encoding ("%252e%252e") is seen. On every layer it refuses:
//
//   - dot-dot segments: "..", and the variants that some server decodes or
//     normalises to "..": "..;param" (Tomcat path parameters), trailing
//     dots and spaces ("...", ".. ", stripped by Windows), overlong UTF-8
//     forms of '.', '/' and '\' (%c0%ae, %c0%af, %e0%80%ae, %c1%9c, IIS's
//     %c1%1c) and their Unicode look-alikes used as segments or separators
//     (U+FF0E "．", U+FF0F "／", U+2215 "∕", U+FF3C "＼" ...);
//   - any backslash, raw or %5c: IIS and Windows treat it as a separator;
//   - control bytes (0x00–0x1f, 0x7f): NUL truncates paths in C code, CR/LF
//     split headers and logs.
//
// The first decoded layer must also be valid UTF-8. Ordinary names with
// dots ("a..b", "my.report.pdf"), encoded slashes ("a%2Fb"), spaces ("%20")
// and Unicode pass.
func CheckPath(raw string) (rule, reason string, ok bool) {
	s, err := DecodePath(raw)
	if err != nil {
		return RuleBadEncoding, reasonBadEncoding, false
	}
	if rule, reason, ok := checkLayer(s); !ok {
		return rule, reason, false
	}
	if !utf8.ValidString(s) {
		return RuleBadEncoding, reasonBadEncoding, false
	}
	for layer := 1; hasEscape(s); layer++ {
		if layer == maxDecodeLayers {
			return RuleBadEncoding, reasonLayers, false
		}
		s, _ = decodeLenient(s, len(s))
		if rule, reason, ok := checkLayer(s); !ok {
			return rule, reason, false
		}
	}
	return "", "", true
}

// checkLayer checks one decoded layer of a path for traversal and control
// bytes.
func checkLayer(s string) (rule, reason string, ok bool) {
	// Per segment: n counts units before any ';', dots reports whether they
	// match `..[. ]*` so far, param whether a ';' was seen.
	n, dots, param := 0, true, false
	control := false
	for i := 0; i <= len(s); {
		var u byte
		size := 1
		if i < len(s) {
			u, size = pathUnit(s, i)
		} else {
			u = '/' // the end closes the last segment
		}
		switch u {
		case unitOverlong:
			return RulePathTraversal, reasonOverlongUTF8, false
		case '\\':
			return RulePathTraversal, reasonBackslash, false
		case '/':
			if dots && n >= 2 {
				return RulePathTraversal, reasonTraversal, false
			}
			n, dots, param = 0, true, false
		case ';':
			param = true
		default:
			if u == unitControl {
				control = true
			}
			if !param {
				switch {
				case n < 2:
					dots = dots && u == '.'
				default:
					dots = dots && (u == '.' || u == ' ')
				}
				n++
			}
		}
		i += size
	}
	if control {
		return RuleControlChar, reasonControl, false
	}
	return "", "", true
}

// Units returned by pathUnit besides '.', '/', '\\', ';' and ' '.
const (
	unitOther    = 0
	unitControl  = 1
	unitOverlong = 2 // an overlong UTF-8 form of '.', '/' or '\\'
)

// pathUnit classifies the character at s[i] and returns its size in bytes.
// Unicode look-alikes of '.', '/' and '\' are returned as those characters,
// so that "．．／" is seen as "../".
func pathUnit(s string, i int) (unit byte, size int) {
	c := s[i]
	switch {
	case c < 0x20 || c == 0x7f:
		return unitControl, 1
	case c == '.' || c == '/' || c == '\\' || c == ';' || c == ' ':
		return c, 1
	case c < utf8.RuneSelf:
		return unitOther, 1
	}
	if v, n, ok := overlong(s[i:]); ok {
		if v == '.' || v == '/' || v == '\\' {
			return unitOverlong, n
		}
		return unitOther, n
	}
	if len(s)-i >= 3 {
		switch s[i : i+3] {
		case "\uff0e", "\u2024", "\ufe52": // fullwidth full stop, one dot leader, small full stop
			return '.', 3
		case "\uff0f", "\u2215", "\u2044": // fullwidth solidus, division slash, fraction slash
			return '/', 3
		case "\uff3c", "\u2216", "\ufe68": // fullwidth reverse solidus, set minus, small reverse solidus
			return '\\', 3
		}
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return unitOther, n
}

// overlong decodes an overlong (non-shortest) UTF-8 sequence at the start of
// s — C0/C1 xx, E0 80–9F xx, F0 80–8F xx xx, and the pre-2003 five and six
// byte forms — leniently, as old decoders did: the top bits of the trailing
// bytes are ignored, so IIS's "%c1%1c" reads as '\'. It reports the code
// point, the length, and whether s starts with such a sequence.
func overlong(s string) (v rune, n int, ok bool) {
	c := s[0]
	switch {
	case c == 0xc0 || c == 0xc1:
		n = 2
	case c == 0xe0 && len(s) > 1 && s[1] < 0xa0:
		n = 3
	case c == 0xf0 && len(s) > 1 && s[1] < 0x90:
		n = 4
	case c == 0xf8:
		n = 5
	case c == 0xfc:
		n = 6
	default:
		return 0, 0, false
	}
	if len(s) < n {
		return 0, 0, false
	}
	lead := [...]byte{2: 0x1f, 3: 0x0f, 4: 0x07, 5: 0x03, 6: 0x01}[n]
	v = rune(c & lead)
	for k := 1; k < n; k++ {
		v = v<<6 | rune(s[k]&0x3f)
	}
	return v, n, true
}
