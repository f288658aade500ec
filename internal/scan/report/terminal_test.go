package report

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/scan"
)

func TestSummary(t *testing.T) {
	r := sampleReport()
	r.Findings = append(r.Findings, scan.Finding{
		CheckID: "functional.status", Group: "functional", Severity: scan.SeverityLow,
		Title: "evil \x1b]0;pwned\x07 title", Operation: "GET /pets\r",
	})
	r.Notes = []string{"the credentials of alice stopped working before the property checks"}
	r.Changes = []scan.Change{{Operation: "POST /pets", Kind: "created", Count: 3, Objects: []string{"/pets (id 7)"}}}
	for _, show := range []bool{false, true} {
		var buf bytes.Buffer
		if err := SummaryWith(&buf, r, SummaryOptions{ShowBlocked: show}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		t.Log("\n" + out)
		wants := []string{
			"Scanned http://127.0.0.1:8080 (testdata/openapi.yaml): 7 operations, 1873 requests, 42.317s",
			"Findings: 17 (critical 2, high 7, medium 4, low 3, info 1), 3 blocked",
			"SEVERITY  CHECK",
			"LOCATION",
			"query:q",
			"Changed on the target:\n  created 3 × POST /pets (/pets (id 7))",
			"Notes:\n  - the credentials of alice stopped working before the property checks",
			"Load test FAILED: 50.0 req/s for 10s, 500 requests, p50 40ms p90 310ms p99 1.2s, errors 0.40%",
		}
		if !show {
			wants = append(wants, "Blocked by a security gateway (not listed; --show-blocked lists them): 3 probes: authz.bola 1, injection.sql.time 1, ssrf.url 1")
		}
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("show blocked %v: summary lacks %q", show, want)
			}
		}
		var rows []string
		for _, l := range strings.Split(out, "\n") {
			for _, s := range severities {
				if strings.HasPrefix(l, string(s)+" ") {
					rows = append(rows, l)
				}
			}
		}
		blocked := 0
		for _, l := range rows {
			if strings.HasSuffix(strings.TrimSpace(l), "BLOCKED") {
				blocked++
			}
		}
		wantRows, wantBlocked := len(r.Findings)-3, 0
		if show {
			wantRows, wantBlocked = len(r.Findings), 3
		}
		if len(rows) != wantRows || blocked != wantBlocked {
			t.Fatalf("show blocked %v: got %d rows (%d BLOCKED), want %d (%d)", show, len(rows), blocked, wantRows, wantBlocked)
		}
		if !strings.HasPrefix(rows[0], "critical") {
			t.Errorf("rows not sorted by severity: first %q", rows[0])
		}
		if strings.ContainsAny(out, "\x1b\x07\r") {
			t.Errorf("summary passes control characters through")
		}
		if !strings.Contains(out, "(api)") {
			t.Errorf("finding without an operation not shown as (api)")
		}
	}
}

func TestSummaryEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := Summary(&buf, &scan.Report{Target: "http://x"}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "Scanned http://x: 0 operations, 0 requests\n\nFindings: 0 (critical 0, high 0, medium 0, low 0, info 0)\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNewProgressDisabled(t *testing.T) {
	var buf bytes.Buffer
	for _, enabled := range []bool{true, false} {
		p := NewProgress(&buf, 10, enabled) // a buffer is not a terminal
		if _, ok := p.(nopProgress); !ok {
			t.Errorf("enabled=%v: got %T, want the no-op progress", enabled, p)
		}
		p.Describe("x")
		p.Add(3)
		p.SetTotal(20)
		p.Finish()
	}
	if buf.Len() != 0 {
		t.Errorf("got output %q from a disabled progress", buf.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the bar's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBarRenders(t *testing.T) {
	var out syncBuffer
	p := newBar(&out, 40)
	p.Describe("injection GET /pets\x1b[2J")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				p.Add(1)
			}
		}()
	}
	wg.Wait()
	p.Finish()
	p.Finish() // idempotent
	p.Add(5)   // ignored after Finish
	got := out.String()
	for _, want := range []string{"injection GET /pets", "40/40", "100%"} {
		if !strings.Contains(got, want) {
			t.Errorf("bar output lacks %q: %q", want, got)
		}
	}
	if strings.Contains(got, "\x1b[2J") {
		t.Errorf("description passed an escape sequence through")
	}
	if !strings.HasSuffix(got, "\n") {
		t.Errorf("finished bar does not end its line: %q", got)
	}
}

func TestSpinnerWithoutTotal(t *testing.T) {
	var out syncBuffer
	p := newBar(&out, 0)
	p.Add(7)
	p.SetTotal(10)
	p.Add(3)
	p.Finish()
	if got := out.String(); !strings.Contains(got, "10/10") {
		t.Errorf("bar output lacks 10/10 after SetTotal: %q", got)
	}
}
