// Package decision takes, escalates, revokes and announces decisions: the
// bans and throttles that the auto-ban, the detectors, operators (CLI and
// admin API) and CrowdSec put on an address, a network, a principal or an
// API key. Decisions live in the shared store (store.Decisions), so every
// node of a fleet enforces the same ones; the ban stages enforce them.
//
// Every decision taken or revoked is published as one event of type
// events.TypeDecision, with the decision in its attributes: the audit log
// chains these events, so there is no second record to keep.
package decision

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/store"
)

// Store is what deciding needs of the shared store: the decisions and the
// strike counters escalation reads.
type Store interface {
	store.Decisions
	store.Counter
}

// Policy is how long decisions last and who is never subject to one. The
// bans block provides it (PolicySource) to every stage that decides.
type Policy struct {
	// Duration is a first decision's length when the taker names none.
	// Default 10m.
	Duration time.Duration
	// Multiplier multiplies a decision's length for every earlier decision
	// on the same key within store.StrikeMemory (repeat offenders). Default
	// 2; 1 keeps every decision the same length.
	Multiplier float64
	// MaxDuration caps an escalated decision. Default 24h.
	MaxDuration time.Duration
	// Allow lists networks no decision applies to (monitoring, offices):
	// none is taken against them, and none is enforced on them.
	Allow []netip.Prefix
}

// PolicySource is implemented by the config block that owns the policy
// (the bans block), so that stages which cannot import its package read it
// through pipeline.Build.Global.
type PolicySource interface {
	DecisionPolicy() Policy
}

