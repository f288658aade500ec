package waf_test

import (
	"flag"
	"fmt"
	"net/http/httptest"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/stage/waf"
)

var corpusExplain = flag.Bool("waf.corpus-explain", false, "TestCorpusExplain: list every realistic API body the stage blocks, with the rules, the location and the rule counts")

// TestCorpusExplain lists the blocked realistic API bodies (Markdown, code
// snippets, …) with what fired where, grouped by rule set: a tool for
// working on false positives (-waf.corpus-explain), not a check.
func TestCorpusExplain(t *testing.T) {
	if !*corpusExplain {
		t.Skip("-waf.corpus-explain")
	}
	s, err := waf.New(waf.Config{}, waf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	byRules := map[string]int{}
	blocked := map[string]int{}
	total := map[string]int{}
	for _, doc := range apiBodies(t) {
		r := httptest.NewRequest("POST", "/api/items", strings.NewReader(doc.body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("User-Agent", browserUA)
		r.Host = "api.example.com"
		v, err := inspectRequest(s, r)
		if err != nil {
			t.Fatal(err)
		}
		total[doc.name]++
		if !v.Blocked {
			continue
		}
		blocked[doc.name]++
		k := doc.name + " " + strings.Join(v.Rules, ",")
		byRules[k]++
		t.Logf("BLOCK %s score=%d rules=%v loc=%s\n%s\n----", doc.name, v.Score, v.Rules, v.Location, doc.body)
	}
	var ks []string
	for k := range byRules {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return byRules[ks[i]] > byRules[ks[j]] })
	for _, k := range ks {
		t.Logf("%4d %s", byRules[k], k)
	}
	for k, n := range total {
		t.Logf("%s: %d/%d blocked", k, blocked[k], n)
	}
}

var (
	experimentRemove  = flag.String("waf.experiment-remove", "", "TestCorpusExperiment: comma-separated rule ids removed API-wide")
	experimentClasses = flag.String("waf.experiment-classes", "", "TestCorpusExperiment: regexp of the attack classes to run (all places and encodings)")
)

// TestCorpusExperiment runs the attack classes matching
// -waf.experiment-classes in full, and every API body, through the stage
// with -waf.experiment-remove's rules removed, and lists every miss: a
// tool for measuring what removing a rule costs.
func TestCorpusExperiment(t *testing.T) {
	if *experimentClasses == "" {
		t.Skip("-waf.experiment-classes")
	}
	var cfg waf.Config
	if *experimentRemove != "" {
		cfg.Exclusions = []waf.Exclusion{{Rules: strings.Split(*experimentRemove, ",")}}
	}
	s, err := waf.New(cfg, waf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inspect := stageInspector(t, s)
	re := regexp.MustCompile(*experimentClasses)
	det := map[string][2]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, set := range attackSets(t) {
		if !re.MatchString(set.class) {
			continue
		}
		for _, p := range set.payloads {
			for _, enc := range encodings {
				v, ok := encode(enc, p)
				if !ok {
					continue
				}
				for _, place := range corpusPlaces {
					if enc == "base64-space" && place != "query" && place != "form" {
						continue
					}
					r, ok := corpusRequest(place, v)
					if !ok {
						continue
					}
					class, what := set.class, fmt.Sprintf("MISS %s/%s/%s: %.120q", set.class, place, enc, p)
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer func() { <-sem; wg.Done() }()
						blocked, _ := inspect(r)
						mu.Lock()
						defer mu.Unlock()
						c := det[class]
						c[1]++
						if blocked {
							c[0]++
						} else {
							t.Log(what)
						}
						det[class] = c
					}()
				}
			}
		}
	}
	wg.Wait()
	fp := map[string][2]int{}
	for _, doc := range apiBodies(t) {
		r := httptest.NewRequest("POST", "/api/items", strings.NewReader(doc.body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("User-Agent", browserUA)
		r.Host = "api.example.com"
		blocked, rules := inspect(r)
		c := fp[doc.name]
		c[1]++
		if blocked {
			c[0]++
			t.Logf("FP %s %v: %.160q", doc.name, rules, doc.body)
		}
		fp[doc.name] = c
	}
	for k, c := range det {
		t.Logf("DET %s %d/%d %.1f%%", k, c[0], c[1], 100*float64(c[0])/float64(c[1]))
	}
	for k, c := range fp {
		t.Logf("BENIGN %s %d/%d %.1f%%", k, c[0], c[1], 100*float64(c[0])/float64(c[1]))
	}
}
