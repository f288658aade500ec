package jsonedit

import (
	"math/rand/v2"
	"testing"
)

// TestShapeLookup: every declared name is found, and no name that differs
// from all of them in one byte (at any place, for names of 0 to 40 bytes:
// the word compare's short, exact and overlapping cases) or in its length
// is, with enough names to make the hash collide.
func TestShapeLookup(t *testing.T) {
	var names []string
	for n := 0; n <= 40; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte((i*7+n)%26)
		}
		names = append(names, string(b))
	}
	names = append(names, "id", "ib", "ic", "aXd", "created_at", "createdXat", "last_login") // same ends, same length
	n := &Shape{Props: map[string]*Shape{}}
	for _, name := range names {
		n.Props[name] = &Shape{}
	}
	n.Index()
	for _, name := range names {
		sub, ok := n.Lookup([]byte(name))
		if !ok || sub != n.Props[name] {
			t.Errorf("lookup(%q): got %v %v, want its node", name, sub, ok)
		}
		for i := 0; i < len(name); i++ {
			for _, c := range []byte{'Z', name[i] ^ 1} {
				m := []byte(name)
				m[i] = c
				if _, declared := n.Props[string(m)]; declared {
					continue
				}
				if _, ok := n.Lookup(m); ok {
					t.Errorf("lookup(%q) found an undeclared name", m)
				}
			}
		}
		if _, declared := n.Props[name+"x"]; !declared {
			if _, ok := n.Lookup([]byte(name + "x")); ok {
				t.Errorf("lookup(%q) found an undeclared name", name+"x")
			}
		}
	}
	if _, ok := (&Shape{}).Lookup([]byte("id")); ok {
		t.Error("a node without properties found one")
	}
	t.Logf("%d names in %d slots", len(n.list), len(n.slots))
}

// TestNameGateIsNecessary: every name that normalizes to a name added to
// the gate gets through it (random names of letters of both cases and the
// separators normalizing drops), and most others do not.
func TestNameGateIsNecessary(t *testing.T) {
	const alphabet = "aAbBcCxX_-. 1"
	rng := rand.New(rand.NewPCG(7, 8))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	normalized := func(name []byte) string {
		var out []byte
		for _, c := range name {
			switch {
			case c == '_' || c == '-' || c == '.' || c == ' ':
			case c >= 'A' && c <= 'Z':
				out = append(out, c+'a'-'A')
			default:
				out = append(out, c)
			}
		}
		return string(out)
	}
	var g NameGate
	added := map[string]bool{}
	for len(added) < 8 {
		if n := normalized(random(1 + rng.IntN(6))); n != "" {
			added[n] = true
			g.Add(n)
		}
	}
	through, ruledOut := 0, 0
	for i := 0; i < 200000; i++ {
		name := random(rng.IntN(9))
		may := g.May(name)
		if added[normalized(name)] {
			through++
			if !may {
				t.Fatalf("May(%q) is false, but it normalizes to %q, which was added", name, normalized(name))
			}
		}
		if !may {
			ruledOut++
		}
	}
	if through < 1000 || ruledOut < 50000 {
		t.Fatalf("%d names normalized to an added one, %d ruled out: the test proves little", through, ruledOut)
	}
	t.Logf("%d names normalized to an added one, all through; %d of 200000 ruled out", through, ruledOut)
}
