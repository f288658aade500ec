package headers_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/headers"
	"github.com/portcullis/portcullis/internal/stage/mask"
	"github.com/portcullis/portcullis/internal/stage/stagetest"
)

// fingerprinting is an upstream that names its software, caches
// everything and sets its own (weaker) policies.
var fingerprinting = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Server", "Apache/2.4.41 (Ubuntu)")
	h.Set("X-Powered-By", "PHP/7.4.3")
	h.Set("X-AspNet-Version", "4.0.30319")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Frame-Options", "ALLOWALL")
	h.Set("Referrer-Policy", "unsafe-url")
	h.Set("Content-Type", "application/json")
	if r.URL.Path == "/leak" {
		_, _ = io.WriteString(w, `{"card":"4111111111111111"}`)
		return
	}
	_, _ = io.WriteString(w, `{"ok":true}`)
})

func TestSafeDefaultsOnEveryAnswer(t *testing.T) {
	api := config.API{}
	api.Stages.Set(&headers.Config{HTML: []headers.HTMLRoute{{Paths: []string{"/app/*"},
		CSP: map[string][]string{"script-src": {"'self'", "https://cdn.example.com"}, "default-src": {"'self'"}, "img-src": {"'self'", "data:"}}}}})
	api.Stages.Set(&mask.Config{Action: mask.ActionBlock})
	e := stagetest.New(t, api, fingerprinting)
	want := map[string]string{
		"Content-Security-Policy":      headers.DefaultCSP,
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "no-referrer",
		"Permissions-Policy":           headers.DefaultPermissionsPolicy,
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	for _, p := range []string{"/data", "/leak"} { // an upstream answer and the gateway's own 502
		resp, body := e.Do(t, "GET", p, nil, "")
		for k, v := range want {
			if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("%s %s: got %q, want %q (body %s)", p, k, got, v, body)
			}
		}
		for _, k := range []string{"Server", "X-Powered-By", "X-Aspnet-Version"} {
			if v := resp.Header.Get(k); v != "" {
				t.Errorf("%s: fingerprint %s: %s kept", p, k, v)
			}
		}
	}
	resp, _ := e.Do(t, "GET", "/data", nil, "")
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=3600" {
		t.Errorf("an anonymous answer's Cache-Control: got %q, want the upstream's", cc)
	}
	for _, h := range []http.Header{{"Authorization": {"Bearer x"}}, {"Cookie": {"session=abc"}}} {
		resp, _ := e.Do(t, "GET", "/data", h, "")
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("an authenticated answer's Cache-Control: got %q, want no-store", cc)
		}
	}
	resp, _ = e.Do(t, "GET", "/app/index.html", nil, "")
	if got := resp.Header.Get("Content-Security-Policy"); got != "default-src 'self'; img-src 'self' data:; script-src 'self' https://cdn.example.com" {
		t.Errorf("html route CSP: %q", got)
	}
}

