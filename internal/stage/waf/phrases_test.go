package waf_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"

	"github.com/portcullis/portcullis/internal/stage/waf"
)

// TestPhrasesAgreeWithAhoCorasick checks the DFA against a general
// Aho-Corasick implementation (Coraza's own dependency) on the gate and
// CRS phrase sets, over every attack and benign corpus value, their
// decoded variants, and random splices of phrases into text: the marks
// of every phrase found must be the same.
func TestPhrasesAgreeWithAhoCorasick(t *testing.T) {
	var values []string
	for _, set := range append(attackSets(t), benignSets(t)...) {
		for _, v := range set.payloads {
			values = append(values, v)
			values = waf.Variants(values, v, false)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, set := range []struct {
		name string
		pats []string
	}{{"gates", waf.GatePatterns()}, {"crs", waf.CRSPhrasePatterns()}} {
		for range 20000 {
			var b strings.Builder
			for range 1 + rng.IntN(4) {
				p := set.pats[rng.IntN(len(set.pats))]
				if rng.IntN(2) == 0 {
					p = strings.ToUpper(p)
				}
				if rng.IntN(3) == 0 && len(p) > 1 {
					p = p[:rng.IntN(len(p))] // a prefix: a near miss
				}
				text := values[rng.IntN(len(values))]
				b.WriteString(text[:min(8, len(text))])
				b.WriteString(p)
			}
			values = append(values, b.String())
		}
	}
	if len(values) < 50000 {
		t.Fatalf("only %d values to compare on", len(values))
	}
	gb := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{AsciiCaseInsensitive: true, MatchKind: ahocorasick.StandardMatch, DFA: true})
	gateRef := gb.Build(waf.GatePatterns())
	cb := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{AsciiCaseInsensitive: true, MatchKind: ahocorasick.LeftMostFirstMatch, DFA: true})
	crsRef := cb.Build(waf.CRSPhrasePatterns())
	found := [2]int{}
	for _, v := range values {
		var want uint32
		it := gateRef.IterOverlapping(v)
		for m := it.Next(); m != nil; m = it.Next() {
			want |= waf.GateOfPattern(m.Pattern())
		}
		if got := waf.Gates(v); got != want {
			t.Fatalf("gates(%q) = %b, the reference finds %b", v, got, want)
		}
		wantCRS := crsRef.Iter(v).Next() != nil
		if got := waf.CRSPhrase(v); got != wantCRS {
			t.Fatalf("crsPhrase(%q) = %v, the reference says %v", v, got, wantCRS)
		}
		if want != 0 {
			found[0]++
		}
		if wantCRS {
			found[1]++
		}
	}
	t.Logf("%d values: %d with gate phrases, %d with CRS phrases", len(values), found[0], found[1])
	if found[0] < 1000 || found[1] < 1000 {
		t.Fatalf("too few values with phrases (%v) for the comparison to mean anything", found)
	}
}

func BenchmarkPhrases(b *testing.B) {
	v := "how do I return a damaged order? It arrived yesterday, the box was crushed and one mug is chipped."
	b.Run("gates", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			waf.Gates(v)
		}
	})
	b.Run("crs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			waf.CRSPhrase(v)
		}
	})
}
