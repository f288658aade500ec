package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/events"
)

// TestDashboardSessionAndCSRF: the dashboard's cookie session on a real
// gateway. A wrong token is refused and audited; the right one sets an
// HttpOnly, SameSite=Strict cookie; with the cookie, reads work, but a
// state change needs the page's CSRF token and the plane's own origin;
// ten failed logins lock the address out.
func TestDashboardSessionAndCSRF(t *testing.T) {
	up := httptest.NewServer(&recorder{})
	defer up.Close()
	tg := start(t, baseConfig(up.URL))
	admin := "http://" + tg.srv.AdminAddr()
	apiCall(t, admin, "POST", "/api/v1/decisions", `{"scope":"ip","value":"198.51.100.30","duration":"1h"}`, http.StatusCreated)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(token string) *http.Response {
		t.Helper()
		resp, err := c.PostForm(admin+"/ui/login", url.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := login("wrong"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login?failed" {
		t.Fatalf("wrong token: %d to %q, want 303 to /ui/login?failed", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp := login("t0ken")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	set := resp.Header.Get("Set-Cookie")
	if !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Strict") {
		t.Errorf("session cookie %q lacks HttpOnly or SameSite=Strict", set)
	}
	page, err := c.Get(admin + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := regexp.MustCompile(`<meta name="csrf" content="([^"]+)">`).FindSubmatch(body)
	if page.StatusCode != 200 || m == nil {
		t.Fatalf("dashboard: %d, csrf meta %v", page.StatusCode, m != nil)
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("dashboard CSP %q", csp)
	}
	csrf := string(m[1])

	do := func(method, path, body string, hdr map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(method, admin+path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := do("GET", "/api/v1/decisions", "", nil); got != 200 {
		t.Errorf("read with the session: %d, want 200", got)
	}
	key := "/api/v1/decisions/ip:198.51.100.30"
	if got := do("DELETE", key, "", nil); got != http.StatusForbidden {
		t.Errorf("state change without the CSRF token: %d, want 403", got)
	}
	if got := do("DELETE", key, "", map[string]string{"X-CSRF-Token": "forged"}); got != http.StatusForbidden {
		t.Errorf("state change with a wrong CSRF token: %d, want 403", got)
	}
	if got := do("DELETE", key, "", map[string]string{"X-CSRF-Token": csrf, "Origin": "https://evil.example"}); got != http.StatusForbidden {
		t.Errorf("state change from another origin: %d, want 403", got)
	}
	if got := do("DELETE", key, "", map[string]string{"X-CSRF-Token": csrf, "Origin": admin}); got != 200 {
		t.Errorf("state change with the CSRF token from the plane's origin: %d, want 200", got)
	}

	// The audit list has the failed login, the login and the lift, with
	// who did each.
	var audit struct {
		Actions []struct {
			Action struct{ Action, Actor, Target, Result string } `json:"action"`
		} `json:"actions"`
	}
	apiJSON(t, admin, "/api/v1/audit", &audit)
	seen := map[string]string{}
	for _, a := range audit.Actions {
		seen[a.Action.Action] = a.Action.Actor
	}
	if seen["login.failed"] == "" || !strings.HasPrefix(seen["login"], "session:") || !strings.HasPrefix(seen["ban.lift"], "session:") {
		t.Errorf("audit actions %v, want login.failed, login and ban.lift by the session", seen)
	}

	// Ten failures from one address lock it out for the minute.
	for i := 0; i < 9; i++ {
		login("wrong")
	}
	r, err := c.PostForm(admin+"/ui/login", url.Values{"token": {"t0ken"}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("after ten failed logins: %d (Retry-After %q), want 429 even with the right token", r.StatusCode, r.Header.Get("Retry-After"))
	}
}

// TestExtendDecision: POST /api/v1/decisions/{key} {"extend": "1h"} moves
// the end of an active decision by an hour, counts no strike, publishes a
// decision event (decision.extend) and an audited admin event; bad bodies
// and keys without a decision are refused.
func TestExtendDecision(t *testing.T) {
	up := httptest.NewServer(&recorder{})
	defer up.Close()
	tg := start(t, baseConfig(up.URL))
	admin := "http://" + tg.srv.AdminAddr()
	apiCall(t, admin, "POST", "/api/v1/decisions", `{"scope":"ip","value":"198.51.100.31","duration":"1h"}`, http.StatusCreated)
	type view struct {
		Key     string    `json:"key"`
		Until   time.Time `json:"until"`
		Strikes int       `json:"strikes"`
	}
	list := func() map[string]view {
		var doc struct {
			Decisions []view `json:"decisions"`
		}
		apiJSON(t, admin, "/api/v1/decisions", &doc)
		out := map[string]view{}
		for _, d := range doc.Decisions {
			out[d.Key] = d
		}
		return out
	}
	before := list()["ip:198.51.100.31"]
	apiCall(t, admin, "POST", "/api/v1/decisions/ip:198.51.100.31", `{"extend":"1h"}`, http.StatusOK)
	after := list()["ip:198.51.100.31"]
	if d := after.Until.Sub(before.Until); d < time.Hour-time.Second || d > time.Hour+time.Second {
		t.Errorf("extend 1h moved the end by %v (%v → %v)", d, before.Until, after.Until)
	}
	if after.Strikes != before.Strikes {
		t.Errorf("extend counted a strike: %d → %d", before.Strikes, after.Strikes)
	}
	apiCall(t, admin, "POST", "/api/v1/decisions/ip:198.51.100.31", `{"extend":"forever"}`, http.StatusBadRequest)
	apiCall(t, admin, "POST", "/api/v1/decisions/ip:198.51.100.31", `{"extend":"10000h"}`, http.StatusBadRequest)
	apiCall(t, admin, "POST", "/api/v1/decisions/ip:198.51.100.99", `{"extend":"1h"}`, http.StatusNotFound)
	tg.flush(t)
	var decisionExt, adminExt int
	for _, e := range tg.sink.all() {
		if e.Type == events.TypeDecision && len(e.Rules) == 1 && e.Rules[0] == "decision.extend" {
			decisionExt++
		}
		if e.Type == events.TypeAdmin && len(e.Rules) == 1 && e.Rules[0] == "admin.ban.extend" {
			b, _ := json.Marshal(e.Attrs)
			if !strings.Contains(string(b), `"result":"ok"`) {
				t.Errorf("admin extend event %s", b)
			}
			adminExt++
		}
	}
	if decisionExt != 1 || adminExt != 1 {
		t.Errorf("got %d decision.extend and %d admin.ban.extend events, want 1 each", decisionExt, adminExt)
	}
}
