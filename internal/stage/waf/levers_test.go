package waf_test

import (
	"testing"

	"github.com/portcullis/portcullis/internal/stage/waf"
)

// TestLevers runs a sample of the corpora with every speed lever on, and
// with each one off, and compares: the rx prefilter, RE2 and "own
// detectors first" must not change a single verdict; keeping prose away from the CRS
// may lose at most one point of detection and must not add false
// positives.
func TestLevers(t *testing.T) {
	if raceEnabled {
		t.Skip("runs the corpora four times; skipped under -race")
	}
	run := func(prose, rx, own, re2 bool) corpusResult {
		s, err := waf.NewWithLevers(waf.Config{}, waf.Options{}, prose, rx, own, re2)
		if err != nil {
			t.Fatal(err)
		}
		return runCorpus(t, stageInspector(t, s), 6*attackSampleCI, 6*benignSampleCI)
	}
	total := func(m map[string]map[string]cell) (c cell) {
		for _, row := range m {
			for _, x := range row {
				c.hit += x.hit
				c.total += x.total
			}
		}
		return c
	}
	on := run(true, true, true, true)
	onDet, onFP := total(on.det), total(on.fp)
	t.Logf("all levers on: detection %s, benign blocked %s", onDet, onFP)
	for _, tc := range []struct {
		name                string
		prose, rx, own, re2 bool
		exact               bool
	}{
		{"rx prefilter off", true, false, true, true, true},
		{"own detectors first off", true, true, false, true, true},
		{"RE2 off (Go regexp)", true, true, true, false, true},
		{"prose off", false, true, true, true, false},
	} {
		res := run(tc.prose, tc.rx, tc.own, tc.re2)
		det, fp := total(res.det), total(res.fp)
		t.Logf("%s: detection %s, benign blocked %s", tc.name, det, fp)
		if tc.exact {
			if det != onDet || fp != onFP {
				t.Errorf("%s: got detection %s and benign %s, want the same as with it on (%s, %s)", tc.name, det, fp, onDet, onFP)
			}
			continue
		}
		if onDet.frac() < det.frac()-0.01 {
			t.Errorf("%s: detection with the lever on %s, off %s: more than a point lost", tc.name, onDet, det)
		}
		if onFP.hit > fp.hit {
			t.Errorf("%s: benign blocked with the lever on %s, off %s", tc.name, onFP, fp)
		}
	}
}
