package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/stage/contract"
	"github.com/portcullis/portcullis/internal/stage/mask"
	"github.com/portcullis/portcullis/internal/stage/scrub"
)

// TestNoSensitiveValueReachesLogsOrEvents sends the demo API's leaky
// answers and requests that carry secrets in their path, query and
// headers through a whole Server, with the JSONL event sink on disk, and
// checks that no value appears in the event file, the access log or the
// gateway's log — while the answers themselves were masked too.
func TestNoSensitiveValueReachesLogsOrEvents(t *testing.T) {
	up := httptest.NewServer(demo.NewAPI(demo.APIOptions{}))
	defer up.Close()
	dir := t.TempDir()
	spec := filepath.Join(dir, "openapi.yaml")
	if err := os.WriteFile(spec, demo.OpenAPI(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(up.URL)
	cfg.Stages = nil
	cfg.Events.JSONL = filepath.Join(dir, "events.jsonl")
	cfg.APIs[0].OpenAPI = spec
	cfg.APIs[0].Stages.Set(&contract.Config{})
	cfg.APIs[0].Stages.Set(&mask.Config{})
	cfg.APIs[0].Stages.Set(&scrub.Config{})
	tg := start(t, cfg)

	const (
		card = "4111111111111111"
		akid = "AKIAIOSFODNN7EXAMPLE"
		jwt  = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
		hash = "$2b$10$fzjax9d32b/OIMxcHzxpk.eJHNnZp27DQ6BU25qh9L8aT9jx3ihy."
	)
	secrets := []string{card, "4111 1111 1111 1111", akid, jwt, hash, "fzjax9d32b"}
	reqs := []struct{ method, path, ua string }{
		{"GET", "/accounts/alice", "curl/8"},
		{"GET", "/stats", "curl/8"},
		{"GET", "/pets/" + card, "curl/8"},
		{"GET", "/pets?note=" + card + "&q=" + jwt, "agent " + akid},
		{"GET", "/search?q=%27%20OR%201%3D1--%20" + card, "curl/8"},
	}
	for _, r := range reqs {
		req, _ := http.NewRequest(r.method, tg.base+r.path, nil)
		req.Header.Set("User-Agent", r.ua)
		req.Header.Set("Authorization", "Bearer "+jwt)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		resp.Body.Close()
		if r.path == "/accounts/alice" && (strings.Contains(b.String(), "password_hash") || strings.Contains(b.String(), "4111 1111 1111 1111")) {
			t.Errorf("the answer leaked: %s", b.String())
		}
	}
	if err := tg.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, err := os.ReadFile(cfg.Events.JSONL)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || !strings.Contains(string(evs), `"stage":"mask"`) || !strings.Contains(string(evs), `"stage":"scrub"`) {
		t.Fatalf("the events file lacks the mask and scrub events:\n%s", evs)
	}
	for name, text := range map[string]string{"events file": string(evs), "access log": tg.access.String(), "gateway log": tg.logs.String()} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds %q:\n%s", name, s, text)
			}
		}
	}
	if !strings.Contains(tg.access.String(), "[REDACTED:card]") {
		t.Errorf("the access log does not show where the card was masked:\n%s", tg.access.String())
	}
}
