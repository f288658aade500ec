package waf_test

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/corazawaf/coraza/v3"
	corazahttp "github.com/corazawaf/coraza/v3/http"

	"github.com/portcullis/portcullis/internal/stage/waf"
)

var (
	baseline    = flag.Bool("waf.baseline", false, "also run the payload table through the Coraza baseline (slow, ~30s)")
	baselineOut = flag.String("waf.baseline-table", "", "write the Coraza baseline's detection table (markdown) to this file")
)

// TestBaselineDetection runs the same payload table through the benchmark
// baseline (Coraza's net/http middleware with the CRS at paranoia 1, as
// bench/corazaproxy runs it) and checks that the waf stage detects no less
// than the baseline in every class, and has no more false positives.
func TestBaselineDetection(t *testing.T) {
	if !*baseline {
		t.Skip("slow: runs every payload through two WAFs; enable with -waf.baseline")
	}
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(waf.BaselineFS()).WithDirectives(waf.BaselineDirectives(1)))
	if err != nil {
		t.Fatal(err)
	}
	h := corazahttp.WrapHandler(w, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	base := func(r *http.Request) (bool, []string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code != http.StatusOK, nil
	}
	bdet, bfp, _ := table(t, base)
	out := renderTable("Coraza middleware + CRS v4 (the benchmark baseline), paranoia 1", bdet, bfp)
	t.Log("\n" + out)
	if *baselineOut != "" {
		if err := os.WriteFile(*baselineOut, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := waf.New(waf.Config{}, waf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	det, fp, _ := table(t, stageInspector(t, s))
	for _, class := range attackClasses {
		var ours, theirs rate
		for _, place := range places {
			ours.hit += det[class][place].hit
			ours.total += det[class][place].total
			theirs.hit += bdet[class][place].hit
			theirs.total += bdet[class][place].total
		}
		if ours.frac() < theirs.frac() {
			t.Errorf("%s: waf stage detects %s, baseline %s", class, ours, theirs)
		}
	}
	var ours, theirs rate
	for _, place := range places {
		ours.hit += fp[place].hit
		ours.total += fp[place].total
		theirs.hit += bfp[place].hit
		theirs.total += bfp[place].total
	}
	t.Logf("false positives: waf stage %s, baseline %s", ours, theirs)
}
