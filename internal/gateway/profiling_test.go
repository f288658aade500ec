package gateway

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProfiling: with admin.profiling the admin listener serves Go's
// runtime profiles under /debug/pprof/, behind the admin token; without
// it there is nothing there.
func TestProfiling(t *testing.T) {
	up := httptest.NewServer(&recorder{})
	defer up.Close()
	get := func(base, path, token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	off := start(t, baseConfig(up.URL))
	if code, _ := get("http://"+off.srv.AdminAddr(), "/debug/pprof/heap", "t0ken"); code != http.StatusNotFound {
		t.Fatalf("profiling off: /debug/pprof/heap answered %d, want 404", code)
	}

	cfg := baseConfig(up.URL)
	cfg.Admin.Profiling = true
	on := start(t, cfg)
	admin := "http://" + on.srv.AdminAddr()
	for _, tok := range []string{"", "wrong"} {
		if code, _ := get(admin, "/debug/pprof/goroutine?debug=1", tok); code != http.StatusUnauthorized {
			t.Errorf("token %q: /debug/pprof/goroutine answered %d, want 401", tok, code)
		}
	}
	if code, body := get(admin, "/debug/pprof/", "t0ken"); code != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("index: %d %.200s", code, body)
	}
	// A goroutine dump names the gateway's own code; the heap profile is
	// pprof's gzipped protocol buffer.
	if code, body := get(admin, "/debug/pprof/goroutine?debug=1", "t0ken"); code != http.StatusOK || !strings.Contains(string(body), "portcullis/internal/gateway") {
		t.Fatalf("goroutine dump: %d %.300s", code, body)
	}
	code, body := get(admin, "/debug/pprof/heap", "t0ken")
	if code != http.StatusOK {
		t.Fatalf("heap profile: %d %s", code, body)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("heap profile is not gzip: %v", err)
	}
	if raw, err := io.ReadAll(zr); err != nil || len(raw) < 100 {
		t.Fatalf("heap profile: %d bytes, %v", len(raw), err)
	}

	closed := baseConfig(up.URL)
	closed.Admin.Profiling, closed.Admin.Token = true, ""
	c := start(t, closed)
	if code, _ := get("http://"+c.srv.AdminAddr(), "/debug/pprof/heap", ""); code != http.StatusForbidden {
		t.Errorf("profiling without admin.token: %d, want 403 (the admin API is closed)", code)
	}
}

// TestRecentRequestsOnlyWhenReadable: the ring of recent requests (the
// dashboard's and /api/v1/access's) is kept only where the admin plane can
// serve it: not with the admin listener off, nor without an admin token.
func TestRecentRequestsOnlyWhenReadable(t *testing.T) {
	up := httptest.NewServer(&recorder{})
	defer up.Close()
	for _, c := range []struct {
		name     string
		disabled bool
		token    string
		want     bool
	}{{"admin on with a token", false, "t0ken", true}, {"admin off", true, "t0ken", false}, {"no token", false, "", false}} {
		cfg := baseConfig(up.URL)
		cfg.Admin.Disabled, cfg.Admin.Token = c.disabled, c.token
		tg := start(t, cfg)
		resp, err := http.Get(tg.base + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ring := tg.srv.Gateway().deps.Recent
		if got := ring != nil; got != c.want {
			t.Errorf("%s: ring kept %v, want %v", c.name, got, c.want)
		}
		if ring != nil && len(ring.Recent(10, nil)) != 1 {
			t.Errorf("%s: the ring holds %d requests after one", c.name, len(ring.Recent(10, nil)))
		}
	}
}
