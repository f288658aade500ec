package waf_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3"
	corazahttp "github.com/corazawaf/coraza/v3/http"

	"github.com/portcullis/portcullis/internal/stage/waf"
)

// Corpus targets (issue 17), per class and place and per benign set.
const (
	corpusMinDetection = 0.97
	corpusMaxFalsePos  = 0.01
)

// CI sample sizes: one attack case in attackSampleCI and one benign case
// in benignSampleCI (a few thousand requests in all, well under a minute).
const (
	attackSampleCI = 60
	benignSampleCI = 12
)

// corazaInspector is Coraza's net/http middleware with the CRS at
// paranoia 1 (bench/corazaproxy), for the same-run comparison.
func corazaInspector(t testing.TB) inspector {
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(waf.BaselineFS()).WithDirectives(waf.BaselineDirectives(1)))
	if err != nil {
		t.Fatal(err)
	}
	h := corazahttp.WrapHandler(w, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	return func(r *http.Request) (bool, []string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code != http.StatusOK, nil
	}
}

// TestCorpora runs the external corpora through the waf stage at the
// default paranoia level and checks the targets per class and place; with
// -waf.corpus-full it runs every case and Coraza + CRS alone beside it.
func TestCorpora(t *testing.T) {
	if raceEnabled {
		t.Skip("the corpora run without -race (Coraza is ten times slower under it); the detection table covers -race")
	}
	s, err := waf.New(waf.Config{}, waf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	as, bs := uint32(attackSampleCI), uint32(benignSampleCI)
	res := runCorpus(t, stageInspector(t, s), as, bs)
	out := renderCorpus("waf stage, paranoia 1", res)
	if *corpusFull {
		out += "\n" + renderCorpus("Coraza + CRS v4 alone, paranoia 1", runCorpus(t, corazaInspector(t), as, bs))
	}
	t.Log("\n" + out)
	if *corpusOut != "" {
		if err := os.WriteFile(*corpusOut, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if testing.Verbose() {
		sort.Strings(res.misses)
		for _, m := range res.misses {
			t.Log(m)
		}
	}
	checkCorpus(t, res)
}

// checkCorpus fails t for every class and place under the detection target
// and every benign set and place over the false-positive target. Cells of
// fewer than 20 requests (a sample) are judged together with their class.
func checkCorpus(t *testing.T, res corpusResult) {
	t.Helper()
	for class, m := range res.det {
		var all cell
		for place, c := range m {
			all.hit += c.hit
			all.total += c.total
			if c.total >= 20 && c.frac() < corpusMinDetection {
				t.Errorf("detection of %s in %s: got %s, want ≥ %.0f%%", class, place, c, 100*corpusMinDetection)
			}
		}
		if all.frac() < corpusMinDetection {
			t.Errorf("detection of %s: got %s, want ≥ %.0f%%", class, all, 100*corpusMinDetection)
		}
	}
	for set, m := range res.fp {
		var all cell
		for place, c := range m {
			all.hit += c.hit
			all.total += c.total
			if c.total >= 100 && c.frac() > corpusMaxFalsePos {
				t.Errorf("false positives of %s in %s: got %s, want ≤ %.0f%%", set, place, c, 100*corpusMaxFalsePos)
			}
		}
		if all.frac() > corpusMaxFalsePos && !strings.HasPrefix(set, "_") {
			t.Errorf("false positives of %s: got %s, want ≤ %.0f%%", set, all, 100*corpusMaxFalsePos)
		}
	}
}
