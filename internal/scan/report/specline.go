package report

import (
	"bytes"
	"strings"
)

// specLines maps "METHOD /path" operations to 1-based line numbers in an
// OpenAPI description. It is a line scan, not a parser: it finds the line of
// the path key under "paths" and then the line of the method key inside that
// path item, for block YAML and pretty-printed JSON alike. Minified JSON puts
// every operation on line 1, which is still a correct (if coarse) location.
type specLines struct {
	lines [][]byte
	// pathsStart is the index of the line after the "paths:" key (0 when it
	// was not found: the whole file is searched).
	pathsStart int
	cache      map[string]int
}

func newSpecLines(src []byte) *specLines {
	s := &specLines{cache: map[string]int{}}
	if len(src) == 0 {
		return s
	}
	s.lines = bytes.Split(src, []byte("\n"))
	for i, l := range s.lines {
		if k, ok := keyOf(l); ok && k == "paths" {
			s.pathsStart = i + 1
			break
		}
	}
	return s
}

// line returns the 1-based line of operation ("GET /pets/{id}") in the
// description, or 0 when it cannot be found. It falls back to the path key's
// line when the method key is not found under it.
func (s *specLines) line(operation string) int {
	if s == nil || len(s.lines) == 0 {
		return 0
	}
	if n, ok := s.cache[operation]; ok {
		return n
	}
	n := s.find(operation)
	s.cache[operation] = n
	return n
}

func (s *specLines) find(operation string) int {
	method, path, ok := strings.Cut(strings.TrimSpace(operation), " ")
	path = strings.TrimSpace(path)
	if !ok || path == "" {
		return 0
	}
	method = strings.ToLower(method)
	for i := s.pathsStart; i < len(s.lines); i++ {
		l := s.lines[i]
		k, ok := keyOf(l)
		if !ok || k != path {
			// Minified or single-line JSON: the key is inside the line, and
			// so is its method, if anywhere.
			if inlineKey(l, path) {
				return i + 1
			}
			continue
		}
		indent := indentOf(l)
		for j := i + 1; j < len(s.lines); j++ {
			m := s.lines[j]
			t := bytes.TrimSpace(m)
			if len(t) == 0 || t[0] == '#' {
				continue
			}
			if indentOf(m) <= indent {
				break // the next path item (or the end of paths)
			}
			if mk, ok := keyOf(m); ok && strings.ToLower(mk) == method {
				return j + 1
			}
		}
		return i + 1
	}
	return 0
}

// inlineKey reports whether line l holds the JSON key "key" (quoted and
// followed by a colon) somewhere after its start.
func inlineKey(l []byte, key string) bool {
	q := []byte(`"` + key + `"`)
	for {
		i := bytes.Index(l, q)
		if i < 0 {
			return false
		}
		rest := bytes.TrimLeft(l[i+len(q):], " \t")
		if len(rest) > 0 && rest[0] == ':' {
			return true
		}
		l = l[i+len(q):]
	}
}

// keyOf returns the mapping key that starts line l ("paths:", `"/a": {`,
// "'/a':"), unquoted, and whether the line starts with a key at all.
func keyOf(l []byte) (string, bool) {
	t := bytes.TrimSpace(l)
	t = bytes.TrimPrefix(t, []byte("- ")) // a key inside a sequence item
	if len(t) == 0 {
		return "", false
	}
	switch q := t[0]; q {
	case '"', '\'':
		end := bytes.IndexByte(t[1:], q)
		if end < 0 {
			return "", false
		}
		key := string(t[1 : 1+end])
		rest := bytes.TrimSpace(t[2+end:])
		if len(rest) == 0 || rest[0] != ':' {
			return "", false
		}
		return key, true
	}
	// A plain YAML key ends at ": " or at ":" closing the line.
	if i := bytes.Index(t, []byte(": ")); i > 0 {
		return string(t[:i]), true
	}
	if t[len(t)-1] == ':' && len(t) > 1 {
		return string(t[:len(t)-1]), true
	}
	return "", false
}

// indentOf counts the leading spaces and tabs of l.
func indentOf(l []byte) int {
	n := 0
	for _, c := range l {
		if c != ' ' && c != '\t' {
			break
		}
		n++
	}
	return n
}
