package jsonedit

// Shape is what Filter holds a JSON value to: the member names an object
// declares and the shapes of their values, the shape of undeclared
// members' values and of array elements, and whether an undeclared member
// breaks the contract. internal/stage/contract compiles them from the
// API description, once at load; a Shape is read-only after Index. A nil
// Shape is an unconstrained value.
type Shape struct {
	// Props are the declared properties (Index must follow the last change).
	Props map[string]*Shape
	// Extra is the shape of undeclared members' values
	// (additionalProperties); nil leaves them unconstrained.
	Extra *Shape
	// Items is the shape of array elements (nil: unconstrained).
	Items *Shape
	// Closed says an undeclared member breaks the contract (unless Extra
	// gives it a shape).
	Closed bool

	list []shapeProp // Props as a list
	// slots is an open-addressing table of list's indexes (+1; 0 is an
	// empty slot) by nameHash, at least twice as long as list: a lookup
	// is one hash of three bytes and, nearly always, one comparison.
	slots []uint16
}

type shapeProp struct {
	name string
	w0   uint64 // name's first eight bytes (fewer: zeros above), as nameWord reads them
	s    *Shape
}

// Lookup returns the shape of the declared property name.
func (s *Shape) Lookup(name []byte) (*Shape, bool) {
	if s.slots == nil {
		if len(s.Props) == 0 {
			return nil, false
		}
		sub, ok := s.Props[string(name)]
		return sub, ok
	}
	// nameWord, inlined (too big for the compiler to inline).
	var w uint64
	if cap(name) >= 8 {
		w = load64(name[:8])
		if n := len(name); n < 8 {
			w &= 1<<(8*uint(n)) - 1
		}
	} else {
		w = shortWord(name)
	}
	mask := uint(len(s.slots) - 1)
	for h := nameHash(w, len(name)) & mask; ; h = (h + 1) & mask {
		i := s.slots[h]
		if i == 0 {
			return nil, false
		}
		// The first word and the length decide for a name of up to eight
		// bytes, most of them, without a call to compare memory.
		if p := &s.list[i-1]; p.w0 == w && len(p.name) == len(name) && (len(name) <= 8 || p.name[8:] == string(name[8:])) {
			return p.s, true
		}
	}
}

// nameWord returns the first eight bytes of name (fewer: zeros above),
// the lowest first. Names in a document are followed by more of it: the
// word is one load when the slice's capacity allows.
func nameWord(name []byte) uint64 {
	if cap(name) < 8 {
		return shortWord(name)
	}
	w := load64(name[:8])
	if n := len(name); n < 8 {
		w &= 1<<(8*uint(n)) - 1
	}
	return w
}

// shortWord is nameWord for a slice with less than eight bytes of
// capacity (an unescaped copy of a name). Not inlined: nameWord is.
//
//go:noinline
func shortWord(name []byte) uint64 {
	var w uint64
	for i := 0; i < len(name) && i < 8; i++ {
		w |= uint64(name[i]) << (8 * uint(i))
	}
	return w
}

// stringWord is nameWord for a string.
func stringWord(name string) uint64 {
	var w uint64
	for i := 0; i < len(name) && i < 8; i++ {
		w |= uint64(name[i]) << (8 * uint(i))
	}
	return w
}

// nameHash hashes a property name by its first word and its length.
func nameHash(w uint64, n int) uint {
	return uint((w ^ uint64(n)) * 0x9e3779b97f4a7c15 >> 40)
}

// Index prepares Props for Lookup.
func (s *Shape) Index() {
	s.list, s.slots = nil, nil
	if len(s.Props) == 0 || len(s.Props) > 1<<14 {
		return // no property, or so many that the map is as good
	}
	s.list = make([]shapeProp, 0, len(s.Props))
	for k, v := range s.Props {
		s.list = append(s.list, shapeProp{name: k, w0: stringWord(k), s: v})
	}
	size := 8
	for size < 2*len(s.list) {
		size *= 2
	}
	s.slots = make([]uint16, size)
	mask := uint(size - 1)
	for i, p := range s.list {
		h := nameHash(p.w0, len(p.name)) & mask
		for s.slots[h] != 0 {
			h = (h + 1) & mask
		}
		s.slots[h] = uint16(i + 1)
	}
}

// NameGate rules out, from their first, second and last characters once
// normalized (lower case, without '_', '-', '.' and ' '), the member
// names that no name added to it can be: Filter asks its Inspector only
// about the others. Its zero value rules out every name.
type NameGate struct {
	// All lets every name through (patterns the gate cannot read).
	All bool
	// ends[first] has bit last&63 set, and seconds[first] bit second&63
	// (0 for a one-character name), for the normalized names added (4 KiB:
	// they stay in the cache).
	ends, seconds [256]uint64
}

// Add lets the names that normalize to n through.
func (g *NameGate) Add(n string) {
	if n == "" {
		g.All = true // cannot happen for a rule's name; stay on the safe side
		return
	}
	g.ends[n[0]] |= 1 << (n[len(n)-1] & 63)
	second := byte(0)
	if len(n) > 1 {
		second = n[1]
	}
	g.seconds[n[0]] |= 1 << (second & 63)
}

// May reports whether name may normalize to a name added: false, from its
// first, second and last bytes alone, for most names.
func (g *NameGate) May(name []byte) bool {
	n := len(name)
	if n < 2 || g.All {
		return g.mayNormalized(name)
	}
	f, s, l := lowerSep[name[0]], lowerSep[name[1]], lowerSep[name[n-1]]
	if f == 0 || s == 0 || l == 0 {
		return g.mayNormalized(name) // a separator in the way
	}
	return g.ends[f]&(1<<(l&63)) != 0 && g.seconds[f]&(1<<(s&63)) != 0
}

// mayNormalized is May for names shorter than two bytes or with a
// separator at the places it looks, and for gates that let all through.
func (g *NameGate) mayNormalized(name []byte) bool {
	if g.All {
		return true
	}
	f, s, l := normalizedEnds(name)
	return g.ends[f]&(1<<(l&63)) != 0 && g.seconds[f]&(1<<(s&63)) != 0
}

// lowerSep maps a byte to its lower case, and the separators normalizing
// drops ('_', '-', '.', ' ') to 0.
var lowerSep = func() (t [256]byte) {
	for c := range t {
		t[c] = lowerASCII(byte(c))
	}
	t['_'], t['-'], t['.'], t[' '] = 0, 0, 0, 0
	return t
}()

// normalizedEnds returns the first, second (0 when there is none) and
// last characters a name has once normalized.
func normalizedEnds(name []byte) (byte, byte, byte) {
	var f, s, l byte
	for _, c := range name {
		if c != '_' && c != '-' && c != '.' && c != ' ' {
			if f != 0 {
				s = lowerASCII(c)
				break
			}
			f = lowerASCII(c)
		}
	}
	for i := len(name) - 1; i >= 0; i-- {
		if c := name[i]; c != '_' && c != '-' && c != '.' && c != ' ' {
			l = lowerASCII(c)
			break
		}
	}
	return f, s, l
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
