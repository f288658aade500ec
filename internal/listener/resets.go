package listener

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// The HTTP/2 stream reset budget of one connection: a token bucket of
// ResetBurst resets, refilled at ResetRate a second. HTTP/2 lets a client
// open a stream and cancel it at once (RST_STREAM); the server has started
// the request by then (stages run, stores are called), the client pays
// nothing and can do it thousands of times a second on one connection
// ("rapid reset", CVE-2023-44487). A connection that spends its budget is
// closed and reported (Options.OnResetFlood). nghttp2 and Envoy keep a
// similar per-connection budget.
const (
	ResetBurst = 200
	ResetRate  = 20.0
)

// connBudget is the reset budget of one connection.
type connBudget struct {
	conn net.Conn

	mu     sync.Mutex
	tokens float64
	last   time.Time
	resets int
	closed bool
}

type budgetKey struct{}

func newConnBudget(c net.Conn, now time.Time) *connBudget {
	return &connBudget{conn: c, tokens: ResetBurst, last: now}
}

// spend counts one reset at now and reports whether the connection has
// just gone over its budget (true once).
func (b *connBudget) spend(now time.Time) (over bool, resets int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.resets++
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(ResetBurst, b.tokens+el*ResetRate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return false, b.resets
	}
	if b.closed {
		return false, b.resets
	}
	b.closed = true
	return true, b.resets
}

// countResets wraps the gateway's handler: an HTTP/2 request whose stream
// the client reset (its context cancelled) before the handler was done
// spends one token of the connection's budget, and the connection that
// goes over it is closed.
func (l *Listener) countResets(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		// Still inside ServeHTTP: the context is only cancelled on return
		// when the client did not cancel it first.
		if r.ProtoMajor != 2 || !errors.Is(r.Context().Err(), context.Canceled) {
			return
		}
		b, _ := r.Context().Value(budgetKey{}).(*connBudget)
		if b == nil {
			return
		}
		if over, n := b.spend(l.sniff.now()); over {
			if l.opts.OnResetFlood != nil {
				l.opts.OnResetFlood(peerAddr(b.conn), n)
			}
			l.logger.Warn("closing an HTTP/2 connection over its stream reset budget",
				"peer", b.conn.RemoteAddr().String(), "resets", n)
			_ = b.conn.Close()
		}
	})
}
