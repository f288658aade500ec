package waf_test

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/waf"
)

var tableOut = flag.String("waf.table", "", "write the detection table (markdown) to this file")

// Targets on the project's payload sets (issue 3).
const (
	minDetection = 0.95
	maxFalsePos  = 0.01
)

// attackClasses are the payload files, one attack class each.
var attackClasses = []string{"sqli", "xss", "cmdi", "traversal", "nosql", "ssti", "ldap", "xpath", "crlf", "xxe"}

// places are where a value can be put in a request.
var places = []string{"query", "path", "header", "cookie", "json", "form", "xml"}

// loadPayloads reads one payload per line, skipping blank lines and lines
// starting with '#'.
func loadPayloads(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "payloads", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		l := sc.Text()
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		n++
		if raceEnabled && n%8 != 1 {
			continue // a sample under -race; see race_on_test.go
		}
		out = append(out, l)
	}
	return out
}

// buildRequest puts payload p in place. Values are encoded the way a
// client would encode them for that place; a payload that is itself a JSON
// object is embedded as JSON in the JSON body (operator injection), and a
// payload that is an XML document is the XML body.
func buildRequest(place, p string) *http.Request {
	var r *http.Request
	switch place {
	case "query":
		r = httptest.NewRequest("GET", "/search?q="+url.QueryEscape(p), nil)
	case "path":
		r = httptest.NewRequest("GET", "/search/"+url.PathEscape(p), nil)
	case "header":
		r = httptest.NewRequest("GET", "/search", nil)
		r.Header.Set("X-Search", p)
	case "cookie":
		r = httptest.NewRequest("GET", "/search", nil)
		r.Header.Set("Cookie", "theme=dark; q="+url.QueryEscape(p))
	case "json":
		var v any
		body := ""
		if strings.HasPrefix(strings.TrimSpace(p), "{") && json.Unmarshal([]byte(p), &v) == nil {
			body = `{"q":` + p + `,"page":1}`
		} else {
			b, _ := json.Marshal(map[string]any{"q": p, "page": 1, "tags": []string{"a", "b"}})
			body = string(b)
		}
		r = httptest.NewRequest("POST", "/search", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	case "form":
		r = httptest.NewRequest("POST", "/search", strings.NewReader("q="+url.QueryEscape(p)+"&page=1"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "xml":
		body := "<search><q>" + html.EscapeString(p) + "</q><page>1</page></search>"
		if strings.HasPrefix(p, "<?xml") || strings.HasPrefix(strings.ToLower(p), "<!doctype") {
			body = p
		}
		r = httptest.NewRequest("POST", "/search", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/xml")
	default:
		panic(place)
	}
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
	r.Header.Set("Accept", "application/json")
	r.Host = "api.example.com"
	return r
}

// rate is a count of positives out of a total.
type rate struct{ hit, total int }

func (r rate) frac() float64 {
	if r.total == 0 {
		return 0
	}
	return float64(r.hit) / float64(r.total)
}

func (r rate) String() string {
	if r.total == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*r.frac(), r.hit, r.total)
}

// inspector tells whether a request is blocked.
type inspector func(r *http.Request) (blocked bool, rules []string)

// inspectRequest runs the stage directly on r, with a 1 MiB body limit.
func inspectRequest(s *waf.Stage, r *http.Request) (waf.Verdict, error) {
	x := pipeline.NewExchange(r, "t", time.Unix(0, 0))
	x.BodyLimit = 1 << 20
	return s.Inspect(x)
}

// stageInspector runs the stage directly.
func stageInspector(t testing.TB, s *waf.Stage) inspector {
	return func(r *http.Request) (bool, []string) {
		v, err := inspectRequest(s, r)
		if err != nil {
			t.Errorf("inspect: %v", err) // Errorf: inspectors run on several goroutines
			return false, nil
		}
		return v.Blocked || v.ParseError, v.Rules
	}
}

// table runs every payload of every class and the benign set in every
// place through inspect and returns detection[class][place] and
// falsePositive[place].
func table(t testing.TB, inspect inspector) (map[string]map[string]rate, map[string]rate, []string) {
	det := map[string]map[string]rate{}
	fp := map[string]rate{}
	var misses []string
	var mu sync.Mutex
	for _, class := range attackClasses {
		det[class] = map[string]rate{}
		for _, p := range loadPayloads(t, class) {
			for _, place := range places {
				blocked, _ := inspect(buildRequest(place, p))
				mu.Lock()
				r := det[class][place]
				r.total++
				if blocked {
					r.hit++
				} else {
					misses = append(misses, fmt.Sprintf("miss %s/%s: %q", class, place, p))
				}
				det[class][place] = r
				mu.Unlock()
			}
		}
	}
	for _, p := range loadPayloads(t, "benign") {
		for _, place := range places {
			blocked, rules := inspect(buildRequest(place, p))
			r := fp[place]
			r.total++
			if blocked {
				r.hit++
				misses = append(misses, fmt.Sprintf("false positive %s: %q %v", place, p, rules))
			}
			fp[place] = r
		}
	}
	for _, doc := range loadPayloads(t, "benign_json") {
		r := httptest.NewRequest("POST", "/items", strings.NewReader(doc))
		r.Header.Set("Content-Type", "application/json")
		blocked, rules := inspect(r)
		x := fp["json"]
		x.total++
		if blocked {
			x.hit++
			misses = append(misses, fmt.Sprintf("false positive json doc: %.60q %v", doc, rules))
		}
		fp["json"] = x
	}
	return det, fp, misses
}

// renderTable prints the detection and false-positive table as markdown.
func renderTable(title string, det map[string]map[string]rate, fp map[string]rate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n| class | %s | all places |\n|---|%s---|\n", title, strings.Join(places, " | "), strings.Repeat("---|", len(places)))
	var all rate
	for _, class := range attackClasses {
		fmt.Fprintf(&b, "| %s |", class)
		var row rate
		for _, place := range places {
			r := det[class][place]
			fmt.Fprintf(&b, " %.1f%% |", 100*r.frac())
			row.hit += r.hit
			row.total += r.total
		}
		all.hit += row.hit
		all.total += row.total
		fmt.Fprintf(&b, " %s |\n", row)
	}
	fmt.Fprintf(&b, "| **detection, all classes** |")
	for _, place := range places {
		var col rate
		for _, class := range attackClasses {
			col.hit += det[class][place].hit
			col.total += det[class][place].total
		}
		fmt.Fprintf(&b, " %.1f%% |", 100*col.frac())
	}
	fmt.Fprintf(&b, " %s |\n", all)
	fmt.Fprintf(&b, "| **false positives (benign)** |")
	var fall rate
	for _, place := range places {
		r := fp[place]
		fmt.Fprintf(&b, " %.2f%% |", 100*r.frac())
		fall.hit += r.hit
		fall.total += r.total
	}
	fmt.Fprintf(&b, " %s |\n", fall)
	return b.String()
}

// checkTargets fails t when any class misses the detection target in any
// place, or the benign requests' false-positive rate exceeds its target.
func checkTargets(t *testing.T, det map[string]map[string]rate, fp map[string]rate) {
	t.Helper()
	for _, class := range attackClasses {
		for _, place := range places {
			if r := det[class][place]; r.frac() < minDetection {
				t.Errorf("detection of %s in %s: got %s, want ≥ %.0f%%", class, place, r, 100*minDetection)
			}
		}
	}
	// The target is on benign requests as a whole: a single value
	// refused in one place (the limits stage refuses a "..." path segment
	// before waf sees it) moves a per-place rate of 365 requests by 0.27%.
	var all rate
	for _, place := range places {
		all.hit += fp[place].hit
		all.total += fp[place].total
	}
	if all.frac() > maxFalsePos {
		t.Errorf("false positives: got %s, want ≤ %.0f%%", all, 100*maxFalsePos)
	}
}

func TestDetectionTable(t *testing.T) {
	s, err := waf.New(waf.Config{}, waf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	det, fp, misses := table(t, stageInspector(t, s))
	out := renderTable("waf stage, paranoia 1, threshold 5, no OpenAPI description", det, fp)
	t.Log("\n" + out)
	if testing.Verbose() {
		sort.Strings(misses)
		for _, m := range misses {
			t.Log(m)
		}
	}
	if *tableOut != "" {
		if err := os.WriteFile(*tableOut, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if raceEnabled {
		t.Log("-race: sampled payloads, rate targets not checked (they are in the normal run)")
		return
	}
	checkTargets(t, det, fp)
}
