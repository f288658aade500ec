// Package detect is the behavioural detection stage: detectors, one per
// file, that count what a client, a principal or an account does across
// many requests (mapping the API, stuffing credentials, sharing a token,
// scraping, tripping several stages) in the shared store, so that requests
// spread over a fleet add up. A detector fires once per window and key:
// it publishes a detection event with its evidence (detector, key, window,
// count against threshold, the request ids that made it) and, when its
// action is throttle or ban, takes a decision that the ban stages enforce
// on every node.
package detect

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/decision"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// ID is the stage id; each detector reports under ID + "." + its name.
const ID = "detect"

// Module registers the detect stage: the `detect` block, at the top level
// or in an API (which then replaces the top-level one).
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "detect", Scope: pipeline.ScopeGlobal | pipeline.ScopeAPI,
	New: func(b *pipeline.Build, global, api *Config) (pipeline.Stage, error) {
		c := api
		if c == nil {
			c = global
		}
		if c == nil {
			return nil, nil
		}
		var policy *decision.Policy
		if ps, ok := b.Global("bans").(decision.PolicySource); ok {
			p := ps.DecisionPolicy()
			policy = &p
		}
		return New(*c, Options{API: b.API, CountUnrouted: b.First && api == nil, Store: b.Store, Events: b.Events, Now: b.Now,
			Policy: policy, Described: b.Spec != nil})
	}}

// Options are what the stage needs besides its config.
type Options struct {
	// API is the API whose chain the stage is in.
	API string
	// CountUnrouted makes the stage also count exchanges no API matched
	// (they are handed to the first API's chain).
	CountUnrouted bool
	// Store holds the windows, latches and decisions. Nil uses a private
	// Memory store.
	Store store.Store
	// Events receives detections and decisions. Nil discards them.
	Events events.Publisher
	// Now is the clock. Nil uses time.Now.
	Now func() time.Time
	// Described is true when the API has an OpenAPI description: only then
	// do undeclared paths and methods count (detect.undeclared).
	Described bool
	// Policy is the decision policy of the bans block; nil when there is
	// none, and then a throttle or ban action is a load error (nothing
	// would enforce it).
	Policy *decision.Policy
}

// Stage is the detect stage. Request only notes the account of a login
// request; ObserveExchange runs the detectors.
type Stage struct {
	o         Options
	detectors []detector
	volume    *volume
	logins    []login
	issuer    *decision.Issuer
	exempt    func(netip.Addr) bool
}

var (
	_ pipeline.Stage            = (*Stage)(nil)
	_ pipeline.ExchangeObserver = (*Stage)(nil)
)

// detector is one behavioural detector: from an exchange's facts it makes
// the sightings to count, each with the check that decides whether the
// window it lands in trips the detector.
type detector interface {
	name() string
	rule() Rule
	probes(f *facts) []probe
}

// probe is one sighting with how to judge its window.
type probe struct {
	d   detector
	key string // the group key: "ip:203.0.113.7", "principal:alice"
	s   store.Sighting
	// judge returns the count to compare with the threshold (the window's
	// count when nil).
	judge func(store.Window) int64
	// threshold overrides the rule's (a sharing tier).
	threshold int
}

