package gateway

import (
	"net"
	"sort"
	"strings"
)

// router picks the API for a request by host and longest path prefix. It is
// built once per config and read concurrently without locks.
type router struct {
	routes []*route // sorted: longest prefix first, host-specific before any-host
}

// hostMatch reports whether host (lower case, no port) matches pattern
// ("api.example.com" or "*.example.com").
func hostMatch(pattern, host string) bool {
	if strings.HasPrefix(pattern, "*.") {
		suffix := pattern[1:] // ".example.com"
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	}
	return pattern == host
}

func newRouter(routes []*route) *router {
	rs := append([]*route(nil), routes...)
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if len(a.prefix) != len(b.prefix) {
			return len(a.prefix) > len(b.prefix)
		}
		return len(a.hosts) > 0 && len(b.hosts) == 0
	})
	return &router{routes: rs}
}

// match returns the route for host and path, or nil.
func (rt *router) match(host, path string) *route {
	host = normalizeHost(host)
	for _, r := range rt.routes {
		if !prefixMatch(r.prefix, path) {
			continue
		}
		if len(r.hosts) == 0 {
			return r
		}
		for _, h := range r.hosts {
			if hostMatch(h, host) {
				return r
			}
		}
	}
	return nil
}

// prefixMatch matches on segment boundaries: "/api" matches "/api" and
// "/api/x" but not "/apix".
func prefixMatch(prefix, path string) bool {
	if prefix == "/" || prefix == "" {
		return true
	}
	p := strings.TrimSuffix(prefix, "/")
	if !strings.HasPrefix(path, p) {
		return false
	}
	return len(path) == len(p) || path[len(p)] == '/'
}

func normalizeHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
