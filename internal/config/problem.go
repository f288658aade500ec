package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/field"
)

// Problem is one thing wrong with a config file, with the place it was
// found.
type Problem struct {
	// File is the config file's path ("" when the config was built in
	// code or parsed without a name).
	File string
	// Line and Column are 1-based; 0 when the place is unknown (a config
	// built in code).
	Line, Column int
	// Path is the YAML path of the value, such as
	// "$.apis[0].upstream.targets[1]"; "$" is the whole document.
	Path string
	// Message says what was found and what was expected. It names the path
	// without the leading "$.", so it reads on its own.
	Message string
}

// Error formats the problem as "FILE:LINE:COL: MESSAGE", leaving out the
// parts that are unknown.
func (p *Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteByte(':')
	}
	if p.Line > 0 {
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Column))
		b.WriteByte(':')
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in a config file, in file order. A nil or
// empty Problems means the config is valid; Load and Parse return a
// non-empty Problems as their error.
type Problems []*Problem

// Error prints one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when ps is empty (so that a nil
// Problems never becomes a non-nil error interface).
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// sort orders problems by line and column, keeping the order of problems
// at the same place (and of problems without a place).
func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Column < ps[j].Column
	})
}

// Position is a 1-based line and column in a config file.
type Position struct {
	Line, Column int
}

// Source remembers where each value of a loaded config file came from.
// Paths are YAML paths with or without the leading "$.": "apis[0].name",
// "$.server.hsts.max_age". The zero value and nil know no positions.
type Source struct {
	// File is the config file's path.
	File string
	pos  map[string]Position
}

func newSource(file string) *Source {
	return &Source{File: file, pos: map[string]Position{}}
}

func (s *Source) set(path string, p Position) {
	if p.Line <= 0 {
		return
	}
	p.Column = max(p.Column, 1)
	s.pos[path] = p
}

// normPath turns "$.a.b", "$a", "$" and "a.b" into the index form "a.b"
// ("" for the document itself).
func normPath(path string) string {
	path = strings.TrimPrefix(path, "$")
	return strings.TrimPrefix(path, ".")
}

// Position returns where path was written. ok is false when the path is not
// in the file (a default, or a value that was never written).
func (s *Source) Position(path string) (p Position, ok bool) {
	if s == nil || s.pos == nil {
		return Position{}, false
	}
	p, ok = s.pos[normPath(path)]
	return p, ok
}

// Nearest returns the position of path or, when path was not written (a
// missing key), of its closest written ancestor: a missing
// "apis[0].upstream.targets" points at "apis[0]". It falls back to 1:1 for
// a source that knows the document, and 0:0 for nil.
func (s *Source) Nearest(path string) Position {
	if s == nil || s.pos == nil {
		return Position{}
	}
	p := normPath(path)
	for {
		if pos, ok := s.pos[p]; ok {
			return pos
		}
		if p == "" {
			return Position{Line: 1, Column: 1}
		}
		p = parentPath(p)
	}
}

// Problem returns a Problem at path (or its nearest written ancestor) whose
// message is "path: msg" (or just msg for the document).
func (s *Source) Problem(path, msg string) *Problem {
	p := normPath(path)
	pos := s.Nearest(p)
	file := ""
	if s != nil {
		file = s.File
	}
	if p != "" {
		msg = p + ": " + msg
	}
	return &Problem{File: file, Line: pos.Line, Column: pos.Column, Path: dollar(p), Message: msg}
}

// FieldProblems maps a package's field problems to Problems. prefix is the
// path of the block that produced l ("apis[0].ipfilter", "" for the top).
func (s *Source) FieldProblems(prefix string, l field.List) Problems {
	if len(l) == 0 {
		return nil
	}
	if prefix = normPath(prefix); prefix != "" {
		l = l.Prefix(prefix)
	}
	out := make(Problems, 0, len(l))
	for _, e := range l {
		out = append(out, s.Problem(e.Path, e.Msg))
	}
	return out
}

// dollar turns the index form of a path into the displayed "$.a.b" form.
func dollar(p string) string {
	switch {
	case p == "":
		return "$"
	case p[0] == '[':
		return "$" + p
	}
	return "$." + p
}

// parentPath strips the last segment of an index-form path:
// "a.b[2]" → "a.b", "a.b" → "a", "a" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	// A quoted key may contain dots: 'a.b'.
	if strings.HasSuffix(p, "'") {
		if i := strings.LastIndex(p[:len(p)-1], ".'"); i >= 0 {
			return p[:i]
		}
		if strings.HasPrefix(p, "'") {
			return ""
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// childPath joins a mapping key onto a path, quoting keys that the YAML
// path syntax would split.
func childPath(parent, key string) string {
	if needsQuote(key) {
		key = "'" + strings.ReplaceAll(key, "'", `\'`) + "'"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func needsQuote(key string) bool {
	if key == "" {
		return true
	}
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return true
		}
	}
	return false
}

// indexPath joins a sequence index onto a path.
func indexPath(parent string, i int) string {
	return fmt.Sprintf("%s[%d]", parent, i)
}

// where names a path for messages: "apis[0]" or "the top level".
func where(p string) string {
	if p == "" {
		return "the top level"
	}
	return p
}
