package gateway

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/browsertest"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/stage/cors"
	"github.com/portcullis/portcullis/internal/stage/csrf"
	"github.com/portcullis/portcullis/internal/stage/headers"
)

// page serves one HTML page on its own loopback origin.
func page(t *testing.T, html string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, html)
	}))
	t.Cleanup(srv.Close)
	return srv.URL // http://127.0.0.1:PORT
}

// waitEvent reads the bus until an event matches, or fails after d.
func waitEvent(t *testing.T, ch <-chan events.Event, d time.Duration, match func(events.Event) bool) events.Event {
	t.Helper()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		select {
		case e := <-ch:
			if match(e) {
				return e
			}
		case <-timeout.C:
			t.Fatal("the expected event did not come")
			return events.Event{}
		}
	}
}

// evalJS evaluates js in the browser's page, awaiting a promise, and
// returns its string value.
func evalJS(t *testing.T, bctx context.Context, js string) string {
	t.Helper()
	out, err := chromedp.Run(bctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return out
}

// TestBrowserCORSCSRFAndCSP runs headless Chromium against a gateway with
// the cors, csrf and headers stages. The gateway is reached as
// http://localhost:G (its session cookie is SameSite=None; Secure, which
// Chromium accepts on localhost). The attacker's page is on
// http://127.0.0.1:E, another site; the allowed front end on
// http://localhost:A, another origin of the same site. It checks that a
// page of another origin can neither make a credentialed call nor read an
// answer, that its cross-site form post with the cookie is refused before
// the upstream, that the allowed origin's credentialed calls work, and that
// an inline script on a page served with a CSP is blocked and reported
// as an event.
func TestBrowserCORSCSRFAndCSP(t *testing.T) {
	browsertest.Chromium(t) // skip (or fail in CI) before starting anything

	var mu sync.Mutex
	transfers := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The upstream is the classic broken one: it reflects any origin
		// with credentials (so a refusal below is the gateway's policy).
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		switch r.URL.Path {
		case "/login":
			w.Header().Add("Set-Cookie", "session=s3cr3t-session; Path=/; SameSite=None; Secure; HttpOnly")
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<p>logged in</p>")
		case "/api/me":
			w.Header().Set("Content-Type", "application/json")
			c, err := r.Cookie("session")
			if err != nil {
				w.WriteHeader(401)
				_, _ = io.WriteString(w, `{"error":"no session"}`)
				return
			}
			fmt.Fprintf(w, `{"user":"alice","session":%q}`, c.Value[:2])
		case "/api/transfer":
			mu.Lock()
			transfers++
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"done":true}`)
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<!doctype html><title>page</title><p id=p>static</p><script>window.ran = true; document.getElementById('p').textContent = 'injected'</script>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer up.Close()

	evil := page(t, `<!doctype html><title>evil</title><p>another site</p>`)
	// The allowed front end is another origin of the gateway's site
	// (http://localhost:A, as app.example.com is to api.example.com): its
	// credentialed calls carry first-party cookies.
	front := page(t, `<!doctype html><title>app</title><p>the allowed front end</p>`)
	_, fport, _ := net.SplitHostPort(strings.TrimPrefix(front, "http://"))
	allowed := "http://localhost:" + fport

	cfg := baseConfig(up.URL)
	cfg.Stages = nil
	cfg.APIs[0].Stages.Set(&cors.Config{Origins: []string{allowed}, Credentials: true, Methods: []string{"GET", "POST"}, Headers: []string{"Content-Type"}})
	cfg.APIs[0].Stages.Set(&csrf.Config{Cookies: []string{"session"}, TrustedOrigins: []string{allowed}})
	cfg.APIs[0].Stages.Set(&headers.Config{ReportPath: "/csp-report", HTML: []headers.HTMLRoute{{Paths: []string{"/page", "/login"}}}})
	tg := start(t, cfg)
	evs, stop := tg.srv.Bus().Subscribe(256)
	defer stop()
	_, port, _ := net.SplitHostPort(tg.addr)
	gw := "http://localhost:" + port

	bctx := browsertest.Start(t, 1280, 800, 90*time.Second).Ctx
	evalAsync := func(js string) string { t.Helper(); return evalJS(t, bctx, js) }
	// fetchJS calls the gateway and says what the page could see.
	fetchJS := func(path, init string) string {
		return fmt.Sprintf(`fetch(%q, %s).then(r => r.text().then(b => "status " + r.status + " " + b), e => "refused: " + e.name)`, gw+path, init)
	}

	// 1. Log in on the gateway's own origin: the browser keeps the session cookie.
	if err := chromedp.Do(bctx, chromedp.Navigate(gw+"/login"), chromedp.WaitReady("p")); err != nil {
		t.Fatalf("logging in: %v", err)
	}

	// 2. Another site: a credentialed call, a plain read, and a form post.
	if err := chromedp.Do(bctx, chromedp.Navigate(evil+"/"), chromedp.WaitReady("p")); err != nil {
		t.Fatal(err)
	}
	if got := evalAsync(fetchJS("/api/me", `{credentials: "include"}`)); !strings.HasPrefix(got, "refused") {
		t.Errorf("credentialed fetch from another origin: %q, want it refused by the browser", got)
	}
	if got := evalAsync(fetchJS("/api/me", `{}`)); !strings.HasPrefix(got, "refused") {
		t.Errorf("reading an answer without CORS permission: %q, want it refused", got)
	}
	if got := evalAsync(fetchJS("/api/transfer", `{method: "POST", credentials: "include", headers: {"Content-Type": "application/json"}, body: "{}"}`)); !strings.HasPrefix(got, "refused") {
		t.Errorf("a JSON POST from another origin: %q, want its preflight refused", got)
	}
	formJS := fmt.Sprintf(`(() => { const f = document.createElement("form"); f.method = "POST"; f.action = %q; f.enctype = "text/plain";
		const i = document.createElement("input"); i.name = '{"to":"mallory","amount":'; i.value = '1000}'; f.appendChild(i);
		document.body.appendChild(f); f.submit(); return "sent" })()`, gw+"/api/transfer")
	// The form navigates the tab: wait for that page, the gateway's refusal,
	// before the next navigation (which would otherwise abort it).
	resp, err := chromedp.RunResponse(bctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[string](formJS)(ctx, tg)
		return err
	}))
	if err != nil {
		t.Fatalf("the cross-site form post: %v", err)
	}
	if resp.Status != http.StatusForbidden {
		t.Errorf("the cross-site form post answered %d in the browser, want 403", resp.Status)
	}
	ev := waitEvent(t, evs, 30*time.Second, func(e events.Event) bool { return e.Stage == "csrf" })
	if ev.Type != events.TypeDenial || ev.Status != 403 || ev.Rules[0] != csrf.RuleCrossOrigin {
		t.Errorf("the cross-site form post: %+v, want a csrf 403 denial", ev)
	}
	mu.Lock()
	n := transfers
	mu.Unlock()
	if n != 0 {
		t.Fatalf("%d forged transfers reached the upstream", n)
	}

	// 3. The allowed origin: credentialed reads and writes work.
	if err := chromedp.Do(bctx, chromedp.Navigate(allowed+"/"), chromedp.WaitReady("p")); err != nil {
		t.Fatal(err)
	}
	if got := evalAsync(fetchJS("/api/me", `{credentials: "include"}`)); got != `status 200 {"user":"alice","session":"s3"}` {
		t.Errorf("credentialed fetch from the allowed origin: %q", got)
	}
	if got := evalAsync(fetchJS("/api/transfer", `{method: "POST", credentials: "include", headers: {"Content-Type": "application/json"}, body: "{}"}`)); got != `status 200 {"done":true}` {
		t.Errorf("a JSON POST from the allowed origin: %q", got)
	}
	mu.Lock()
	n = transfers
	mu.Unlock()
	if n != 1 {
		t.Errorf("%d transfers reached the upstream, want the allowed one", n)
	}

	// 4. A page served with a CSP: its inline script is blocked and the
	// violation comes back as an event.
	if err := chromedp.Do(bctx, chromedp.Navigate(gw+"/page"), chromedp.WaitReady("#p")); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(bctx, chromedp.Text("#p"))
	if err != nil {
		t.Fatal(err)
	}
	ran, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.ran === true`))
	if err != nil {
		t.Fatal(err)
	}
	if ran || text != "static" {
		t.Errorf("the inline script ran (text %q)", text)
	}
	ev = waitEvent(t, evs, 30*time.Second, func(e events.Event) bool { return e.Rules[0] == headers.RuleCSPViolation })
	if ev.Stage != "headers" || !strings.Contains(ev.Reason, "script-src") || !strings.Contains(ev.Reason, gw+"/page") || ev.Type != events.TypeDetection {
		t.Errorf("the CSP violation event: %+v", ev)
	}
	t.Logf("CSP event: %s (%s)", ev.Reason, ev.Location)
}

