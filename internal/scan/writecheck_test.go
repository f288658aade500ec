package scan

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/demo"
)

// groupRecorder records the requests that reach the target while one check
// group runs: method, path and whether the body carries marker.
type groupRecorder struct {
	marker []byte
	on     atomic.Bool
	next   http.Handler

	mu   sync.Mutex
	seen []recorded
}

type recorded struct {
	method, path string
	marked       bool
}

func (g *groupRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.on.Load() {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		g.mu.Lock()
		g.seen = append(g.seen, recorded{r.Method, r.URL.Path, bytes.Contains(body, g.marker)})
		g.mu.Unlock()
	}
	g.next.ServeHTTP(w, r)
}

// TestWriteControlsPrecedeProbes pins the order of a write check: the
// controls of every write operation are read before any probe writes,
// because the operations share objects (PUT /notes/{id} writes the note
// that the baseline of POST /notes created). When a probe of one
// operation landed before the control of another, the control saw the
// probe's own values and the flaw of the other operation went unreported.
func TestWriteControlsPrecedeProbes(t *testing.T) {
	t.Parallel()
	rec := &groupRecorder{marker: []byte(massValue), next: demo.NewAPI(demo.APIOptions{Vulnerable: true})}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	cfg := labConfig(srv.URL)
	cfg.Checks = []string{"property"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg, Options{Spec: labSpec(t), Progress: func(p Progress) { rec.on.Store(p.Group == "property") }})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}

	writes := []string{"POST /notes", "PUT /notes/{id}", "PUT /profile"}
	got := map[string]bool{}
	for _, f := range rep.Findings {
		if f.CheckID == "property.mass-assignment" {
			got[f.Operation] = true
		}
	}
	for _, op := range writes {
		if !got[op] {
			t.Errorf("got property.mass-assignment on %v, want it on %s", got, op)
		}
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	// The control reads are the GETs of the group before the first probe
	// (a write carrying the marker): one per write operation that has
	// something to read back: the three above, POST /users, POST /lists and
	// PUT /users/{username}/password (through the identity's own read;
	// the logins have none).
	const wantControls = 6
	controls, probes := 0, 0
	for _, r := range rec.seen {
		switch {
		case r.marked:
			probes++
		case probes == 0 && r.method == http.MethodGet:
			controls++
		case probes == 0:
			t.Errorf("got %s %s before the first probe, want only control reads", r.method, r.path)
		}
	}
	if controls != wantControls {
		t.Errorf("got %d control reads before the first probe, want %d (one per write operation): %+v", controls, wantControls, rec.seen)
	}
}
