package report

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/portcullis/portcullis/internal/scan"
)

//go:embed assets/report.html.tmpl assets/style.css assets/script.js
var assets embed.FS

var (
	htmlCSS, htmlJS string
	// htmlCSP allows exactly the page's own style and script blocks (by
	// hash) and data: images, and nothing else: no network, no inline event
	// handlers. Evidence is attacker-controlled text; html/template escapes
	// it, and the policy is the second wall should an escape ever be missed.
	htmlCSP  string
	htmlTmpl *template.Template
)

func init() {
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		panic(err)
	}
	js, err := assets.ReadFile("assets/script.js")
	if err != nil {
		panic(err)
	}
	htmlCSS, htmlJS = string(css), string(js)
	htmlCSP = "default-src 'none'; img-src data:; style-src '" + hashSource(htmlCSS) +
		"'; script-src '" + hashSource(htmlJS) + "'; base-uri 'none'; form-action 'none'"
	htmlTmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
		"join":    strings.Join,
		"owasp":   owaspLabel,
		"percent": func(f float64) float64 { return f * 100 },
		"line":    func(string) int { return 0 }, // replaced per report
	}).ParseFS(assets, "assets/report.html.tmpl"))
}

// visibleEntry replaces control characters in the strings of a finding with
// their Unicode control pictures (ESC → ␛), so terminal escapes and NULs in
// evidence show as what they are instead of vanishing or upsetting the page.
// Escaping for HTML is html/template's job; this is about legibility.
func visibleEntry(e *entry) {
	for _, p := range []*string{
		&e.Title, &e.CheckID, &e.Group, &e.OWASP, &e.Operation, &e.OperationID, &e.Location,
		&e.Evidence.Request, &e.Evidence.Response, &e.Evidence.Detail, &e.Evidence.Curl, &e.Remediation, &e.CWE,
	} {
		*p = visible(*p)
	}
}

func visible(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < 0x20:
			return 0x2400 + r
		case r == 0x7f:
			return 0x2421
		case r >= 0x80 && r < 0xa0, r == 0xfffe, r == 0xffff:
			return unicode.ReplacementChar
		}
		return r
	}, s)
}

func hashSource(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(h[:])
}

// htmlView is what the template renders.
type htmlView struct {
	R          scan.Report
	Entries    []entry
	Version    string
	Started    string
	Took       string
	Counts     map[string]int
	Severities []sevCount
	BySeverity []sevGroup
	ByOWASP    []owaspGroup
	Operations []opRow
	CSS        template.CSS
	JS         template.JS
	CSP        string
}

type sevCount struct {
	Name  scan.Severity
	Count int
}

type sevGroup struct {
	Name    scan.Severity
	Entries []entry
}

type owaspGroup struct {
	Category string
	Label    string
	Counts   []int // per severity, in the order of severities
	Entries  []entry
}

type opRow struct {
	Name              string
	Findings, Blocked int
}

// HTML writes r as one self-contained HTML page: inline CSS and JavaScript,
// no external assets, fonts or network requests (a Content-Security-Policy
// forbids them). It shows the counts per severity, the findings grouped by
// severity with their evidence, remediation and blocked mark, a table by
// OWASP API Top 10 category linking to them, severity and "hide blocked"
// filters, the load-test result when present, and the operations scanned.
// Every string from the scan (evidence above all: it is attacker-controlled)
// is escaped by html/template.
func HTML(w io.Writer, r *scan.Report, opts Options) error {
	if r == nil {
		return errors.New("writing html report: nil report")
	}
	c, entries := sorted(r)
	for i := range entries {
		visibleEntry(&entries[i])
	}
	v := htmlView{
		R:       c,
		Entries: entries,
		Version: opts.toolVersion(),
		Started: "-",
		Took:    "-",
		CSS:     template.CSS(htmlCSS),
		JS:      template.JS(htmlJS),
		CSP:     htmlCSP,
	}
	if !c.Started.IsZero() {
		v.Started = c.Started.UTC().Format(time.RFC3339)
		if c.Finished.After(c.Started) {
			v.Took = c.Finished.Sub(c.Started).Round(time.Millisecond).String()
		}
	}
	cnt := countFindings(c.Findings)
	v.Counts = map[string]int{"total": cnt.total, "blocked": cnt.blocked}

	// Severities: the known ones, plus any unknown ones findings carry.
	sevs := slices.Clone(severities)
	for _, e := range entries {
		if !slices.Contains(sevs, e.Severity) {
			sevs = append(sevs, e.Severity)
		}
	}
	for _, s := range sevs {
		v.Severities = append(v.Severities, sevCount{s, cnt.bySeverity[s]})
		var g []entry
		for _, e := range entries {
			if e.Severity == s {
				g = append(g, e)
			}
		}
		if len(g) > 0 {
			v.BySeverity = append(v.BySeverity, sevGroup{s, g})
		}
	}

	var cats []string
	for _, e := range entries {
		if !slices.Contains(cats, e.OWASP) {
			cats = append(cats, e.OWASP)
		}
	}
	slices.SortFunc(cats, owaspOrder)
	for _, cat := range cats {
		g := owaspGroup{Category: cat, Label: owaspLabel(cat), Counts: make([]int, len(sevs))}
		if cat == "" {
			g.Category = "none"
		}
		for _, e := range entries {
			if e.OWASP != cat {
				continue
			}
			g.Entries = append(g.Entries, e)
			g.Counts[slices.Index(sevs, e.Severity)]++
		}
		v.ByOWASP = append(v.ByOWASP, g)
	}

	ops := slices.Clone(c.Operations)
	for _, e := range entries {
		if op := caseName(e.Operation); !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	for _, op := range ops {
		row := opRow{Name: op}
		for _, e := range entries {
			if caseName(e.Operation) == op {
				row.Findings++
				if e.Blocked {
					row.Blocked++
				}
			}
		}
		v.Operations = append(v.Operations, row)
	}

	lines := newSpecLines(opts.SpecSource)
	t, err := htmlTmpl.Clone()
	if err != nil {
		return fmt.Errorf("writing html report: %w", err)
	}
	t.Funcs(template.FuncMap{"line": lines.line})
	if err := t.Execute(w, v); err != nil {
		return fmt.Errorf("writing html report: %w", err)
	}
	return nil
}
