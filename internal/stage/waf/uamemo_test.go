package waf_test

import (
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/stage/waf"
)

// TestUAMemoAgrees sends every benign User-Agent of the corpus and every
// attack payload of up to 512 bytes as a User-Agent, twice through the
// stage (the second time from the memo) and once through a stage that
// reads every User-Agent afresh: the verdicts, rules, scores, locations
// and excerpts must be the same.
func TestUAMemoAgrees(t *testing.T) {
	for _, cfg := range []waf.Config{
		{},
		// Tag exclusions read the remembered hits' tags.
		{Exclusions: []waf.Exclusion{{Tags: []string{"attack-sqli", "attack-rce"}, Target: "header:user-agent"}}},
	} {
		memo, err := waf.New(cfg, waf.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := waf.NewWithoutUAMemo(cfg, waf.Options{})
		if err != nil {
			t.Fatal(err)
		}
		uaMemoAgrees(t, memo, fresh)
	}
}

func uaMemoAgrees(t *testing.T, memo, fresh *waf.Stage) {
	var err error
	var values []string
	for _, set := range append(benignSets(t), attackSets(t)...) {
		for i, p := range set.payloads {
			if (testing.Short() || raceEnabled) && i%20 != 0 {
				continue // a sample: Coraza is ten times slower under -race
			}
			if len(p) <= 512 && !strings.ContainsAny(p, "\r\n\x00") {
				values = append(values, p)
			}
		}
	}
	if len(values) < 300 {
		t.Fatalf("only %d values", len(values))
	}
	blocked := 0
	for _, v := range values {
		var got [3]waf.Verdict
		for i, s := range []*waf.Stage{memo, memo, fresh} {
			r := httptest.NewRequest("GET", "/items", nil)
			r.Header.Set("User-Agent", v)
			if got[i], err = inspectRequest(s, r); err != nil {
				t.Fatal(err)
			}
		}
		if !reflect.DeepEqual(got[0], got[2]) || !reflect.DeepEqual(got[1], got[2]) {
			t.Fatalf("User-Agent %q: memo %+v then %+v, fresh %+v", v, got[0], got[1], got[2])
		}
		if got[2].Blocked {
			blocked++
		}
	}
	t.Logf("%d User-Agents, %d blocked, the same with and without the memo", len(values), blocked)
}

// TestUAMemoConcurrent reads and fills one stage's memo from several
// goroutines (with -race, the memo's locking is checked), past its size.
func TestUAMemoConcurrent(t *testing.T) {
	s, err := waf.New(waf.Config{}, waf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 700; i++ {
				r := httptest.NewRequest("GET", "/items", nil)
				ua := fmt.Sprintf("app/%d.%d (worker %d)", i%600, i%7, g)
				if i%50 == 0 {
					ua = "() { :; }; /bin/bash -c 'id' " + ua
				}
				r.Header.Set("User-Agent", ua)
				v, err := inspectRequest(s, r)
				if err == nil && v.Blocked != (i%50 == 0) {
					err = fmt.Errorf("User-Agent %q: blocked %v", ua, v.Blocked)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