// TestBrowserEnforcesSecurityHeaders checks in headless Chromium that the
// headers stage's defaults are what a browser enforces, on a page of
// another site (http://127.0.0.1:E) that uses the API's answers as
// resources: each attempt straight at the upstream (no such headers)
// succeeds, so a refusal through the gateway is the stage's doing.
//   - Cross-Origin-Resource-Policy: same-origin: an image of the API is
//     not loaded into another origin's page;
//   - X-Content-Type-Options: nosniff: a text answer that happens to be
//     script (reflected input) is not run as a <script> by another page;
//   - CSP frame-ancestors 'none' (and X-Frame-Options: DENY): an HTML page
//     of the API is not framed by another page, and the browser's report
//     of the violation arrives as an event.
func TestBrowserEnforcesSecurityHeaders(t *testing.T) {
	browsertest.Chromium(t) // skip (or fail in CI) before starting anything

	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/logo.png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(img.Bytes())
		case "/api/echo":
			// An answer that reflects its input as text: here, script.
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, `window.leaked = "`+r.URL.Query().Get("v")+`";`)
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<!doctype html><title>account</title><p>your account</p>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer up.Close()
	_, uport, _ := net.SplitHostPort(strings.TrimPrefix(up.URL, "http://"))
	direct := "http://localhost:" + uport

	evil := page(t, `<!doctype html><title>evil</title><p>another site</p>`)

	cfg := baseConfig(up.URL)
	cfg.Stages = nil
	cfg.APIs[0].Stages.Set(&headers.Config{ReportPath: "/csp-report", HTML: []headers.HTMLRoute{{Paths: []string{"/page"}}}})
	tg := start(t, cfg)
	evs, stop := tg.srv.Bus().Subscribe(256)
	defer stop()
	_, port, _ := net.SplitHostPort(tg.addr)
	gw := "http://localhost:" + port

	bctx := browsertest.Start(t, 1280, 800, 90*time.Second).Ctx
	if err := chromedp.Do(bctx, chromedp.Navigate(evil+"/"), chromedp.WaitReady("p")); err != nil {
		t.Fatal(err)
	}
	imgJS := func(base string) string {
		return fmt.Sprintf(`new Promise(res => { const i = new Image(); i.onload = () => res("loaded"); i.onerror = () => res("blocked"); i.src = %q })`, base+"/logo.png")
	}
	scriptJS := func(base, v string) string {
		return fmt.Sprintf(`new Promise(res => { const s = document.createElement("script"); s.onload = () => res(window.leaked === %q ? "ran" : "loaded, not run"); s.onerror = () => res("blocked"); s.src = %q; document.body.appendChild(s) })`, v, base+"/api/echo?v="+v)
	}

	if got := evalJS(t, bctx, imgJS(direct)); got != "loaded" {
		t.Fatalf("an image straight from the upstream: %q, want loaded (else the check below proves nothing)", got)
	}
	if got := evalJS(t, bctx, imgJS(gw)); got != "blocked" {
		t.Errorf("an image of the API through the gateway in another site's page: %q, want blocked (Cross-Origin-Resource-Policy)", got)
	}
	if got := evalJS(t, bctx, scriptJS(direct, "one")); got != "ran" {
		t.Fatalf("a text answer straight from the upstream as a script: %q, want ran (else the check below proves nothing)", got)
	}
	if got := evalJS(t, bctx, scriptJS(gw, "two")); got != "blocked" {
		t.Errorf("a text answer through the gateway as another site's script: %q, want blocked (nosniff)", got)
	}

	// Framing: the browser refuses to show the page and reports it.
	frameJS := fmt.Sprintf(`new Promise(res => { const f = document.createElement("iframe"); f.onload = () => res("done"); f.src = %q; document.body.appendChild(f) })`, gw+"/page")
	evalJS(t, bctx, frameJS)
	ev := waitEvent(t, evs, 30*time.Second, func(e events.Event) bool {
		return len(e.Rules) > 0 && e.Rules[0] == headers.RuleCSPViolation
	})
	// The browser names only the framed page's origin in this report.
	if ev.Stage != "headers" || ev.Location != "csp:frame-ancestors" || !strings.Contains(ev.Reason, gw+"/") {
		t.Errorf("the framing report: %+v, want a frame-ancestors violation on %s", ev, gw)
	}
	t.Logf("framing event: %s", ev.Reason)
}
