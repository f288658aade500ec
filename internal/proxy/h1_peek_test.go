//go:build linux || darwin || freebsd || netbsd || openbsd

package proxy

import (
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestH1IdleConnectionClosedByTarget checks that a connection the target
// closed while it was idle is not used: the request goes on a new one.
func TestH1IdleConnectionClosedByTarget(t *testing.T) {
	var served atomic.Int64
	srv, conns := connCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Write([]byte("ok"))
	})
	rt := newTestH1(nil)
	for i := 0; i < 3; i++ {
		get(t, rt, "POST", srv.URL+"/p", "not replayable")
		srv.CloseClientConnections() // the target closes its idle connections
		waitIdleClosed(t, rt)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("connections: got %d, want 3 (one per exchange)", n)
	}
	if served.Load() != 3 {
		t.Errorf("served: got %d, want 3", served.Load())
	}
}

// waitIdleClosed waits until the peer's close of rt's idle connection is
// visible on the socket (the kernel's FIN, not a timer).
func waitIdleClosed(t *testing.T, rt *h1Transport) {
	t.Helper()
	rt.mu.Lock()
	var c *h1Conn
	for _, cs := range rt.idle {
		if len(cs) > 0 {
			c = cs[len(cs)-1]
		}
	}
	rt.mu.Unlock()
	if c == nil {
		t.Fatal("no idle connection after an exchange")
	}
	tcp := c.nc.(*net.TCPConn)
	raw, err := tcp.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	// Wait (in the poller, not by sleeping) for the socket to become
	// readable: the target's FIN arrived. Peek, so the check still sees it.
	err = raw.Read(func(fd uintptr) bool {
		c.peer.peek(fd)
		return c.peer.err != syscall.EAGAIN && c.peer.err != syscall.EWOULDBLOCK
	})
	if err != nil {
		t.Fatal(err)
	}
}
