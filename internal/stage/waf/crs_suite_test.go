package waf_test

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/waf"
)

// The OWASP CRS regression suite (the go-ftw test files that ship in the
// github.com/corazawaf/coraza-coreruleset/v4 module, folder tests/): every
// request-phase case goes through the waf stage at the paranoia level of
// the rule it tests. A positive case (the rule is expected to match) is
// detected when the stage blocks it; a negative case (the rule must not
// match) is a false positive when the stage blocks it.

type ftwFile struct {
	RuleID int       `yaml:"rule_id"`
	Tests  []ftwTest `yaml:"tests"`
}

type ftwTest struct {
	TestID int        `yaml:"test_id"`
	Stages []ftwStage `yaml:"stages"`
}

type ftwStage struct {
	Input  ftwInput  `yaml:"input"`
	Output ftwOutput `yaml:"output"`
}

type ftwInput struct {
	Method         string            `yaml:"method"`
	URI            string            `yaml:"uri"`
	Version        string            `yaml:"version"`
	Headers        map[string]string `yaml:"headers"`
	Data           any               `yaml:"data"`
	EncodedRequest string            `yaml:"encoded_request"`
}

type ftwOutput struct {
	Log struct {
		ExpectIDs   []int `yaml:"expect_ids"`
		NoExpectIDs []int `yaml:"no_expect_ids"`
	} `yaml:"log"`
}

