package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store/redistest"
)

// abuseNode is one running gateway binary of an abuse test.
type abuseNode struct {
	*process
	url, admin, events string
}

// startAbuseNode writes a config (the yaml after the listeners, admin,
// log and events blocks this function adds) and starts the real binary.
func startAbuseNode(t *testing.T, body string) *abuseNode {
	t.Helper()
	dir := t.TempDir()
	addr, admin := freeAddr(t), freeAddr(t)
	n := &abuseNode{url: "http://" + addr, admin: "http://" + admin, events: filepath.Join(dir, "events.jsonl")}
	cfg := fmt.Sprintf(`listeners:
  - addr: %q
admin:
  addr: %q
  token: test-admin-token
log:
  access: "off"
events:
  jsonl: %q
%s`, addr, admin, n.events, body)
	path := filepath.Join(dir, "portcullis.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n.process = startBinary(t, "serve", "-c", path)
	return n
}

// okUpstream answers 200 to everything, after delay.
func okUpstream(t *testing.T, delay time.Duration) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 {
			time.Sleep(delay) // the slow upstream under test, not a wait for a result
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(up.Close)
	return up
}

var abuseClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

type tally struct {
	mu       sync.Mutex
	byStatus map[int]int
	missing  int // 429s without the RateLimit headers or Retry-After
}

func (tl *tally) count(s int) int { tl.mu.Lock(); defer tl.mu.Unlock(); return tl.byStatus[s] }

func (tl *tally) fivexx() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	n := 0
	for s, c := range tl.byStatus {
		if s >= 500 {
			n += c
		}
	}
	return n
}

// schedule sends total GET requests to path, request i to nodes[i%len],
// from workers goroutines, and tallies statuses.
func schedule(t *testing.T, nodes []*abuseNode, path string, total, workers int) *tally {
	t.Helper()
	tl := &tally{byStatus: map[int]int{}}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				resp, err := abuseClient.Get(nodes[i%len(nodes)].url + path)
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				tl.mu.Lock()
				tl.byStatus[resp.StatusCode]++
				if resp.StatusCode == http.StatusTooManyRequests &&
					(resp.Header.Get("RateLimit") == "" || resp.Header.Get("RateLimit-Policy") == "" || resp.Header.Get("Retry-After") == "") {
					tl.missing++
				}
				tl.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return tl
}

// globalLimitAPI is an API with one limit shared by every client (keyed by
// route): 300 per hour, burst 300, so that refill during a test run is
// negligible (under one request per 12s) and the expected count is exact.
func globalLimitAPI(upstream string) string {
	return fmt.Sprintf(`apis:
  - name: shop
    upstream:
      targets: [%q]
    ratelimit:
      limits:
        - name: global
          key: [route]
          rate: 300
          per: 1h
`, upstream)
}

// TestMultiNodeSharedLimit runs three gateway processes on one real Redis:
// 1200 requests spread evenly over them are admitted as one global limit
// of 300 (±2%). The same schedule on the memory store admits about 3×,
// which proves the test can tell the two apart.
func TestMultiNodeSharedLimit(t *testing.T) {
	up := okUpstream(t, 0)
	rd := redistest.Start(t)
	run := func(storeBlock string) *tally {
		var nodes []*abuseNode
		for i := 0; i < 3; i++ {
			nodes = append(nodes, startAbuseNode(t, storeBlock+globalLimitAPI(up.URL)))
		}
		return schedule(t, nodes, "/pets", 1200, 12)
	}
	shared := run(fmt.Sprintf("store:\n  url: %q\n", rd.URL()))
	local := run("store:\n  url: memory\n")
	ok, lok := shared.count(200), local.count(200)
	t.Logf("redis: %d admitted of 1200 (limit 300); memory: %d admitted (%.2fx)", ok, lok, float64(lok)/float64(ok))
	if ok < 294 || ok > 306 {
		t.Errorf("shared limit: got %d admitted, want 300 ±2%%", ok)
	}
	if ratio := float64(lok) / 300; ratio < 2.9 || ratio > 3.1 {
		t.Errorf("per-node limits: got %d admitted (%.2fx), want about 3x", lok, ratio)
	}
	for name, tl := range map[string]*tally{"redis": shared, "memory": local} {
		if tl.count(200)+tl.count(429) != 1200 || tl.missing > 0 {
			t.Errorf("%s: got statuses %v (%d 429s without headers), want only 200 and 429 with headers", name, tl.byStatus, tl.missing)
		}
	}
}

