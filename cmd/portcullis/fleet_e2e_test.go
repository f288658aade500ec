package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/events/pgtest"
)

// startFleetNode starts a gateway binary named node whose events go to the
// PostgreSQL at pgURL (and its own spool).
func startFleetNode(t *testing.T, node, pgURL, upstream string) *abuseNode {
	t.Helper()
	dir := t.TempDir()
	addr, admin := freeAddr(t), freeAddr(t)
	n := &abuseNode{url: "http://" + addr, admin: "http://" + admin}
	cfg := fmt.Sprintf(`listeners:
  - addr: %q
admin:
  addr: %q
  token: test-admin-token
log:
  access: "off"
server:
  trusted_proxies: [127.0.0.1/32]
events:
  node: %s
  postgres:
    url: %q
    spool: %q
    timeout: 2s
    retry_interval: 100ms
ipfilter:
  deny: [203.0.113.0/24]
apis:
  - name: shop
    upstream:
      targets: [%q]
`, addr, admin, node, pgURL, filepath.Join(dir, "events.spool"), upstream)
	path := filepath.Join(dir, "portcullis.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n.process = startBinary(t, "serve", "-c", path)
	return n
}

// pgStatus is the postgres part of a node's /api/v1/status.
type pgStatus struct {
	Inserted, Spooled, Replayed uint64
	SpoolEvents                 int64 `json:"spool_events"`
	Up                          bool
}

func fleetStatus(t *testing.T, n *abuseNode) pgStatus {
	t.Helper()
	var doc struct {
		Postgres pgStatus `json:"postgres"`
	}
	if err := json.Unmarshal([]byte(adminDo(t, n, "GET", "/api/v1/status")), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Postgres
}

func denialsByNode(t *testing.T, n *abuseNode, client string) map[string]int {
	t.Helper()
	var doc struct {
		Events []struct {
			Node     string `json:"node"`
			ClientIP string `json:"client_ip"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(adminDo(t, n, "GET", "/api/v1/events?type=denial&limit=1000")), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range doc.Events {
		if client == "" || strings.HasPrefix(e.ClientIP, client) {
			out[e.Node]++
		}
	}
	return out
}

// TestFleetPostgres: two gateway processes write their events into one
// real PostgreSQL. The admin API (what the dashboard reads) of either node
// lists both nodes' denials, and one node's live feed streams a denial the
// other node made. Then PostgreSQL is killed (SIGKILL) while both nodes
// keep refusing clients: every event is spooled, and once PostgreSQL is
// back every one is in the table exactly once, with spooled == replayed
// and nothing dropped or failed on either node.
func TestFleetPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	up := notFoundUpstream(t)
	a := startFleetNode(t, "gw-a", pg.URL(), up.URL)
	b := startFleetNode(t, "gw-b", pg.URL(), up.URL)

	// b's live feed, opened before a's denial.
	req, _ := http.NewRequest("GET", b.admin+"/api/v1/stream?type=denial", nil)
	req.Header.Set("Authorization", "Bearer test-admin-token")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	streamed := make(chan map[string]any, 16)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e map[string]any
				if json.Unmarshal([]byte(d), &e) == nil {
					streamed <- e
				}
			}
		}
		close(streamed)
	}()

	if got := get(t, a.url, "/pets", "203.0.113.1"); got != 403 {
		t.Fatalf("node a: got %d, want 403 (ipfilter)", got)
	}
	if got := get(t, b.url, "/pets", "203.0.113.2"); got != 403 {
		t.Fatalf("node b: got %d, want 403", got)
	}
	for _, n := range []*abuseNode{a, b} {
		eventually(t, "both nodes' denials in "+n.admin, func() bool {
			m := denialsByNode(t, n, "203.0.113.")
			return m["gw-a"] == 1 && m["gw-b"] == 1
		})
	}
	// b's feed follows the fleet store: a's denial arrives in it (b's own
	// may come before or after, as the two nodes' inserts land).
	timeout := time.After(20 * time.Second)
	for found := false; !found; {
		select {
		case e, ok := <-streamed:
			if !ok {
				t.Fatal("node b's live feed ended")
			}
			found = e["node"] == "gw-a" && e["client_ip"] == "203.0.113.1"
		case <-timeout:
			t.Fatal("node b's live feed did not stream node a's denial")
		}
	}

	// PostgreSQL crashes; both nodes keep refusing and keep every event.
	pg.Kill()
	const each = 40
	for i := 0; i < each; i++ {
		get(t, a.url, "/pets", "203.0.113.10")
		get(t, b.url, "/pets", "203.0.113.20")
	}
	for _, n := range []*abuseNode{a, b} {
		eventually(t, "the denials spooled on "+n.admin, func() bool {
			st := fleetStatus(t, n)
			return !st.Up && st.SpoolEvents >= each
		})
	}
	pg.Restart()
	for _, n := range []*abuseNode{a, b} {
		eventually(t, "the spool replayed on "+n.admin, func() bool {
			st := fleetStatus(t, n)
			return st.Up && st.SpoolEvents == 0
		})
	}
	for node, client := range map[string]string{"gw-a": "203.0.113.10", "gw-b": "203.0.113.20"} {
		out, err := pg.Exec(context.Background(),
			fmt.Sprintf("SELECT count(*), count(DISTINCT id) FROM portcullis_events WHERE type = 'denial' AND node = '%s' AND client_ip = '%s'", node, client))
		if err != nil {
			t.Fatalf("psql: %v %s", err, out)
		}
		if out != fmt.Sprintf("%d|%d", each, each) {
			t.Errorf("%s: rows|distinct ids = %s, want %d|%d (every spooled event once)", node, out, each, each)
		}
	}
	for _, n := range []*abuseNode{a, b} {
		st := fleetStatus(t, n)
		if st.Spooled == 0 || st.Spooled != st.Replayed {
			t.Errorf("%s: spooled %d, replayed %d; want equal and not zero", n.admin, st.Spooled, st.Replayed)
		}
		m := metricsOf(t, n)
		for _, name := range []string{`portcullis_events_dropped_total{sink="postgres"}`, `portcullis_event_sink_errors_total{sink="postgres"}`} {
			if v, ok := m[name]; !ok || v != 0 {
				t.Errorf("%s: %s = %v (present %v), want 0", n.admin, name, v, ok)
			}
		}
		if m["portcullis_event_spooled_total"] != float64(st.Spooled) || m["portcullis_event_spool_replayed_total"] != float64(st.Replayed) {
			t.Errorf("%s: spool metrics %v/%v disagree with the status %d/%d", n.admin,
				m["portcullis_event_spooled_total"], m["portcullis_event_spool_replayed_total"], st.Spooled, st.Replayed)
		}
	}
	// Either node's admin API shows the whole fleet's denials.
	for _, n := range []*abuseNode{a, b} {
		m := denialsByNode(t, n, "203.0.113.")
		if m["gw-a"] != each+1 || m["gw-b"] != each+1 {
			t.Errorf("%s lists denials by node %v, want %d of each", n.admin, m, each+1)
		}
	}
}

// metricsOf scrapes a node's /metrics into name{labels} → value.
func metricsOf(t *testing.T, n *abuseNode) map[string]float64 {
	t.Helper()
	resp, err := abuseClient.Get(n.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
