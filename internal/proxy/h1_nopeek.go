//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package proxy

import "net"

// peerCheck has no non-blocking peek on this system: an idle connection the
// target closed is found when a request fails on it (and a bodyless
// idempotent request is retried on a new connection).
type peerCheck struct{}

func (*peerCheck) init(net.Conn) {}

func (*peerCheck) open() bool { return true }
