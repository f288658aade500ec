package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/stage/authn"
	"github.com/portcullis/portcullis/internal/stage/websocket"
	"github.com/portcullis/portcullis/internal/wstest"
)

// TestUpgradeIsNoTunnel is the gateway-level regression test for finding 1
// of issue 11: an upstream that answers 101 to anything must not give a
// client a tunnel past the stages.
func TestUpgradeIsNoTunnel(t *testing.T) {
	up := wstest.NewUpstream()
	defer up.Close()
	keysFile := filepath.Join(t.TempDir(), "keys.yaml")
	secret, k, _ := authn.NewKey("alice", time.Now())
	if err := (&authn.KeyFile{Keys: []*authn.Key{k}}).Save(keysFile); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(up.URL)
	cfg.APIs[0].Stages.Set(&authn.Config{Methods: []authn.Method{{APIKey: &authn.APIKeyConfig{File: keysFile}}}})
	cfg.APIs[0].Stages.Set(&websocket.Config{Operations: []string{"GET /ws"}, MaxMessageBytes: 64})
	tg := start(t, cfg)

	t.Run("h2c is ignored and the connection stays HTTP/1", func(t *testing.T) {
		c, err := net.Dial("tcp", tg.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /orders HTTP/1.1\r\nHost: a\r\nX-Api-Key: "+secret+"\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "GET /orders") {
			t.Fatalf("got %d %q, want the request served as plain HTTP/1.1", resp.StatusCode, body)
		}
		last := up.Requests()[len(up.Requests())-1]
		if last.Header.Get("Upgrade") != "" || last.Header.Get("Http2-Settings") != "" {
			t.Fatalf("the upstream got the upgrade: %v", last.Header)
		}
		// What would have gone through a tunnel is a request of its own:
		// without a key it is refused by authn.
		io.WriteString(c, "GET /admin HTTP/1.1\r\nHost: a\r\nX-Principal-Id: admin\r\n\r\n")
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("follow-up: got %d, want 401 from authn", resp.StatusCode)
		}
	})

	t.Run("websocket where no block allows it", func(t *testing.T) {
		n := len(up.Requests())
		c, err := wstest.Dial(tg.addr, "/chat", "X-Api-Key: "+secret)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.Response.StatusCode != http.StatusForbidden {
			t.Fatalf("got %d, want 403", c.Response.StatusCode)
		}
		if len(up.Requests()) != n {
			t.Fatal("the refused handshake reached the upstream")
		}
	})

	t.Run("websocket handshake goes through authn", func(t *testing.T) {
		c, err := wstest.Dial(tg.addr, "/ws")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.Response.StatusCode != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", c.Response.StatusCode)
		}
	})

	t.Run("an injection in a message closes with 1008 and is not forwarded", func(t *testing.T) {
		c, err := wstest.Dial(tg.addr, "/ws", "X-Api-Key: "+secret)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.Response.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("got %d, want 101", c.Response.StatusCode)
		}
		before := len(up.Messages())
		if err := c.Send(wstest.OpText, []byte(`{"q":"1' OR '1'='1"}`)); err != nil {
			t.Fatal(err)
		}
		op, p, err := c.Read()
		if err != nil || op != wstest.OpClose || wstest.CloseCode(p) != 1008 {
			t.Fatalf("got op %d code %d %v, want a 1008 close", op, wstest.CloseCode(p), err)
		}
		if len(up.Messages()) != before {
			t.Fatalf("the message reached the upstream: %q", up.Messages())
		}
	})

	t.Run("allowed websocket is counted, limited and logged as 101", func(t *testing.T) {
		spoof, err := wstest.Dial(tg.addr, "/ws", "X-Api-Key: "+secret, "X-Principal_Id: admin")
		if err != nil {
			t.Fatal(err)
		}
		spoof.Close()
		if spoof.Response.StatusCode != http.StatusBadRequest {
			t.Fatalf("spoofed handshake: got %d, want 400", spoof.Response.StatusCode)
		}
		c, err := wstest.Dial(tg.addr, "/ws", "X-Api-Key: "+secret, "X-Principal-Id: admin")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.Response.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("got %d, want 101", c.Response.StatusCode)
		}
		if c.Response.Header.Get("Sec-WebSocket-Accept") != wstest.Accept(wstest.Key) {
			t.Fatalf("accept key: got %q", c.Response.Header.Get("Sec-WebSocket-Accept"))
		}
		if err := c.Send(wstest.OpText, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		op, p, err := c.Read()
		if err != nil || op != wstest.OpText || string(p) != "hello" {
			t.Fatalf("echo: got %d %q %v", op, p, err)
		}
		// A message over max_message_bytes (64) closes with 1009.
		if err := c.Send(wstest.OpText, []byte(strings.Repeat("x", 65))); err != nil {
			t.Fatal(err)
		}
		op, p, err = c.Read()
		if err != nil || op != wstest.OpClose || wstest.CloseCode(p) != 1009 {
			t.Fatalf("oversized message: got op %d code %d %v, want a 1009 close", op, wstest.CloseCode(p), err)
		}
		msgs := up.Messages()
		if len(msgs) != 1 || msgs[0] != "hello" {
			t.Fatalf("upstream messages: got %q, want only hello", msgs)
		}
		last := up.Requests()[len(up.Requests())-1]
		if got := last.Header.Get("X-Principal-Id"); got != "alice" {
			t.Fatalf("handshake X-Principal-Id: got %q, want alice", got)
		}
		for k := range last.Header {
			if strings.Contains(k, "_") {
				t.Fatalf("spoofed header %q reached the upstream", k)
			}
		}
		// Closing the server waits for the exchange (the tunnel is closed
		// by now or by the shutdown) and drains the events.
		if err := tg.srv.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		for _, r := range tg.access.records(t) {
			if tun, _ := r["tunnel"].(map[string]any); r["status"] == float64(101) && tun["close"] == "websocket.message-size" {
				rec = r
			}
		}
		tun, _ := rec["tunnel"].(map[string]any)
		if tun == nil || tun["client_messages"] != float64(1) || tun["close"] != "websocket.message-size" {
			t.Fatalf("no 101 access record with the tunnel's counts: %v\n%s", rec, tg.access.String())
		}
		found := false
		for _, e := range tg.sink.all() {
			if e.Type == events.TypeDetection && len(e.Rules) > 0 && e.Rules[0] == "websocket.message-size" {
				found = true
			}
		}
		if !found {
			t.Fatalf("no websocket.message-size detection event in %v", tg.sink.all())
		}
	})
}

// TestUnaskedSwitchIs502: an upstream that answers 101 to a request that
// did not ask to switch (or whose switch the gateway removed) gets no
// tunnel: the client gets 502.
func TestUnaskedSwitchIs502(t *testing.T) {
	up := wstest.NewUpstream()
	up.AlwaysSwitch = true
	defer up.Close()
	tg := start(t, baseConfig(up.URL))
	for _, req := range []string{
		"GET /a HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
	} {
		resp, _ := raw(t, tg.addr, req)
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("%q: got %d, want 502", req, resp.StatusCode)
		}
	}
	if raw := up.Raw(); raw != "" {
		t.Fatalf("bytes went through a tunnel: %q", raw)
	}
}
