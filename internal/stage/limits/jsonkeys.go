package limits

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// keySet holds the keys of the objects open during a scan, innermost last,
// to find an object that names a key twice.
//
// Why it matters: RFC 8259 leaves duplicate names undefined, and parsers
// disagree. encoding/json, Python and JavaScript keep the last value;
// gjson, jsonparser and several frameworks the first; Go's encoding/json
// also fills a struct field "owner" from "OWNER" or "ſwner"-style folded
// spellings. A gateway that checks one reading (an owner rule, a schema's
// maximum) and forwards the bytes to an upstream that takes the other has
// checked nothing. So keys are compared twice: exactly after unescaping
// ("owner" and "own\u0065r" are one key), and under Unicode simple case
// folding (bytes.EqualFold, which knows K for Kelvin and ſ for long s).
//
// Objects with up to linearMax keys are compared pairwise, without
// allocating; a larger object gets a map from folded key to its keys, so a
// hostile body with 100000 keys costs a map, not 10^10 comparisons.
type keySet struct {
	refs   []keyRef // keys of the open objects
	levels []int    // per open object, the index in refs of its first key
	// folded indexes the keys of the open objects that outgrew linearMax
	// by folded key, by level (len(levels)-1).
	folded map[int]map[string][]keyRef
}

type keyRef struct {
	start, end int  // the raw key between the quotes
	escaped    bool // contains a backslash
}

// linearMax is the number of keys an object may have before its keys are
// indexed by a map.
const linearMax = 24

type keyVerdict uint8

const (
	keyNew keyVerdict = iota
	keyDuplicate
	keyCaseDuplicate
)

func (v keyVerdict) problem() jsonProblem {
	if v == keyCaseDuplicate {
		return jsonCaseDuplicate
	}
	return jsonDuplicate
}

// The methods take and return keySet by value: its slices start on
// scanJSON's stack, and a store through a pointer would move them to the
// heap.

func (k keySet) open() keySet {
	k.levels = append(k.levels, len(k.refs))
	return k
}

func (k keySet) close() keySet {
	if n := len(k.levels); n > 0 {
		k.refs = k.refs[:k.levels[n-1]]
		k.levels = k.levels[:n-1]
		if k.folded != nil {
			delete(k.folded, n-1)
		}
	}
	return k
}

// add records the key whose opening quote is at b[at] (already validated
// by scanKey) in the innermost object and says whether it repeats one.
func (k keySet) add(b []byte, at int) (keySet, keyVerdict) {
	end, _ := scanString(b, at)
	r := keyRef{start: at + 1, end: end - 1}
	r.escaped = bytes.IndexByte(b[r.start:r.end], '\\') >= 0
	depth := len(k.levels) - 1
	mine := k.refs[k.levels[depth]:]
	verdict := keyNew
	idx := k.folded[depth]
	if idx == nil && len(mine) >= linearMax {
		if k.folded == nil {
			k.folded = map[int]map[string][]keyRef{}
		}
		idx = make(map[string][]keyRef, 2*len(mine))
		for _, o := range mine {
			f := foldKey(keyText(b, o))
			idx[f] = append(idx[f], o)
		}
		k.folded[depth] = idx
	}
	if idx != nil {
		f := foldKey(keyText(b, r))
		for _, o := range idx[f] {
			if v := compareKeys(b, o, r); v > verdict {
				verdict = v
			}
		}
		idx[f] = append(idx[f], r)
	} else {
		for _, o := range mine {
			if v := compareKeys(b, o, r); v > verdict {
				verdict = v
			}
		}
	}
	k.refs = append(k.refs, r)
	return k, verdict
}

