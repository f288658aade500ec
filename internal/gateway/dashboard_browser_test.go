package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/browsertest"
)

// TestDashboardInChromium drives the admin dashboard in headless Chromium
// against a running gateway with an audit log: sign in with the token, see
// a denial the test produces arrive in the live feed (SSE), filter the feed
// by stage (the denial stays) and by another stage (it goes), open its
// evidence and access record, lift a ban and see the audited action in the
// audit list and in the audit file. Nothing may be logged to the console,
// no CSP violation reported, and no request may leave the admin listener.
// Screenshots at 1280×800 and 390×844 go to DASHBOARD_SCREENSHOTS (a
// directory) when set.
func TestDashboardInChromium(t *testing.T) {
	up := httptest.NewServer(&recorder{})
	defer up.Close()
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, pubPEM, err := audit.MarshalKeys(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, auditFile := filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(keyFile, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(up.URL)
	cfg.Events.Audit = audit.Config{File: auditFile, SigningKey: keyFile}
	tg := start(t, cfg)
	admin := "http://" + tg.srv.AdminAddr()

	// A ban to lift, taken through the admin API.
	const banned = "198.51.100.23"
	apiCall(t, admin, "POST", "/api/v1/decisions", `{"scope":"ip","value":"`+banned+`","duration":"1h","reason":"test ban"}`, http.StatusCreated)

	br := browsertest.Start(t, 1280, 800, 90*time.Second)
	bctx := br.Ctx

	// Sign in.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(admin+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "t0ken"),
		chromedp.Click(chromedp.ID("login")),
	); err != nil {
		t.Fatalf("signing in: %v", err)
	}
	waitTrue(t, bctx, `!!document.getElementById("feed")`, "the dashboard after signing in")
	waitText(t, bctx, `document.getElementById("feed-state").textContent`, "live")
	waitTrue(t, bctx, `!!document.querySelector('#bans tbody tr[data-key="ip:`+banned+`"]')`, "the ban listed")

	// A denial (six query parameters, the limit is five) appears in the
	// live feed.
	sent := time.Now()
	resp, err := http.Get(tg.base + "/items?a=1&b=2&c=3&d=4&e=5&f=6")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rid := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestURITooLong || rid == "" {
		t.Fatalf("denial: got %d, request id %q", resp.StatusCode, rid)
	}
	rowSel := `#feed tbody tr[data-request-id="` + rid + `"]`
	seen := waitTrue(t, bctx, `!!document.querySelector('`+rowSel+`')`, "the denial in the live feed")
	latency := seen.Sub(sent)
	t.Logf("denial %s in the live feed %v after the request", rid, latency.Round(time.Millisecond))
	if latency > time.Second {
		t.Errorf("the denial took %v to reach the live feed, want under 1s", latency)
	}
	stage, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('`+rowSel+`').dataset.stage`))
	if err != nil {
		t.Fatal(err)
	}
	if stage != "limits.request" {
		t.Errorf("denial stage in the feed: %q, want limits.request", stage)
	}

	// Filter by another stage: the denial goes; by its stage: it is back.
	filter := func(stage string) {
		t.Helper()
		if err := chromedp.Do(bctx,
			chromedp.SetValue(chromedp.ID("f-stage"), stage),
			chromedp.Click(chromedp.ID("f-apply")),
		); err != nil {
			t.Fatal(err)
		}
	}
	filter("waf")
	waitTrue(t, bctx, `!document.querySelector('`+rowSel+`') && document.getElementById("feed-state").textContent === "live"`, "the denial filtered out")
	filter("limits.request")
	waitTrue(t, bctx, `!!document.querySelector('`+rowSel+`') && [...document.querySelectorAll("#feed tbody tr")].every(r => r.dataset.stage === "limits.request")`, "only limits.request events")

	// Its evidence and access record.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(rowSel))); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, bctx, `!document.getElementById("detail").hidden && document.querySelectorAll("#access-record dt").length > 0`, "the drill-down with the access record")
	evidence, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("evidence")))
	if err != nil {
		t.Fatal(err)
	}
	accessRec, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("access-record")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(evidence, "limits.") || !strings.Contains(evidence, rid) {
		t.Errorf("evidence %q lacks the rule or the request id", evidence)
	}
	if !strings.Contains(accessRec, rid) || !strings.Contains(accessRec, "deny") {
		t.Errorf("access record %q lacks the request id or the decision", accessRec)
	}
	shots := os.Getenv("DASHBOARD_SCREENSHOTS")
	shot := func(name string, w, h int64) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(w, h)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if len(png) < 20<<10 || string(png[:4]) != "\x89PNG" {
			t.Errorf("%s screenshot: %d bytes, want a PNG of at least 20 KiB (blank page?)", name, len(png))
		}
		// Nothing may stick out sideways on a phone either.
		over, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		if err != nil {
			t.Fatal(err)
		}
		if over {
			t.Errorf("at %dx%d the page scrolls sideways", w, h)
		}
		if shots != "" {
			if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	shot("dashboard-1280x800", 1280, 800)
	shot("dashboard-390x844", 390, 844)
	// The theme toggle switches to the other scheme and back; the page's
	// background follows.
	bg := func() string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := bg()
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("theme"))); err != nil {
		t.Fatal(err)
	}
	if after := bg(); after == before {
		t.Errorf("the theme toggle left the background at %s", after)
	}
	shot("dashboard-390x844-toggled", 390, 844)
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("theme"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}

	// Lift the ban: it leaves the list and the audit list shows it.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#bans tbody tr[data-key="ip:`+banned+`"] button[data-action="lift"]`))); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, bctx, `!document.querySelector('#bans tbody tr[data-key="ip:`+banned+`"]') && !!document.querySelector('#audit li[data-action="ban.lift"][data-target="ip:`+banned+`"]')`, "the lifted ban in the audit list")
	entry, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#audit li[data-action="ban.lift"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(entry, "#") || !strings.Contains(entry, "session:") {
		t.Errorf("audit entry %q lacks its record number or the session that acted", entry)
	}
	var list struct {
		Decisions []struct{ Key string } `json:"decisions"`
	}
	apiJSON(t, admin, "/api/v1/decisions", &list)
	for _, d := range list.Decisions {
		if d.Key == "ip:"+banned {
			t.Errorf("the ban on %s is still active after the dashboard lifted it", banned)
		}
	}

	if n := cspReports(tg); n != 0 {
		t.Errorf("%d CSP violation reports", n)
	}

	// What the browser did, before the gateway stops (the live feed
	// then reconnects and fails, which is not the page's fault).
	problems, requests := br.Freeze()
	for _, p := range problems {
		t.Errorf("browser reported %s", p)
	}
	adminURL, _ := url.Parse(admin)
	for _, u := range requests {
		p, err := url.Parse(u)
		if err != nil || p.Host != adminURL.Host {
			t.Errorf("page requested %s; want requests to the admin listener only", u)
		}
	}
	t.Logf("the page made %d requests, all to %s", len(requests), adminURL.Host)

	// The audit file has the action, and it verifies.
	if err := tg.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(dir, "audit.pub")
	if err := os.WriteFile(pubFile, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	pub, err := audit.LoadPublicKey(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(f, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("audit log does not verify: %v", rep.Problems)
	}
	raw, _ := os.ReadFile(auditFile)
	if !strings.Contains(string(raw), `"action":"ban.lift"`) || !strings.Contains(string(raw), `"target":"ip:`+banned+`"`) {
		t.Errorf("audit file lacks the ban.lift record")
	}

}

// waitTrue polls a JavaScript condition until it holds (at most 10s) and
// returns when it did.
func waitTrue(t *testing.T, ctx context.Context, cond, what string) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return time.Now()
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 2000)`))
			t.Fatalf("timed out waiting for %s; the page is %s", what, page)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitText(t *testing.T, ctx context.Context, expr, want string) {
	t.Helper()
	waitTrue(t, ctx, expr+` === `+jsString(want), expr+" to be "+want)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func apiCall(t *testing.T, base, method, path, body string, want int) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer t0ken")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: got %d, want %d", method, path, resp.StatusCode, want)
	}
}

func apiJSON(t *testing.T, base, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func cspReports(tg *testGateway) int {
	var doc struct {
		CSP int `json:"csp_reports"`
	}
	req, _ := http.NewRequest("GET", "http://"+tg.srv.AdminAddr()+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	return doc.CSP
}
