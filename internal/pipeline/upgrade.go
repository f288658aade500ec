package pipeline

import (
	"context"
	"time"
)

// Upgrade is a stage's permission for an exchange to switch protocols (set
// on Exchange.Upgrade). Only the websocket stage grants one, and only for
// the operations its block names, after every other stage has let the
// handshake through. The proxy enforces what it says for the whole life of
// the tunnel.
type Upgrade struct {
	// Protocol is the upgrade token granted: "websocket".
	Protocol string
	// MaxMessageBytes caps one message (all frames of a fragmented message
	// together), in either direction; a larger one closes the connection
	// with 1009. Zero or less means no limit.
	MaxMessageBytes int64
	// MessageRate is how many messages a second the client may send on
	// average, with bursts of MessageBurst; more closes the connection with
	// 1008. Zero means no limit.
	MessageRate  float64
	MessageBurst int
	// IdleTimeout closes a tunnel in which no frame passed either way for
	// this long (1001). Zero means no limit.
	IdleTimeout time.Duration
	// MaxDuration closes a tunnel open this long (1001). Zero means no
	// limit.
	MaxDuration time.Duration
	// Inspect, when not nil, sees every complete message the client sends
	// (text or binary, unmasked, at most MaxMessageBytes) before it is
	// forwarded. A non-nil Finding is recorded on the exchange; when its
	// Mode is "block", the message is not forwarded and the connection is
	// closed with 1008 (policy violation).
	Inspect func(ctx context.Context, text bool, msg []byte) *Finding
}

// Tunnel is what passed through an exchange after a protocol switch.
type Tunnel struct {
	// Protocol is the protocol switched to ("websocket").
	Protocol string
	// ClientMessages and UpstreamMessages count data messages (text and
	// binary) each side sent; ClientBytes and UpstreamBytes count the bytes
	// of every frame, headers included.
	ClientMessages, UpstreamMessages int64
	ClientBytes, UpstreamBytes       int64
	// Close says how the tunnel ended: "client", "upstream" (a close frame
	// or the connection ending), "idle", "max-duration", or the rule id of
	// the violation that closed it.
	Close string
}