// crsModuleDir is the module's directory in the module cache.
func crsModuleDir(t testing.TB) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/corazawaf/coraza-coreruleset/v4").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// ruleParanoia maps CRS rule ids to their paranoia level, read from the
// rule files' tags.
func ruleParanoia(t testing.TB, dir string) map[int]int {
	out := map[int]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "rules", "@owasp_crs", "REQUEST-9*.conf"))
	id := regexp.MustCompile(`id:(\d+)`)
	pl := regexp.MustCompile(`paranoia-level/(\d)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, rule := range strings.Split(strings.ReplaceAll(string(b), "\\\n", ""), "\nSecRule") {
			m, p := id.FindStringSubmatch(rule), pl.FindStringSubmatch(rule)
			if m != nil && p != nil {
				n, _ := strconv.Atoi(m[1])
				out[n], _ = strconv.Atoi(p[1])
			}
		}
	}
	return out
}

// ftwRequest builds the request of a stage the way go-ftw sends it, as
// raw HTTP read back by net/http (what the gateway's listener accepts);
// ok is false for requests net/http refuses.
func ftwRequest(in ftwInput) (*http.Request, bool) {
	var raw []byte
	if in.EncodedRequest != "" {
		return nil, false // raw byte-level protocol tests: the listener's concern
	}
	method, uri, version := in.Method, in.URI, in.Version
	if method == "" {
		method = "GET"
	}
	if uri == "" {
		uri = "/"
	}
	if version == "" {
		version = "HTTP/1.1"
	}
	var body string
	switch d := in.Data.(type) {
	case string:
		body = d
	case []any:
		var parts []string
		for _, p := range d {
			parts = append(parts, fmt.Sprint(p))
		}
		body = strings.Join(parts, "\r\n")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", method, uri, version)
	hasLen := false
	for k, v := range in.Headers {
		if strings.EqualFold(k, "content-length") {
			hasLen = true
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if body != "" && !hasLen {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	raw = b.Bytes()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, false
	}
	return r, true
}

// TestCRSRegressionSuite runs the CRS's own regression cases through the
// stage and reports, per rule file, how many positive cases it blocks and
// how many negative cases it blocks, beside Coraza + CRS alone.
func TestCRSRegressionSuite(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under -race")
	}
	dir := crsModuleDir(t)
	pl := ruleParanoia(t, dir)
	stages := map[int]*waf.Stage{}
	for p := 1; p <= 4; p++ {
		s, err := waf.New(waf.Config{ParanoiaLevel: p}, waf.Options{})
		if err != nil {
			t.Fatal(err)
		}
		stages[p] = s
	}
	base := map[int]inspector{}
	for p := 1; p <= 4; p++ {
		base[p] = corazaInspectorPL(t, p)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "tests", "REQUEST-9*", "*.yaml"))
	type row struct{ pos, posHit, neg, negHit, skipped, basePos, baseNeg int }
	rows := map[string]*row{}
	var all row
	blockedNow := map[string]bool{} // "rule/test/stage" of the positive cases blocked
	for _, f := range files {
		if strings.Contains(f, "REQUEST-949") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ff ftwFile
		if err := yaml.Unmarshal(b, &ff); err != nil {
			t.Logf("%s: %v", filepath.Base(f), err)
			continue
		}
		level := pl[ff.RuleID]
		if level == 0 {
			level = 1
		}
		group := filepath.Base(filepath.Dir(f))
		if rows[group] == nil {
			rows[group] = &row{}
		}
		r := rows[group]
		for _, tc := range ff.Tests {
			for si, st := range tc.Stages {
				want := 0
				for _, id := range st.Output.Log.ExpectIDs {
					if id == ff.RuleID {
						want = 1
					}
				}
				for _, id := range st.Output.Log.NoExpectIDs {
					if id == ff.RuleID {
						want = -1
					}
				}
				if want == 0 {
					continue
				}
				req, ok := ftwRequest(st.Input)
				if !ok {
					r.skipped++
					continue
				}
				x := pipeline.NewExchange(req, "crs", time.Unix(0, 0))
				x.BodyLimit = 1 << 20
				v, err := stages[level].Inspect(x)
				if err != nil {
					r.skipped++ // a body shorter than its Content-Length: the listener answers 400
					continue
				}
				blocked := v.Blocked || v.ParseError
				req2, _ := ftwRequest(st.Input)
				baseBlocked, _ := base[level](req2)
				if want > 0 {
					r.pos++
					if blocked {
						r.posHit++
						blockedNow[fmt.Sprintf("%d/%d/%d", ff.RuleID, tc.TestID, si)] = true
					}
					if baseBlocked {
						r.basePos++
						if !blocked && testing.Verbose() {
							t.Logf("miss %d/%d PL%d: %s %.100s %.100q", ff.RuleID, tc.TestID, level, st.Input.Method, st.Input.URI, fmt.Sprint(st.Input.Data))
						}
					}
				} else {
					r.neg++
					if blocked {
						r.negHit++
					}
					if baseBlocked {
						r.baseNeg++
					}
				}
			}
		}
	}
	var sb strings.Builder
	sb.WriteString("| CRS test folder | positive cases blocked | negative cases blocked | Coraza + CRS alone: positive | Coraza + CRS alone: negative | not sent (net/http refuses) |\n|---|---|---|---|---|---|\n")
	var groups []string
	for g := range rows {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		r := rows[g]
		all.pos += r.pos
		all.posHit += r.posHit
		all.neg += r.neg
		all.negHit += r.negHit
		all.skipped += r.skipped
		all.basePos += r.basePos
		all.baseNeg += r.baseNeg
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %d |\n", strings.TrimPrefix(g, "REQUEST-"), rate{r.posHit, r.pos}, rate{r.negHit, r.neg}, rate{r.basePos, r.pos}, rate{r.baseNeg, r.neg}, r.skipped)
	}
	fmt.Fprintf(&sb, "| **all** | %s | %s | %s | %s | %d |\n", rate{all.posHit, all.pos}, rate{all.negHit, all.neg}, rate{all.basePos, all.pos}, rate{all.baseNeg, all.neg}, all.skipped)
	t.Log("\n" + sb.String())
	if *corpusOut != "" {
		f, err := os.OpenFile(*corpusOut, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
		if err == nil {
			fmt.Fprintf(f, "\n### OWASP CRS regression suite through the waf stage (each case at its rule's paranoia level)\n\n%s", sb.String())
			f.Close()
		}
	}
	// A floor, not a goal: the stage removes a few CRS rules on purpose
	// (APITunedRules), protocol cases (920xxx) score notices that stay
	// under the threshold alone, and values the stage proves inert or prose
	// do not reach the CRS (docs/waf.md has the table and the parity).
	if got := (rate{all.posHit, all.pos}); all.pos == 0 || got.frac() < 0.78 {
		t.Errorf("positive CRS cases blocked: got %s, want at least the floor of 78%%", got)
	}
	checkCRSBlocked(t, blockedNow)
}

var crsUpdate = flag.Bool("waf.crs-update", false, "TestCRSRegressionSuite: rewrite testdata/crs-suite-blocked.txt with the positive cases the stage blocks now")

// checkCRSBlocked fails for every positive CRS case that
// testdata/crs-suite-blocked.txt says the stage blocks and it does not any
// more: the 78% floor would not see one case lost, and a relaxation of the
// prose test lost one once (933160/11, exec#\n (blah)). Cases blocked
// that the file does not list are gains; -waf.crs-update records them.
func checkCRSBlocked(t *testing.T, now map[string]bool) {
	t.Helper()
	const file = "testdata/crs-suite-blocked.txt"
	if *crsUpdate {
		ids := make([]string, 0, len(now))
		for id := range now {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		head := "# Positive cases of the CRS regression suite (rule/test/stage) that the waf stage blocks\n" +
			"# at the case's paranoia level; TestCRSRegressionSuite fails if one is no longer blocked.\n" +
			"# Rewritten by: go test ./internal/stage/waf -run 'TestCRSRegressionSuite$' -waf.crs-update\n"
		if err := os.WriteFile(file, []byte(head+strings.Join(ids, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (write it with -waf.crs-update)", err)
	}
	var lost []string
	listed := 0
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l == "" || l[0] == '#' {
			continue
		}
		listed++
		if !now[l] {
			lost = append(lost, l)
		}
	}
	if listed < 2000 {
		t.Fatalf("%s lists %d cases: too few to guard anything", file, listed)
	}
	if len(lost) > 0 {
		t.Errorf("%d positive CRS cases the stage blocked are no longer blocked (rule/test/stage): %s", len(lost), strings.Join(lost, " "))
	}
	if gained := len(now) - (listed - len(lost)); gained > 0 {
		t.Logf("%d positive CRS cases blocked that %s does not list (-waf.crs-update records them)", gained, file)
	}
}
