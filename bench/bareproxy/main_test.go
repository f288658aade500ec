package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

func TestProxy(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Forwarded-For"))
	}))
	defer upstream.Close()
	target, err := url.Parse(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(proxy(target))
	defer front.Close()

	resp, err := http.Get(front.URL + "/bench?x=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got, want := string(body), "GET /bench?x=1 127.0.0.1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSameCollectorTarget: the baseline collects as often as Portcullis
// does by default.
func TestSameCollectorTarget(t *testing.T) {
	if gcPercent != config.DefaultGCPercent {
		t.Fatalf("%s runs with GOGC %d, Portcullis with server.gc_percent %d by default: the ratios would compare collectors", "bareproxy", gcPercent, config.DefaultGCPercent)
	}
}
