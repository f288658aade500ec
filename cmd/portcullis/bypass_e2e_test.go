package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store/redistest"
	"github.com/portcullis/portcullis/internal/wstest"
)

// The end-to-end regression tests of issue 11 (an independent penetration
// test's findings), through the real binary.

// bypassNode is a running binary with an access log and an events file.
type bypassNode struct {
	*process
	addr, access, events string
}

const benchKey = "pk_be0c00000001_bench-key-published-in-the-repository"

// startBypassNode writes a config (listener options, lines of the events
// block, then the yaml body) and starts the binary.
func startBypassNode(t *testing.T, listener, eventsExtra, body string) *bypassNode {
	t.Helper()
	dir := t.TempDir()
	n := &bypassNode{addr: freeAddr(t), access: filepath.Join(dir, "access.log"), events: filepath.Join(dir, "events.jsonl")}
	cfg := fmt.Sprintf(`listeners:
  - addr: %q
%s
admin:
  addr: %q
log:
  access: %q
events:
  jsonl: %q
%s
%s`, n.addr, listener, freeAddr(t), n.access, n.events, eventsExtra, body)
	path := filepath.Join(dir, "portcullis.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n.process = startBinary(t, "serve", "-c", path)
	return n
}

// stop stops the binary (draining its sinks) and returns its access
// records and events.
func (n *bypassNode) stop(t *testing.T) (access, evs []map[string]any) {
	t.Helper()
	_ = n.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the binary did not stop:\n%s", n.log())
	}
	return jsonLines(t, n.access), jsonLines(t, n.events)
}

func jsonLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []map[string]any
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, l)
		}
		out = append(out, m)
	}
	return out
}

func keysFile(t *testing.T) string {
	t.Helper()
	keys, err := filepath.Abs("../../bench/identity-keys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestBinaryNoTunnel (finding 1): against an upstream that answers 101 to
// h2c and to WebSocket, an h2c upgrade is served as plain HTTP/1.1 and
// what follows on the connection goes through the stages; a WebSocket
// handshake is refused where no websocket block allows it; where one does,
// the handshake needs a key like any request, the messages are counted
// and limited, an injection closes the connection, and the access record
// says 101.
func TestBinaryNoTunnel(t *testing.T) {
	up := wstest.NewUpstream()
	defer up.Close()
	n := startBypassNode(t, "", "", fmt.Sprintf(`apis:
  - name: chat
    upstream:
      targets: [%q]
    authn:
      methods:
        - apikey:
            file: %q
    websocket:
      operations: ["GET /ws"]
      max_message_bytes: 1KiB
`, up.URL, keysFile(t)))

	// h2c: the upgrade is ignored; the "tunnelled" request is a request.
	c, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: a\r\nX-Api-Key: %s\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n", benchKey)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("h2c upgrade request: got %d, want 200 over HTTP/1.1", resp.StatusCode)
	}
	fmt.Fprintf(c, "GET /admin HTTP/1.1\r\nHost: a\r\nX-Principal-Id: admin\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the request after the h2c upgrade: got %d, want 401 (it went through authn)", resp.StatusCode)
	}
	if up.Raw() != "" {
		t.Fatalf("bytes went through an h2c tunnel: %q", up.Raw())
	}

	// WebSocket where no block allows it.
	ws, err := wstest.Dial(n.addr, "/other", "X-Api-Key: "+benchKey)
	if err != nil {
		t.Fatal(err)
	}
	ws.Close()
	if ws.Response.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket on /other: got %d, want 403", ws.Response.StatusCode)
	}
	// Without a key the handshake is refused by authn.
	ws, err = wstest.Dial(n.addr, "/ws")
	if err != nil {
		t.Fatal(err)
	}
	ws.Close()
	if ws.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("websocket without a key: got %d, want 401", ws.Response.StatusCode)
	}
	// Allowed: counted, limited, inspected.
	ws, err = wstest.Dial(n.addr, "/ws", "X-Api-Key: "+benchKey, "X-Principal-Id: admin")
	if err != nil {
		t.Fatal(err)
	}
	if ws.Response.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("websocket on /ws: got %d, want 101", ws.Response.StatusCode)
	}
	for _, m := range []string{"hello", "world"} {
		if err := ws.Send(wstest.OpText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, p, err := ws.Read(); err != nil || string(p) != m {
			t.Fatalf("echo of %q: got %q %v", m, p, err)
		}
	}
	_ = ws.Send(wstest.OpText, []byte(`{"q":"<script>alert(document.cookie)</script>"}`))
	op, p, err := ws.Read()
	ws.Close()
	if err != nil || op != wstest.OpClose || wstest.CloseCode(p) != 1008 {
		t.Fatalf("XSS message: got op %d code %d %v, want a 1008 close", op, wstest.CloseCode(p), err)
	}
	if msgs := up.Messages(); len(msgs) != 2 {
		t.Fatalf("upstream got %q, want only the two clean messages", msgs)
	}
	for _, r := range up.Requests() {
		if r.URL.Path == "/ws" && r.Header.Get("X-Principal-Id") != "bench" {
			t.Fatalf("handshake X-Principal-Id: got %q, want the key's principal", r.Header.Values("X-Principal-Id"))
		}
	}

	access, evs := n.stop(t)
	var rec map[string]any
	for _, a := range access {
		if a["path"] == "/ws" && a["status"] == float64(101) {
			rec = a
		}
	}
	tun, _ := rec["tunnel"].(map[string]any)
	if rec == nil || tun["client_messages"] != float64(3) || tun["upstream_messages"] != float64(2) || tun["close"] != "websocket.xss" {
		t.Fatalf("no 101 access record with the tunnel's counts: %v", rec)
	}
	found := false
	for _, e := range evs {
		if e["type"] == "detection" && e["stage"] == "websocket" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no websocket detection event in %v", evs)
	}
}

