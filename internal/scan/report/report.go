// Package report writes the results of `portcullis scan`: JSON, SARIF 2.1.0,
// JUnit XML and a self-contained HTML page, plus the terminal progress bar,
// the terminal summary table and the CI exit code.
//
// Every format carries exactly the same findings, in the same order
// (severity, highest first, then check id, operation, location and title),
// and names each one with the same identifier (see FindingID).
package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/scan"
)

// Format names accepted by Write and ParseFormats.
const (
	FormatJSON  = "json"
	FormatSARIF = "sarif"
	FormatJUnit = "junit"
	FormatHTML  = "html"
)

// Formats lists every format, in the order the files are usually written.
var Formats = []string{FormatJSON, FormatSARIF, FormatJUnit, FormatHTML}

// fileNames maps a format to the file Write creates for it.
var fileNames = map[string]string{
	FormatJSON:  "report.json",
	FormatSARIF: "report.sarif",
	FormatJUnit: "report.junit.xml",
	FormatHTML:  "report.html",
}

// Options tune the writers. The zero value is usable.
type Options struct {
	// SpecPath is the OpenAPI description as the user named it (a relative
	// path, an absolute path or a URL). SARIF results point at it. Empty
	// means the Report's Spec field.
	SpecPath string
	// SpecSource is the description's bytes, used to find the line of each
	// operation for SARIF regions and the HTML report. Nil means no line
	// numbers (locations point at the file only).
	SpecSource []byte
	// ToolVersion is Portcullis's version, written into SARIF, JUnit and HTML.
	// Empty means "dev".
	ToolVersion string
}

func (o Options) toolVersion() string {
	if o.ToolVersion == "" {
		return "dev"
	}
	return o.ToolVersion
}

func (o Options) specPath(r *scan.Report) string {
	if o.SpecPath != "" {
		return o.SpecPath
	}
	return r.Spec
}

