package report

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/portcullis/portcullis/internal/scan"
)

// Progress is the live progress display the scan runner drives. Its methods
// are safe for concurrent use; on a disabled Progress they do nothing.
type Progress interface {
	// Add records n more requests (or units of work) done.
	Add(n int)
	// SetTotal changes the expected total, for runners that learn it as they
	// plan; zero or less shows a spinner instead of a bar.
	SetTotal(n int)
	// Describe sets the text shown before the bar ("injection GET /pets").
	Describe(s string)
	// Finish completes the bar and ends its line. Later calls do nothing.
	Finish()
}

// NewProgress returns a progress bar drawn on w for total units of work
// (zero or less: a spinner). It is a no-op Progress when enabled is false
// (--quiet) or when w is not a terminal, so logs and CI output never fill
// with carriage returns.
func NewProgress(w io.Writer, total int, enabled bool) Progress {
	if !enabled || !isTerminal(w) {
		return nopProgress{}
	}
	return newBar(w, total)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

type nopProgress struct{}

func (nopProgress) Add(int)         {}
func (nopProgress) SetTotal(int)    {}
func (nopProgress) Describe(string) {}
func (nopProgress) Finish()         {}

// bar wraps progressbar.ProgressBar (itself locked) and makes Finish
// idempotent.
type bar struct {
	mu       sync.Mutex
	b        *progressbar.ProgressBar
	finished bool
}

func newBar(w io.Writer, total int) *bar {
	if total <= 0 {
		total = -1
	}
	b := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("req"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		// No ticker goroutine for the spinner: it turns on Add.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	return &bar{b: b}
}

func (p *bar) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.finished {
		_ = p.b.Add(n) // a terminal write error is not worth stopping a scan for
	}
}

func (p *bar) SetTotal(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	if n <= 0 {
		n = -1
	}
	p.b.ChangeMax(n)
}

func (p *bar) Describe(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.finished {
		p.b.Describe(clean(s))
	}
}

func (p *bar) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	if p.b.GetMax() < 0 {
		// A spinner has no end to fill: say how much was done and stop.
		_ = p.b.Exit()
		return
	}
	_ = p.b.Finish()
}

// SummaryOptions tune Summary. The zero value lists real findings only.
type SummaryOptions struct {
	// ShowBlocked lists every finding a security gateway refused, one row
	// each (--show-blocked). Default false: they are counted in one line
	// by check, since a scan through a gateway may have hundreds.
	ShowBlocked bool
}

// Summary prints the summary of r with the default options.
func Summary(w io.Writer, r *scan.Report) error { return SummaryWith(w, r, SummaryOptions{}) }

// SummaryWith prints a readable summary of r for the terminal: what was
// scanned, the counts per severity, one table line per finding (severity,
// check id, operation, location, title), the blocked findings as one line
// (or one row each with ShowBlocked), what the scan changed on the target,
// the notes, and the load-test result when present. Text from the scan is
// stripped of control characters, so a hostile description or response
// cannot drive the terminal.
func SummaryWith(w io.Writer, r *scan.Report, opts SummaryOptions) error {
	if r == nil {
		return nil
	}
	c, entries := sorted(r)
	cnt := countFindings(c.Findings)
	var b strings.Builder
	fmt.Fprintf(&b, "Scanned %s", clean(c.Target))
	if c.Spec != "" {
		fmt.Fprintf(&b, " (%s)", clean(c.Spec))
	}
	fmt.Fprintf(&b, ": %d operations, %d requests", len(c.Operations), c.Requests)
	if !c.Started.IsZero() && c.Finished.After(c.Started) {
		fmt.Fprintf(&b, ", %s", c.Finished.Sub(c.Started).Round(time.Millisecond))
	}
	b.WriteString("\n\n")

	var parts []string
	for _, s := range severities {
		parts = append(parts, fmt.Sprintf("%s %d", s, cnt.bySeverity[s]))
	}
	fmt.Fprintf(&b, "Findings: %d (%s)", cnt.total, strings.Join(parts, ", "))
	if cnt.blocked > 0 {
		fmt.Fprintf(&b, ", %d blocked", cnt.blocked)
	}
	b.WriteString("\n")

	var rows []entry
	blockedBy := map[string]int{}
	var blockedChecks []string
	for _, e := range entries {
		if e.Blocked && !opts.ShowBlocked {
			if blockedBy[e.CheckID] == 0 {
				blockedChecks = append(blockedChecks, e.CheckID)
			}
			blockedBy[e.CheckID]++
			continue
		}
		rows = append(rows, e)
	}
	if len(rows) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tCHECK\tOPERATION\tLOCATION\tTITLE\t")
		for _, e := range rows {
			mark := ""
			if e.Blocked {
				mark = "BLOCKED"
			}
			loc := e.Location
			if loc == "" {
				loc = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
				e.Severity, clean(e.CheckID), clean(caseName(e.Operation)), clean(loc), clean(e.Title), mark)
		}
		tw.Flush()
	}
	if len(blockedChecks) > 0 {
		sort.Strings(blockedChecks)
		var per []string
		for _, id := range blockedChecks {
			per = append(per, fmt.Sprintf("%s %d", clean(id), blockedBy[id]))
		}
		fmt.Fprintf(&b, "\nBlocked by a security gateway (not listed; --show-blocked lists them): %d probes: %s\n", cnt.blocked, strings.Join(per, ", "))
	}
	if len(c.Changes) > 0 {
		b.WriteString("\nChanged on the target:\n")
		for _, ch := range c.Changes {
			fmt.Fprintf(&b, "  %s %d × %s", ch.Kind, ch.Count, clean(ch.Operation))
			if len(ch.Objects) > 0 {
				fmt.Fprintf(&b, " (%s)", clean(strings.Join(ch.Objects, ", ")))
			}
			b.WriteString("\n")
		}
	}
	if len(c.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range c.Notes {
			fmt.Fprintf(&b, "  - %s\n", clean(n))
		}
	}
	if p := c.Performance; p != nil {
		verdict := "passed"
		if !p.Passed {
			verdict = "FAILED"
		}
		fmt.Fprintf(&b, "\nLoad test %s: %.1f req/s for %s, %d requests, p50 %s p90 %s p99 %s, errors %.2f%%\n",
			verdict, p.Rate, p.Duration, p.Requests, p.P50, p.P90, p.P99, p.ErrorRate*100)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// clean replaces control characters (escape sequences, carriage returns,
// tabs that would break the table) with a visible '?'.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, s)
}