// cgiUpstream answers with the headers it received named the WSGI/CGI way
// (HTTP_X_PRINCIPAL_ID: '-' and '_' alike, upper case), as JSON.
func cgiUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := map[string][]string{}
		for k, vs := range r.Header {
			name := "HTTP_" + strings.ToUpper(strings.ReplaceAll(pipeline.HeaderKey(k), "-", "_"))
			env[name] = append(env[name], vs...)
		}
		_ = json.NewEncoder(w).Encode(env)
	}))
	t.Cleanup(up.Close)
	return up
}

// TestBinaryNoIdentitySpoofing (findings 2 and 8): against an upstream
// that names headers the CGI way, no spelling of a principal header, no
// Connection trick and no client-address header lets a client change what
// the upstream reads.
func TestBinaryNoIdentitySpoofing(t *testing.T) {
	up := cgiUpstream(t)
	n := startBypassNode(t, "", "", fmt.Sprintf(`apis:
  - name: shop
    upstream:
      targets: [%q]
    authn:
      optional: true
      methods:
        - apikey:
            file: %q
`, up.URL, keysFile(t)))
	do := func(raw string) (int, map[string][]string) {
		c, err := net.Dial("tcp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		env := map[string][]string{}
		_ = json.NewDecoder(resp.Body).Decode(&env)
		return resp.StatusCode, env
	}
	// Spellings a CGI upstream reads as X-Principal-Id are refused.
	for _, h := range []string{"X-Principal_Id", "x_principal_id", "X.Principal.Id", "X-PRINCIPAL_ID"} {
		status, _ := do("GET /me HTTP/1.1\r\nHost: a\r\n" + h + ": admin\r\n\r\n")
		if status != http.StatusBadRequest {
			t.Errorf("%s: got %d, want 400", h, status)
		}
	}
	// Odd names are dropped; the canonical spelling and Connection tricks
	// are overridden by what the gateway knows.
	status, env := do("GET /me HTTP/1.1\r\nHost: a\r\nX-Api-Key: " + benchKey + "\r\nX_Tenant: 2\r\nX-Principal-Id: admin\r\n" +
		"Connection: X-Principal-Id, Content-Type, X-Request-Id, X-Forwarded-For, X-Real-IP\r\nContent-Type: application/json\r\n" +
		"X-Real-IP: 10.0.0.1\r\nTrue-Client-IP: 10.0.0.1\r\nCF-Connecting-IP: 10.0.0.1\r\nX-Client-IP: 10.0.0.1\r\nFastly-Client-IP: 10.0.0.1\r\n" +
		"X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Port: 1\r\nForwarded: for=10.0.0.1\r\n\r\n")
	if status != 200 {
		t.Fatalf("got %d, want 200", status)
	}
	want := map[string]string{"HTTP_X_PRINCIPAL_ID": "bench", "HTTP_CONTENT_TYPE": "application/json",
		"HTTP_X_REAL_IP": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
	for k, v := range want {
		if got := env[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s: got %q, want [%q]", k, got, v)
		}
	}
	for _, k := range []string{"HTTP_X_TENANT", "HTTP_TRUE_CLIENT_IP", "HTTP_CF_CONNECTING_IP", "HTTP_X_CLIENT_IP",
		"HTTP_FASTLY_CLIENT_IP", "HTTP_X_FORWARDED_PORT", "HTTP_FORWARDED"} {
		if got, ok := env[k]; ok {
			t.Errorf("%s reached the upstream: %q", k, got)
		}
	}
	if id := env["HTTP_X_REQUEST_ID"]; len(id) != 1 || id[0] == "" {
		t.Errorf("X-Request-Id: got %q, want the gateway's", id)
	}
	// Anonymous: no principal header at all.
	_, env = do("GET /public HTTP/1.1\r\nHost: a\r\nX-Principal-Id: admin\r\nX-Principal-Tier: gold\r\n\r\n")
	for k := range env {
		if strings.HasPrefix(k, "HTTP_X_PRINCIPAL") {
			t.Errorf("anonymous request: %s reached the upstream: %q", k, env[k])
		}
	}
}

// TestBinaryDeclaredUnderscoreHeader: a header the configuration itself
// names with an underscore (an API key in "api_key", as Swagger's Petstore
// declares it) reaches authn under the default underscore_headers: drop,
// and the same request with a second spelling of it is refused, since a
// CGI upstream reads both as one.
func TestBinaryDeclaredUnderscoreHeader(t *testing.T) {
	up := cgiUpstream(t)
	n := startBypassNode(t, "", "", fmt.Sprintf(`apis:
  - name: shop
    upstream:
      targets: [%q]
    authn:
      methods:
        - apikey:
            header: api_key
            file: %q
`, up.URL, keysFile(t)))
	do := func(raw string) int {
		c, err := net.Dial("tcp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, headers string
		want          int
	}{
		{"declared spelling", "api_key: " + benchKey + "\r\n", 200},
		{"declared name in capitals", "API_KEY: " + benchKey + "\r\n", 200},
		{"no key", "", 401},
		{"a second spelling beside it", "api_key: " + benchKey + "\r\nApi-Key: other\r\n", 400},
	} {
		if got := do("GET /me HTTP/1.1\r\nHost: a\r\n" + tc.headers + "\r\n"); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestBinaryDuplicateKeys (finding 3): against a first-key-wins upstream,
// the owner rule's check cannot be split from what the upstream reads:
// refused by default with the pointer; re-encoded when asked.
func TestBinaryDuplicateKeys(t *testing.T) {
	var mu sync.Mutex
	var owners []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// gjson/jsonparser-style: the first "owner" wins.
		b, _ := io.ReadAll(r.Body)
		dec := json.NewDecoder(bytes.NewReader(b))
		_, _ = dec.Token()
		for dec.More() {
			k, _ := dec.Token()
			var v json.RawMessage
			_ = dec.Decode(&v)
			if k == "owner" {
				var s string
				_ = json.Unmarshal(v, &s)
				mu.Lock()
				owners = append(owners, s)
				mu.Unlock()
				break
			}
		}
		io.WriteString(w, "{}")
	}))
	defer up.Close()
	api := func(name, prefix, limits string) string {
		return fmt.Sprintf(`  - name: %s
    path_prefix: %s
    upstream:
      targets: [%q]
    authn:
      methods:
        - apikey:
            file: %q
    authz:
      owners:
        - {operation: "POST %s/orders", body_field: /owner, claim: sub}
%s`, name, prefix, up.URL, keysFile(t), prefix, limits)
	}
	n := startBypassNode(t, "", "", "apis:\n"+api("refuse", "/a", "")+api("reencode", "/b", "    limits:\n      duplicate_keys: reencode\n"))
	post := func(path, body string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+n.addr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Api-Key", benchKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	spoof := `{"owner":"alice","item":"x","owner":"bench"}`
	status, body := post("/a/orders", spoof)
	if status != 400 || !strings.Contains(body, `"/body/owner"`) {
		t.Fatalf("refuse: got %d %s, want 400 with the pointer /body/owner", status, body)
	}
	if status, _ := post("/a/orders", `{"owner":"alice","item":"x","own\u0065r":"bench"}`); status != 400 {
		t.Fatalf("escaped duplicate: got %d, want 400", status)
	}
	if status, _ := post("/b/orders", spoof); status != 200 {
		t.Fatalf("reencode: got %d, want 200 (the checked owner is bench)", status)
	}
	if status, _ := post("/b/orders", `{"owner":"bench","owner":"alice"}`); status != 403 {
		t.Fatalf("reencode, last owner someone else's: got %d, want 403 from the owner rule", status)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(owners) != 1 || owners[0] != "bench" {
		t.Fatalf("the first-key-wins upstream read owners %q, want only the checked [bench]", owners)
	}
}

// dialFrom dials addr from a given loopback address, so that one test can
// be several clients.
func dialFrom(local, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

// TestBinaryRapidResetAndCancellations (finding 4): while one client
// (127.0.0.2) resets HTTP/2 streams by the thousand, closes HTTP/1
// connections mid-request and floods denials, on a gateway whose rate
// limit calls Redis: no stage.failure event is written, the flood's
// connection is closed for its resets, the denials are summarised with
// counts, another client's (127.0.0.3) requests are all served and its
// one WAF detection is written.
func TestBinaryRapidResetAndCancellations(t *testing.T) {
	rd := redistest.Start(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(200 * time.Millisecond): // the slow upstream under test
			}
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	n := startBypassNode(t, "    h2c: true", "  queue_size: 64", fmt.Sprintf(`store:
  url: %q
apis:
  - name: shop
    upstream:
      targets: [%q]
    ratelimit:
      limits:
        - name: per-ip
          key: [ip]
          rate: 1000000
          per: 1m
    waf:
      mode: detect
`, rd.URL(), up.URL))

	var wg sync.WaitGroup
	// Rapid reset from 127.0.0.2 over h2c prior knowledge.
	wg.Add(1)
	resets, closed := 0, false
	go func() {
		defer wg.Done()
		c, err := dialFrom("127.0.0.2", n.addr)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		resets, closed = rapidReset(c, 2000)
	}()
	// HTTP/1 clients from 127.0.0.2 that close at once.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 300; i++ {
			c, err := dialFrom("127.0.0.2", n.addr)
			if err != nil {
				t.Error(err)
				return
			}
			io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
			c.Close()
		}
	}()
	// A flood of denials from 127.0.0.2 (the URL is over the limit).
	long := "/x?" + strings.Repeat("a", 9000)
	wg.Add(1)
	go func() {
		defer wg.Done()
		cl := clientFrom("127.0.0.2")
		for i := 0; i < 1500; i++ {
			resp, err := cl.Get("http://" + n.addr + long)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}
	}()
	// Meanwhile 127.0.0.3 is served, and one of its requests is an attack.
	cl := clientFrom("127.0.0.3")
	var detectionID string
	for i := 0; i < 40; i++ {
		path := "/ok"
		if i == 20 {
			path = "/search?q=1%27%20OR%20%271%27%3D%271"
		}
		resp, err := cl.Get("http://" + n.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("healthy client, request %d: got %d %q", i, resp.StatusCode, b)
		}
		if i == 20 {
			detectionID = resp.Header.Get("X-Request-Id")
		}
	}
	wg.Wait()
	_, evs := n.stop(t)

	var failures, suppressed, rapid int
	detected := false
	for _, e := range evs {
		switch e["type"] {
		case "stage.failure":
			failures++
		case "events.suppressed":
			suppressed++
		case "detection":
			if e["request_id"] == detectionID {
				detected = true
			}
		}
		if rules, _ := e["rules"].([]any); len(rules) > 0 && rules[0] == "listener.rapid-reset" {
			rapid++
		}
	}
	t.Logf("%d resets sent; %d events: %d suppressed summaries, %d rapid-reset", resets, len(evs), suppressed, rapid)
	if !closed {
		t.Errorf("the server did not close the resetting connection within 30 s")
	}
	if failures != 0 {
		t.Errorf("got %d stage.failure events, want none", failures)
	}
	if !detected {
		t.Errorf("the healthy client's detection (request %s) is not in the events", detectionID)
	}
	if rapid != 1 {
		t.Errorf("got %d rapid-reset events, want one (the connection closed once)", rapid)
	}
	if suppressed == 0 {
		t.Errorf("the flood's denials were not summarised")
	}
}

// rapidReset opens and at once resets up to n streams on an h2c
// connection, returns how many it sent before the server closed it, and
// whether the server closed it (read to EOF or a reset before c's
// deadline). The writes can all land in socket buffers long before a
// loaded server has read them, so it waits for the server's close rather
// than stopping the gateway while the frames are still unread.
func rapidReset(c net.Conn, n int) (sent int, closed bool) {
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, c)
		read <- err
	}()
	wait := func() bool {
		err := <-read
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return 0, wait()
	}
	fr := http2.NewFramer(c, c)
	if fr.WriteSettings() != nil {
		return 0, wait()
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/slow"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for i := 0; i < n; i++ {
		id := uint32(2*i + 1)
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}) != nil ||
			fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			return i, wait()
		}
	}
	return n, wait()
}

// clientFrom is an HTTP/1.1 client whose connections come from local.
func clientFrom(local string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) { return dialFrom(local, addr) },
	}}
}
