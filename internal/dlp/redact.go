package dlp

import "strings"

// Placeholder returns what Redact puts in place of a value of kind k:
// "[REDACTED:card]".
func Placeholder(k Kind) string { return "[REDACTED:" + k.String() + "]" }

// Redact returns s with every value of the kinds in set replaced by its
// Placeholder. When s holds none it returns s itself, without allocating.
func Redact(s string, set Set) string {
	var buf [4]Match
	ms := Find(s, set, buf[:0])
	if len(ms) == 0 {
		return s
	}
	return Replace(s, ms, func(m Match, _ string) string { return Placeholder(m.Kind) })
}

// Replace returns s with each match (as Find returned them: in order,
// without overlaps) replaced by what repl returns for it and its text.
func Replace(s string, ms []Match, repl func(m Match, value string) string) string {
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m.Start])
		b.WriteString(repl(m, s[m.Start:m.End]))
		last = m.End
	}
	b.WriteString(s[last:])
	return b.String()
}

// MaskDigits returns v with every digit but the last keep ones replaced by
// '*', separators kept ("4111 1111 1111 1111" → "**** **** **** 1111"):
// the form PCI DSS allows a card number to be shown in.
func MaskDigits(v string, keep int) string {
	n := 0
	for i := 0; i < len(v); i++ {
		if isDigit(v[i]) {
			n++
		}
	}
	b := []byte(v)
	for i := 0; i < len(b) && n > keep; i++ {
		if isDigit(b[i]) {
			b[i] = '*'
			n--
		}
	}
	return string(b)
}
