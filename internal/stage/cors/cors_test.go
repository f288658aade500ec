package cors_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/cors"
	"github.com/portcullis/portcullis/internal/stage/stagetest"
)

// reflecting is the classic broken upstream: it echoes any Origin with
// credentials.
var reflecting = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
	}
	w.Header().Set("Vary", "Accept-Encoding")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
})

func env(t *testing.T, c cors.Config) *stagetest.Env {
	api := config.API{}
	api.Stages.Set(&c)
	return stagetest.New(t, api, reflecting)
}

func TestActualRequests(t *testing.T) {
	e := env(t, cors.Config{Origins: []string{"https://app.example.com"}, OriginPatterns: []string{`https://[a-z0-9-]+\.example\.org`}, Credentials: true})
	cases := []struct {
		origin, acao string
	}{
		{"https://app.example.com", "https://app.example.com"},
		{"https://shop.example.org", "https://shop.example.org"},
		{"https://evil.example", ""},
		{"https://shop.example.org.evil.net", ""}, // the pattern is anchored
		{"https://app.example.com.evil.net", ""},
		{"null", ""},
		{"https://app.example.com, https://evil.example", ""},
		{"", ""},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.origin != "" {
			h.Set("Origin", c.origin)
		}
		resp, _ := e.Do(t, "GET", "/x", h, "")
		if resp.StatusCode != 200 {
			t.Fatalf("%q: %d", c.origin, resp.StatusCode)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != c.acao {
			t.Errorf("%q: Access-Control-Allow-Origin %q, want %q (never the upstream's reflection)", c.origin, got, c.acao)
		}
		if got := resp.Header.Get("Access-Control-Allow-Credentials"); (got == "true") != (c.acao != "") {
			t.Errorf("%q: Access-Control-Allow-Credentials %q", c.origin, got)
		}
		if vary := strings.Join(resp.Header.Values("Vary"), ","); !strings.Contains(vary, "Origin") || !strings.Contains(vary, "Accept-Encoding") {
			t.Errorf("%q: Vary %q, want Origin merged with the upstream's", c.origin, vary)
		}
	}
	resp, _ := e.Do(t, "GET", "/x", http.Header{"Origin": {"https://app.example.com"}}, "")
	if got := resp.Header.Get("Access-Control-Expose-Headers"); got != strings.Join(cors.DefaultExpose, ", ") {
		t.Errorf("expose: %q", got)
	}
}

func TestWildcard(t *testing.T) {
	e := env(t, cors.Config{Origins: []string{"*"}})
	for o, want := range map[string]string{"https://any.example": "*", "null": ""} {
		resp, _ := e.Do(t, "GET", "/x", http.Header{"Origin": {o}}, "")
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: got %q (credentials %q), want %q without credentials", o, got, resp.Header.Get("Access-Control-Allow-Credentials"), want)
		}
	}
}

func TestPreflights(t *testing.T) {
	e := env(t, cors.Config{Origins: []string{"https://app.example.com"}, Methods: []string{"GET", "PUT", "DELETE"},
		Headers: []string{"Authorization", "Content-Type", "X-Tenant"}, Credentials: true, MaxAge: 5 * time.Minute})
	pre := func(origin, method, headers string) *http.Response {
		h := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {method}}
		if headers != "" {
			h.Set("Access-Control-Request-Headers", headers)
		}
		resp, _ := e.Do(t, "OPTIONS", "/items/1", h, "")
		return resp
	}
	resp := pre("https://app.example.com", "PUT", "content-type,x-tenant")
	want := map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods": "GET, PUT, DELETE", "Access-Control-Allow-Headers": "content-type, x-tenant", "Access-Control-Max-Age": "300"}
	if resp.StatusCode != 204 {
		t.Fatalf("allowed preflight: %d", resp.StatusCode)
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if vary := strings.Join(resp.Header.Values("Vary"), ", "); vary != "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" {
		t.Errorf("Vary %q", vary)
	}
	for _, c := range []struct{ origin, method, headers string }{
		{"https://evil.example", "PUT", ""},
		{"null", "GET", ""},
		{"https://app.example.com", "PATCH", ""},
		{"https://app.example.com", "PUT", "x-admin"},
	} {
		resp := pre(c.origin, c.method, c.headers)
		if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%+v: got %d, ACAO %q; want 403 without permission", c, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	h := http.Header{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Private-Network": {"true"}}
	if resp, _ := e.Do(t, "OPTIONS", "/x", h, ""); resp.StatusCode != 403 {
		t.Errorf("private network preflight: %d", resp.StatusCode)
	}
	if e.Hits() != 0 {
		t.Errorf("%d preflights reached the upstream, want none", e.Hits())
	}
	denials := 0
	for _, ev := range e.Events() {
		if ev.Type == "denial" && ev.Stage == "cors" {
			denials++
		}
	}
	if denials != 5 {
		t.Errorf("%d denial events, want 5 (the allowed preflight is none)", denials)
	}
}

func TestRefuseOthers(t *testing.T) {
	e := env(t, cors.Config{Origins: []string{"https://app.example.com"}, RefuseOthers: true})
	if resp, _ := e.Do(t, "POST", "/x", http.Header{"Origin": {"https://evil.example"}}, "{}"); resp.StatusCode != 403 {
		t.Errorf("another site: %d, want 403", resp.StatusCode)
	}
	u := strings.TrimPrefix(e.URL, "http://")
	if resp, _ := e.Do(t, "POST", "/x", http.Header{"Origin": {"http://" + u}}, "{}"); resp.StatusCode != 200 {
		t.Errorf("the gateway's own origin: %d, want 200", resp.StatusCode)
	}
	if e.Hits() != 1 {
		t.Errorf("upstream hits %d, want 1", e.Hits())
	}
}

func TestConfigErrors(t *testing.T) {
	yaml := "apis:\n  - name: a\n    upstream: {targets: [\"http://127.0.0.1:1\"]}\n    cors:\n      credentials: true\n      origins: [\"*\", \"null\", \"https://app.example.com/path\", \"HTTPS://APP.EXAMPLE.COM\"]\n      origin_patterns: [\"(\"]\n"
	_, err := config.Parse("p.yaml", []byte(yaml))
	for _, want := range []string{`"*" cannot be used with credentials`, `"null" is never allowed`, "no path", "lower case", "origin_patterns[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
