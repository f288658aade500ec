package validate

import (
	"encoding/json"
	"errors"

	"github.com/portcullis/portcullis/internal/jsonedit"
)

// decodeJSON reads one JSON document (surrounded by optional whitespace)
// into the values encoding/json gives an `any` with UseNumber: maps,
// slices, strings, json.Number, bools and nil; a repeated key keeps its
// last value. It exists because the request body is decoded on every
// request and encoding/json scans each value twice (once to find its end,
// once to build it) through an interface-driven state machine; this is one
// pass. FuzzDecodeJSON holds it to encoding/json: the same value for every
// document encoding/json accepts, an error for every one it refuses. body
// must be valid UTF-8 (checked by the caller).
func decodeJSON(body []byte) (any, error) {
	d := decoder{data: body}
	d.space()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(d.data) {
		return nil, errTrailing
	}
	return v, nil
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

var (
	errSyntax   = errors.New("invalid JSON")
	errTrailing = errors.New("data after the JSON value")
)

type decoder struct {
	data []byte
	i    int
}

func (d *decoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if d.i >= len(d.data) {
		return nil, errSyntax
	}
	switch c := d.data[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.str()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	default:
		for _, lit := range [...]struct {
			word string
			v    any
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if len(d.data)-d.i >= len(lit.word) && string(d.data[d.i:d.i+len(lit.word)]) == lit.word {
				d.i += len(lit.word)
				return lit.v, nil
			}
		}
		return nil, errSyntax
	}
}

func (d *decoder) object(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errSyntax
	}
	d.i++ // {
	m := map[string]any{}
	d.space()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, errSyntax
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, errSyntax
		}
		d.i++
		d.space()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v
		if end, err := d.after('}'); end || err != nil {
			return m, err
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errSyntax
	}
	d.i++ // [
	a := []any{}
	d.space()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if end, err := d.after(']'); end || err != nil {
			return a, err
		}
	}
}

// after reads what follows a member or an element: a comma (more to
// come) or the closing byte of its object or array (end).
func (d *decoder) after(closing byte) (end bool, err error) {
	d.space()
	if d.i >= len(d.data) {
		return false, errSyntax
	}
	switch d.data[d.i] {
	case ',':
		d.i++
		d.space()
		return false, nil
	case closing:
		d.i++
		return true, nil
	}
	return false, errSyntax
}

// str reads a string at d.i (its opening quote).
func (d *decoder) str() (string, error) {
	end, escaped := jsonedit.ScanString(d.data, d.i)
	if end < 0 {
		return "", errSyntax
	}
	raw := d.data[d.i+1 : end-1]
	d.i = end
	if !escaped {
		return string(raw), nil
	}
	// Lone surrogates become U+FFFD, as in encoding/json.
	return string(jsonedit.AppendUnquoted(make([]byte, 0, len(raw)), raw)), nil
}

// number reads a number literal of RFC 8259 as a json.Number.
func (d *decoder) number() (any, error) {
	end := jsonedit.ScanNumber(d.data, d.i)
	if end < 0 {
		return nil, errSyntax
	}
	n := json.Number(d.data[d.i:end])
	d.i = end
	return n, nil
}