// New compiles the detect block.
func New(c Config, o Options) (*Stage, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Store == nil {
		o.Store = store.NewMemory(o.Now)
	}
	if o.Events == nil {
		o.Events = events.Discard
	}
	s := &Stage{o: o, exempt: func(netip.Addr) bool { return false }}
	if o.Policy != nil {
		s.issuer = decision.NewIssuer(o.Store, o.Events, o.Now, *o.Policy)
		s.exempt = o.Policy.Exempt
	}
	if c.Recon != nil {
		s.detectors = append(s.detectors, newRecon(*c.Recon))
	}
	if c.Undeclared != nil {
		s.detectors = append(s.detectors, newUndeclared(*c.Undeclared))
	}
	if c.Sequence != nil {
		s.detectors = append(s.detectors, newSequence(*c.Sequence))
	}
	if c.Stuffing != nil {
		s.detectors = append(s.detectors, newStuffing(*c.Stuffing))
	}
	if c.BruteForce != nil {
		s.detectors = append(s.detectors, newBruteForce(*c.BruteForce))
	}
	if c.Sharing != nil {
		s.detectors = append(s.detectors, newSharing(*c.Sharing))
	}
	if c.Stages != nil {
		s.detectors = append(s.detectors, newStages(*c.Stages))
	}
	if c.Volume != nil {
		s.volume = newVolume(*c.Volume)
	}
	all := s.detectors
	if s.volume != nil {
		all = append(all[:len(all):len(all)], s.volume)
	}
	for _, d := range all {
		if a := d.rule().Action; (a == ActionBan || a == ActionThrottle) && s.issuer == nil {
			return nil, fmt.Errorf("%s.action: %s needs a bans block, which enforces decisions (bans: {} enforces them without auto-banning)", d.name(), a)
		}
	}
	for _, l := range c.Logins {
		lg, err := compileLogin(l)
		if err != nil {
			return nil, err
		}
		s.logins = append(s.logins, lg)
	}
	return s, nil
}

// ID returns "detect".
func (s *Stage) ID() string { return ID }

// Request notes the account a login request names (x.Claimed), so that a
// failed login counts against it. It never refuses.
func (s *Stage) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	if lg := s.login(x); lg != nil && x.Claimed == "" {
		x.Claimed = lg.account(x)
	}
	return nil, nil
}

// facts are what the detectors read of one exchange, worked out once.
type facts struct {
	x          *pipeline.Exchange
	status     int
	client     string // "" when the client address is unknown
	principal  string
	keyID      string
	tier       string
	authFailed bool   // authn refused it, or a login failed
	account    string // the account a failed authentication named
	denied     []string
	path       string
	described  bool
}