// compareKeys says whether two keys are equal (keyDuplicate), equal but
// for case (keyCaseDuplicate) or different (keyNew).
func compareKeys(b []byte, x, y keyRef) keyVerdict {
	var xs, ys []byte
	if !x.escaped && !y.escaped {
		xs, ys = b[x.start:x.end], b[y.start:y.end]
	} else {
		xs, ys = []byte(keyText(b, x)), []byte(keyText(b, y))
	}
	switch {
	case bytes.Equal(xs, ys):
		return keyDuplicate
	case bytes.EqualFold(xs, ys):
		return keyCaseDuplicate
	}
	return keyNew
}

// keyText is a key's unescaped text.
func keyText(b []byte, r keyRef) string {
	if !r.escaped {
		return string(b[r.start:r.end])
	}
	var s string
	if err := json.Unmarshal(b[r.start-1:r.end+1], &s); err != nil {
		return string(b[r.start:r.end]) // cannot happen: scanKey accepted it
	}
	return s
}

// foldKey maps s to one representative of its case-folding class: every
// rune becomes the smallest rune of its unicode.SimpleFold orbit, so two
// strings bytes.EqualFold calls equal have the same foldKey.
func foldKey(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		lo := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			lo = min(lo, f)
		}
		if lo < utf8.RuneSelf {
			sb.WriteByte(byte(lo))
		} else {
			sb.WriteRune(lo)
		}
	}
	return sb.String()
}

// reencodeJSON returns b re-encoded with each object's duplicate keys
// collapsed the way the gateway's own readers see them (encoding/json: the
// last value wins) and each key kept where it first appeared. Numbers keep
// their literal text, strings their value (escaping may change), and no
// HTML escaping is added. b must be valid JSON (scanJSON said so).
func reencodeJSON(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeOrdered(dec, 0)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(len(b))
	if err := writeOrdered(v, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// orderedValue is a decoded value whose objects remember key order.
type orderedValue struct {
	scalar any // string, json.Number, bool, nil
	object *orderedObject
	array  []orderedValue
	isArr  bool
}

type orderedObject struct {
	keys []string
	vals map[string]orderedValue
}

// maxReencodeDepth bounds the recursion of decodeOrdered (the depth limit
// may be off).
const maxReencodeDepth = 10000

var errTooDeep = errors.New("too deeply nested to re-encode")

func decodeOrdered(dec *json.Decoder, depth int) (orderedValue, error) {
	if depth > maxReencodeDepth {
		return orderedValue{}, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return orderedValue{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &orderedObject{vals: map[string]orderedValue{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return orderedValue{}, err
				}
				k, _ := kt.(string)
				v, err := decodeOrdered(dec, depth+1)
				if err != nil {
					return orderedValue{}, err
				}
				if _, seen := o.vals[k]; !seen {
					o.keys = append(o.keys, k)
				}
				o.vals[k] = v
			}
			_, err := dec.Token() // '}'
			return orderedValue{object: o}, err
		case '[':
			a := orderedValue{isArr: true, array: []orderedValue{}}
			for dec.More() {
				v, err := decodeOrdered(dec, depth+1)
				if err != nil {
					return orderedValue{}, err
				}
				a.array = append(a.array, v)
			}
			_, err := dec.Token() // ']'
			return a, err
		}
	}
	return orderedValue{scalar: tok}, nil
}

func writeOrdered(v orderedValue, out *bytes.Buffer) error {
	switch {
	case v.object != nil:
		out.WriteByte('{')
		for i, k := range v.object.keys {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeScalar(k, out); err != nil {
				return err
			}
			out.WriteByte(':')
			if err := writeOrdered(v.object.vals[k], out); err != nil {
				return err
			}
		}
		out.WriteByte('}')
	case v.isArr:
		out.WriteByte('[')
		for i, e := range v.array {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeOrdered(e, out); err != nil {
				return err
			}
		}
		out.WriteByte(']')
	default:
		return writeScalar(v.scalar, out)
	}
	return nil
}

func writeScalar(s any, out *bytes.Buffer) error {
	if n, ok := s.(json.Number); ok {
		out.WriteString(n.String())
		return nil
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	out.Truncate(out.Len() - 1) // Encode's newline
	return nil
}