func TestOverrides(t *testing.T) {
	api := config.API{}
	api.Stages.Set(&headers.Config{FrameOptions: "-", ReferrerPolicy: "strict-origin", Keep: []string{"Server"}, Remove: []string{"X-Frame-Options"},
		CSPReportOnly: true, Set: map[string]string{"X-Robots-Tag": "noindex"}})
	e := stagetest.New(t, api, fingerprinting)
	resp, _ := e.Do(t, "GET", "/data", nil, "")
	checks := map[string]string{"Referrer-Policy": "strict-origin", "Server": "Apache/2.4.41 (Ubuntu)", "X-Frame-Options": "",
		"X-Robots-Tag": "noindex", "Content-Security-Policy": "", "Content-Security-Policy-Report-Only": headers.DefaultCSP}
	for k, v := range checks {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
}

func TestCSPReports(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	api := config.API{}
	api.Stages.Set(&headers.Config{ReportPath: "/csp-report", ReportsPerMinute: 2})
	e := stagetest.New(t, api, fingerprinting, stagetest.Options{Now: func() time.Time { return now }})
	resp, _ := e.Do(t, "GET", "/data", nil, "")
	if got := resp.Header.Get("Content-Security-Policy"); got != headers.DefaultCSP+"; report-uri /csp-report" {
		t.Fatalf("CSP: %q", got)
	}
	legacy := `{"csp-report":{"document-uri":"https://app.example/page","violated-directive":"script-src-elem","effective-directive":"script-src-elem","blocked-uri":"inline","source-file":"https://app.example/page","line-number":12,"script-sample":"alert(document.cookie)","disposition":"enforce"}}`
	resp, _ = e.Do(t, "POST", "/csp-report", http.Header{"Content-Type": {"application/csp-report"}}, legacy)
	if resp.StatusCode != 204 {
		t.Fatalf("legacy report: %d", resp.StatusCode)
	}
	modern := `[{"type":"csp-violation","age":3,"url":"https://app.example/","body":{"documentURL":"https://app.example/","effectiveDirective":"img-src","blockedURL":"https://evil.example/x.png","disposition":"report"}},{"type":"deprecation","body":{}}]`
	resp, _ = e.Do(t, "POST", "/csp-report", http.Header{"Content-Type": {"application/reports+json"}}, modern)
	if resp.StatusCode != 204 {
		t.Fatalf("reporting API report: %d", resp.StatusCode)
	}
	resp, _ = e.Do(t, "POST", "/csp-report", http.Header{"Content-Type": {"application/csp-report"}}, legacy)
	if resp.StatusCode != 429 {
		t.Fatalf("a third report within the minute: %d, want 429", resp.StatusCode)
	}
	now = now.Add(31 * time.Second) // one token back
	if resp, _ := e.Do(t, "POST", "/csp-report", http.Header{"Content-Type": {"text/plain"}}, "hello"); resp.StatusCode != 400 {
		t.Fatalf("not a report: %d, want 400", resp.StatusCode)
	}
	if resp, _ := e.Do(t, "GET", "/csp-report", nil, ""); resp.StatusCode != 405 {
		t.Fatalf("GET: %d, want 405", resp.StatusCode)
	}
	var got []string
	for _, ev := range e.Events() {
		if ev.Rules[0] == headers.RuleCSPViolation {
			got = append(got, ev.Mode+" "+ev.Location+" "+ev.Reason+" | "+ev.Excerpt)
		}
	}
	want := []string{
		"block csp:script-src-elem CSP script-src-elem violation on https://app.example/page: blocked inline (https://app.example/page:12) | alert(document.cookie)",
		"detect csp:img-src CSP img-src violation on https://app.example/: blocked https://evil.example/x.png () | ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e.Hits() != 1 {
		t.Errorf("reports reached the upstream: %d requests", e.Hits())
	}
}

func TestBuildCSP(t *testing.T) {
	for _, c := range []struct {
		d    map[string][]string
		want string
	}{
		{map[string][]string{"img-src": {"data:"}, "default-src": {"'none'"}}, ""},
		{map[string][]string{"script-src": {"self"}}, "write the keyword quoted"},
		{map[string][]string{"scrpt-src": {"'self'"}}, "unknown CSP directive"},
		{map[string][]string{"script-src": {"'self'; report-uri https://evil"}}, "without ';'"},
		{map[string][]string{"script-src": {"'none'", "'self'"}}, "cannot be combined"},
	} {
		_, err := headers.BuildCSP(c.d, false)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.d, err, c.want)
		}
	}
	yaml := "apis:\n  - name: a\n    upstream: {targets: [\"http://127.0.0.1:1\"]}\n    headers:\n      report_path: csp\n      html:\n        - paths: [app]\n          csp: {script-src: [self]}\n"
	_, err := config.Parse("p.yaml", []byte(yaml))
	for _, want := range []string{"report_path", "html[0].paths[0]", "write the keyword quoted"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
