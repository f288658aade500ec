package report

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/browsertest"
)

// TestHTMLInChromium loads the HTML report from a file in headless
// Chromium and checks: no console errors, no exceptions, no CSP
// violations, no request other than the file itself, the attacker's
// script in the evidence never runs, every finding is there, and the
// severity filter works. It saves a screenshot and checks its size; set
// REPORT_SCREENSHOT to a path to keep a copy.
func TestHTMLInChromium(t *testing.T) {
	br := browsertest.Start(t, 1280, 900, 60*time.Second)
	bctx := br.Ctx
	dir := t.TempDir()
	paths, err := Write(dir, []string{FormatHTML}, sampleReport(), sampleOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	pageURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(paths[0])}).String()

	if err := chromedp.Do(bctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.ID("by-severity")),
	); err != nil {
		t.Fatalf("loading the report: %v", err)
	}
	xss, err := chromedp.Run(bctx, chromedp.Evaluate[string](`typeof window.__xss`))
	if err != nil {
		t.Fatal(err)
	}
	findings, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("details.finding").length`))
	if err != nil {
		t.Fatal(err)
	}
	// Open the reflected-XSS findings so the screenshot shows their
	// (escaped) evidence.
	opened, err := chromedp.Run(bctx, chromedp.Evaluate[int](`(() => {
		const d = document.querySelectorAll('details.finding[data-check="injection.xss.reflected"]');
		d.forEach(x => { x.open = true; });
		return d.length;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if opened != 2 {
		t.Errorf("got %d reflected-XSS findings, want 2", opened)
	}
	evidence, err := chromedp.Run(bctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll(
		'details.finding[data-check="injection.xss.reflected"] pre')).map(p => p.textContent).join("\n")`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(evidence, xssPayload) {
		t.Errorf("got evidence text %q, want the payload shown as text", evidence)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`input[data-filter-severity="high"]`))); err != nil {
		t.Fatal(err)
	}
	highHidden, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('details.finding[data-severity="high"][hidden]').length`))
	if err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("shown")))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("expand"))); err != nil {
		t.Fatal(err)
	}
	closed, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("details.finding:not([open])").length`))
	if err != nil {
		t.Fatal(err)
	}
	if closed != 0 {
		t.Errorf("after expand all: got %d closed findings, want 0", closed)
	}

	problems, requests := br.Recorded()
	for _, p := range problems {
		t.Errorf("browser reported %s", p)
	}
	for _, u := range requests {
		if u != pageURL {
			t.Errorf("page requested %s; want no request but the page itself", u)
		}
	}
	if xss != "undefined" {
		t.Errorf("evidence script ran: typeof window.__xss = %s", xss)
	}
	r := sampleReport()
	if findings != len(r.Findings) {
		t.Errorf("got %d findings on the page, want %d", findings, len(r.Findings))
	}
	high := 0
	for _, f := range r.Findings {
		if f.Severity == "high" {
			high++
		}
	}
	if highHidden != high {
		t.Errorf("after unticking high: got %d high findings hidden, want %d", highHidden, high)
	}
	if want := fmt.Sprintf("%d shown", len(r.Findings)-high); shown != want {
		t.Errorf("got %q, want %q", shown, want)
	}

	png := filepath.Join(t.TempDir(), "report.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(png)
	if err != nil {
		t.Fatal(err)
	}
	// A blank 1280-wide page compresses to a few KiB; the report is far more.
	if st.Size() < 50<<10 {
		t.Errorf("screenshot is %d bytes, want at least 50 KiB (blank page?)", st.Size())
	}
	if len(shot) < 8 || string(shot[:4]) != "\x89PNG" {
		t.Errorf("screenshot is not a PNG")
	}
	t.Logf("screenshot: %d bytes", st.Size())
	if keep := os.Getenv("REPORT_SCREENSHOT"); keep != "" {
		if err := os.WriteFile(keep, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
