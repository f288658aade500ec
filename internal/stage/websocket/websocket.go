// Package websocket is the stage that allows WebSocket connections where an
// API's `websocket` block says so, and only there.
//
// An upgraded connection is a raw tunnel: once the upstream answers 101,
// nothing that follows is an HTTP request any stage could check. So the
// gateway refuses every WebSocket handshake by default (the proxy answers
// 403) and ignores every other Upgrade (h2c above all). This stage runs
// last in the chain: a handshake it sees has passed every other stage like
// any request (authentication, authorization, rate limits, validation, the
// WAF). For an operation its block names it checks the handshake itself
// (RFC 6455 version and key, no body, an allowed Origin) and grants the
// switch on the exchange (pipeline.Upgrade) with the limits the proxy then
// enforces frame by frame: RFC 6455 framing, message size and rate, idle
// and maximum duration, and libinjection on the client's text messages.
package websocket

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/corazawaf/libinjection-go"
	"golang.org/x/net/http/httpguts"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/redact"
)

// ID is the stage id.
const ID = "websocket"

// Rule ids of this stage.
const (
	// RuleHandshake: a handshake RFC 6455 does not allow (not a GET over
	// HTTP/1.1, a version other than 13, a missing or malformed key, a
	// body) (400).
	RuleHandshake = "websocket.handshake"
	// RuleOrigin: a browser handshake from an Origin the block does not
	// list (403).
	RuleOrigin = "websocket.origin"
	// RuleSQLi and RuleXSS: an injection found in a client message.
	RuleSQLi = "websocket.sqli"
	RuleXSS  = "websocket.xss"
)

// Module registers the stage.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "websocket",
	New: func(_ *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		return New(*c)
	}}

// Stage grants WebSocket upgrades for its operations.
type Stage struct {
	ops     map[string]bool
	origins map[string]bool
	grant   pipeline.Upgrade // copied per exchange
}

var _ pipeline.Stage = (*Stage)(nil)

// New builds the stage from its block.
func New(c Config) (*Stage, error) {
	if l := c.Validate(); len(l) > 0 {
		return nil, l[0]
	}
	s := &Stage{ops: map[string]bool{}, origins: map[string]bool{}}
	for _, op := range c.Operations {
		m, p, _ := openapi.ParseOperationKey(op) // validated above
		s.ops[m+" "+p] = true
	}
	for _, o := range c.Origins {
		s.origins[normOrigin(o)] = true
	}
	g := pipeline.Upgrade{Protocol: "websocket", MaxMessageBytes: int64(c.MaxMessageBytes),
		MessageRate: c.MessageRate, MessageBurst: c.MessageBurst, IdleTimeout: c.IdleTimeout, MaxDuration: c.MaxDuration}
	switch {
	case c.MaxMessageBytes == 0:
		g.MaxMessageBytes = DefaultMaxMessageBytes
	case c.MaxMessageBytes < 0:
		g.MaxMessageBytes = 0
	}
	switch {
	case c.IdleTimeout == 0:
		g.IdleTimeout = DefaultIdleTimeout
	case c.IdleTimeout < 0:
		g.IdleTimeout = 0
	}
	if g.MessageRate > 0 && g.MessageBurst == 0 {
		g.MessageBurst = max(1, int(2*g.MessageRate))
	}
	switch c.Inspect {
	case "", "block":
		g.Inspect = inspector("block")
	case "detect":
		g.Inspect = inspector("detect")
	}
	s.grant = g
	return s, nil
}

// ID returns "websocket".
func (s *Stage) ID() string { return ID }

// Request grants the switch to a valid WebSocket handshake on one of the
// stage's operations. Anything else passes untouched: a handshake this
// stage does not grant is refused by the proxy.
func (s *Stage) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	r := x.Request
	if !httpguts.HeaderValuesContainsToken(r.Header["Connection"], "upgrade") ||
		!strings.EqualFold(strings.TrimSpace(strings.Join(r.Header["Upgrade"], ",")), "websocket") {
		return nil, nil
	}
	if !s.ops[x.Operation] {
		return nil, nil
	}
	bad := func(detail string) *pipeline.Denial {
		return &pipeline.Denial{Status: http.StatusBadRequest, Reason: "the WebSocket handshake is not valid",
			Stage: ID, Rules: []string{RuleHandshake}, Location: "header", Detail: detail, Severity: events.SeverityLow}
	}
	switch {
	case r.Method != http.MethodGet || !r.ProtoAtLeast(1, 1) || r.ProtoMajor != 1:
		return bad("a handshake is a GET over HTTP/1.1"), nil
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return bad("Sec-WebSocket-Version must be 13"), nil
	case !validKey(r.Header.Values("Sec-WebSocket-Key")):
		return bad("Sec-WebSocket-Key must be one base64 nonce of 16 bytes"), nil
	case r.ContentLength > 0 || len(r.TransferEncoding) > 0:
		return bad("a handshake has no body"), nil
	}
	if origin := r.Header.Get("Origin"); origin != "" && len(s.origins) > 0 && !s.origins[normOrigin(origin)] {
		return &pipeline.Denial{Status: http.StatusForbidden, Reason: "WebSocket connections from this origin are not allowed",
			Stage: ID, Rules: []string{RuleOrigin}, Location: "header:origin", Excerpt: redact.Excerpt(origin, 64),
			Severity: events.SeverityMedium}, nil
	}
	g := s.grant
	x.Upgrade = &g
	return nil, nil
}

func validKey(vs []string) bool {
	if len(vs) != 1 {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(vs[0]))
	return err == nil && len(b) == 16
}

// inspector returns the grant's Inspect function for mode: libinjection's
// SQLi and XSS tokenizers on a text message or, when the message is JSON,
// on each of its strings (keys included).
func inspector(mode string) func(context.Context, bool, []byte) *pipeline.Finding {
	return func(_ context.Context, text bool, msg []byte) *pipeline.Finding {
		if !text {
			return nil
		}
		var hit, where string
		check := func(s, loc string) bool {
			if ok, _ := libinjection.IsSQLi(s); ok {
				hit, where = RuleSQLi, loc
				return true
			}
			if libinjection.IsXSS(s) {
				hit, where = RuleXSS, loc
				return true
			}
			return false
		}
		if !jsonStrings(msg, check) {
			check(string(msg), "websocket:message")
		}
		if hit == "" {
			return nil
		}
		return &pipeline.Finding{Stage: ID, Rules: []string{hit}, Location: where, Mode: mode,
			Reason: "injection signature in a WebSocket message", Severity: events.SeverityHigh,
			Excerpt: redact.Excerpt(string(msg), 64)}
	}
}

// jsonStrings calls check for every string (key or value) of msg when msg
// is a JSON object or array, until check returns true. It reports whether
// msg was JSON.
func jsonStrings(msg []byte, check func(s, loc string) bool) bool {
	t := bytes.TrimSpace(msg)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') || !json.Valid(t) {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(t))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return true
		}
		if s, ok := tok.(string); ok && check(s, "websocket:json") {
			return true
		}
	}
}
