package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestCloseCutsOffAfterDeadline: a request whose upstream never answers
// does not hold shutdown past its deadline. When ctx ends, Close drops the
// connections left, which cancels the request and its upstream call, and
// returns ctx's error; the cut-off request still has its access record.
func TestCloseCutsOffAfterDeadline(t *testing.T) {
	arrived := make(chan struct{})
	upstreamCancelled := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // answers never; only a cancelled call ends this
		close(upstreamCancelled)
	}))
	defer up.Close()
	tg := start(t, baseConfig(up.URL))

	clientErr := make(chan error, 1)
	go func() {
		resp, err := http.Get(tg.base + "/hangs")
		if err == nil {
			resp.Body.Close()
			err = errors.New(resp.Status)
		}
		clientErr <- err
	}()
	<-arrived

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has passed already
	closed := make(chan error, 1)
	go func() { closed <- tg.srv.Close(ctx) }()
	select {
	case err := <-closed:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Close: got %v, want the context's error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close still waiting for a request whose upstream never answers, after its deadline")
	}
	select {
	case <-upstreamCancelled:
	case <-time.After(20 * time.Second):
		t.Fatal("the upstream call was not cancelled")
	}
	if err := <-clientErr; err == nil {
		t.Fatal("the cut-off client got an answer")
	}
	found := false
	for _, r := range tg.access.records(t) {
		if r["path"] == "/hangs" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no access record for the cut-off request:\n%s", tg.access.String())
	}
}
