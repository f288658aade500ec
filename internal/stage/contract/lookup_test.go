package contract

import "testing"

// TestLookup: every declared name is found, and no name that differs
// from all of them in one byte (at any place, for names of 0 to 40 bytes:
// the word compare's short, exact and overlapping cases) or in its length
// is, with enough names to make the hash collide.
func TestLookup(t *testing.T) {
	var names []string
	for n := 0; n <= 40; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte((i*7+n)%26)
		}
		names = append(names, string(b))
	}
	names = append(names, "id", "ib", "ic", "aXd", "created_at", "createdXat", "last_login") // same ends, same length
	n := &cnode{props: map[string]*cnode{}}
	for _, name := range names {
		n.props[name] = &cnode{}
	}
	n.index()
	for _, name := range names {
		sub, ok := n.lookup([]byte(name))
		if !ok || sub != n.props[name] {
			t.Errorf("lookup(%q): got %v %v, want its node", name, sub, ok)
		}
		for i := 0; i < len(name); i++ {
			for _, c := range []byte{'Z', name[i] ^ 1} {
				m := []byte(name)
				m[i] = c
				if _, declared := n.props[string(m)]; declared {
					continue
				}
				if _, ok := n.lookup(m); ok {
					t.Errorf("lookup(%q) found an undeclared name", m)
				}
			}
		}
		if _, declared := n.props[name+"x"]; !declared {
			if _, ok := n.lookup([]byte(name + "x")); ok {
				t.Errorf("lookup(%q) found an undeclared name", name+"x")
			}
		}
	}
	if _, ok := (&cnode{}).lookup([]byte("id")); ok {
		t.Error("a node without properties found one")
	}
	t.Logf("%d names in %d slots", len(n.list), len(n.slots))
}
