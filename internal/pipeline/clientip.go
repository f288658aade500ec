package pipeline

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies decides which peers may tell us the client address through
// X-Forwarded-For or Forwarded. The zero value trusts nobody.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// NewTrustedProxies parses CIDRs or plain addresses ("10.0.0.0/8",
// "127.0.0.1", "::1").
func NewTrustedProxies(list []string) (TrustedProxies, error) {
	var t TrustedProxies
	for _, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			return TrustedProxies{}, err
		}
		t.prefixes = append(t.prefixes, p)
	}
	return t, nil
}

// ParsePrefix parses a CIDR or a single address (taken as /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Trusts reports whether a is a trusted proxy.
func (t TrustedProxies) Trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Empty reports whether no proxy is trusted.
func (t TrustedProxies) Empty() bool { return len(t.prefixes) == 0 }

// PeerAddr parses the address part of r.RemoteAddr.
func PeerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ClientIP returns the client address for r given its TCP peer.
//
// Security: X-Forwarded-For and Forwarded are written by whoever sent the
// request, so they are only believed when the peer is a trusted proxy. The
// chain is then walked from the right (the hop nearest to us) and the first
// address that is not itself a trusted proxy is the client; everything to
// its left could have been forged by that client.
func (t TrustedProxies) ClientIP(r *http.Request, peer netip.Addr) netip.Addr {
	if !peer.IsValid() || !t.Trusts(peer) {
		return peer
	}
	hops := forwardedFor(r.Header)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			// A garbled hop: stop at the last address we could trust.
			break
		}
		client = a
		if !t.Trusts(a) {
			break
		}
	}
	return client
}

// forwardedFor returns the hop list from Forwarded (RFC 7239) when present,
// else from X-Forwarded-For, in order, leftmost first.
func forwardedFor(h http.Header) []string {
	if fw := h.Values("Forwarded"); len(fw) > 0 {
		var out []string
		for _, line := range fw {
			for _, elem := range strings.Split(line, ",") {
				for _, pair := range strings.Split(elem, ";") {
					k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if ok && strings.EqualFold(k, "for") {
						out = append(out, strings.Trim(v, `"`))
					}
				}
			}
		}
		return out
	}
	var out []string
	for _, line := range h.Values("X-Forwarded-For") {
		for _, p := range strings.Split(line, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") { // [v6]:port or [v6]
		if end := strings.IndexByte(s, ']'); end > 0 {
			s = s[1:end]
		}
	} else if strings.Count(s, ":") == 1 { // v4:port
		s, _, _ = strings.Cut(s, ":")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
