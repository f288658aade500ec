// Package stagetest runs a real gateway in front of a recording upstream,
// for the tests of stage packages: what reached the upstream, what the
// client got, the events published and the access and gateway logs, all
// with the masking the server applies (internal/redact).
package stagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/redact"
)

// Request is a request as the upstream received it.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// Env is a running gateway with one API ("api") in front of a recording
// upstream.
type Env struct {
	// URL is the gateway's base URL.
	URL string
	// Upstream is the upstream's own URL (to compare with the gateway).
	Upstream string
	// Metrics are the gateway's metrics.
	Metrics *metrics.Metrics
	// Now is the gateway's clock; tests may replace its value through SetNow.
	now func() time.Time

	mu     sync.Mutex
	reqs   []Request
	events []events.Event
	access bytes.Buffer
	log    bytes.Buffer
}

// Options adjust the environment.
type Options struct {
	// Now is the gateway's clock. Nil is time.Now.
	Now func() time.Time
	// Config is called on the config before the gateway is built (the
	// API's name, upstream and blocks are already set).
	Config func(*config.Config)
}

// New starts a gateway serving api (its Name and Upstream are filled in)
// in front of upstream, which every request reaches through a recorder.
// Everything stops when the test ends.
func New(t testing.TB, api config.API, upstream http.Handler, opts ...Options) *Env {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	e := &Env{Metrics: metrics.New(), now: o.Now}
	if e.now == nil {
		e.now = time.Now
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.mu.Lock()
		e.reqs = append(e.reqs, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		e.mu.Unlock()
		upstream.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	e.Upstream = up.URL
	api.Name = "api"
	api.Upstream = config.Upstream{Targets: []string{up.URL}}
	cfg := &config.Config{APIs: []config.API{api}}
	if o.Config != nil {
		o.Config(cfg)
	}
	cfg.WithDefaults()
	rec := events.PublisherFunc(func(ev events.Event) bool {
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
		return true
	})
	g, err := gateway.New(cfg, gateway.Deps{
		Metrics: e.Metrics,
		Events:  rec,
		Access:  slog.New(redact.JSONHandler(lockedWriter{&e.mu, &e.access})),
		Logger:  slog.New(redact.Handler(slog.NewJSONHandler(lockedWriter{&e.mu, &e.log}, nil))),
		Now:     func() time.Time { return e.now() },
	})
	if err != nil {
		t.Fatalf("building the gateway: %v", err)
	}
	t.Cleanup(g.Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Requests returns the requests the upstream received.
func (e *Env) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.reqs...)
}

// Hits is the number of requests the upstream received.
func (e *Env) Hits() int { return len(e.Requests()) }

// Events returns the events published so far (the gateway publishes an
// exchange's events before it writes the answer, so they are all here once
// the response arrived).
func (e *Env) Events() []events.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]events.Event(nil), e.events...)
}

// Access returns the access log written so far.
func (e *Env) Access() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.access.String()
}

// Log returns the gateway's own log written so far.
func (e *Env) Log() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.String()
}

// Do sends r (its URL relative to the gateway) and returns the response
// with its body read.
func (e *Env) Do(t testing.TB, method, path string, header http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Everything returns every event (as JSON), the access log and the
// gateway log in one string, to check that a value appears nowhere.
func (e *Env) Everything(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, ev := range e.Events() {
		j, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	b.WriteString(e.Access())
	b.WriteString(e.Log())
	return b.String()
}
