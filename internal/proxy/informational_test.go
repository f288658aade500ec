package proxy

import (
	"net/http"
	"testing"
)

// headerWriter is a ResponseWriter that records the headers of each
// status written.
type headerWriter struct {
	h      http.Header
	writes []http.Header
	codes  []int
}

func (w *headerWriter) Header() http.Header { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) {
	return len(b), nil
}
func (w *headerWriter) WriteHeader(code int) {
	w.codes = append(w.codes, code)
	w.writes = append(w.writes, w.h.Clone())
}

// TestInformationalFilterRestores checks that the gateway's headers, as
// they were when proxying began, are back on the final answer after a 1xx
// (which ReverseProxy clears from the writer), that a 100 Continue is
// dropped, and that a header the answer itself sets is kept.
func TestInformationalFilterRestores(t *testing.T) {
	w := &headerWriter{h: http.Header{"X-Request-Id": {"id-1"}, "Strict-Transport-Security": {"max-age=1"}, "Empty": {}}}
	f := newInformationalFilter(w)
	w.h["X-Request-Id"][0] = "changed later" // the snapshot is a copy
	for _, code := range []int{http.StatusContinue, http.StatusEarlyHints} {
		h := f.Header()
		h.Set("Link", "</a.css>; rel=preload")
		f.WriteHeader(code)
		clear(h) // as ReverseProxy does after each 1xx
	}
	f.Header().Set("Strict-Transport-Security", "from-upstream")
	f.WriteHeader(http.StatusOK)
	if len(w.codes) != 2 || w.codes[0] != http.StatusEarlyHints || w.codes[1] != http.StatusOK {
		t.Fatalf("got codes %v, want [103 200]", w.codes)
	}
	final := w.writes[1]
	for k, want := range map[string]string{"X-Request-Id": "id-1", "Strict-Transport-Security": "from-upstream"} {
		if got := final.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if vs, ok := final["Empty"]; !ok || len(vs) != 0 {
		t.Errorf("Empty: got %v %v, want present and empty", vs, ok)
	}
	if final.Get("Link") != "" {
		t.Errorf("Link: got %q, want it cleared with the 103", final.Get("Link"))
	}
}
