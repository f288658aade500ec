package csrf_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/csrf"
	"github.com/portcullis/portcullis/internal/stage/stagetest"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Set-Cookie", "session=s1; Path=/; HttpOnly")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
})

func env(t *testing.T, c csrf.Config) *stagetest.Env {
	api := config.API{Operations: []string{"POST /oauth/token", "POST /transfer", "GET /me"}}
	api.Stages.Set(&c)
	return stagetest.New(t, api, ok)
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestFetchMetadataOriginReferer(t *testing.T) {
	e := env(t, csrf.Config{Cookies: []string{"session"}, TrustedOrigins: []string{"https://app.example.com"}, Exempt: []string{"POST /oauth/token"}})
	host := strings.TrimPrefix(e.URL, "http://")
	cases := []struct {
		name   string
		method string
		path   string
		h      http.Header
		want   int
	}{
		{"cross-site form post with the cookie", "POST", "/transfer", hdr("Cookie", "session=abc", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), 403},
		{"same-site but another origin", "POST", "/transfer", hdr("Cookie", "session=abc", "Sec-Fetch-Site", "same-site"), 403},
		{"same origin", "POST", "/transfer", hdr("Cookie", "session=abc", "Sec-Fetch-Site", "same-origin", "Origin", "http://"+host), 200},
		{"user typed it", "POST", "/transfer", hdr("Cookie", "session=abc", "Sec-Fetch-Site", "none"), 200},
		{"trusted origin", "POST", "/transfer", hdr("Cookie", "session=abc", "Sec-Fetch-Site", "cross-site", "Origin", "https://app.example.com"), 200},
		{"old browser: Origin of another site", "POST", "/transfer", hdr("Cookie", "session=abc", "Origin", "https://evil.example"), 403},
		{"old browser: Origin of this host", "POST", "/transfer", hdr("Cookie", "session=abc", "Origin", "http://"+host), 200},
		{"no Origin: Referer of another site", "POST", "/transfer", hdr("Cookie", "session=abc", "Referer", "https://evil.example/page"), 403},
		{"no Origin: Referer of this host", "POST", "/transfer", hdr("Cookie", "session=abc", "Referer", "http://"+host+"/page"), 200},
		{"no browser headers at all (an API client)", "POST", "/transfer", hdr("Cookie", "session=abc"), 200},
		{"cross-site without the session cookie", "POST", "/transfer", hdr("Cookie", "theme=dark", "Sec-Fetch-Site", "cross-site"), 200},
		{"cross-site GET", "GET", "/me", hdr("Cookie", "session=abc", "Sec-Fetch-Site", "cross-site"), 200},
		{"exempt operation", "POST", "/oauth/token", hdr("Cookie", "session=abc", "Sec-Fetch-Site", "cross-site"), 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.Hits()
			resp, body := e.Do(t, c.method, c.path, c.h, "{}")
			if resp.StatusCode != c.want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, c.want)
			}
			if reached := e.Hits() > before; reached != (c.want == 200) {
				t.Fatalf("reached the upstream: %v", reached)
			}
		})
	}
}

func TestJSONOnly(t *testing.T) {
	e := env(t, csrf.Config{JSONOnly: true})
	for ct, want := range map[string]int{"application/x-www-form-urlencoded": 415, "multipart/form-data; boundary=x": 415,
		"text/plain;charset=UTF-8": 415, "": 415, "application/json": 200} {
		h := hdr("Cookie", "session=abc", "Sec-Fetch-Site", "same-origin")
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		body := "amount=100"
		if ct == "application/json" {
			body = `{"amount":100}`
		}
		if resp, _ := e.Do(t, "POST", "/transfer", h, body); resp.StatusCode != want {
			t.Errorf("%q: got %d, want %d", ct, resp.StatusCode, want)
		}
	}
}

func TestDoubleSubmitToken(t *testing.T) {
	for _, secret := range []string{"", "a-secret-that-is-long-enough-for-hmac-signing"} {
		t.Run("secret="+secret, func(t *testing.T) {
			e := env(t, csrf.Config{Cookies: []string{"session"}, Token: &csrf.Token{Issue: true, Secret: secret}})
			resp, _ := e.Do(t, "GET", "/me", hdr("Cookie", "session=abc"), "")
			var tok string
			for _, c := range resp.Cookies() {
				if c.Name == csrf.DefaultTokenCookie {
					tok = c.Value
					if c.SameSite != http.SameSiteStrictMode || c.HttpOnly {
						t.Errorf("token cookie %+v", c)
					}
				}
			}
			if tok == "" || len(resp.Header.Values("Set-Cookie")) != 2 {
				t.Fatalf("Set-Cookie %q: want the upstream's and the token", resp.Header.Values("Set-Cookie"))
			}
			post := func(cookie, header string) int {
				h := hdr("Cookie", cookie, "Sec-Fetch-Site", "same-origin")
				if header != "" {
					h.Set(csrf.DefaultTokenHeader, header)
				}
				resp, _ := e.Do(t, "POST", "/transfer", h, "{}")
				return resp.StatusCode
			}
			if got := post("session=abc; csrf_token="+tok, tok); got != 200 {
				t.Errorf("matching token: %d", got)
			}
			if got := post("session=abc; csrf_token="+tok, ""); got != 403 {
				t.Errorf("no header: %d", got)
			}
			if got := post("session=abc; csrf_token="+tok, tok+"x"); got != 403 {
				t.Errorf("another token: %d", got)
			}
			other := post("session=another; csrf_token="+tok, tok)
			if secret != "" && other != 403 {
				t.Errorf("a token of another session: %d, want 403 with a secret", other)
			}
			if secret == "" && other != 200 {
				t.Errorf("plain double submit: %d", other)
			}
		})
	}
}

func TestLogMode(t *testing.T) {
	e := env(t, csrf.Config{Mode: "log"})
	if resp, _ := e.Do(t, "POST", "/transfer", hdr("Cookie", "session=abc", "Sec-Fetch-Site", "cross-site"), "{}"); resp.StatusCode != 200 {
		t.Fatalf("log mode: %d", resp.StatusCode)
	}
	if evs := e.Events(); len(evs) != 1 || evs[0].Rules[0] != csrf.RuleCrossOrigin || evs[0].Mode != "detect" {
		t.Fatalf("events %+v", evs)
	}
}

func TestConfigErrors(t *testing.T) {
	yaml := "apis:\n  - name: a\n    upstream: {targets: [\"http://127.0.0.1:1\"]}\n    csrf:\n      trusted_origins: [\"https://app.example.com/path\"]\n      token: {secret: short}\n"
	_, err := config.Parse("p.yaml", []byte(yaml))
	for _, want := range []string{"trusted_origins[0]", "token.secret"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
