package waf

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFold(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"short", "short"},
		{strings.Repeat("{{", 4000), strings.Repeat("{{", 4)},
		{"a" + strings.Repeat("&lt;", 100) + "b", "a" + strings.Repeat("&lt;", 8) + "b"},
		{"1" + strings.Repeat(")", 30) + " union select", "1" + strings.Repeat(")", 8) + " union select"},
		{strings.Repeat("ab", 8), strings.Repeat("ab", 8)}, // exactly maxRepeat copies: kept
		{"x" + strings.Repeat("<a>", 50), "x" + strings.Repeat("<a>", 8)},
	} {
		if got := fold(tt.in); got != tt.want {
			t.Errorf("fold(%.40q): got %.60q, want %.60q", tt.in, got, tt.want)
		}
	}
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"{{{{{{{{{{{{{{{{{{", "&lt;&lt;&lt;&lt;&lt;&lt;&lt;&lt;&lt;&lt;", "abc", "'''''''''''''''''''' or 1=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !repeats(s) && foldRuns(s) != s {
			t.Fatalf("repeats(%q) is false but the scan folds it to %q", s, foldRuns(s))
		}
		got := fold(s)
		if len(got) > len(s) {
			t.Fatalf("fold grew %q to %q", s, got)
		}
		if fold(got) != got {
			t.Fatalf("fold is not idempotent on %q: %q then %q", s, got, fold(got))
		}
	})
}

// TestRepeatsFindsEveryFold checks fold's quick test against its scan on
// values built near the edge: runs of a 1-4 byte unit repeated 7 to 10
// times (maxRepeat is 8) between random bytes of a small alphabet, so
// that units overlap and runs end one byte short. Whenever the scan would
// fold, repeats must say so.
func TestRepeatsFindsEveryFold(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	folded := 0
	for range 200000 {
		var b strings.Builder
		for range 1 + rng.IntN(3) {
			for range rng.IntN(6) {
				b.WriteByte("ab{<"[rng.IntN(4)])
			}
			unit := make([]byte, 1+rng.IntN(4))
			for i := range unit {
				unit[i] = "ab{<"[rng.IntN(4)]
			}
			n := 7 + rng.IntN(4)
			for range n {
				b.Write(unit)
			}
			if rng.IntN(2) == 0 {
				b.Write(unit[:rng.IntN(len(unit))])
			}
		}
		s := b.String()
		scan := foldRuns(s)
		if scan != s {
			folded++
		}
		if scan != s && !repeats(s) {
			t.Fatalf("repeats(%q) is false but the scan folds it to %q", s, scan)
		}
		if len(s) < 2*maxRepeat {
			scan = s // fold leaves short values alone
		}
		if got := fold(s); got != scan {
			t.Fatalf("fold(%q) = %q, the scan gives %q", s, got, scan)
		}
	}
	if folded < 50000 {
		t.Fatalf("only %d of the values fold: the test does not reach the edge", folded)
	}
}
