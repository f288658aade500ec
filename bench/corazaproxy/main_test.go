package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

func TestProxyBlocksAndPasses(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	h, err := handler(target, 1)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	defer front.Close()
	for path, want := range map[string]int{
		"/bench": http.StatusOK,
		"/bench?q=%3Cscript%3Ealert(1)%3C/script%3E": http.StatusForbidden,
	} {
		resp, err := http.Get(front.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: got %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestSameCollectorTarget: the baseline collects as often as Portcullis
// does by default.
func TestSameCollectorTarget(t *testing.T) {
	if gcPercent != config.DefaultGCPercent {
		t.Fatalf("%s runs with GOGC %d, Portcullis with server.gc_percent %d by default: the ratios would compare collectors", "corazaproxy", gcPercent, config.DefaultGCPercent)
	}
}
