// Package ratelimit is the abuse-protection stage: GCRA rate limits, quotas,
// concurrency caps, load shedding and auto-bans, shared across nodes through
// the store.
package ratelimit

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/decision"
	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// Config is an API's `ratelimit` block: rate limits, quotas, tiers,
// concurrency caps and load shedding. Default: none.
type Config struct {
	// Limits are the API's GCRA rate limits. A request must pass every
	// limit that applies to it; one that fails consumes nothing from the
	// others. Limits keyed only by client data (ip, header, route,
	// operation) run before authentication, so floods are refused before
	// any credential check; the others run after it. Default none.
	Limits []Limit `yaml:"limits,omitempty" json:"limits,omitempty"`
	// Quotas are per-day or per-month counts per principal or API key,
	// kept in the store (they survive restarts with Redis). Default none.
	Quotas []Quota `yaml:"quotas,omitempty" json:"quotas,omitempty"`
	// Tiers replace the limits and quotas that run after authentication for
	// principals whose "tier" attribute (set by authn, e.g. from an API
	// key's record) names a tier here. Principals without a tier, or with
	// an unknown one, get Limits and Quotas. Default none.
	Tiers map[string]Tier `yaml:"tiers,omitempty" json:"tiers,omitempty"`
	// Concurrency caps requests in flight on this node. Default: no cap.
	Concurrency Concurrency `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	// Shed lists load-shedding classes, checked in order: the first class
	// a request belongs to decides whether it is shed. Give lower-priority
	// classes (anonymous) lower thresholds so that they are shed first.
	// Default none (no shedding).
	Shed []ShedClass `yaml:"shed,omitempty" json:"shed,omitempty"`
	// IPv6Prefix is the prefix length that "ip" keys group IPv6 clients
	// by: one client usually owns a whole /64, so limiting single
	// addresses would let it rotate through 2^64 of them. Default 64; 128
	// keys single addresses.
	IPv6Prefix int `yaml:"ipv6_prefix,omitempty" json:"ipv6_prefix,omitempty"`
	// Headers controls the RateLimit, RateLimit-Policy headers on responses
	// that passed: "on" (default) or "off". 429 responses always carry
	// them, with Retry-After.
	Headers string `yaml:"headers,omitempty" json:"headers,omitempty"`
}

// Limit is one GCRA rate limit: Rate requests per Per, with bursts of up to
// Burst, counted per key.
type Limit struct {
	// Name names the limit in the RateLimit headers, logs and rule ids
	// ("ratelimit.NAME"). Default "limit-N" (N counting from 1).
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Key is what requests are counted by; several parts make a combined
	// key. Parts: "ip" (client IP, trusted-proxy aware; IPv6 grouped by
	// ipv6_prefix), "principal" (authenticated id), "apikey" (the
	// principal's API key id), "route" (the API), "operation" (method and
	// path template), "header:NAME" (a header's value, hashed). A request
	// missing a part (no principal, no header) is not counted by the
	// limit. Default ["ip"].
	Key []string `yaml:"key,omitempty" json:"key,omitempty"`
	// Rate is the number of requests allowed per Per. Required, > 0.
	Rate int64 `yaml:"rate" json:"rate"`
	// Per is the period Rate is measured over. Default 1s.
	Per time.Duration `yaml:"per,omitempty" json:"per,omitempty"`
	// Burst is how many requests may arrive at once. Default (0): Rate.
	Burst int64 `yaml:"burst,omitempty" json:"burst,omitempty"`
	// Operations limits this limit to these operations ("GET /pets/{id}",
	// as in the OpenAPI description; the API needs its openapi file, and a
	// name it does not declare is a load error). Default: every operation.
	Operations []string `yaml:"operations,omitempty" json:"operations,omitempty"`
	// PathPrefix limits this limit to request paths with this prefix.
	// Default "": every path.
	PathPrefix string `yaml:"path_prefix,omitempty" json:"path_prefix,omitempty"`
}

// Quota is a count of requests per calendar period per key.
type Quota struct {
	// Name names the quota in headers and rule ids. Default "quota-N".
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Key is what requests are counted by (see Limit.Key). Default
	// ["principal"].
	Key []string `yaml:"key,omitempty" json:"key,omitempty"`
	// Max is the number of requests allowed per period. Required, > 0.
	Max int64 `yaml:"max" json:"max"`
	// Per is "day" (00:00 to 00:00 UTC) or "month" (from the 1st, UTC).
	// Default "day".
	Per string `yaml:"per,omitempty" json:"per,omitempty"`
	// Operations limits this quota to these operations. Default: all.
	Operations []string `yaml:"operations,omitempty" json:"operations,omitempty"`
}

// Tier is a named set of limits and quotas for principals of that tier.
type Tier struct {
	// Limits replace the API's limits that run after authentication.
	Limits []Limit `yaml:"limits,omitempty" json:"limits,omitempty"`
	// Quotas replace the API's quotas.
	Quotas []Quota `yaml:"quotas,omitempty" json:"quotas,omitempty"`
}

// Concurrency caps requests in flight on this node.
type Concurrency struct {
	// Max caps this API's requests in flight. Default 0: no cap.
	Max int `yaml:"max,omitempty" json:"max,omitempty"`
	// Upstream caps requests in flight to this API's upstream, shared by
	// every API with the same upstream targets (in any order). Default 0:
	// no cap.
	Upstream int `yaml:"upstream,omitempty" json:"upstream,omitempty"`
	// RetryAfter is the Retry-After sent with the 503 of a full cap or a
	// shed request. Default 1s.
	RetryAfter time.Duration `yaml:"retry_after,omitempty" json:"retry_after,omitempty"`
}

// ShedClass is one load-shedding class.
type ShedClass struct {
	// Match selects the requests of the class: "anonymous" (no principal),
	// "authenticated" (any principal), "tier:NAME" (principals of a tier)
	// or "any". Required.
	Match string `yaml:"match" json:"match"`
	// MaxInFlight sheds the class's requests while this API has at least
	// this many requests in flight on this node. Default 0: not checked.
	MaxInFlight int `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
	// MaxLatency sheds the class's requests while the upstream's recent
	// latency (exponentially weighted average over roughly the last 20
	// requests) is at least this. Default 0: not checked.
	MaxLatency time.Duration `yaml:"max_latency,omitempty" json:"max_latency,omitempty"`
}

