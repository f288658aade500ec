package store

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Decision scopes: what a decision applies to.
const (
	// ScopeIP is one client address (an IPv6 client is grouped by its /64,
	// written "2001:db8::/64", as the ratelimit "ip" key groups it).
	ScopeIP = "ip"
	// ScopeRange is a network in CIDR notation ("198.51.100.0/24").
	ScopeRange = "range"
	// ScopePrincipal is an authenticated principal's id.
	ScopePrincipal = "principal"
	// ScopeAPIKey is an API key's id (the part between "pk_" and the second
	// underscore).
	ScopeAPIKey = "apikey"
)

// Decision types: what a decision does.
const (
	// TypeBan refuses every request of the scope with 403.
	TypeBan = "ban"
	// TypeThrottle holds the scope to the ban stage's throttle limit (429
	// beyond it).
	TypeThrottle = "throttle"
)

// Decision is a remediation in force against one scope value until a
// time: a ban or a throttle, whoever took it (the auto-ban, a detector, an
// operator, CrowdSec). Nodes sharing a store share their decisions.
type Decision struct {
	// Scope is ScopeIP, ScopeRange, ScopePrincipal or ScopeAPIKey.
	Scope string `json:"scope"`
	// Value is the address, network, principal id or key id.
	Value string `json:"value"`
	// Type is TypeBan or TypeThrottle.
	Type string `json:"type"`
	// Until is when the decision ends.
	Until time.Time `json:"until"`
	// Created is when it was taken.
	Created time.Time `json:"created"`
	// Reason says why, for the operator and the client's problem detail.
	Reason string `json:"reason,omitempty"`
	// Origin is who took it: "bans" (the auto-ban), a detector's stage id
	// ("detect.recon"), "cli", "admin" or "crowdsec".
	Origin string `json:"origin,omitempty"`
	// Strikes is how many decisions the key has had within StrikeMemory,
	// this one included (what escalation is computed from).
	Strikes int `json:"strikes,omitempty"`
	// ID identifies the decision: the event that announced it, or the
	// CrowdSec decision id ("crowdsec:1234").
	ID string `json:"id,omitempty"`
}

// Key is the decision's store key, "scope:value" ("ip:203.0.113.7").
func (d Decision) Key() string { return DecisionKey(d.Scope, d.Value) }

// DecisionKey is the store key of a scope value.
func DecisionKey(scope, value string) string { return scope + ":" + value }

// ParseDecisionKey splits a "scope:value" key.
func ParseDecisionKey(key string) (scope, value string, ok bool) {
	scope, value, ok = strings.Cut(key, ":")
	return scope, value, ok && scope != "" && value != ""
}

// Decisions holds the decisions in force.
type Decisions interface {
	// Decide stores d under d.Key() until d.Until, replacing any decision
	// on that key. A d.Until not after now stores nothing.
	Decide(ctx context.Context, d Decision) error
	// Lookup returns the active decisions among keys and, when ip is
	// valid, every active range decision whose network contains it.
	Lookup(ctx context.Context, keys []string, ip netip.Addr) ([]Decision, error)
	// Revoke ends the decision on key and reports whether one was active.
	Revoke(ctx context.Context, key string) (bool, error)
	// Decisions lists the active decisions, soonest to end first.
	Decisions(ctx context.Context) ([]Decision, error)
}

// sortDecisions orders decisions soonest to end first, then by key.
func sortDecisions(ds []Decision) {
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].Until.Equal(ds[j].Until) {
			return ds[i].Until.Before(ds[j].Until)
		}
		return ds[i].Key() < ds[j].Key()
	})
}

// rangeContains reports whether the CIDR value contains ip (a malformed
// value contains nothing).
func rangeContains(value string, ip netip.Addr) bool {
	p, err := netip.ParsePrefix(value)
	if err != nil {
		return false
	}
	return p.Contains(ip.Unmap())
}
