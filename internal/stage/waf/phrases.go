package waf

import (
	"strings"
	"unicode/utf8"
)

// phrases is an Aho-Corasick automaton compiled to a dense DFA over
// ASCII-case-folded byte classes: finding every phrase of a set in a
// value (overlapping occurrences included) is one table lookup per byte,
// with no allocation. It replaced a general Aho-Corasick library whose
// iterators allocated per call and per match and cost 15-20 ns a byte on
// free text; a value reaches these sets several times per request (the
// detector gates twice, the CRS phrase check for every decoded variant),
// so they were a third of the stage's time on a free-text GET.
type phrases struct {
	class  [256]uint8 // byte → class; 0 is every byte in no phrase
	nclass int
	// next[state*nclass+class] is the DFA's transition, premultiplied
	// (state*nclass) so that a step is one add and one load, with
	// matchBit set when the target state ends a phrase.
	next []uint32
	out  []gate // the marks of every phrase ending at state (with its suffixes')
}

const matchBit = 1 << 31

// newPhrases compiles pats (matched without regard to ASCII case); a
// phrase's occurrence reports mark[i]. Empty phrases are ignored.
func newPhrases(pats []string, mark []gate) *phrases {
	p := &phrases{nclass: 1}
	for _, s := range pats {
		for i := 0; i < len(s); i++ {
			c := lowerASCII(s[i])
			if p.class[c] == 0 {
				p.class[c] = uint8(p.nclass)
				p.nclass++
			}
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		p.class[c] = p.class[c+'a'-'A']
	}
	// The trie: goto transitions (-1 is none) and marks.
	trie := make([]int32, p.nclass)
	for i := range trie {
		trie[i] = -1
	}
	p.out = []gate{0}
	for k, s := range pats {
		st := int32(0)
		for i := 0; i < len(s); i++ {
			c := int32(p.class[s[i]])
			nx := trie[st*int32(p.nclass)+c]
			if nx < 0 {
				nx = int32(len(p.out))
				p.out = append(p.out, 0)
				for j := 0; j < p.nclass; j++ {
					trie = append(trie, -1)
				}
				trie[st*int32(p.nclass)+c] = nx
			}
			st = nx
		}
		if s != "" {
			p.out[st] |= mark[k]
		}
	}
	// Breadth first: each state's failure is the longest proper suffix
	// that is a trie state; a missing transition is its failure's.
	fail := make([]int32, len(p.out))
	queue := make([]int32, 0, len(p.out))
	for c := 0; c < p.nclass; c++ {
		if t := trie[c]; t < 0 {
			trie[c] = 0
		} else {
			queue = append(queue, t) // fail[t] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for c := 0; c < p.nclass; c++ {
			i := int(s)*p.nclass + c
			t := trie[i]
			f := trie[int(fail[s])*p.nclass+c]
			if t < 0 {
				trie[i] = f
				continue
			}
			fail[t] = f
			p.out[t] |= p.out[f]
			queue = append(queue, t)
		}
	}
	p.next = make([]uint32, len(trie))
	for i, t := range trie {
		p.next[i] = uint32(t) * uint32(p.nclass)
		if p.out[t] != 0 {
			p.next[i] |= matchBit
		}
	}
	return p
}

// marks returns the marks of every phrase that occurs in v.
func (p *phrases) marks(v string) gate {
	var g gate
	st := uint32(0)
	for i := 0; i < len(v); i++ {
		st = p.next[st+uint32(p.class[v[i]])]
		if st&matchBit != 0 {
			st &^= matchBit
			g |= p.out[st/uint32(p.nclass)]
		}
	}
	return g
}

// marksAndBytes is marks(v) and charsetOf(v) in one pass: the walk is a
// chain of dependent loads, and the bytes' bits are set while it waits.
func (p *phrases) marksAndBytes(v string) (gate, charset) {
	var g gate
	var cs charset
	st := uint32(0)
	for i := 0; i < len(v); i++ {
		b := v[i]
		cs[b>>6] |= 1 << (b & 63)
		st = p.next[st+uint32(p.class[b])]
		if st&matchBit != 0 {
			st &^= matchBit
			g |= p.out[st/uint32(p.nclass)]
		}
	}
	return g, cs
}

// any reports whether a phrase occurs in v.
func (p *phrases) any(v string) bool {
	st := uint32(0)
	for i := 0; i < len(v); i++ {
		st = p.next[st+uint32(p.class[v[i]])]
		if st&matchBit != 0 {
			return true
		}
	}
	return false
}

// foldSet is a list of lower-case substrings found in a value in any
// case: with the DFA when the value is ASCII (where folding ASCII is
// lower-casing), with strings.ToLower otherwise, so that the answer is
// strings.Contains(strings.ToLower(v), s) for some s, exactly.
type foldSet struct {
	list []string
	dfa  *phrases
}

func newFoldSet(list []string) foldSet { return foldSet{list: list, dfa: anyOf(list)} }

// anyOf compiles pats for phrases.any (every phrase marked alike).
func anyOf(pats []string) *phrases {
	marks := make([]gate, len(pats))
	for i := range marks {
		marks[i] = 1
	}
	return newPhrases(pats, marks)
}

// in reports whether v contains one of the set, in any case.
func (f foldSet) in(v string) bool {
	if ascii(v) {
		return f.dfa.any(v)
	}
	l := strings.ToLower(v)
	for _, s := range f.list {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// maybe reports whether v can contain one of the set under a regular
// expression's (?i), which folds Unicode too ('ſ' matches s, 'K' matches
// k): it is in(v) for ASCII values and true for any other, so that a
// gate built on it never skips what the expression would match.
func (f foldSet) maybe(v string) bool { return !ascii(v) || f.dfa.any(v) }

func ascii(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// containsFold reports whether v contains lower (lower-case ASCII) in any
// ASCII case, as strings.Contains(strings.ToLower(v), lower) does for
// the letters of lower, without lower-casing v.
func containsFold(v, lower string) bool {
	if lower == "" {
		return true
	}
	first := lower[0]
	upper := first
	if first >= 'a' && first <= 'z' {
		upper -= 'a' - 'A'
	}
	for i := 0; i+len(lower) <= len(v); i++ {
		if c := v[i]; c != first && c != upper {
			continue
		}
		j := 1
		for j < len(lower) && lowerASCII(v[i+j]) == lower[j] {
			j++
		}
		if j == len(lower) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