// WithDefaults fills the zero fields.
func (p Policy) WithDefaults() Policy {
	if p.Duration <= 0 {
		p.Duration = 10 * time.Minute
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	if p.MaxDuration <= 0 {
		p.MaxDuration = 24 * time.Hour
	}
	return p
}

// Exempt reports whether a is in an allowed network.
func (p Policy) Exempt(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.Allow {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// exemptValue reports whether an ip or range decision value lies in an
// allowed network (a range only when wholly inside one).
func (p Policy) exemptValue(scope, value string) bool {
	switch scope {
	case store.ScopeIP:
		if a, err := netip.ParseAddr(value); err == nil {
			return p.Exempt(a)
		}
		if n, err := netip.ParsePrefix(value); err == nil {
			return p.Exempt(n.Addr())
		}
	case store.ScopeRange:
		if n, err := netip.ParsePrefix(value); err == nil {
			for _, a := range p.Allow {
				if a.Bits() <= n.Bits() && a.Contains(n.Masked().Addr()) {
					return true
				}
			}
		}
	}
	return false
}

// Escalated is the length of the strikes-th decision: Duration (or base
// when set) × Multiplier^(strikes-1), capped at MaxDuration.
func (p Policy) Escalated(base time.Duration, strikes int64) time.Duration {
	p = p.WithDefaults()
	if base <= 0 {
		base = p.Duration
	}
	f := float64(base) * math.Pow(p.Multiplier, float64(max(strikes, 1)-1))
	if f >= float64(p.MaxDuration) || math.IsInf(f, 0) || math.IsNaN(f) {
		return max(p.MaxDuration, base)
	}
	return time.Duration(f)
}

// Request asks for a decision.
type Request struct {
	// Scope and Value name what the decision applies to.
	Scope, Value string
	// Type is store.TypeBan or store.TypeThrottle.
	Type string
	// Duration is the first decision's length; zero uses the policy's.
	// Repeat decisions on the key are escalated from it.
	Duration time.Duration
	// Fixed keeps Duration as is, without escalation (an operator's
	// explicit duration).
	Fixed bool
	// Reason says why.
	Reason string
	// Origin is who decides ("bans", "detect.recon", "cli", "admin").
	Origin string
	// Event is copied into the decision's event: its API, request id,
	// client and principal, and Attrs (the evidence) merged in.
	Event events.Event
}

// Issuer takes and revokes decisions and publishes each as an event.
type Issuer struct {
	store  Store
	events events.Publisher
	now    func() time.Time
	policy Policy
}

// NewIssuer returns an Issuer on st. A nil pub discards events; a nil now
// uses time.Now.
func NewIssuer(st Store, pub events.Publisher, now func() time.Time, p Policy) *Issuer {
	if pub == nil {
		pub = events.Discard
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{store: st, events: pub, now: now, policy: p.WithDefaults()}
}

// Policy returns the issuer's policy, defaults filled in.
func (is *Issuer) Policy() Policy { return is.policy }

// ErrExempt is returned by Issue for a value in an allowed network.
var ErrExempt = errors.New("the value is in an allowed network (bans.allow)")

// Scopes are the decision scopes, for validation and help texts.
var Scopes = []string{store.ScopeIP, store.ScopeRange, store.ScopePrincipal, store.ScopeAPIKey}

// Types are the decision types.
var Types = []string{store.TypeBan, store.TypeThrottle}

// Validate checks and normalises a scope value: an ip is an address (an
// IPv6 address stays whole: its /64 is a range), a range is a network in
// canonical form.
func Validate(scope, value, typ string) (string, error) {
	if typ != store.TypeBan && typ != store.TypeThrottle {
		return "", fmt.Errorf("type %q is not one of %s", typ, strings.Join(Types, ", "))
	}
	switch scope {
	case store.ScopeIP:
		if a, err := netip.ParseAddr(value); err == nil {
			return a.Unmap().String(), nil
		}
		if p, err := netip.ParsePrefix(value); err == nil && p.Addr().Is6() && p.Bits() == 64 {
			return p.Masked().String(), nil // the form the ban stage groups IPv6 clients in
		}
		return "", fmt.Errorf("ip %q is not an address", value)
	case store.ScopeRange:
		p, err := netip.ParsePrefix(value)
		if err != nil {
			return "", fmt.Errorf("range %q is not a network in CIDR notation", value)
		}
		return p.Masked().String(), nil
	case store.ScopePrincipal, store.ScopeAPIKey:
		if value == "" || len(value) > 256 || strings.ContainsAny(value, "\r\n") {
			return "", fmt.Errorf("%s %q: must be 1-256 characters on one line", scope, value)
		}
		return value, nil
	}
	return "", fmt.Errorf("scope %q is not one of %s", scope, strings.Join(Scopes, ", "))
}

// Issue takes a decision: it counts a strike on the key, escalates the
// length from the strikes, stores the decision and publishes it. It
// returns ErrExempt for an allowed network.
func (is *Issuer) Issue(ctx context.Context, r Request) (store.Decision, error) {
	value, err := Validate(r.Scope, r.Value, r.Type)
	if err != nil {
		return store.Decision{}, err
	}
	if is.policy.exemptValue(r.Scope, value) {
		return store.Decision{}, ErrExempt
	}
	key := store.DecisionKey(r.Scope, value)
	strikes, err := is.store.Incr(ctx, "decision:strikes:"+key, store.StrikeMemory)
	if err != nil {
		return store.Decision{}, fmt.Errorf("counting strikes: %w", err)
	}
	d := r.Duration
	if !r.Fixed || d <= 0 {
		d = is.policy.Escalated(r.Duration, strikes)
	}
	now := is.now()
	e := r.Event
	if e.ID == "" {
		e.ID = events.NewID()
	}
	dec := store.Decision{Scope: r.Scope, Value: value, Type: r.Type, Created: now, Until: now.Add(d),
		Reason: r.Reason, Origin: r.Origin, Strikes: int(strikes), ID: e.ID}
	if err := is.store.Decide(ctx, dec); err != nil {
		return store.Decision{}, fmt.Errorf("storing the decision: %w", err)
	}
	is.publish(e, dec, "add", fmt.Sprintf("%s %s %s for %s: %s", dec.Type, dec.Scope, dec.Value, d, dec.Reason))
	return dec, nil
}

// Revoke ends the decision on key and publishes the revocation (also when
// none was active, so that the attempt is audited). origin says who
// revoked it.
func (is *Issuer) Revoke(ctx context.Context, key, origin, reason string) (bool, error) {
	scope, value, ok := store.ParseDecisionKey(key)
	if !ok {
		return false, fmt.Errorf("decision key %q is not scope:value", key)
	}
	active, err := is.store.Revoke(ctx, key)
	if err != nil {
		return false, err
	}
	if reason == "" {
		reason = "revoked by " + origin
	}
	dec := store.Decision{Scope: scope, Value: value, Origin: origin, Reason: reason, Until: is.now(), Created: is.now()}
	is.publish(events.Event{}, dec, "delete", fmt.Sprintf("decision on %s %s revoked by %s (active: %v)", scope, value, origin, active))
	return active, nil
}

// publish announces a decision as one TypeDecision event.
func (is *Issuer) publish(e events.Event, d store.Decision, action, reason string) {
	e.Time, e.Type, e.Mode = is.now(), events.TypeDecision, "block"
	e.Severity = events.SeverityHigh
	if action == "delete" {
		e.Severity = events.SeverityInfo
	}
	e.Stage = d.Origin
	e.Rules = []string{"decision." + action}
	e.Reason = reason
	attrs := map[string]any{}
	for k, v := range e.Attrs {
		attrs[k] = v
	}
	attrs["action"] = action
	attrs["decision"] = map[string]any{
		"key": d.Key(), "scope": d.Scope, "value": d.Value, "type": d.Type, "origin": d.Origin,
		"reason": d.Reason, "until": d.Until.UTC().Format(time.RFC3339Nano), "strikes": d.Strikes,
		"duration_seconds": int64(d.Until.Sub(d.Created) / time.Second),
	}
	e.Attrs = attrs
	if d.Scope == store.ScopeIP && e.ClientIP == "" {
		e.ClientIP = d.Value
	}
	if d.Scope == store.ScopePrincipal && e.Principal == "" {
		e.Principal = d.Value
	}
	is.events.Publish(e)
}

// Strongest returns the decision that governs a request among ds: a ban
// before a throttle, then the one that ends last.
func Strongest(ds []store.Decision) (store.Decision, bool) {
	var best store.Decision
	found := false
	for _, d := range ds {
		switch {
		case !found:
		case d.Type == store.TypeBan && best.Type != store.TypeBan:
		case d.Type == best.Type && d.Until.After(best.Until):
		default:
			continue
		}
		best, found = d, true
	}
	return best, found
}