// ObserveExchange implements pipeline.ExchangeObserver: it runs every
// detector on the exchange, counts their sightings in one store call, and
// fires those whose window reached its threshold.
func (s *Stage) ObserveExchange(ctx context.Context, o pipeline.Observed) error {
	x := o.X
	if x.API != s.o.API && !(x.API == "" && s.o.CountUnrouted) {
		return nil
	}
	if x.ClientIP.IsValid() && s.exempt(x.ClientIP) {
		return nil
	}
	f := s.facts(o)
	var probes []probe
	for _, d := range s.detectors {
		probes = append(probes, d.probes(f)...)
	}
	var errs []error
	if s.volume != nil {
		if err := s.volume.observe(ctx, s, f); err != nil {
			errs = append(errs, err)
		}
	}
	if len(probes) == 0 {
		return errors.Join(errs...)
	}
	ss := make([]store.Sighting, len(probes))
	for i, p := range probes {
		ss[i] = p.s
	}
	ws, err := s.o.Store.Sight(ctx, ss)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("counting sightings: %w", err))...)
	}
	for i, p := range probes {
		n := ws[i].Count
		if p.judge != nil {
			n = p.judge(ws[i])
		}
		th := p.d.rule().Threshold
		if p.threshold > 0 {
			th = p.threshold
		}
		if n < int64(th) {
			continue
		}
		if err := s.fire(ctx, p, n, th, ws[i].Refs, f, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// facts works out what the detectors read.
func (s *Stage) facts(o pipeline.Observed) *facts {
	x := o.X
	f := &facts{x: x, status: o.Status, path: x.Request.URL.EscapedPath(), described: s.o.Described}
	if x.ClientIP.IsValid() {
		f.client = clientKey(x.ClientIP)
	}
	if p := x.Principal; p != nil {
		f.principal = p.ID
		if p.Kind == "apikey" {
			f.keyID, _ = p.Attributes["key_id"].(string)
		}
		f.tier, _ = p.Attributes["tier"].(string)
	}
	for _, e := range o.Events {
		if e.Type != events.TypeDenial && e.Type != events.TypeMalformed {
			continue
		}
		f.denied = append(f.denied, e.Stage)
		if e.Stage == "authn" || strings.HasPrefix(e.Stage, "authn.") {
			f.authFailed = true
		}
	}
	if lg := s.login(x); lg != nil && (contains(lg.failure, o.Status) || o.Status == 429) {
		f.authFailed = true
	}
	if f.authFailed {
		f.account = x.Claimed
	}
	return f
}

// keyOf returns the group key of f for key kind k ("" when f has none).
func (f *facts) keyOf(k string) string {
	var scope, v string
	switch k {
	case KeyIP:
		scope, v = store.ScopeIP, f.client
	case KeyPrincipal, KeyAccount:
		scope, v = store.ScopePrincipal, f.principal
		if k == KeyAccount {
			v = f.account
		}
	case KeyAPIKey:
		scope, v = store.ScopeAPIKey, f.keyID
	}
	if v == "" {
		return ""
	}
	return store.DecisionKey(scope, v)
}

// sighting is a sighting of member under detector d's key k, with the
// request id as evidence.
func (f *facts) sighting(d detector, k, member string, keep int) store.Sighting {
	r := d.rule()
	if keep <= 0 {
		keep = max(4*r.Threshold, 16)
	}
	return store.Sighting{Key: "detect:" + d.name() + ":" + k, Member: member, Ref: f.x.ID,
		Window: r.Window, Keep: min(keep, 4096), Refs: evidenceRefs}
}

// evidenceRefs is how many request ids a detection event names.
const evidenceRefs = 20

// fire publishes a detection (once per window and key across nodes: a
// latch in the store) and takes the detector's decision.
func (s *Stage) fire(ctx context.Context, p probe, count int64, threshold int, refs []string, f *facts, extra map[string]any) error {
	r := p.d.rule()
	stage := ID + "." + p.d.name()
	latch := "detect:fired:" + p.d.name() + ":" + p.key
	if b, ok := extra["bucket_start"].(string); ok {
		latch += ":" + b
	}
	first, err := s.o.Store.SetNX(ctx, latch, r.Window)
	if err != nil {
		return fmt.Errorf("%s: latch: %w", stage, err)
	}
	if !first {
		return nil
	}
	scope, value, _ := store.ParseDecisionKey(p.key)
	attrs := map[string]any{
		"detector": stage, "key": p.key, "window_seconds": int64(r.Window / time.Second),
		"count": count, "threshold": threshold, "request_ids": refs, "action": r.Action,
	}
	for k, v := range extra {
		attrs[k] = v
	}
	reason := fmt.Sprintf("%s: %s reached %d of %d within %s", stage, p.key, count, threshold, r.Window)
	e := events.Event{ID: events.NewID(), Time: s.o.Now(), Type: events.TypeDetection, Stage: stage,
		Rules: []string{stage}, Reason: reason, Mode: "detect", Severity: events.SeverityMedium,
		RequestID: f.x.ID, ClientIP: addr(f.x.ClientIP), API: f.x.API, Method: f.x.Request.Method, Path: f.path,
		Principal: f.principal, Attrs: attrs}
	switch r.Action {
	case ActionAlert:
		e.Severity = events.SeverityHigh
	case ActionBan, ActionThrottle:
		e.Severity, e.Mode = events.SeverityHigh, "block"
	}
	s.o.Events.Publish(e)
	if (r.Action != ActionBan && r.Action != ActionThrottle) || s.issuer == nil {
		return nil
	}
	typ := store.TypeBan
	if r.Action == ActionThrottle {
		typ = store.TypeThrottle
	}
	_, err = s.issuer.Issue(ctx, decision.Request{Scope: scope, Value: value, Type: typ, Duration: r.Duration,
		Reason: reason, Origin: stage,
		Event: events.Event{API: f.x.API, RequestID: f.x.ID, ClientIP: e.ClientIP,
			Attrs: map[string]any{"detection_id": e.ID, "detector": stage, "request_ids": refs}}})
	if errors.Is(err, decision.ErrExempt) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: deciding: %w", stage, err)
	}
	return nil
}

// clientKey is the client's address, an IPv6 client grouped by its /64 as
// the ban stage and the ratelimit "ip" key group it.
func clientKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
