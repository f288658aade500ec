// Package browsertest runs headless Chromium (Debian's, which
// scripts/test-deps.sh installs) for tests of pages the project serves or
// writes: one tab, with every console error or warning, uncaught
// exception, browser log error (CSP violations among them) and request
// URL recorded, so that a test can assert that a page is clean and loads
// nothing from elsewhere.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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

// Chromium returns the chromium binary. Without one the test is skipped,
// except in CI (CI set) where that is a failure.
func Chromium(t testing.TB) string {
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

// Browser is one headless Chromium tab.
type Browser struct {
	// Ctx runs chromedp actions in the tab.
	Ctx context.Context

	mu       sync.Mutex
	frozen   bool
	problems []string
	requests []string
}

// Start launches Chromium with a window of width×height and opens a tab
// that records problems and requests from then on. Everything stops after
// timeout or at the end of the test.
func Start(t testing.TB, width, height int, timeout time.Duration) *Browser {
	t.Helper()
	exe := Chromium(t)
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
		chromedp.WindowSize(width, height),
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancel() })
	b := &Browser{Ctx: bctx}
	// Start the browser and the tab, enable the log and network domains,
	// then listen before anything is loaded so no event is missed.
	if _, err := chromedp.Call(bctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(bctx, b.record); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *Browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.frozen {
		return
	}
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		switch e.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeWarning, runtime.ConsoleAPICalledTypeAssert:
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", e.Type, argsText(e.Args)))
		}
	case *runtime.EventExceptionThrown:
		b.problems = append(b.problems, fmt.Sprintf("exception: %s (%s:%d)", e.ExceptionDetails.Text, e.ExceptionDetails.URL, e.ExceptionDetails.LineNumber))
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
			b.problems = append(b.problems, fmt.Sprintf("log %s (%s): %s", e.Entry.Level, e.Entry.Source, e.Entry.Text))
		}
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, e.Request.URL)
	}
}

// Freeze stops recording (a server the page talks to is about to stop,
// which is not the page's fault) and returns the problems and request URLs
// recorded so far.
func (b *Browser) Freeze() (problems, requests []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.frozen = true
	return append([]string(nil), b.problems...), append([]string(nil), b.requests...)
}

// Recorded returns the problems and request URLs recorded so far.
func (b *Browser) Recorded() (problems, requests []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...), append([]string(nil), b.requests...)
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
