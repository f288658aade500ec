package limits

import (
	"context"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// Normalizer is the stage that runs before routing and refuses requests
// whose target or framing different HTTP components could read
// differently: the gateway routes and authorises on one reading, and an
// upstream that decodes, normalises or frames the request another way would
// act on a different one. It has no configuration and is safe for
// concurrent use.
//
// Go's HTTP/1 server already rejects some of these (bad escapes and control
// bytes in the path, several Host lines, Transfer-Encoding other than
// chunked); the Normalizer checks again because HTTP/2, other listeners and
// requests built in code do not all go through that parser, and because
// the double-encoded and look-alike forms are not parser errors at all.
type Normalizer struct{}

var _ pipeline.Stage = (*Normalizer)(nil)

// NewNormalizer returns the normaliser stage.
func NewNormalizer() *Normalizer { return &Normalizer{} }

// ID returns "limits.normalize".
func (n *Normalizer) ID() string { return NormalizeID }

// Request checks the request's framing (Content-Length/Transfer-Encoding,
// Host), then its path with CheckPath, then its query: a query must be
// validly percent-encoded and must not decode to NUL, CR or LF (NUL
// truncation, header and log injection when a value is reflected). Other
// control bytes, invalid UTF-8 and encoded slashes in query values are left
// to validation: they are data there, not structure.
func (n *Normalizer) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	d, err := n.check(x)
	if d != nil {
		d.Stage = NormalizeID
	}
	return d, err
}

func (n *Normalizer) check(x *pipeline.Exchange) (*pipeline.Denial, error) {
	r := x.Request

	// Security: CONNECT asks for a raw tunnel to another host; the gateway
	// never opens one (a tunnel is a way past every stage).
	if r.Method == http.MethodConnect {
		d := deny(http.StatusNotImplemented, RuleConnect, "the gateway does not open tunnels", "method", "CONNECT")
		d.Severity = events.SeverityHigh
		return d, nil
	}

	if detail, ok := checkFraming(r); !ok {
		d := deny(http.StatusBadRequest, RuleAmbiguousLength, "the request body length is ambiguous", "header", detail)
		d.Severity = events.SeverityHigh
		return d, nil
	}

	// Go's HTTP/1 server moves the Host line into r.Host and rejects a
	// request with several. Its HTTP/2 server keeps a "host" header field
	// in r.Header and only uses it as r.Host when :authority is absent; it
	// does not compare the two when both are sent (RFC 9113 §8.3.1 says a
	// server should treat a differing Host as malformed). One Host value
	// equal to r.Host is therefore fine; any second or different value is
	// the ambiguity behind host-header routing and cache-poisoning tricks.
	if hosts := r.Header["Host"]; len(hosts) > 0 {
		if len(hosts) > 1 || r.Host != "" && !strings.EqualFold(hosts[0], r.Host) {
			d := deny(http.StatusBadRequest, RuleDuplicateHost, "the request has more than one host", "header:host",
				"several Host values or Host differing from the request authority")
			d.Severity = events.SeverityHigh
			return d, nil
		}
	}

	path, query, hasPath := splitTarget(r)
	if hasPath {
		if rule, reason, ok := CheckPath(path); !ok {
			d := deny(http.StatusBadRequest, rule, reason, "path", "path refused by "+rule)
			if rule == RulePathTraversal {
				d.Severity = events.SeverityHigh
			}
			return d, nil
		}
	}
	if rule, reason, ok := checkQuery(query); !ok {
		return deny(http.StatusBadRequest, rule, reason, "query", "query refused by "+rule), nil
	}
	return nil, nil
}

// checkFraming reports whether the body framing of r is unambiguous.
func checkFraming(r *http.Request) (detail string, ok bool) {
	te := r.TransferEncoding
	if len(te) == 0 {
		te = r.Header["Transfer-Encoding"]
	}
	cl := r.Header["Content-Length"]
	switch {
	case len(te) > 0 && len(cl) > 0:
		return "both Transfer-Encoding and Content-Length", false
	case len(te) > 1 || len(te) == 1 && !strings.EqualFold(strings.TrimSpace(te[0]), "chunked"):
		return "Transfer-Encoding other than chunked", false
	}
	for _, v := range cl[min(len(cl), 1):] {
		if strings.TrimSpace(v) != strings.TrimSpace(cl[0]) {
			return "conflicting Content-Length values", false
		}
	}
	return "", true
}

// splitTarget returns the raw path and raw query of r as the client sent
// them. hasPath is false for targets without a path ("*", CONNECT's
// host:port).
func splitTarget(r *http.Request) (path, query string, hasPath bool) {
	uri := r.RequestURI
	if uri == "" { // built in code: rebuild from the parsed URL
		return r.URL.EscapedPath(), r.URL.RawQuery, true
	}
	if uri == "*" {
		return "", "", false
	}
	if uri[0] != '/' {
		// Absolute form ("http://host/p?q"): skip scheme and authority.
		i := strings.Index(uri, "://")
		if i < 0 {
			return "", "", false // authority form (CONNECT)
		}
		rest := uri[i+3:]
		j := strings.IndexAny(rest, "/?")
		if j < 0 {
			return "", "", false
		}
		uri = rest[j:]
	}
	path, query, _ = strings.Cut(uri, "?")
	return path, query, true
}

// queryPlain marks the bytes checkQuery lets pass as they are: neither '%'
// nor a control byte.
var queryPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '%' && c != 0x7f
	}
	return t
}()

// checkQuery checks a raw query without allocating: every "%" must start a
// valid escape, and no raw or decoded byte may be NUL, CR or LF; other raw
// control bytes are refused too.
func checkQuery(q string) (rule, reason string, ok bool) {
	for i := 0; i < len(q); i++ {
		c := q[i]
		if queryPlain[c] {
			continue // most bytes: one table load
		}
		switch {
		case c == '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return RuleBadEncoding, "the query string is not validly encoded", false
			}
			switch unhex(q[i+1])<<4 | unhex(q[i+2]) {
			case 0, '\r', '\n':
				return RuleControlChar, "the query string contains control characters", false
			}
			i += 2
		case c < 0x20 || c == 0x7f:
			return RuleControlChar, "the query string contains control characters", false
		}
	}
	return "", "", true
}
