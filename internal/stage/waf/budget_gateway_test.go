package waf_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/stage/waf"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/redistest"
)

// TestExpensiveFloodLeavesHealthyClientsServed floods two gateway nodes
// that share one real redis-server with requests that each give the CRS
// about 10 KiB (the most expensive shape under max_inspect_bytes that
// still passes), from one client, while another client sends ordinary
// requests (issue 11, finding 5). The clock stands still, so what the
// flood buys is exactly the burst: 4 requests of 9 KiB across both nodes;
// every other flood request is refused with 429 before the CRS runs, and
// every healthy request is served.
func TestExpensiveFloodLeavesHealthyClientsServed(t *testing.T) {
	srv := redistest.Start(t)
	frozen := time.Unix(1_700_000_000, 0)
	now := func() time.Time { return frozen }
	var upstreamHits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamHits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(up.Close)

	var nodes []string
	rec := &recorder{}
	for i := 0; i < 2; i++ {
		st := store.NewRedis(redis.NewClient(&redis.Options{Addr: srv.Addr()}), "flood:", now)
		t.Cleanup(func() { _ = st.Close() })
		cfg := &config.Config{
			Server: config.Server{TrustedProxies: []string{"127.0.0.0/8"}},
			APIs: []config.API{{Name: "api", Upstream: config.Upstream{Targets: []string{up.URL}},
				Stages: config.Blocks{"waf": &waf.Config{ClientBudget: waf.ClientBudget{Rate: 20, Burst: 40}}}}},
		}
		g, err := gateway.New(cfg, gateway.Deps{Metrics: metrics.New(), Events: rec, Store: st, Now: now,
			Access: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		s := httptest.NewServer(g)
		t.Cleanup(s.Close)
		nodes = append(nodes, s.URL)
	}

	var filter strings.Builder
	for i := 0; filter.Len() < 10<<10; i++ {
		fmt.Fprintf(&filter, "status:eq:active%d;sort=-created_at,limit=%d ", i, i%50)
	}
	flood := `{"filter":"` + filter.String() + `"}`
	healthy := `{"filter":"status:eq:active;sort=-created_at,limit=20","note":"second order this week"}`

	send := func(node, client, body string) int {
		req, _ := http.NewRequest("POST", node+"/orders", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	const attackers, perAttacker, healthyN = 4, 25, 60
	var mu sync.Mutex
	floodStatus := map[int]int{}
	healthyStatus := map[int]int{}
	var wg sync.WaitGroup
	for a := 0; a < attackers; a++ {
		wg.Add(1)
		go func(a int) {
			defer wg.Done()
			for i := 0; i < perAttacker; i++ {
				code := send(nodes[(a+i)%2], "198.51.100.66", flood)
				mu.Lock()
				floodStatus[code]++
				mu.Unlock()
			}
		}(a)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < healthyN; i++ {
			code := send(nodes[i%2], "203.0.113.10", healthy)
			mu.Lock()
			healthyStatus[code]++
			mu.Unlock()
		}
	}()
	wg.Wait()

	if healthyStatus[http.StatusOK] != healthyN {
		t.Errorf("healthy client: %v, want all %d answered 200", healthyStatus, healthyN)
	}
	for _, e := range rec.all() {
		if e.Type == events.TypeStageFailure {
			t.Errorf("stage failure (the budget failed open): %s", e.Reason)
		}
	}
	if floodStatus[http.StatusOK] != 4 || floodStatus[http.StatusTooManyRequests] != attackers*perAttacker-4 {
		t.Errorf("flood: %v, want exactly 4 inspected and passed (40 KiB burst / 9 KiB, across both nodes) and the rest 429", floodStatus)
	}
	if got := upstreamHits.Load(); got != int64(healthyN+4) {
		t.Errorf("upstream saw %d requests, want %d", got, healthyN+4)
	}
}
