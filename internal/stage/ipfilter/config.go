package ipfilter

// Config is the `ipfilter` block, globally and per API.
//
// An address is refused when it is in Deny, or when Allow is not empty and
// the address is not in it. Deny wins over Allow. The address checked is the
// exchange's client IP, which is only taken from X-Forwarded-For/Forwarded
// when the peer is a trusted proxy (server.trusted_proxies).
type Config struct {
	// Allow lists CIDRs or addresses that may call. Default: empty, which
	// allows every address not denied.
	Allow []string `yaml:"allow,omitempty" json:"allow,omitempty"`
	// Deny lists CIDRs or addresses that may not call. Default: empty.
	Deny []string `yaml:"deny,omitempty" json:"deny,omitempty"`
}
