package waf_test

import (
	"testing"

	"github.com/portcullis/portcullis/internal/stage/waf"
)

// TestProseRuns holds prose's skip over runs of letters, digits and
// blanks to the byte-by-byte reading, on every attack payload and benign
// text of the corpora (both verdicts).
func TestProseRuns(t *testing.T) {
	var values []string
	for _, set := range append(attackSets(t), benignSets(t)...) {
		values = append(values, set.payloads...)
	}
	values = append(values, "It's 9 a.m. -- late", "a  -rf", "x\ty\nz", "wait-- what", "(a) b", "f(x)", "...", "a..b", "24/7 and/or")
	yes := 0
	for _, v := range values {
		fast, slow := waf.ProseBothWays(v)
		if fast != slow {
			t.Fatalf("prose(%q) = %v skipping runs, %v byte by byte", v, fast, slow)
		}
		if fast {
			yes++
		}
	}
	if yes < 1000 || yes == len(values) {
		t.Fatalf("%d of %d values are prose: the comparison means little", yes, len(values))
	}
	t.Logf("%d of %d values are prose", yes, len(values))
}
