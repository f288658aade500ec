// Package field names a problem with one configuration field, so that
// packages which own a config block (stages, upstreams) can report problems
// that the config loader turns into file:line:column messages.
package field

import "fmt"

// Error is a problem with one field. Path is relative to the block that
// produced it, in YAML path form without the leading "$": "allow[2]",
// "upstream.targets[0]", "max_body_bytes".
type Error struct {
	Path string
	Msg  string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errorf returns an *Error for path.
func Errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// List is a list of field problems. A nil or empty List means valid.
type List []*Error

// Prefix returns the list with prefix joined in front of every path
// ("apis[0].ipfilter" + "allow[2]" → "apis[0].ipfilter.allow[2]").
func (l List) Prefix(prefix string) List {
	out := make(List, len(l))
	for i, e := range l {
		p := prefix
		switch {
		case e.Path == "":
		case len(e.Path) > 0 && e.Path[0] == '[':
			p += e.Path
		default:
			p += "." + e.Path
		}
		out[i] = &Error{Path: p, Msg: e.Msg}
	}
	return out
}
