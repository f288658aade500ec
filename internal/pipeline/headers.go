package pipeline

// HeaderKey returns the normalised form of a header name: ASCII letters in
// lower case, digits kept, and every other byte ('_', '.', '~', ...) turned
// into '-'. Two names with the same key are the same header to some
// upstream: WSGI, CGI, PHP and Apache's environment build HTTP_X_PRINCIPAL_ID
// from "X-Principal-Id", "X_Principal_Id" and "x.principal.id" alike, and
// many frameworks then read it back under any spelling. Whatever the gateway
// owns, it must own under every spelling (see OwnedHeader).
func HeaderKey(name string) string {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return headerKeySlow(name)
		}
	}
	return name
}

func headerKeySlow(name string) string {
	return string(AppendHeaderKey(make([]byte, 0, len(name)), name))
}

// headerKeyByte is c as it is in a HeaderKey.
func headerKeyByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return c
	}
	return '-'
}

// AppendHeaderKey appends HeaderKey(name) to dst: with a buffer on the
// stack, a name's key is looked up or compared without allocating.
func AppendHeaderKey(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		dst = append(dst, headerKeyByte(name[i]))
	}
	return dst
}

// SameHeaderKey reports whether HeaderKey(a) == HeaderKey(b), without
// building either.
func SameHeaderKey(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && headerKeyByte(a[i]) != headerKeyByte(b[i]) {
			return false
		}
	}
	return true
}

// HasHeaderKeyPrefix reports whether HeaderKey(name) starts with prefix,
// itself a key, without building it.
func HasHeaderKeyPrefix(name, prefix string) bool {
	return len(name) >= len(prefix) && SameHeaderKey(name[:len(prefix)], prefix)
}

// CanonicalName reports whether name is spelt only with ASCII letters,
// digits and '-', the only spelling the gateway accepts for a header it
// owns and the one nginx accepts by default (underscores_in_headers off,
// ignore_invalid_headers on).
func CanonicalName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Header ownership: which request headers the gateway sets for the
// upstream, or believes only from a trusted proxy.
const (
	// NotOwned: a header the client may send.
	NotOwned = iota
	// OwnedAlways: a header only the gateway sets (the principal, the
	// request id, X-Real-IP); whatever a client sends under any spelling is
	// removed before the upstream sees the request.
	OwnedAlways
	// OwnedUnlessTrusted: a header about the connection (X-Forwarded-*,
	// Forwarded and the other client-address headers of CDNs and load
	// balancers) that only a trusted proxy may send; from anyone else it is
	// removed under any spelling, and from a trusted proxy only its
	// canonical spelling is kept.
	OwnedUnlessTrusted
)

// PrincipalHeaderPrefix starts every header carrying the authenticated
// principal to the upstream (authn's default forward names).
const PrincipalHeaderPrefix = "X-Principal-"

// clientAddressHeaders are the keys (HeaderKey) of the headers proxies,
// CDNs and load balancers use to tell an upstream the client's address.
// Frameworks read them to log, rate limit and authorise by address (Rails'
// remote_ip, Django's and Express's trust-proxy settings, Spring's
// ForwardedHeaderFilter), so from an untrusted peer each is a spoofed
// address. (X-Real-IP is owned always: the gateway sets it.)
var clientAddressHeaders = map[string]bool{
	"forwarded":                true,
	"x-forwarded":              true,
	"true-client-ip":           true,
	"x-true-client-ip":         true,
	"x-client-ip":              true,
	"client-ip":                true,
	"cf-connecting-ip":         true,
	"cf-connecting-ipv6":       true,
	"cf-pseudo-ipv4":           true,
	"fastly-client-ip":         true,
	"x-cluster-client-ip":      true,
	"x-originating-ip":         true,
	"x-remote-ip":              true,
	"x-remote-addr":            true,
	"x-original-forwarded-for": true,
	"x-envoy-external-address": true,
	"x-azure-clientip":         true,
	"x-azure-socketip":         true,
	"x-appengine-user-ip":      true,
	"x-proxyuser-ip":           true,
	"wl-proxy-client-ip":       true,
	"x-coming-from":            true,
}

// OwnedHeader says whether the gateway owns the request header name, under
// any spelling (HeaderKey): NotOwned, OwnedAlways or OwnedUnlessTrusted.
func OwnedHeader(name string) int {
	switch {
	case HasHeaderKeyPrefix(name, "x-principal-"), SameHeaderKey(name, "x-request-id"), SameHeaderKey(name, "x-real-ip"):
		return OwnedAlways
	case HasHeaderKeyPrefix(name, "x-forwarded-"):
		return OwnedUnlessTrusted
	}
	var buf [64]byte
	if len(name) > len(buf) {
		return NotOwned // no client-address header is that long
	}
	if clientAddressHeaders[string(AppendHeaderKey(buf[:0], name))] {
		return OwnedUnlessTrusted
	}
	return NotOwned
}

// HeaderValues hands out the one-value slices an http.Header holds from one
// backing array: a stage or the proxy that sets several headers per
// request allocates once instead of once per header. Each slice is capped
// at its own element, so appending to one header's values copies them
// rather than writing into the next header's.
type HeaderValues []string

// NewHeaderValues returns HeaderValues with room for n values in one array.
func NewHeaderValues(n int) HeaderValues { return make(HeaderValues, 0, n) }

// One returns a slice holding only v.
func (hv *HeaderValues) One(v string) []string {
	*hv = append(*hv, v)
	n := len(*hv)
	return (*hv)[n-1 : n : n]
}
