// Package ipfilter is the "ipfilter" stage: it refuses clients by address,
// with a deny list and an allow list, globally and per API.
//
// Lists are compiled once into sorted, merged address ranges, so a lookup is
// a binary search that does not allocate, whether the lists hold ten CIDRs or
// tens of thousands.
package ipfilter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// ID is the stage id: the config key, log field, metric label and event
// stage of this package.
const ID = "ipfilter"

// Rule ids carried by denials of this stage.
const (
	// RuleDeny: the client address is in a deny list (global or API).
	RuleDeny = "ipfilter.deny"
	// RuleNotAllowed: an allow list is set and the client address is not in
	// it, or the client address is unknown.
	RuleNotAllowed = "ipfilter.not-allowed"
)

// Filter is the compiled ipfilter stage of one route: the global block
// followed by the API's block. It is read-only after New and safe for
// concurrent use.
type Filter struct {
	layers []layer
}

type layer struct {
	name     string // "global" or "api", for log details
	deny     set
	allow    set
	hasAllow bool
}

var _ pipeline.Stage = (*Filter)(nil)

// Module registers the stage: the top-level ipfilter block applies to every
// API, then the API's own block.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "ipfilter", Scope: pipeline.ScopeAPI | pipeline.ScopeGlobal,
	New: func(_ *pipeline.Build, global, api *Config) (pipeline.Stage, error) {
		var g Config
		if global != nil {
			g = *global
		}
		f, err := New(g, api)
		if err != nil || f.Empty() {
			return nil, err
		}
		return f, nil
	}}

// New compiles the global block and the API's block (nil when the API has
// none) into one filter. It fails when an entry is not a CIDR or address;
// call Config.Validate for field-level errors.
func New(global Config, api *Config) (*Filter, error) {
	f := &Filter{}
	blocks := []struct {
		name string
		cfg  *Config
	}{{"global", &global}, {"api", api}}
	var errs []error
	for _, b := range blocks {
		if b.cfg == nil || b.cfg.Empty() {
			continue
		}
		if l := b.cfg.Validate(); len(l) > 0 {
			for _, e := range l.Prefix(b.name) {
				errs = append(errs, e)
			}
			continue
		}
		f.layers = append(f.layers, layer{
			name:     b.name,
			deny:     newSet(mustPrefixes(b.cfg.Deny)),
			allow:    newSet(mustPrefixes(b.cfg.Allow)),
			hasAllow: len(b.cfg.Allow) > 0,
		})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("building ipfilter: %w", errors.Join(errs...))
	}
	return f, nil
}

// mustPrefixes parses validated entries.
func mustPrefixes(list []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := pipeline.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Empty reports whether the filter lists no address at all, so that the
// gateway can leave it out of the chain.
func (f *Filter) Empty() bool { return f == nil || len(f.layers) == 0 }

// ID returns "ipfilter".
func (f *Filter) ID() string { return ID }

// Allowed reports whether a may call, and when not, which rule refused it
// and which block ("global" or "api") holds that rule. An invalid a passes
// the deny lists but fails any allow list.
func (f *Filter) Allowed(a netip.Addr) (ok bool, rule, block string) {
	if a.IsValid() {
		a = a.Unmap().WithZone("")
	}
	// Deny wins over Allow, in every block: check every deny list first.
	if a.IsValid() {
		for i := range f.layers {
			if f.layers[i].deny.contains(a) {
				return false, RuleDeny, f.layers[i].name
			}
		}
	}
	for i := range f.layers {
		l := &f.layers[i]
		// Security: an unknown client address cannot be shown to be in an
		// allow list, so it is refused (fail closed).
		if l.hasAllow && (!a.IsValid() || !l.allow.contains(a)) {
			return false, RuleNotAllowed, l.name
		}
	}
	return true, "", ""
}

// Request refuses the exchange with 403 when its client IP is denied or not
// allowed. It uses x.ClientIP, which the gateway has already resolved
// through the trusted proxies.
func (f *Filter) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	ok, rule, block := f.Allowed(x.ClientIP)
	if ok {
		return nil, nil
	}
	d := &pipeline.Denial{
		Status:   http.StatusForbidden,
		Reason:   "requests from this address are not allowed",
		Stage:    ID,
		Rules:    []string{rule},
		Location: "client_ip",
		Severity: events.SeverityMedium,
	}
	addr := "unknown"
	if x.ClientIP.IsValid() {
		addr = x.ClientIP.String()
	}
	if rule == RuleDeny {
		d.Detail = "client " + addr + " is in the " + block + " deny list"
	} else {
		d.Severity = events.SeverityLow
		d.Detail = "client " + addr + " is not in the " + block + " allow list"
	}
	return d, nil
}
