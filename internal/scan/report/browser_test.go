package report

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium; scripts/test-deps.sh installs it. The
// test skips without it, except in CI where that is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found (scripts/test-deps.sh installs it)")
	}
	t.Skip("chromium not found; install it with scripts/test-deps.sh")
	return ""
}

// TestHTMLInChromium loads the HTML report from a file in headless
// Chromium and checks: no console errors, no exceptions, no CSP
// violations, no request other than the file itself, the attacker's
// script in the evidence never runs, every finding is there, and the
// severity filter works. It saves a screenshot and checks its size; set
// REPORT_SCREENSHOT to a path to keep a copy.
func TestHTMLInChromium(t *testing.T) {
	exe := chromium(t)
	dir := t.TempDir()
	paths, err := Write(dir, []string{FormatHTML}, sampleReport(), sampleOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	pageURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(paths[0])}).String()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// Start the browser and the tab, enable the log and network domains,
	// then listen before navigating so no event is missed.
	if _, err := chromedp.Call(bctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		problems []string
		requests []string
	)
	err = chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			switch e.Type {
			case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeWarning, runtime.ConsoleAPICalledTypeAssert:
				problems = append(problems, fmt.Sprintf("console.%s: %s", e.Type, argsText(e.Args)))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, fmt.Sprintf("exception: %s (%s:%d)", e.ExceptionDetails.Text, e.ExceptionDetails.URL, e.ExceptionDetails.LineNumber))
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("log %s (%s): %s", e.Entry.Level, e.Entry.Source, e.Entry.Text))
			}
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
		}
	})
	if err != nil {
		t.Fatal(err)
	}

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

	mu.Lock()
	defer mu.Unlock()
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

func argsText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		if len(a.Value) > 0 {
			parts = append(parts, string(a.Value))
		} else {
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}