// metric returns the value of an unlabelled metric from a node's /metrics.
func metric(t *testing.T, n *abuseNode, name string) string {
	t.Helper()
	resp, err := abuseClient.Get(n.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	return ""
}

// eventually polls cond every 20ms for up to 15s: for things the server
// does on its own time (a background ping, an asynchronous ban).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisFault stops Redis under two nodes mid-run: no 5xx, a fallback
// event and metric on each node; Redis back → shared limits resume without
// a restart.
func TestRedisFault(t *testing.T) {
	up := okUpstream(t, 0)
	rd := redistest.Start(t)
	storeBlock := fmt.Sprintf(`store:
  url: %q
  timeout: 200ms
  dial_timeout: 200ms
  ping_interval: 100ms
`, rd.URL())
	nodes := []*abuseNode{
		startAbuseNode(t, storeBlock+globalLimitAPI(up.URL)),
		startAbuseNode(t, storeBlock+globalLimitAPI(up.URL)),
	}
	if tl := schedule(t, nodes, "/pets", 100, 4); tl.count(200) != 100 {
		t.Fatalf("before the outage: got %v, want 100 admitted", tl.byStatus)
	}

	// Redis dies while requests are flowing.
	var stop sync.WaitGroup
	stop.Add(1)
	var during *tally
	go func() {
		defer stop.Done()
		during = schedule(t, nodes, "/pets", 600, 4)
	}()
	time.Sleep(50 * time.Millisecond) // let the run get going before the crash
	rd.Stop()
	stop.Wait()
	if n := during.fivexx(); n > 0 {
		t.Fatalf("during the outage: got %d 5xx (%v), want none", n, during.byStatus)
	}
	after := schedule(t, nodes, "/pets", 200, 4)
	if n := after.fivexx(); n > 0 {
		t.Fatalf("after the outage began: got %v, want no 5xx", after.byStatus)
	}
	for i, n := range nodes {
		if got := metric(t, n, "portcullis_store_fallback"); got != "1" {
			t.Errorf("node %d: portcullis_store_fallback got %q, want 1", i, got)
		}
		if got := metric(t, n, "portcullis_store_fallbacks_total"); got != "1" {
			t.Errorf("node %d: portcullis_store_fallbacks_total got %q, want 1", i, got)
		}
		eventually(t, "fallback event", func() bool {
			b, _ := os.ReadFile(n.events)
			return strings.Contains(string(b), `"store.fallback"`)
		})
	}

	rd.Restart() // empty: the shared state starts again from zero
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("node %d back on redis", i), func() bool { return metric(t, n, "portcullis_store_fallback") == "0" })
	}
	resumed := schedule(t, nodes, "/pets", 800, 8)
	if ok := resumed.count(200); ok < 294 || ok > 306 {
		t.Fatalf("after recovery: got %d admitted (%v), want one shared limit of 300 ±2%%", ok, resumed.byStatus)
	}
	for _, n := range nodes {
		b, _ := os.ReadFile(n.events)
		if !strings.Contains(string(b), `"store.recovered"`) {
			t.Errorf("no store.recovered event in %s", n.events)
		}
	}
}