// BanConfig is the global `bans` block: the decisions in force (bans and
// throttles on addresses, networks, principals and API keys, from every
// origin) are enforced when it is present, and automatic bans of clients
// that cause
// repeated security events. Default: off.
type BanConfig struct {
	// Threshold is how many security events from one client within Window
	// ban it. Zero (default) turns auto-ban off; decisions are enforced
	// all the same.
	Threshold int `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	// Window is the span events are counted over (a fixed window starting
	// at the client's first event). Default 1m.
	Window time.Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// Duration is the first decision's length, for the auto-ban and every
	// detector that names none. Default 10m.
	Duration time.Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	// Multiplier multiplies a decision's length for every earlier decision
	// on the same key within 7 days (repeat offenders). Default 2; 1 keeps
	// every decision the same length.
	Multiplier float64 `yaml:"multiplier,omitempty" json:"multiplier,omitempty"`
	// MaxDuration caps an escalated decision. Default 24h.
	MaxDuration time.Duration `yaml:"max_duration,omitempty" json:"max_duration,omitempty"`
	// Events are the event kinds that count: "denial" (any denial except
	// rate limiting and bans themselves), "auth" (authn denials),
	// "enumeration" (authz.enumeration), "malformed" (unparseable
	// requests), "ratelimit" (429s). Default [denial, malformed].
	Events []string `yaml:"events,omitempty" json:"events,omitempty"`
	// Allow lists networks no decision applies to (CIDR or address), e.g.
	// your monitoring and office ranges: none is taken against them and
	// none is enforced on them, whatever its origin (CrowdSec included).
	// Loopback is not exempt by default.
	Allow []string `yaml:"allow,omitempty" json:"allow,omitempty"`
	// Throttle is the limit a throttle decision holds its scope to; beyond
	// it requests get 429 with Retry-After. Default 10 per 1m.
	Throttle BanThrottle `yaml:"throttle,omitempty" json:"throttle,omitempty"`
}

// BanThrottle is the rate of a throttled scope.
type BanThrottle struct {
	// Rate is how many requests per Per are admitted. Default 10.
	Rate int64 `yaml:"rate,omitempty" json:"rate,omitempty"`
	// Per is the period Rate counts over. Default 1m.
	Per time.Duration `yaml:"per,omitempty" json:"per,omitempty"`
}

// DecisionPolicy implements decision.PolicySource: the decision lengths
// and the allowlist every stage that decides uses.
func (c BanConfig) DecisionPolicy() decision.Policy {
	return decision.Policy{Duration: c.Duration, Multiplier: c.Multiplier, MaxDuration: c.MaxDuration, Allow: c.prefixes()}.WithDefaults()
}

// Validate checks the block.
func (c Config) Validate() field.List {
	var l field.List
	for i, lim := range c.Limits {
		l = append(l, lim.validate().Prefix(fmt.Sprintf("limits[%d]", i))...)
	}
	for i, q := range c.Quotas {
		l = append(l, q.validate().Prefix(fmt.Sprintf("quotas[%d]", i))...)
	}
	for name, t := range c.Tiers {
		for i, lim := range t.Limits {
			l = append(l, lim.validate().Prefix(fmt.Sprintf("tiers.%s.limits[%d]", name, i))...)
		}
		for i, q := range t.Quotas {
			l = append(l, q.validate().Prefix(fmt.Sprintf("tiers.%s.quotas[%d]", name, i))...)
		}
	}
	for i, s := range c.Shed {
		p := fmt.Sprintf("shed[%d]", i)
		if !validClass(s.Match) {
			l = append(l, field.Errorf(p+".match", "%q is not one of anonymous, authenticated, any, tier:NAME", s.Match))
		}
		if s.MaxInFlight <= 0 && s.MaxLatency <= 0 {
			l = append(l, field.Errorf(p, "needs max_in_flight or max_latency"))
		}
	}
	if c.IPv6Prefix < 0 || c.IPv6Prefix > 128 {
		l = append(l, field.Errorf("ipv6_prefix", "%d is not between 0 and 128", c.IPv6Prefix))
	}
	switch c.Headers {
	case "", "on", "off":
	default:
		l = append(l, field.Errorf("headers", "%q is not one of on, off", c.Headers))
	}
	return l
}

func validClass(m string) bool {
	switch m {
	case "anonymous", "authenticated", "any":
		return true
	}
	return strings.HasPrefix(m, "tier:") && len(m) > len("tier:")
}

func (lim Limit) validate() field.List {
	var l field.List
	if lim.Rate <= 0 {
		l = append(l, field.Errorf("rate", "must be above 0"))
	}
	if lim.Per < 0 {
		l = append(l, field.Errorf("per", "must not be negative"))
	}
	if lim.Burst < 0 {
		l = append(l, field.Errorf("burst", "must not be negative"))
	}
	l = append(l, validateKey(lim.Key)...)
	return l
}

func (q Quota) validate() field.List {
	var l field.List
	if q.Max <= 0 {
		l = append(l, field.Errorf("max", "must be above 0"))
	}
	if q.Per != "" && !store.Period(q.Per).Valid() {
		l = append(l, field.Errorf("per", "%q is not one of day, month", q.Per))
	}
	l = append(l, validateKey(q.Key)...)
	return l
}

func validateKey(key []string) field.List {
	var l field.List
	for i, k := range key {
		switch {
		case k == "ip", k == "principal", k == "apikey", k == "route", k == "operation":
		case strings.HasPrefix(k, "header:") && len(k) > len("header:"):
		default:
			l = append(l, field.Errorf(fmt.Sprintf("key[%d]", i), "%q is not one of ip, principal, apikey, route, operation, header:NAME", k))
		}
	}
	return l
}

// Validate checks the bans block.
func (c BanConfig) Validate() field.List {
	var l field.List
	if c.Threshold < 0 {
		l = append(l, field.Errorf("threshold", "must not be negative"))
	}
	if c.Multiplier != 0 && c.Multiplier < 1 {
		l = append(l, field.Errorf("multiplier", "must be 1 or more"))
	}
	for i, e := range c.Events {
		if _, ok := eventKinds[e]; !ok {
			l = append(l, field.Errorf(fmt.Sprintf("events[%d]", i), "%q is not one of denial, auth, enumeration, malformed, ratelimit", e))
		}
	}
	if c.Throttle.Rate < 0 || c.Throttle.Per < 0 {
		l = append(l, field.Errorf("throttle", "rate and per must not be negative"))
	}
	for i, a := range c.Allow {
		if _, err := pipeline.ParsePrefix(a); err != nil {
			l = append(l, field.Errorf(fmt.Sprintf("allow[%d]", i), "%q is not an address or CIDR", a))
		}
	}
	return l
}

var eventKinds = map[string]struct{}{"denial": {}, "auth": {}, "enumeration": {}, "malformed": {}, "ratelimit": {}}

// withDefaults returns the bans block with defaults filled in.
func (c BanConfig) withDefaults() BanConfig {
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Minute
	}
	if c.Multiplier == 0 {
		c.Multiplier = 2
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = 24 * time.Hour
	}
	if len(c.Events) == 0 {
		c.Events = []string{"denial", "malformed"}
	}
	if c.Throttle.Rate <= 0 {
		c.Throttle.Rate = 10
	}
	if c.Throttle.Per <= 0 {
		c.Throttle.Per = time.Minute
	}
	return c
}

// prefixes parses Allow (validated at load).
func (c BanConfig) prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, a := range c.Allow {
		if p, err := pipeline.ParsePrefix(a); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// OperationKeys implements pipeline.OperationNamer: the operations of
// every limit and quota, tiers included.
func (c *Config) OperationKeys() []string {
	var out []string
	add := func(ls []Limit, qs []Quota) {
		for _, l := range ls {
			out = append(out, l.Operations...)
		}
		for _, q := range qs {
			out = append(out, q.Operations...)
		}
	}
	add(c.Limits, c.Quotas)
	names := make([]string, 0, len(c.Tiers))
	for n := range c.Tiers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		add(c.Tiers[n].Limits, c.Tiers[n].Quotas)
	}
	return out
}
