//go:build linux || darwin || freebsd || netbsd || openbsd

package proxy

import (
	"net"
	"syscall"
)

// peerCheck tells whether the target closed an idle connection, with one
// non-blocking peek at the socket: http.Transport learns it from the
// reader goroutine it keeps on every idle connection, which the h1
// transport does not have.
type peerCheck struct {
	raw  syscall.RawConn // nil: not a socket; taken as open
	read func(fd uintptr) bool
	n    int
	err  error
	buf  [1]byte
}

func (p *peerCheck) init(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.raw = raw
	p.read = p.peek // one method value for the connection's life
}

func (p *peerCheck) peek(fd uintptr) bool {
	p.n, _, p.err = syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return true // never wait for readiness
}

// open reports whether the connection is still open with nothing unasked
// waiting on it: the peek would block. Zero bytes is the target's close,
// a byte is an answer nobody asked for; both make the connection unusable.
func (p *peerCheck) open() bool {
	if p.raw == nil {
		return true
	}
	if err := p.raw.Read(p.read); err != nil {
		return false
	}
	return p.err == syscall.EAGAIN || p.err == syscall.EWOULDBLOCK
}
