package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/metrics"
)

// TestProblems: every admin error is an RFC 9457 problem with a type URI
// and the request id of the answer's X-Request-Id header.
func TestProblems(t *testing.T) {
	h := Handler(Options{Token: "t0ken", Metrics: metrics.New(), Reload: func() error { return nil }})
	closed := Handler(Options{Metrics: metrics.New()})
	cases := []struct {
		name, path, token string
		h                 http.Handler
		status            int
		typ               string
	}{
		{"no token", "/api/v1/status", "", h, 401, "unauthorized"},
		{"wrong token", "/api/v1/status", "nope", h, 401, "unauthorized"},
		{"admin API closed", "/api/v1/status", "t0ken", closed, 403, "forbidden"},
		{"no event store", "/api/v1/events", "t0ken", h, 404, "not-found"},
		{"no bans", "/api/v1/bans", "t0ken", h, 404, "not-found"},
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", c.path, nil)
			req.Header.Set("X-Request-Id", "client-chosen")
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d", rec.Code, c.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			var p map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			id := rec.Header().Get("X-Request-Id")
			if !uuid.MatchString(id) || p["request_id"] != id {
				t.Errorf("request id: header %q, problem %v (the client's own id must not be used)", id, p["request_id"])
			}
			if p["type"] != "https://portcullis.dev/problems/"+c.typ || p["status"] != float64(c.status) || p["title"] != http.StatusText(c.status) || p["detail"] == "" {
				t.Errorf("problem %v", p)
			}
		})
	}
}

// TestBadParameterProblem: a bad query parameter names the parameter.
func TestBadParameterProblem(t *testing.T) {
	f, err := eventFilter(httptest.NewRequest("GET", "/api/v1/events?limit=-3", nil))
	_ = f
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("got %v, want an error naming limit", err)
	}
}
