package ipfilter

import (
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// Config is the `ipfilter` block, globally and per API: allow and deny lists
// of client addresses. The global block applies to every API, before its own.
//
// An address is refused when it is in Deny, or when Allow is not empty and
// the address is not in it. Deny wins over Allow. The global block and an
// API's block are applied one after the other: a client must pass both, so
// an API's Allow narrows the global Allow, it never widens it.
//
// The address checked is the exchange's client IP, which is only taken from
// X-Forwarded-For/Forwarded when the peer is a trusted proxy
// (server.trusted_proxies). IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) are
// treated as the IPv4 address they carry, in the lists and in the client IP;
// a pure IPv6 prefix such as ::/0 never matches an IPv4 client.
type Config struct {
	// Allow lists CIDRs or addresses that may call ("10.0.0.0/8",
	// "2001:db8::/32", "192.0.2.7"). A plain address is a /32 or /128.
	// Default: empty, which allows every address not denied.
	Allow []string `yaml:"allow,omitempty" json:"allow,omitempty"`
	// Deny lists CIDRs or addresses that may not call, in the same forms as
	// Allow. Default: empty, which denies nobody.
	Deny []string `yaml:"deny,omitempty" json:"deny,omitempty"`
}

// Validate reports every entry of Allow and Deny that is neither a CIDR nor
// an address, with paths relative to the block ("allow[2]", "deny[0]").
func (c Config) Validate() field.List {
	var errs field.List
	check := func(name string, list []string) {
		for i, s := range list {
			if strings.TrimSpace(s) == "" {
				errs = append(errs, field.Errorf(name+"["+strconv.Itoa(i)+"]", "empty entry: expected a CIDR such as 10.0.0.0/8 or an address"))
				continue
			}
			if _, err := pipeline.ParsePrefix(s); err != nil {
				// Go's parser error names its internals; say what is expected.
				errs = append(errs, field.Errorf(name+"["+strconv.Itoa(i)+"]", "%q is not a CIDR or an IP address (expected e.g. \"10.0.0.0/8\" or \"192.0.2.1\")", s))
			}
		}
	}
	check("allow", c.Allow)
	check("deny", c.Deny)
	return errs
}

// Empty reports whether the block lists no address at all.
func (c Config) Empty() bool { return len(c.Allow) == 0 && len(c.Deny) == 0 }
