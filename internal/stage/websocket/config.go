package websocket

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/units"
)

// Config is an API's `websocket` block: where WebSocket connections are
// allowed, and the limits the tunnel keeps once open. Without it (the
// default) every WebSocket handshake is refused with 403 and every other
// Upgrade (h2c included) is ignored: an upgraded connection is a tunnel no
// stage sees into, so it exists only where it is asked for.
type Config struct {
	// Operations are the operations ("GET /ws") where a handshake may be
	// forwarded, after every other stage (authn, authz, ratelimit, waf ...)
	// has let it through like any request. Required; an API without an
	// OpenAPI description declares them implicitly.
	Operations []string `yaml:"operations" json:"operations"`
	// Origins lists the Origin values a browser handshake may come from
	// ("https://app.example.com", compared without case). A handshake with
	// another Origin is refused (403): a page on another site could
	// otherwise open a connection with the user's cookies (cross-site
	// WebSocket hijacking). A handshake without Origin (not a browser) is
	// allowed. Default empty: any Origin.
	Origins []string `yaml:"origins,omitempty" json:"origins,omitempty"`
	// MaxMessageBytes caps one message (all its frames) in either
	// direction; a larger one closes the connection with 1009. Default
	// 1MiB; -1 means no limit (and no inspection).
	MaxMessageBytes units.Bytes `yaml:"max_message_bytes,omitempty" json:"max_message_bytes,omitempty"`
	// MessageRate is how many messages per second the client may send on
	// average; faster closes the connection with 1008. Default 0: no limit.
	MessageRate float64 `yaml:"message_rate,omitempty" json:"message_rate,omitempty"`
	// MessageBurst is how many messages the client may send at once above
	// MessageRate. Default (zero): twice MessageRate, at least 1.
	MessageBurst int `yaml:"message_burst,omitempty" json:"message_burst,omitempty"`
	// IdleTimeout closes a connection on which no frame passed either way
	// for this long (close 1001). Default 5m; negative (-1s) means never (an
	// idle connection then stays open until shutdown).
	IdleTimeout time.Duration `yaml:"idle_timeout,omitempty" json:"idle_timeout,omitempty"`
	// MaxDuration closes a connection open this long (close 1001), so that
	// a credential checked at the handshake is not good for ever. Default
	// 0: no limit.
	MaxDuration time.Duration `yaml:"max_duration,omitempty" json:"max_duration,omitempty"`
	// Inspect is what happens to the client's text messages: "block"
	// (default: a message with SQL injection or XSS, found by libinjection
	// in the message or, for a JSON message, in any of its strings, closes
	// the connection with 1008 and is never forwarded), "detect" (record a
	// detection event and forward) or "off". Binary messages are counted
	// and limited, not inspected.
	Inspect string `yaml:"inspect,omitempty" json:"inspect,omitempty"`
}

// Defaults of the block.
const (
	DefaultMaxMessageBytes = 1 << 20
	DefaultIdleTimeout     = 5 * time.Minute
)

// OperationKeys implements pipeline.OperationNamer.
func (c *Config) OperationKeys() []string { return c.Operations }

// Validate checks the block, with paths relative to it.
func (c Config) Validate() field.List {
	var l field.List
	if len(c.Operations) == 0 {
		l = append(l, field.Errorf("operations", "at least one operation is required (where WebSocket connections are allowed)"))
	}
	for i, op := range c.Operations {
		if _, _, err := openapi.ParseOperationKey(op); err != nil {
			l = append(l, field.Errorf(fmt.Sprintf("operations[%d]", i), "%v", err))
		}
	}
	for i, o := range c.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			l = append(l, field.Errorf(fmt.Sprintf("origins[%d]", i), "%q is not an origin (expected scheme://host[:port])", o))
		}
	}
	if c.MaxMessageBytes < -1 {
		l = append(l, field.Errorf("max_message_bytes", "must be -1 (no limit), zero (default) or positive"))
	}
	if c.MessageRate < 0 {
		l = append(l, field.Errorf("message_rate", "must not be negative"))
	}
	if c.MessageBurst < 0 {
		l = append(l, field.Errorf("message_burst", "must not be negative"))
	}
	if c.MaxDuration < 0 {
		l = append(l, field.Errorf("max_duration", "must not be negative"))
	}
	switch c.Inspect {
	case "", "block", "detect", "off":
	default:
		l = append(l, field.Errorf("inspect", "%q: expected block, detect or off", c.Inspect))
	}
	return l
}

func normOrigin(o string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
}
