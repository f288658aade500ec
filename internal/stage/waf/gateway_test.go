package waf_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/stage/validate"
	"github.com/portcullis/portcullis/internal/stage/waf"
)

// recorder keeps published events.
type recorder struct {
	mu sync.Mutex
	ev []events.Event
}

func (r *recorder) Publish(e events.Event) bool {
	r.mu.Lock()
	r.ev = append(r.ev, e)
	r.mu.Unlock()
	return true
}

func (r *recorder) all() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.ev...)
}

// newGateway serves a real gateway with a waf-protected catch-all API in
// front of a real upstream that counts the requests reaching it.
func newGateway(t *testing.T, wc waf.Config) (url string, hits *int, rec *recorder, access *bytes.Buffer) {
	return newGatewayAPI(t, config.API{Stages: config.Blocks{"waf": &wc}})
}

// newGatewayAPI is newGateway with a whole API block (name and upstream
// are filled in).
func newGatewayAPI(t *testing.T, api config.API) (url string, hits *int, rec *recorder, access *bytes.Buffer) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(up.Close)
	api.Name = "api"
	api.Upstream = config.Upstream{Targets: []string{up.URL}}
	cfg := &config.Config{APIs: []config.API{api}}
	rec = &recorder{}
	access = &bytes.Buffer{}
	g, err := gateway.New(cfg, gateway.Deps{Metrics: metrics.New(), Events: rec,
		Access: slog.New(slog.NewJSONHandler(&lockedWriter{w: access}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv.URL, &n, rec, access
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestGatewaySubset sends the first payloads of every class, in the query
// and the JSON body, through the real gateway: each must be answered 403
// with a problem document and never reach the upstream; benign requests
// must reach it.
func TestGatewaySubset(t *testing.T) {
	base, hits, rec, access := newGateway(t, waf.Config{})
	for _, class := range attackClasses {
		ps := loadPayloads(t, class)
		for _, p := range ps[:min(3, len(ps))] {
			for _, place := range []string{"query", "json"} {
				t.Run(class+"/"+place+"/"+p, func(t *testing.T) {
					r := buildRequest(place, p)
					req, _ := http.NewRequest(r.Method, base+r.URL.RequestURI(), r.Body)
					req.Header = r.Header
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusForbidden {
						t.Errorf("got %d, want 403", resp.StatusCode)
					}
					if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" || !strings.Contains(string(b), `"stage":"waf"`) {
						t.Errorf("got %s %s, want a waf problem", ct, b)
					}
				})
			}
		}
	}
	if *hits != 0 {
		t.Errorf("got %d requests at the upstream, want 0", *hits)
	}
	benign := loadPayloads(t, "benign")
	for _, p := range benign[:min(20, len(benign))] {
		resp, err := http.Get(base + "/search?q=" + strings.ReplaceAll(p, " ", "+"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("benign %q: got %d, want 200", p, resp.StatusCode)
		}
	}
	ev := rec.all()
	if len(ev) == 0 {
		t.Fatal("got no events, want one per block")
	}
	e := ev[0]
	if e.Stage != "waf" || len(e.Rules) == 0 || e.Location == "" || e.Mode != "block" {
		t.Errorf("got event %+v, want stage waf, rules, location, mode block", e)
	}
	if !strings.Contains(access.String(), `"rules":[`) {
		t.Errorf("access log has no rule ids: %.300s", access.String())
	}
}

// TestGatewayDetectMode checks that detect mode lets the request through
// and publishes a detection event with an excerpt and a score.
func TestGatewayDetectMode(t *testing.T) {
	base, hits, rec, _ := newGateway(t, waf.Config{Mode: waf.ModeDetect})
	resp, err := http.Get(base + "/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || *hits != 1 {
		t.Fatalf("got %d with %d upstream hits, want 200 and 1", resp.StatusCode, *hits)
	}
	ev := rec.all()
	if len(ev) != 1 || ev[0].Type != events.TypeDetection || ev[0].Excerpt == "" || ev[0].Score < 5 || ev[0].Location != "query:q" {
		t.Errorf("got %+v, want one detection event with excerpt, score and location", ev)
	}
}

// TestDetectionTableWithOpenAPI runs the payload table through the real
// gateway with an API that has a description (testdata/search.openapi.yaml),
// the validate stage and the waf stage: typed values are proven by
// validate and skipped by waf, free text is scanned. A request counts as
// blocked when the gateway answers anything but 200 (validate's 400 or
// waf's 403).
func TestDetectionTableWithOpenAPI(t *testing.T) {
	base, _, _, _ := newGatewayAPI(t, config.API{
		OpenAPI: "testdata/search.openapi.yaml",
		Stages:  config.Blocks{"validate": &validate.Config{}, "waf": &waf.Config{}},
	})
	client := &http.Client{}
	inspect := func(r *http.Request) (bool, []string) {
		req, err := http.NewRequest(r.Method, base+r.URL.RequestURI(), r.Body)
		if err != nil {
			return true, nil // the client itself refuses it (a raw line break in a header)
		}
		req.Header = r.Header
		resp, err := client.Do(req)
		if err != nil {
			return true, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode != http.StatusOK, []string{resp.Status}
	}
	det, fp, misses := table(t, inspect)
	out := renderTable("gateway with openapi + validate + waf (paranoia 1, threshold 5)", det, fp)
	t.Log("\n" + out)
	if testing.Verbose() {
		for _, m := range misses {
			t.Log(m)
		}
	}
	if *tableOut != "" {
		f, err := os.OpenFile(*tableOut, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			_, _ = f.WriteString("\n" + out)
			f.Close()
		}
	}
	if raceEnabled {
		return
	}
	checkTargets(t, det, fp)
}
