package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/scan"
)

// noOperation names the test case of findings that concern the API as a
// whole rather than one operation (TLS, CORS on every route…).
const noOperation = "(api)"

type junitSuites struct {
	XMLName    xml.Name        `xml:"testsuites"`
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Suites     []junitSuite    `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	Classname string         `xml:"classname,attr"`
	Time      string         `xml:"time,attr"`
	Failures  []junitFailure `xml:"failure"`
	Skipped   *junitSkipped  `xml:"skipped,omitempty"`
	SystemOut *junitText     `xml:"system-out,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// junitText is element text written as CDATA so multi-line evidence stays
// readable in the file.
type junitText struct {
	Text string `xml:",cdata"`
}

// JUnit writes r as JUnit XML for CI test views:
//
//   - one <testsuite> per check group (the report's groups, plus any group a
//     finding names), with properties: group, findings, blocked;
//   - in each, one <testcase> per operation (name "METHOD /path", classname
//     "portcullis.<group>"), plus a test case named "(api)" when a finding
//     of that group has no operation;
//   - a test case fails when it has at least one finding that was not
//     blocked, with one <failure> per such finding (message "[severity]
//     check id: title", type the check id, text the details, evidence and
//     remediation). Findings that were blocked by a security gateway do not
//     fail it (as in ExitCode); they are listed in the test case's
//     <system-out>, one "BLOCKED [severity] check id: title (id …)" line each,
//     followed by their details;
//   - <testsuites> carries the target, spec, tool version, request count and
//     the load-test result as properties.
//
// Test case times are 0: the scanner does not time each pair. The suites'
// time is the scan's duration.
func JUnit(w io.Writer, r *scan.Report, opts Options) error {
	if r == nil {
		return errors.New("writing junit report: nil report")
	}
	doc := junitDoc(r, opts)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("writing junit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing junit report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitDoc(r *scan.Report, opts Options) junitSuites {
	c, entries := sorted(r)
	dur := "0"
	if !c.Started.IsZero() && c.Finished.After(c.Started) {
		dur = seconds(c.Finished.Sub(c.Started))
	}
	stamp := ""
	if !c.Started.IsZero() {
		stamp = c.Started.UTC().Format("2006-01-02T15:04:05")
	}

	groups := slices.Clone(c.Groups)
	for _, e := range entries {
		if !slices.Contains(groups, e.Group) {
			groups = append(groups, e.Group)
		}
	}

	doc := junitSuites{
		Name:      "portcullis scan",
		Time:      dur,
		Timestamp: stamp,
		Properties: []junitProperty{
			{"target", c.Target},
			{"spec", c.Spec},
			{"tool.version", opts.toolVersion()},
			{"requests", strconv.Itoa(c.Requests)},
			{"operations", strconv.Itoa(len(c.Operations))},
			{"findings", strconv.Itoa(len(entries))},
		},
	}
	for i, n := range c.Notes {
		doc.Properties = append(doc.Properties, junitProperty{"note." + strconv.Itoa(i+1), oneLine(n)})
	}
	for _, ch := range c.Changes {
		doc.Properties = append(doc.Properties, junitProperty{"changed." + ch.Operation, fmt.Sprintf("%s %d (%s)", ch.Kind, ch.Count, strings.Join(ch.Objects, ", "))})
	}
	if p := c.Performance; p != nil {
		doc.Properties = append(doc.Properties,
			junitProperty{"performance.rate", strconv.FormatFloat(p.Rate, 'f', -1, 64)},
			junitProperty{"performance.duration", p.Duration.String()},
			junitProperty{"performance.requests", strconv.FormatUint(p.Requests, 10)},
			junitProperty{"performance.p50", p.P50.String()},
			junitProperty{"performance.p90", p.P90.String()},
			junitProperty{"performance.p99", p.P99.String()},
			junitProperty{"performance.error_rate", strconv.FormatFloat(p.ErrorRate, 'f', -1, 64)},
			junitProperty{"performance.passed", strconv.FormatBool(p.Passed)},
		)
	}

	for _, g := range groups {
		s := junitSuite{Name: groupName(g), Time: "0", Timestamp: stamp}
		var mine []entry
		for _, e := range entries {
			if e.Group == g {
				mine = append(mine, e)
			}
		}
		ops := slices.Clone(c.Operations)
		for _, e := range mine {
			if op := caseName(e.Operation); !slices.Contains(ops, op) {
				ops = append(ops, op)
			}
		}
		blocked := 0
		for _, op := range ops {
			var here []entry
			for _, e := range mine {
				if caseName(e.Operation) == op {
					here = append(here, e)
				}
			}
			if len(here) == 0 {
				s.Cases = append(s.Cases, junitCase{Name: op, Classname: "portcullis." + groupName(g), Time: "0"})
				continue
			}
			// One case per finding, so that every count agrees: a case
			// fails with exactly one <failure>, and tests, failures and
			// skipped add up in every suite and in the document.
			for _, e := range here {
				name := op + " " + e.CheckID
				if e.Location != "" {
					name += " " + e.Location
				}
				tc := junitCase{Name: oneLine(name), Classname: "portcullis." + groupName(g), Time: "0"}
				if e.Blocked {
					blocked++
					tc.Skipped = &junitSkipped{Message: fmt.Sprintf("blocked by a security gateway: [%s] %s: %s (id %s)", e.Severity, e.CheckID, oneLine(e.Title), e.ID)}
					tc.SystemOut = &junitText{fmt.Sprintf("BLOCKED [%s] %s: %s (id %s)\n%s\n", e.Severity, e.CheckID, oneLine(e.Title), e.ID, details(e))}
					s.Skipped++
				} else {
					tc.Failures = []junitFailure{{
						Message: fmt.Sprintf("[%s] %s: %s", e.Severity, e.CheckID, oneLine(e.Title)),
						Type:    e.CheckID,
						Text:    details(e),
					}}
					s.Failures++
				}
				s.Cases = append(s.Cases, tc)
			}
		}
		s.Tests = len(s.Cases)
		s.Properties = []junitProperty{
			{"group", groupName(g)},
			{"findings", strconv.Itoa(len(mine))},
			{"blocked", strconv.Itoa(blocked)},
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	return doc
}

// details is the plain-text body describing a finding. Control characters
// become visible symbols (they are not allowed in XML 1.0 at all).
func details(e entry) string {
	return visible(detailText(e))
}

// oneLine makes s safe for a one-line header or attribute.
func oneLine(s string) string {
	return strings.ReplaceAll(visible(s), "\n", " ")
}

func detailText(e entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "id: %s\ncheck: %s\nseverity: %s\nconfidence: %s\n", e.ID, e.CheckID, e.Severity, e.Confidence)
	if e.OWASP != "" {
		fmt.Fprintf(&b, "owasp: %s\n", owaspLabel(e.OWASP))
	}
	if e.CWE != "" {
		fmt.Fprintf(&b, "cwe: %s\n", e.CWE)
	}
	if e.Operation != "" {
		fmt.Fprintf(&b, "operation: %s\n", e.Operation)
	}
	if e.OperationID != "" {
		fmt.Fprintf(&b, "operation id: %s\n", e.OperationID)
	}
	if e.Location != "" {
		fmt.Fprintf(&b, "location: %s\n", e.Location)
	}
	if e.Blocked {
		b.WriteString("blocked: true (a security gateway refused the probe)\n")
	}
	if e.Evidence.Detail != "" {
		fmt.Fprintf(&b, "detail: %s\n", e.Evidence.Detail)
	}
	if e.Evidence.Request != "" {
		fmt.Fprintf(&b, "request:\n%s\n", indent(e.Evidence.Request))
	}
	if e.Evidence.Response != "" {
		fmt.Fprintf(&b, "response:\n%s\n", indent(e.Evidence.Response))
	}
	if e.Evidence.Curl != "" {
		fmt.Fprintf(&b, "reproduce:\n%s\n", indent(e.Evidence.Curl))
	}
	if e.Remediation != "" {
		fmt.Fprintf(&b, "remediation: %s\n", e.Remediation)
	}
	return b.String()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

func caseName(op string) string {
	if op == "" {
		return noOperation
	}
	return op
}

func groupName(g string) string {
	if g == "" {
		return "other"
	}
	return g
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}