// ParseFormats splits a comma-separated list ("json,sarif") into format
// names, lowercased and without duplicates. "all" stands for every format.
// An empty list is an error.
func ParseFormats(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		switch {
		case f == "":
			continue
		case f == "all":
			for _, a := range Formats {
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		case fileNames[f] == "":
			return nil, fmt.Errorf("unknown report format %q (want %s)", f, strings.Join(Formats, ", "))
		case !slices.Contains(out, f):
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no report format given")
	}
	return out, nil
}

// Write writes one file per format into dir (created when missing):
// report.json, report.sarif, report.junit.xml and report.html. Every format
// name is checked before any file is written. Each file is written to a
// temporary name and renamed, so a reader never sees half a report. It
// returns the paths written, in the order of formats.
func Write(dir string, formats []string, r *scan.Report, opts Options) ([]string, error) {
	if r == nil {
		return nil, errors.New("writing reports: nil report")
	}
	var todo []string
	for _, f := range formats {
		f = strings.ToLower(strings.TrimSpace(f))
		if fileNames[f] == "" {
			return nil, fmt.Errorf("writing reports: unknown format %q (want %s)", f, strings.Join(Formats, ", "))
		}
		if !slices.Contains(todo, f) {
			todo = append(todo, f)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("writing reports: %w", err)
	}
	var paths []string
	for _, f := range todo {
		p := filepath.Join(dir, fileNames[f])
		if err := writeFile(p, func(w io.Writer) error { return writeFormat(w, f, r, opts) }); err != nil {
			return paths, fmt.Errorf("writing %s report: %w", f, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func writeFormat(w io.Writer, format string, r *scan.Report, opts Options) error {
	switch format {
	case FormatJSON:
		return JSON(w, r)
	case FormatSARIF:
		return SARIF(w, r, opts)
	case FormatJUnit:
		return JUnit(w, r, opts)
	case FormatHTML:
		return HTML(w, r, opts)
	}
	return fmt.Errorf("unknown format %q", format)
}

// writeFile writes through a temporary file in the same directory and
// renames it into place.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ExitCode is the process exit code for CI: 1 when at least one finding that
// was not blocked has a severity rank at or above failOn's, 0 otherwise.
//
// Blocked findings never fail the build: a blocked finding means a security
// gateway refused the probe, so the attack did not get through (the flaw may
// still exist upstream, and every report lists it, marked blocked). This is
// what lets a scan through the gateway pass where a direct scan fails.
//
// A failOn that is not a known severity (including "") fails closed: it is
// treated as info, so every non-blocked finding counts. Callers that want no
// gate do not call ExitCode.
func ExitCode(r *scan.Report, failOn scan.Severity) int {
	if r == nil {
		return 0
	}
	threshold := failOn.Rank()
	if threshold < 0 {
		threshold = scan.SeverityInfo.Rank()
	}
	for _, f := range r.Findings {
		if !f.Blocked && f.Severity.Rank() >= threshold {
			return 1
		}
	}
	return 0
}

// FindingID is a stable identifier for a finding: the first 16 hex digits of
// SHA-256 over its check id, operation and location. The same flaw found by
// two scans gets the same id (SARIF uses it as the partial fingerprint for
// de-duplication). Within one report, findings that share an id get "-2",
// "-3" … suffixes in report order, so every finding has a unique id in every
// format.
func FindingID(f scan.Finding) string {
	h := sha256.Sum256([]byte(f.CheckID + "\x00" + f.Operation + "\x00" + f.Location))
	return hex.EncodeToString(h[:8])
}

// entry is a finding with its report-wide id.
type entry struct {
	scan.Finding
	ID          string
	Fingerprint string
}

// sorted returns a copy of r with findings in report order and nil slices
// replaced by empty ones, plus the findings' unique ids.
func sorted(r *scan.Report) (scan.Report, []entry) {
	c := *r
	c.Findings = slices.Clone(r.Findings)
	slices.SortStableFunc(c.Findings, compareFindings)
	if c.Findings == nil {
		c.Findings = []scan.Finding{}
	}
	if c.Operations == nil {
		c.Operations = []string{}
	}
	if c.Groups == nil {
		c.Groups = []string{}
	}
	if c.Changes == nil {
		c.Changes = []scan.Change{}
	}
	seen := map[string]int{}
	entries := make([]entry, len(c.Findings))
	for i, f := range c.Findings {
		fp := FindingID(f)
		seen[fp]++
		id := fp
		if n := seen[fp]; n > 1 {
			id = fp + "-" + strconv.Itoa(n)
		}
		entries[i] = entry{Finding: f, ID: id, Fingerprint: fp}
	}
	return c, entries
}

// compareFindings orders by severity (highest first), then check id,
// operation, location, title, and not-blocked before blocked.
func compareFindings(a, b scan.Finding) int {
	if c := cmp.Compare(b.Severity.Rank(), a.Severity.Rank()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.CheckID, b.CheckID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Operation, b.Operation); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Location, b.Location); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Title, b.Title); c != 0 {
		return c
	}
	switch {
	case a.Blocked == b.Blocked:
		return 0
	case b.Blocked:
		return -1
	}
	return 1
}

// severities lists the known severities, highest first.
var severities = []scan.Severity{
	scan.SeverityCritical, scan.SeverityHigh, scan.SeverityMedium, scan.SeverityLow, scan.SeverityInfo,
}

// counts tallies findings per severity, and how many were blocked.
type counts struct {
	bySeverity map[scan.Severity]int
	blocked    int
	total      int
}

func countFindings(fs []scan.Finding) counts {
	c := counts{bySeverity: map[scan.Severity]int{}}
	for _, f := range fs {
		c.bySeverity[f.Severity]++
		c.total++
		if f.Blocked {
			c.blocked++
		}
	}
	return c
}

// owaspTitles names the OWASP API Security Top 10 2023 categories.
var owaspTitles = map[string]string{
	"API1:2023":  "Broken Object Level Authorization",
	"API2:2023":  "Broken Authentication",
	"API3:2023":  "Broken Object Property Level Authorization",
	"API4:2023":  "Unrestricted Resource Consumption",
	"API5:2023":  "Broken Function Level Authorization",
	"API6:2023":  "Unrestricted Access to Sensitive Business Flows",
	"API7:2023":  "Server Side Request Forgery",
	"API8:2023":  "Security Misconfiguration",
	"API9:2023":  "Improper Inventory Management",
	"API10:2023": "Unsafe Consumption of APIs",
}

// owaspLabel is "API1:2023 Broken Object Level Authorization", the category
// alone when its title is unknown, or "Uncategorised" when empty.
func owaspLabel(cat string) string {
	if cat == "" {
		return "Uncategorised"
	}
	if t := owaspTitles[cat]; t != "" {
		return cat + " " + t
	}
	return cat
}

// owaspOrder sorts categories API1 … API10 numerically, unknown ones after,
// the empty category last.
func owaspOrder(a, b string) int {
	na, nb := owaspNumber(a), owaspNumber(b)
	if c := cmp.Compare(na, nb); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

func owaspNumber(cat string) int {
	if cat == "" {
		return 1 << 20
	}
	rest, ok := strings.CutPrefix(cat, "API")
	if !ok {
		return 1 << 19
	}
	num, _, _ := strings.Cut(rest, ":")
	n, err := strconv.Atoi(num)
	if err != nil {
		return 1 << 19
	}
	return n
}
