package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAccessLogBuffered: by default access records are held (one write
// per batch) until the buffer is flushed; with log.access_sync each is
// written as its request ends.
func TestAccessLogBuffered(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sync     bool
		heldBack bool
	}{
		{"buffered", false, true},
		{"access_sync", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := &recorder{}
			ts := httptest.NewServer(up)
			t.Cleanup(ts.Close)
			cfg := baseConfig(ts.URL)
			cfg.Log.AccessSync = tc.sync
			cfg.Log.AccessFlush = time.Hour // no tick during the test
			tg := start(t, cfg)
			resp, err := http.Get(tg.base + "/api/held")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// The record is written in the handler, before net/http sends
			// the buffered (empty) answer, so a record not in the writer
			// now is held back.
			tg.access.mu.Lock()
			written := strings.Contains(tg.access.b.String(), `"path":"/api/held"`)
			tg.access.mu.Unlock()
			if written == tc.heldBack {
				t.Fatalf("record written before a flush: %v, want %v", written, !tc.heldBack)
			}
			if !strings.Contains(tg.access.String(), `"path":"/api/held"`) { // String flushes
				t.Fatalf("no record after the flush:\n%s", tg.access.String())
			}
		})
	}
}
