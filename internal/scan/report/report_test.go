package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/net/html"

	"github.com/portcullis/portcullis/internal/scan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// junitDocT mirrors the JUnit XML schema independently of the writer's own
// types, so the test reads the file the way a CI system would.
type junitDocT struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Time     string   `xml:"time,attr"`
	Props    []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"properties>property"`
	Suites []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Props    []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failures  []struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

var (
	idLine      = regexp.MustCompile(`(?m)^id: (\S+)$`)
	blockedLine = regexp.MustCompile(`(?m)^BLOCKED \[\w+\] (\S+): .* \(id (\S+)\)$`)
)

// idsFromJUnit returns the finding ids (→ check ids) a JUnit document
// carries in failures and BLOCKED lines, and the ids of the blocked ones.
func idsFromJUnit(t *testing.T, doc junitDocT) (all map[string]string, blocked []string) {
	t.Helper()
	all = map[string]string{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			for _, f := range c.Failures {
				m := idLine.FindStringSubmatch(f.Text)
				if m == nil {
					t.Fatalf("failure %q has no id line", f.Message)
				}
				all[m[1]] = f.Type
			}
			for _, m := range blockedLine.FindAllStringSubmatch(c.SystemOut, -1) {
				all[m[2]] = m[1]
				blocked = append(blocked, m[2])
			}
		}
	}
	return all, blocked
}

type sarifDocT struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Rules   []struct {
					ID               string                `json:"id"`
					Name             string                `json:"name"`
					ShortDescription struct{ Text string } `json:"shortDescription"`
					Help             struct{ Text string } `json:"help"`
					Properties       map[string]any        `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Invocations []struct {
			ExecutionSuccessful bool   `json:"executionSuccessful"`
			StartTimeUTC        string `json:"startTimeUtc"`
		} `json:"invocations"`
		Results []struct {
			RuleID    string                `json:"ruleId"`
			RuleIndex int                   `json:"ruleIndex"`
			Level     string                `json:"level"`
			Message   struct{ Text string } `json:"message"`
			Locations []struct {
				PhysicalLocation *struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
					Region *struct {
						StartLine int `json:"startLine"`
					} `json:"region"`
				} `json:"physicalLocation"`
				LogicalLocations []struct {
					Name               string `json:"name"`
					FullyQualifiedName string `json:"fullyQualifiedName"`
				} `json:"logicalLocations"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Properties          map[string]any    `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

// idsFromHTML returns data-id → data-check of every finding element.
func idsFromHTML(t *testing.T, page []byte) map[string]string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parsing html: %v", err)
	}
	ids := map[string]string{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "details" {
			var id, check string
			for _, a := range n.Attr {
				switch a.Key {
				case "data-id":
					id = a.Val
				case "data-check":
					check = a.Val
				}
			}
			if id != "" {
				if _, dup := ids[id]; dup {
					t.Errorf("html: finding id %s twice", id)
				}
				ids[id] = check
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return ids
}

// TestSameFindingsEveryFormat writes all four formats from one report and
// checks each carries every finding (by id and check id) and nothing else.
func TestSameFindingsEveryFormat(t *testing.T) {
	r := sampleReport()
	want := expectedIDs(r)
	if len(want) != len(r.Findings) {
		t.Fatalf("got %d unique ids for %d findings", len(want), len(r.Findings))
	}
	dir := filepath.Join(t.TempDir(), "out")
	paths, err := Write(dir, Formats, r, sampleOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	wantPaths := []string{"report.json", "report.sarif", "report.junit.xml", "report.html"}
	for i, p := range paths {
		if got := filepath.Base(p); got != wantPaths[i] {
			t.Errorf("path %d: got %v, want %v", i, got, wantPaths[i])
		}
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("json", func(t *testing.T) {
		var got scan.Report
		if err := json.Unmarshal(read("report.json"), &got); err != nil {
			t.Fatal(err)
		}
		ids := expectedIDs(&got)
		if !maps.Equal(ids, want) {
			t.Errorf("got %v, want %v", ids, want)
		}
	})
	t.Run("sarif", func(t *testing.T) {
		var doc sarifDocT
		if err := json.Unmarshal(read("report.sarif"), &doc); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, res := range doc.Runs[0].Results {
			got[res.Properties["id"].(string)] = res.RuleID
		}
		if !maps.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("junit", func(t *testing.T) {
		var doc junitDocT
		if err := xml.Unmarshal(read("report.junit.xml"), &doc); err != nil {
			t.Fatal(err)
		}
		got, _ := idsFromJUnit(t, doc)
		if !maps.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("html", func(t *testing.T) {
		got := idsFromHTML(t, read("report.html"))
		if !maps.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func TestSARIFSchema(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	if err := SARIF(&buf, r, sampleOptions(t)); err != nil {
		t.Fatal(err)
	}

	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("testdata/sarif-schema-2.1.0-subset.json")
	if err != nil {
		t.Fatalf("compiling the SARIF schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("SARIF output does not validate: %v", err)
	}

	// The schema is strict: it refuses what SARIF forbids.
	for name, bad := range map[string]string{
		"wrong version":        `{"version":"2.0.0","runs":[]}`,
		"no tool":              `{"version":"2.1.0","runs":[{"results":[]}]}`,
		"unknown property":     `{"version":"2.1.0","runs":[],"extra":1}`,
		"bad level":            `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"level":"fatal"}]}]}`,
		"zero start line":      `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a"},"region":{"startLine":0}}}]}]}]}`,
		"message without text": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{}}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); err == nil {
				t.Errorf("got valid, want a validation error")
			}
		})
	}
}

// TestSARIFPublishedSchema validates the output against the published
// SARIF 2.1.0 (rtm.5) JSON Schema, which `make deps` (scripts/test-deps.sh)
// fetches into .cache/ from the npm package that ships it. In CI the file
// must be there; elsewhere the test is skipped without it.
func TestSARIFPublishedSchema(t *testing.T) {
	path := os.Getenv("PORTCULLIS_SARIF_SCHEMA")
	if path == "" {
		path = "../../../.cache/sarif/sarif-2.1.0-rtm.5.json"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the published SARIF schema is missing (%v): run scripts/test-deps.sh", err)
		}
		t.Skipf("the published SARIF schema is not fetched (%v): run scripts/test-deps.sh", err)
	}
	r := sampleReport()
	var buf bytes.Buffer
	if err := SARIF(&buf, r, sampleOptions(t)); err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compiling the published SARIF schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("SARIF output does not validate against the published schema: %v", err)
	}
	bad, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"results":[]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(bad); err == nil {
		t.Fatal("a run without a tool validates: the schema is not being applied")
	}
}

func TestSARIFContent(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	if err := SARIF(&buf, r, sampleOptions(t)); err != nil {
		t.Fatal(err)
	}
	var doc sarifDocT
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("got %d runs, want 1", len(doc.Runs))
	}
	run := doc.Runs[0]
	if run.Tool.Driver.Name != "portcullis" || run.Tool.Driver.Version != "0.1.0-test" {
		t.Errorf("got driver %q %q", run.Tool.Driver.Name, run.Tool.Driver.Version)
	}
	if len(run.Invocations) != 1 || !run.Invocations[0].ExecutionSuccessful || run.Invocations[0].StartTimeUTC != "2026-03-14T09:26:53Z" {
		t.Errorf("got invocations %+v", run.Invocations)
	}

	checks := map[string]bool{}
	for _, f := range r.Findings {
		checks[f.CheckID] = true
	}
	if got, want := len(run.Tool.Driver.Rules), len(checks); got != want {
		t.Errorf("got %d rules, want %d (one per check id)", got, want)
	}
	rules := map[string]int{}
	for i, rule := range run.Tool.Driver.Rules {
		rules[rule.ID] = i
		if rule.Name == "" || rule.ShortDescription.Text == "" || rule.Help.Text == "" {
			t.Errorf("rule %s: missing name, description or help: %+v", rule.ID, rule)
		}
		if _, ok := rule.Properties["security-severity"].(string); !ok {
			t.Errorf("rule %s: no security-severity", rule.ID)
		}
	}
	if got := run.Tool.Driver.Rules[rules["injection.sql.error"]]; got.Name != "InjectionSqlError" ||
		got.Properties["security-severity"] != "9.5" || got.Properties["owasp"] != "API8:2023" ||
		got.Help.Text != "Use parameterised queries; never build SQL from request values." {
		t.Errorf("got rule %+v", got)
	}

	// Lines of the fixture's operations (see testdata/openapi.yaml).
	lines := map[string]int{
		"POST /login": 9, "GET /pets": 15, "POST /pets": 29, "GET /pets/{id}": 41,
		"DELETE /pets/{id}": 46, "GET /admin/users": 52, "POST /fetch": 58,
	}
	levels := map[scan.Severity]string{"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
	_, entries := sorted(r)
	if len(run.Results) != len(entries) {
		t.Fatalf("got %d results, want %d", len(run.Results), len(entries))
	}
	for i, res := range run.Results {
		e := entries[i]
		t.Run(e.ID, func(t *testing.T) {
			if res.RuleID != e.CheckID || res.RuleIndex != rules[e.CheckID] {
				t.Errorf("got rule %s #%d, want %s #%d", res.RuleID, res.RuleIndex, e.CheckID, rules[e.CheckID])
			}
			if res.Level != levels[e.Severity] {
				t.Errorf("got level %v, want %v", res.Level, levels[e.Severity])
			}
			if got := res.PartialFingerprints[fingerprintKey]; got != FindingID(e.Finding) {
				t.Errorf("got fingerprint %v, want %v", got, FindingID(e.Finding))
			}
			if len(res.Locations) != 1 || res.Locations[0].PhysicalLocation == nil {
				t.Fatalf("got locations %+v, want one physical location", res.Locations)
			}
			pl := res.Locations[0].PhysicalLocation
			if pl.ArtifactLocation.URI != "testdata/openapi.yaml" || pl.ArtifactLocation.URIBaseID != "%SRCROOT%" {
				t.Errorf("got artifact %+v", pl.ArtifactLocation)
			}
			want, known := lines[e.Operation]
			switch {
			case known && (pl.Region == nil || pl.Region.StartLine != want):
				t.Errorf("got region %+v, want startLine %d", pl.Region, want)
			case !known && pl.Region != nil:
				t.Errorf("got region %+v for an operation not in the description, want none", pl.Region)
			}
			if e.Operation != "" {
				ll := res.Locations[0].LogicalLocations
				if len(ll) != 1 || ll[0].FullyQualifiedName != e.Operation {
					t.Errorf("got logical locations %+v, want %s", ll, e.Operation)
				}
			}
			if got := res.Properties["blocked"]; got != e.Blocked {
				t.Errorf("got blocked %v, want %v", got, e.Blocked)
			}
			if e.Blocked && !strings.HasPrefix(res.Message.Text, "[blocked by a security gateway]") {
				t.Errorf("got message %q, want the blocked mark", res.Message.Text)
			}
		})
	}
}

func TestArtifactLocation(t *testing.T) {
	tests := []struct {
		spec, uri, base string
		none            bool
	}{
		{spec: "", none: true},
		{spec: "api/openapi.yaml", uri: "api/openapi.yaml", base: "%SRCROOT%"},
		{spec: "./openapi.yaml", uri: "openapi.yaml", base: "%SRCROOT%"},
		{spec: "/srv/specs/open api.yaml", uri: "file:///srv/specs/open%20api.yaml"},
		{spec: "https://api.example.com/openapi.json", uri: "https://api.example.com/openapi.json"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got := artifactLocation(tt.spec)
			if tt.none {
				if got != nil {
					t.Errorf("got %+v, want nil", got)
				}
				return
			}
			base := ""
			if got.URIBaseId != nil {
				base = *got.URIBaseId
			}
			if *got.URI != tt.uri || base != tt.base {
				t.Errorf("got %v %v, want %v %v", *got.URI, base, tt.uri, tt.base)
			}
		})
	}
}

func TestJUnitParses(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	if err := JUnit(&buf, r, sampleOptions(t)); err != nil {
		t.Fatal(err)
	}
	var doc junitDocT
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("parsing junit: %v", err)
	}

	// One suite per group; in it one case per finding, and one passing case
	// per operation without a finding of that group.
	if got, want := len(doc.Suites), len(r.Groups); got != want {
		t.Errorf("got %d suites, want %d", got, want)
	}
	withFinding := map[string]bool{}
	unblocked, blockedN := 0, 0
	for _, f := range r.Findings {
		withFinding[f.Group+"|"+caseName(f.Operation)] = true
		if f.Blocked {
			blockedN++
		} else {
			unblocked++
		}
	}
	wantTests := len(r.Findings)
	for _, g := range r.Groups {
		for _, op := range r.Operations {
			if !withFinding[g+"|"+op] {
				wantTests++
			}
		}
	}
	if doc.Tests != wantTests || doc.Failures != unblocked || doc.Skipped != blockedN {
		t.Errorf("got tests=%d failures=%d skipped=%d, want %d, %d (unblocked findings), %d (blocked)", doc.Tests, doc.Failures, doc.Skipped, wantTests, unblocked, blockedN)
	}
	sumTests, sumFailures, sumSkipped, failureElems := 0, 0, 0, 0
	for _, s := range doc.Suites {
		cases, fails, skips := 0, 0, 0
		for _, c := range s.Cases {
			cases++
			if len(c.Failures) > 1 {
				t.Errorf("suite %s case %s: %d failures, want at most one per case", s.Name, c.Name, len(c.Failures))
			}
			if len(c.Failures) > 0 {
				fails++
			}
			if c.Skipped != nil {
				skips++
				if len(c.Failures) > 0 {
					t.Errorf("suite %s case %s is both failed and skipped", s.Name, c.Name)
				}
			}
			failureElems += len(c.Failures)
			if want := "portcullis." + s.Name; c.Classname != want {
				t.Errorf("got classname %v, want %v", c.Classname, want)
			}
		}
		if s.Tests != cases || s.Failures != fails || s.Skipped != skips {
			t.Errorf("suite %s: got tests=%d failures=%d skipped=%d, counted %d, %d and %d", s.Name, s.Tests, s.Failures, s.Skipped, cases, fails, skips)
		}
		sumTests += s.Tests
		sumFailures += s.Failures
		sumSkipped += s.Skipped
	}
	if sumTests != doc.Tests || sumFailures != doc.Failures || sumSkipped != doc.Skipped {
		t.Errorf("got suites summing to %d/%d/%d, want %d/%d/%d", sumTests, sumFailures, sumSkipped, doc.Tests, doc.Failures, doc.Skipped)
	}
	if failureElems != unblocked {
		t.Errorf("got %d failure elements, want %d (one per unblocked finding)", failureElems, unblocked)
	}
	_, blocked := idsFromJUnit(t, doc)
	if len(blocked) != 3 {
		t.Errorf("got %d blocked lines, want 3", len(blocked))
	}
	props := map[string]string{}
	for _, p := range doc.Props {
		props[p.Name] = p.Value
	}
	if props["requests"] != "1873" || props["tool.version"] != "0.1.0-test" || props["performance.passed"] != "false" {
		t.Errorf("got properties %v", props)
	}
	if doc.Time != "42.317" {
		t.Errorf("got time %v, want 42.317", doc.Time)
	}
	// Control characters from evidence cannot break the XML.
	if bytes.ContainsAny(buf.Bytes(), "\x00\x1b") {
		t.Errorf("junit output holds raw control characters")
	}
}

// TestGolden compares JSON and JUnit output with testdata/golden.*;
// refresh with go test ./internal/scan/report -run Golden -update.
func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"golden.json", func(b *bytes.Buffer) error { return JSON(b, sampleReport()) }},
		{"golden.junit.xml", func(b *bytes.Buffer) error { return JUnit(b, sampleReport(), sampleOptions(t)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.name)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from the output (run with -update after checking the change):\n%s", path, firstDiff(buf.String(), string(want)))
			}
		})
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

func TestJSONStable(t *testing.T) {
	// Shuffled input gives the same bytes.
	a, b := sampleReport(), sampleReport()
	slices.Reverse(b.Findings)
	var ba, bb bytes.Buffer
	if err := JSON(&ba, a); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&bb, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
		t.Errorf("json output depends on input order")
	}
	// An empty report has [] lists, not null.
	var e bytes.Buffer
	if err := JSON(&e, &scan.Report{Target: "http://x"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"findings": []`, `"operations": []`, `"groups": []`} {
		if !strings.Contains(e.String(), k) {
			t.Errorf("got %s, want it to contain %s", e.String(), k)
		}
	}
}

func TestHTMLEscapesEvidence(t *testing.T) {
	var buf bytes.Buffer
	if err := HTML(&buf, sampleReport(), sampleOptions(t)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script>window.__xss", "<img src=x", "<script>alert(", "\x1b[31m"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds unescaped %q", bad)
		}
	}
	for _, good := range []string{
		"&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x onerror=&#34;window.__xss=2&#34;&gt;",
		"&lt;script&gt;alert(document.cookie)&lt;/script&gt;",
		"sk_live_[REDACTED]",
		"\u241b[31mred\u241b[0m \u2400 &amp; &#39;quotes&#39;",
		"Content-Security-Policy",
		"API1:2023 Broken Object Level Authorization",
		`id="performance"`,
	} {
		if !strings.Contains(page, good) {
			t.Errorf("page lacks %q", good)
		}
	}
	// Exactly one script element: ours.
	if n := strings.Count(page, "<script"); n != 1 {
		t.Errorf("got %d <script tags, want 1", n)
	}
	for _, ext := range []string{"http://", "https://", "//fonts", "src=\"/"} {
		for _, line := range strings.Split(page, "\n") {
			if strings.Contains(line, ext) && (strings.Contains(line, "<link") || strings.Contains(line, "src=")) {
				t.Errorf("page loads an external asset: %s", line)
			}
		}
	}
	// The CSP hashes match the inline blocks.
	if unescaped := html.UnescapeString(page); !strings.Contains(unescaped, hashSource(htmlJS)) || !strings.Contains(unescaped, hashSource(htmlCSS)) {
		t.Errorf("CSP lacks the hashes of the inline style and script")
	}
}

func TestHTMLEmptyReport(t *testing.T) {
	var buf bytes.Buffer
	if err := HTML(&buf, &scan.Report{Target: "http://127.0.0.1:1"}, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "No findings.") {
		t.Errorf("empty report does not say so")
	}
	if strings.Contains(buf.String(), `id="performance"`) {
		t.Errorf("performance section without a load test")
	}
}

func TestWriteRefusesUnknownFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := Write(dir, []string{"json", "pdf"}, sampleReport(), Options{}); err == nil {
		t.Fatal("got nil error, want one for pdf")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("got %v, want no directory written", err)
	}
	if _, err := Write(dir, nil, nil, Options{}); err == nil {
		t.Error("got nil error for a nil report")
	}
}

func TestWriteLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Write(dir, []string{"JSON", "json", " html "}, sampleReport(), Options{}); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"report.html", "report.json"}; !slices.Equal(names, want) {
		t.Errorf("got %v, want %v", names, want)
	}
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "json", want: []string{"json"}},
		{in: "json, SARIF,json", want: []string{"json", "sarif"}},
		{in: "all", want: Formats},
		{in: "html,all", want: []string{"html", "json", "sarif", "junit"}},
		{in: "", err: true},
		{in: " , ", err: true},
		{in: "json,pdf", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormats(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("got error %v, want error %v", err, tt.err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	f := func(s scan.Severity, blocked bool) scan.Finding {
		return scan.Finding{CheckID: "c", Severity: s, Blocked: blocked}
	}
	tests := []struct {
		name     string
		findings []scan.Finding
		failOn   scan.Severity
		want     int
	}{
		{"no findings", nil, scan.SeverityInfo, 0},
		{"below threshold", []scan.Finding{f("medium", false)}, scan.SeverityHigh, 0},
		{"at threshold", []scan.Finding{f("high", false)}, scan.SeverityHigh, 1},
		{"above threshold", []scan.Finding{f("critical", false)}, scan.SeverityHigh, 1},
		{"blocked does not count", []scan.Finding{f("critical", true)}, scan.SeverityLow, 0},
		{"blocked and unblocked", []scan.Finding{f("critical", true), f("low", false)}, scan.SeverityLow, 1},
		{"info threshold", []scan.Finding{f("info", false)}, scan.SeverityInfo, 1},
		{"empty fails closed", []scan.Finding{f("info", false)}, "", 1},
		{"unknown fails closed", []scan.Finding{f("low", false)}, "severe", 1},
		{"sample at high", sampleReport().Findings, scan.SeverityHigh, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(&scan.Report{Findings: tt.findings}, tt.failOn); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if got := ExitCode(nil, scan.SeverityInfo); got != 0 {
		t.Errorf("nil report: got %v, want 0", got)
	}
}

func TestFindingIDs(t *testing.T) {
	_, entries := sorted(sampleReport())
	var dup []string
	for _, e := range entries {
		if strings.Contains(e.ID, "-") {
			dup = append(dup, e.ID)
			if !strings.HasPrefix(e.ID, e.Fingerprint+"-") {
				t.Errorf("got id %v for fingerprint %v", e.ID, e.Fingerprint)
			}
		}
	}
	// The two reflected-XSS findings share check, operation and location.
	if len(dup) != 1 || !strings.HasSuffix(dup[0], "-2") {
		t.Errorf("got suffixed ids %v, want one ending in -2", dup)
	}
	a := scan.Finding{CheckID: "authz.bola", Operation: "GET /pets/{id}", Location: "path:id", Title: "x"}
	b := a
	b.Title, b.Evidence.Detail = "y", "other run"
	if FindingID(a) != FindingID(b) {
		t.Errorf("id depends on title or evidence")
	}
	if len(FindingID(a)) != 16 {
		t.Errorf("got id %q, want 16 hex digits", FindingID(a))
	}
}

func TestJUnitHostileEvidence(t *testing.T) {
	r := &scan.Report{
		Operations: []string{"GET /a"},
		Groups:     []string{"injection"},
		Findings: []scan.Finding{{
			CheckID: "injection.x", Group: "injection", Severity: scan.SeverityHigh,
			Title: "multi\nline \"title\"", Operation: "GET /a",
			Evidence: scan.Evidence{Response: "a]]>b <x> \x00\x1b\ufffe \xff end"},
		}},
	}
	var buf bytes.Buffer
	if err := JUnit(&buf, r, Options{}); err != nil {
		t.Fatal(err)
	}
	var doc junitDocT
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("parsing junit: %v\n%s", err, buf.String())
	}
	f := doc.Suites[0].Cases[0].Failures
	if len(f) != 1 {
		t.Fatalf("got %d failures, want 1", len(f))
	}
	if want := "a]]>b <x> \u2400\u241b\ufffd \ufffd end"; !strings.Contains(f[0].Text, want) {
		t.Errorf("got %q, want it to contain %q", f[0].Text, want)
	}
	if want := `[high] injection.x: multi line "title"`; f[0].Message != want {
		t.Errorf("got %q, want %q", f[0].Message, want)
	}
}

// TestNotesInEveryFormat checks that a note (here the optional
// authentication one of the authentication checks, with characters each
// format escapes) reaches the terminal summary and every file format.
func TestNotesInEveryFormat(t *testing.T) {
	const note = `2 operations answer without credentials although the description requires them; they refuse a wrong credential, so their authentication is optional (check the description): GET /articles?tag=<a>&b, GET /articles/{slug}`
	r := sampleReport()
	r.Notes = []string{note}
	dir := t.TempDir()
	if _, err := Write(dir, Formats, r, sampleOptions(t)); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var js scan.Report
	if err := json.Unmarshal(read("report.json"), &js); err != nil {
		t.Fatal(err)
	}
	var sr struct {
		Runs []struct {
			Invocations []struct {
				Notifications []struct {
					Message struct {
						Text string `json:"text"`
					} `json:"message"`
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(read("report.sarif"), &sr); err != nil {
		t.Fatal(err)
	}
	var sarifNotes []string
	for _, run := range sr.Runs {
		for _, inv := range run.Invocations {
			for _, n := range inv.Notifications {
				sarifNotes = append(sarifNotes, n.Message.Text)
			}
		}
	}
	var doc junitDocT
	if err := xml.Unmarshal(read("report.junit.xml"), &doc); err != nil {
		t.Fatal(err)
	}
	var junitNotes []string
	for _, p := range doc.Props {
		if strings.HasPrefix(p.Name, "note.") {
			junitNotes = append(junitNotes, p.Value)
		}
	}
	page, err := html.Parse(bytes.NewReader(read("report.html")))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for n := range page.Descendants() {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
		}
	}
	var term bytes.Buffer
	if err := Summary(&term, r); err != nil {
		t.Fatal(err)
	}
	for name, ok := range map[string]bool{
		"json":     slices.Contains(js.Notes, note),
		"sarif":    slices.Contains(sarifNotes, note),
		"junit":    slices.Contains(junitNotes, note),
		"html":     strings.Contains(text.String(), note),
		"terminal": strings.Contains(term.String(), note),
	} {
		if !ok {
			t.Errorf("%s: the note is missing", name)
		}
	}
}