// TestLoadShedding: a slow upstream and a concurrency cap; while eight
// authenticated clients keep the API busy, anonymous requests are shed with
// 503 and Retry-After and every authenticated request succeeds.
func TestLoadShedding(t *testing.T) {
	up := okUpstream(t, 200*time.Millisecond)
	keys, err := filepath.Abs("../../bench/identity-keys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := startAbuseNode(t, fmt.Sprintf(`apis:
  - name: shop
    upstream:
      targets: [%q]
    authn:
      optional: true
      methods:
        - apikey:
            file: %q
    ratelimit:
      concurrency:
        max: 16
        retry_after: 2s
      shed:
        - match: anonymous
          max_in_flight: 4
        - match: authenticated
          max_in_flight: 16
`, up.URL, keys))
	const benchKey = "pk_be0c00000001_bench-key-published-in-the-repository"
	var authOK, authBad, anonShed, anonOK atomic.Int64
	var badRetry atomic.Int64
	stopAt := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stopAt) {
				req, _ := http.NewRequest("GET", n.url+"/pets", nil)
				req.Header.Set("X-Api-Key", benchKey)
				resp, err := abuseClient.Do(req)
				if err != nil {
					authBad.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					authOK.Add(1)
				} else {
					authBad.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // the authenticated load is under way
	for time.Now().Before(stopAt.Add(-300 * time.Millisecond)) {
		resp, err := abuseClient.Get(n.url + "/pets")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusServiceUnavailable:
			anonShed.Add(1)
			if resp.Header.Get("Retry-After") != "2" {
				badRetry.Add(1)
			}
		case http.StatusOK:
			anonOK.Add(1)
		}
		time.Sleep(20 * time.Millisecond) // pace the anonymous client
	}
	wg.Wait()
	t.Logf("authenticated: %d ok, %d failed; anonymous: %d shed, %d ok", authOK.Load(), authBad.Load(), anonShed.Load(), anonOK.Load())
	if authBad.Load() != 0 || authOK.Load() < 40 {
		t.Errorf("authenticated: got %d ok and %d failed, want all ok", authOK.Load(), authBad.Load())
	}
	if anonShed.Load() == 0 || anonShed.Load() < 4*anonOK.Load() {
		t.Errorf("anonymous: got %d shed and %d ok, want mostly shed", anonShed.Load(), anonOK.Load())
	}
	if badRetry.Load() != 0 {
		t.Errorf("got %d shed responses without Retry-After: 2", badRetry.Load())
	}
}

// TestBanLifecycle: a client that keeps hammering a rate-limited login is
// banned (403 for it only), listed by the admin API, and allowed again when
// the ban expires; a second ban is longer and can be lifted by the admin
// API.
func TestBanLifecycle(t *testing.T) {
	up := okUpstream(t, 0)
	n := startAbuseNode(t, fmt.Sprintf(`server:
  trusted_proxies: [127.0.0.1/32]
bans:
  threshold: 5
  window: 1m
  duration: 2s
  events: [ratelimit]
apis:
  - name: shop
    upstream:
      targets: [%q]
    ratelimit:
      limits:
        - name: login
          path_prefix: /login
          rate: 1
          per: 1h
`, up.URL))
	get := func(ip, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", n.url+path, nil)
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := abuseClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	const attacker, bystander = "198.51.100.7", "198.51.100.8"
	attack := func() {
		for i := 0; i < 6; i++ {
			get(attacker, "/login")
		}
		eventually(t, "ban", func() bool { return get(attacker, "/pets").StatusCode == http.StatusForbidden })
	}
	attack()
	banned := time.Now()
	resp := get(attacker, "/pets")
	if resp.StatusCode != 403 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("banned client: got %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := get(bystander, "/pets").StatusCode; got != 200 {
		t.Fatalf("bystander: got %d, want 200", got)
	}
	list := adminDo(t, n, "GET", "/api/v1/bans")
	if !strings.Contains(list, `"key":"ip:198.51.100.7"`) || !strings.Contains(list, `"strikes":1`) {
		t.Fatalf("admin bans: got %s", list)
	}
	eventually(t, "ban expiry", func() bool { return get(attacker, "/pets").StatusCode == 200 })
	if waited := time.Since(banned); waited < time.Second {
		t.Fatalf("ban of 2s ended after %v", waited)
	}
	b, _ := os.ReadFile(n.events)
	if !strings.Contains(string(b), `"type":"decision"`) || !strings.Contains(string(b), `"decision.add"`) || !strings.Contains(string(b), `"origin":"bans"`) {
		t.Fatalf("no ban event in %s", b)
	}

	// Second offence: a 4s ban, lifted by the admin API.
	attack()
	list = adminDo(t, n, "GET", "/api/v1/bans")
	if !strings.Contains(list, `"strikes":2`) {
		t.Fatalf("second ban: got %s, want strikes 2", list)
	}
	adminDo(t, n, "DELETE", "/api/v1/bans/ip:198.51.100.7")
	if got := get(attacker, "/pets").StatusCode; got != 200 {
		t.Fatalf("after admin unban: got %d, want 200", got)
	}
	if list := adminDo(t, n, "GET", "/api/v1/bans"); strings.Contains(list, "198.51.100.7") {
		t.Fatalf("after admin unban the list still has it: %s", list)
	}
}

func adminDo(t *testing.T, n *abuseNode, method, path string) string {
	t.Helper()
	req, _ := http.NewRequest(method, n.admin+path, nil)
	req.Header.Set("Authorization", "Bearer test-admin-token")
	resp, err := abuseClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: got %d %s", method, path, resp.StatusCode, b)
	}
	return string(b)
}

// TestSlowClients: 400 connections trickling headers and 100 trickling
// bodies do not keep normal clients from being served, and the server cuts
// them at read_header_timeout and read_timeout.
func TestSlowClients(t *testing.T) {
	up := okUpstream(t, 0)
	n := startAbuseNode(t, fmt.Sprintf(`server:
  read_header_timeout: 1s
  read_timeout: 2s
apis:
  - name: shop
    upstream:
      targets: [%q]
`, up.URL))
	addr := strings.TrimPrefix(n.url, "http://")
	type slow struct {
		c     net.Conn
		limit time.Duration
	}
	var conns []slow
	start := time.Now()
	for i := 0; i < 500; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		if i < 400 {
			_, err = io.WriteString(c, "GET /pets HTTP/1.1\r\nHost: shop\r\nX-Slow: ")
			conns = append(conns, slow{c, time.Second})
		} else {
			_, err = io.WriteString(c, "POST /pets HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
			conns = append(conns, slow{c, 2 * time.Second})
		}
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	// Trickle: one byte per connection every 100ms for 3s, in the
	// background, while normal clients are served.
	var trickle sync.WaitGroup
	trickle.Add(1)
	go func() {
		defer trickle.Done()
		for k := 0; k < 30; k++ {
			for _, s := range conns {
				_ = s.c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
				_, _ = s.c.Write([]byte("a"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	// Served, not starved (how fast is measured by BenchmarkServeWhileTrickled
	// in internal/listener, never by a timed test).
	for i := 0; i < 20; i++ {
		resp, err := abuseClient.Get(n.url + "/pets")
		if err != nil {
			t.Fatalf("normal client %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("normal client %d: got %d, want 200", i, resp.StatusCode)
		}
	}
	// Every slow connection is closed by the server (EOF or reset) within
	// its timeout plus a margin for a loaded machine.
	var cut atomic.Int64
	var wg sync.WaitGroup
	for _, s := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.c.SetReadDeadline(start.Add(s.limit + 4*time.Second))
			_, err := io.Copy(io.Discard, s.c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return // still open past its timeout: not cut
			}
			cut.Add(1)
		}()
	}
	wg.Wait()
	trickle.Wait()
	if got := cut.Load(); got != 500 {
		t.Fatalf("got %d of 500 slow connections cut by the server, want all", got)
	}
}
