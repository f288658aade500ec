package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store/redistest"
)

// notFoundUpstream answers 404 under /missing and 200 elsewhere.
func notFoundUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/missing") {
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(up.Close)
	return up
}

// stopNode stops a node gracefully, so that its event bus is drained into
// its events file.
func stopNode(t *testing.T, n *abuseNode) {
	t.Helper()
	_ = n.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("node did not stop within 15s")
	}
}

// eventsOf returns the events of a node's events file whose stage is stage.
func eventsOf(t *testing.T, n *abuseNode, typ, stage string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(n.events)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("events file %s: %v", n.events, err)
		}
		if e["type"] == typ && (stage == "" || e["stage"] == stage) {
			out = append(out, e)
		}
	}
	return out
}

func get(t *testing.T, base, path, ip string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := abuseClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func reconConfig(storeBlock, upstream string) string {
	return storeBlock + fmt.Sprintf(`server:
  trusted_proxies: [127.0.0.1/32]
bans:
  duration: 1h
detect:
  recon:
    threshold: 10
    window: 1m
    action: ban
apis:
  - name: shop
    upstream:
      targets: [%q]
`, upstream)
}

// TestMultiNodeDetection: two gateway processes on one real Redis; a
// client whose 404s alternate between them trips detect.recon once, on
// exactly the 10th, and is then refused by both nodes. The same schedule
// on memory stores (5 per node) trips nothing: the count is the fleet's.
func TestMultiNodeDetection(t *testing.T) {
	up := notFoundUpstream(t)
	rd := redistest.Start(t)
	const attacker, bystander = "198.51.100.77", "198.51.100.78"
	run := func(storeBlock string) []*abuseNode {
		nodes := []*abuseNode{startAbuseNode(t, reconConfig(storeBlock, up.URL)), startAbuseNode(t, reconConfig(storeBlock, up.URL))}
		for i := 0; i < 9; i++ {
			if got := get(t, nodes[i%2].url, fmt.Sprintf("/missing/%d", i), attacker); got != 404 {
				t.Fatalf("probe %d: got %d, want 404 (the upstream's)", i, got)
			}
		}
		return nodes
	}
	shared := run(fmt.Sprintf("store:\n  url: %q\n", rd.URL()))
	if got := get(t, shared[0].url, "/pets", attacker); got != 200 {
		t.Fatalf("after 9 probes: got %d, want 200 (below the threshold)", got)
	}
	if got := get(t, shared[1].url, "/missing/9", attacker); got != 404 {
		t.Fatalf("10th probe: got %d, want 404", got)
	}
	for i, n := range shared {
		if got := get(t, n.url, "/pets", attacker); got != 403 {
			t.Fatalf("node %d after the 10th probe: got %d, want 403 (the decision is shared)", i, got)
		}
		if got := get(t, n.url, "/pets", bystander); got != 200 {
			t.Fatalf("node %d, another client: got %d, want 200", i, got)
		}
	}
	// Three more probes do not fire again.
	for i := 10; i < 13; i++ {
		get(t, shared[i%2].url, fmt.Sprintf("/missing/%d", i), attacker)
	}
	list := adminDo(t, shared[0], "GET", "/api/v1/decisions")
	if !strings.Contains(list, `"key":"ip:198.51.100.77"`) || !strings.Contains(list, `"origin":"detect.recon"`) {
		t.Fatalf("decisions: got %s", list)
	}

	local := run("store:\n  url: memory\n")
	get(t, local[1].url, "/missing/9", attacker) // the 10th, but the 5th on this node
	for _, n := range append(shared, local...) {
		stopNode(t, n)
	}
	var detections, decisions int
	for _, n := range shared {
		detections += len(eventsOf(t, n, "detection", "detect.recon"))
		decisions += len(eventsOf(t, n, "decision", "detect.recon"))
	}
	if detections != 1 || decisions != 1 {
		t.Fatalf("redis: got %d detections and %d decisions across both nodes, want exactly 1 each", detections, decisions)
	}
	var e map[string]any
	for _, n := range shared {
		if evs := eventsOf(t, n, "detection", "detect.recon"); len(evs) == 1 {
			e = evs[0]
		}
	}
	attrs := e["attrs"].(map[string]any)
	if attrs["count"] != 10.0 || attrs["threshold"] != 10.0 || attrs["key"] != "ip:198.51.100.77" || len(attrs["request_ids"].([]any)) != 10 {
		t.Fatalf("detection evidence: got %v, want count 10 of 10 on ip:198.51.100.77 with 10 request ids", attrs)
	}
	for i, n := range local {
		if got := eventsOf(t, n, "detection", ""); len(got) != 0 {
			t.Fatalf("memory node %d: got %v, want no detection (5 probes each)", i, got)
		}
	}
}

// TestDecisionsCLI: `portcullis decisions add` on one node bans a client
// on the other (one Redis), list shows it, delete lifts it everywhere, and
// every step is a decision event.
func TestDecisionsCLI(t *testing.T) {
	up := notFoundUpstream(t)
	rd := redistest.Start(t)
	storeBlock := fmt.Sprintf("store:\n  url: %q\n", rd.URL())
	a, b := startAbuseNode(t, reconConfig(storeBlock, up.URL)), startAbuseNode(t, reconConfig(storeBlock, up.URL))
	cli := func(args ...string) string {
		t.Helper()
		p := append([]string{"decisions", "--admin", a.admin, "--token", "test-admin-token"}, args...)
		out, err := runBinary(t, p...)
		if err != nil {
			t.Fatalf("portcullis %v: %v\n%s", p, err, out)
		}
		return out
	}
	const ip = "192.0.2.44"
	if got := get(t, b.url, "/pets", ip); got != 200 {
		t.Fatalf("before: got %d", got)
	}
	out := cli("add", "--scope", "range", "--value", "192.0.2.0/24", "--duration", "1h", "--reason", "abuse report 42")
	if !strings.Contains(out, "ban range:192.0.2.0/24 until") {
		t.Fatalf("add: got %q", out)
	}
	resp := getResp(t, b.url+"/pets", ip)
	if resp.status != 403 || !strings.Contains(resp.body, "abuse report 42") || resp.header.Get("Retry-After") == "" {
		t.Fatalf("banned range on the other node: got %d %s, want 403 naming the reason with Retry-After", resp.status, resp.body)
	}
	cli("add", "--scope", "principal", "--value", "mallory", "--type", "throttle")
	out = cli("list")
	if !strings.Contains(out, "range:192.0.2.0/24") || !strings.Contains(out, "principal:mallory") || !strings.Contains(out, "throttle") {
		t.Fatalf("list: got %s", out)
	}
	if out := cli("delete", "range:192.0.2.0/24"); !strings.Contains(out, "deleted range:192.0.2.0/24") {
		t.Fatalf("delete: got %q", out)
	}
	if got := get(t, b.url, "/pets", ip); got != 200 {
		t.Fatalf("after delete: got %d, want 200", got)
	}
	if out, err := runBinary(t, "decisions", "--admin", a.admin, "--token", "test-admin-token", "add", "--scope", "ip", "--value", "nope"); err == nil || !strings.Contains(out, `ip "nope" is not an address`) {
		t.Fatalf("bad value: got %v %s", err, out)
	}
	stopNode(t, a)
	stopNode(t, b)
	evs := eventsOf(t, a, "decision", "")
	if len(evs) != 3 {
		t.Fatalf("decision events: got %d (%v), want 3 (two adds and a delete)", len(evs), evs)
	}
	for i, want := range []string{"add", "add", "delete"} {
		if got := evs[i]["attrs"].(map[string]any)["action"]; got != want {
			t.Fatalf("event %d: action %v, want %s", i, got, want)
		}
	}
}

type answer struct {
	status int
	body   string
	header http.Header
}

func getResp(t *testing.T, url, ip string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := abuseClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}
}

// runBinary runs `portcullis args...` to completion and returns its
// combined output.
func runBinary(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
