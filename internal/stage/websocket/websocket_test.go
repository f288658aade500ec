package websocket

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// TestHandshakeGrant: only a valid handshake on an allowed operation from
// an allowed Origin gets a grant, with the block's limits and defaults;
// anything else either passes without a grant (the proxy then refuses the
// upgrade) or is refused with the rule that says why.
func TestHandshakeGrant(t *testing.T) {
	s, err := New(Config{Operations: []string{"GET /ws"}, Origins: []string{"https://App.example.com/"}, MessageRate: 5})
	if err != nil {
		t.Fatal(err)
	}
	hs := func(method, op string, hdr ...string) *pipeline.Exchange {
		r := httptest.NewRequest(method, "/ws", nil)
		r.Header.Set("Connection", "keep-alive, Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Version", "13")
		r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		for i := 0; i+1 < len(hdr); i += 2 {
			if hdr[i+1] == "" {
				r.Header.Del(hdr[i])
			} else {
				r.Header.Set(hdr[i], hdr[i+1])
			}
		}
		x := pipeline.NewExchange(r, "r", time.Now())
		x.Operation = op
		return x
	}
	tests := []struct {
		name  string
		x     *pipeline.Exchange
		rule  string // "" means no denial
		grant bool
	}{
		{name: "valid", x: hs("GET", "GET /ws"), grant: true},
		{name: "allowed origin, any case and slash", x: hs("GET", "GET /ws", "Origin", "https://app.EXAMPLE.com"), grant: true},
		{name: "other origin", x: hs("GET", "GET /ws", "Origin", "https://evil.example"), rule: RuleOrigin},
		{name: "operation not allowed", x: hs("GET", "GET /other")},
		{name: "not an upgrade", x: hs("GET", "GET /ws", "Upgrade", "")},
		{name: "h2c is not websocket", x: hs("GET", "GET /ws", "Upgrade", "h2c")},
		{name: "post", x: hs("POST", "GET /ws"), rule: RuleHandshake},
		{name: "version", x: hs("GET", "GET /ws", "Sec-WebSocket-Version", "8"), rule: RuleHandshake},
		{name: "short key", x: hs("GET", "GET /ws", "Sec-WebSocket-Key", "c2hvcnQ="), rule: RuleHandshake},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := s.Request(context.Background(), tc.x)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if d != nil {
				got = d.Rules[0]
			}
			if got != tc.rule {
				t.Fatalf("denial %q (%+v), want %q", got, d, tc.rule)
			}
			if (tc.x.Upgrade != nil) != tc.grant {
				t.Fatalf("grant: got %+v, want %v", tc.x.Upgrade, tc.grant)
			}
			if g := tc.x.Upgrade; g != nil {
				if g.MaxMessageBytes != DefaultMaxMessageBytes || g.IdleTimeout != DefaultIdleTimeout || g.MessageBurst != 10 || g.Inspect == nil {
					t.Fatalf("grant limits: %+v", g)
				}
			}
		})
	}
}

// TestInspector: libinjection finds SQL injection and XSS in a text
// message and in any string of a JSON one; binary and ordinary messages
// pass.
func TestInspector(t *testing.T) {
	f := inspector("block")
	for _, tc := range []struct {
		msg   string
		text  bool
		rule  string
		where string
	}{
		{`1' OR '1'='1' --`, true, RuleSQLi, "websocket:message"},
		{`{"q":{"deep":["<script>alert(1)</script>"]}}`, true, RuleXSS, "websocket:json"},
		{`{"chat":"see you at 5 o'clock, and bring the 'union' flyers"}`, true, "", ""},
		{`1' OR '1'='1' --`, false, "", ""},
	} {
		got := f(context.Background(), tc.text, []byte(tc.msg))
		switch {
		case tc.rule == "" && got != nil:
			t.Errorf("%q: finding %+v, want none", tc.msg, got)
		case tc.rule != "" && (got == nil || got.Rules[0] != tc.rule || got.Location != tc.where || got.Mode != "block"):
			t.Errorf("%q: finding %+v, want %s at %s", tc.msg, got, tc.rule, tc.where)
		}
	}
}

// TestConfigErrors: each bad field is named.
func TestConfigErrors(t *testing.T) {
	c := Config{Origins: []string{"app.example.com", "https://a.example/path"}, MaxMessageBytes: -2, MessageRate: -1, Inspect: "maybe"}
	var paths []string
	for _, e := range c.Validate() {
		paths = append(paths, e.Error())
	}
	all := strings.Join(paths, "\n")
	for _, want := range []string{"operations", "origins[0]", "origins[1]", "max_message_bytes", "message_rate", "inspect"} {
		if !strings.Contains(all, want) {
			t.Errorf("no error for %s in:\n%s", want, all)
		}
	}
}
