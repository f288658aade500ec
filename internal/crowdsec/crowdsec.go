// Package crowdsec makes Portcullis a CrowdSec remediation component (a
// bouncer): it streams the decisions of a CrowdSec Local API
// (/v1/decisions/stream, through CrowdSec's own Go bouncer library) into
// a set this node holds in memory, and layers that set over the shared
// store's decisions, so that the ban stages enforce CrowdSec's bans and
// throttles on addresses and ranges like their own, each with its
// scenario as the reason.
//
// Each node streams on its own: a community blocklist can hold tens of
// thousands of addresses, which every node keeps locally rather than
// copying into Redis. Decisions Portcullis takes itself stay in the store.
// The other direction (CrowdSec reading Portcullis's events) is
// configuration only: deploy/crowdsec/.
package crowdsec

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/crowdsecurity/crowdsec/pkg/models"
	csbouncer "github.com/crowdsecurity/go-cs-bouncer"
	"github.com/sirupsen/logrus"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/store"
)

// Config is the top-level `crowdsec` block: the CrowdSec Local API this
// node takes decisions from. Off when URL is empty. Its decisions are
// enforced by the ban stages, so the config needs a bans block too.
type Config struct {
	// URL is the Local API's base URL ("http://127.0.0.1:8080/").
	// Default "": off.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// APIKey is the bouncer key `cscli bouncers add portcullis` printed;
	// use ${ENV} or file:PATH. Required with URL.
	APIKey string `yaml:"api_key,omitempty" json:"api_key,omitempty"`
	// Interval is how often the stream is polled: a decision added in
	// CrowdSec is enforced within it. Default 10s.
	Interval time.Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Scopes are the decision scopes taken: "ip" and "range" (CrowdSec's
	// Ip and Range). Default both.
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	// Origins, when set, keeps only decisions of these origins ("crowdsec"
	// for the local agent, "cscli", "CAPI" for the community blocklist,
	// "lists"). Default: every origin.
	Origins []string `yaml:"origins,omitempty" json:"origins,omitempty"`
	// ScenariosContaining, when set, keeps only decisions whose scenario
	// contains one of these words.
	ScenariosContaining []string `yaml:"scenarios_containing,omitempty" json:"scenarios_containing,omitempty"`
	// ScenariosNotContaining drops decisions whose scenario contains one
	// of these words.
	ScenariosNotContaining []string `yaml:"scenarios_not_containing,omitempty" json:"scenarios_not_containing,omitempty"`
	// Types maps CrowdSec decision types to what the gateway does:
	// "ban" or "throttle". Default: ban is ban, throttle is throttle, and
	// every other type (captcha, which a gateway cannot show) is ban.
	Types map[string]string `yaml:"types,omitempty" json:"types,omitempty"`
	// CAFile is a PEM file of the authorities that sign the Local API's
	// certificate (https:// URL). Default "": the system roots.
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// CertFile is a PEM client certificate to authenticate with instead of
	// APIKey. Default "": none.
	CertFile string `yaml:"cert_file,omitempty" json:"cert_file,omitempty"`
	// KeyFile is CertFile's PEM private key. Default "": none.
	KeyFile string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
}

// Enabled reports whether the block names a Local API.
func (c Config) Enabled() bool { return c.URL != "" }

// Validate checks the block.
func (c Config) Validate() field.List {
	var l field.List
	if c.URL == "" {
		return l
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l = append(l, field.Errorf("url", "%q is not an http:// or https:// URL", c.URL))
	}
	if c.APIKey == "" && c.CertFile == "" {
		l = append(l, field.Errorf("api_key", "required (the key `cscli bouncers add portcullis` prints), or cert_file and key_file"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		l = append(l, field.Errorf("cert_file", "cert_file and key_file go together"))
	}
	for i, s := range c.Scopes {
		if s != "ip" && s != "range" {
			l = append(l, field.Errorf(fmt.Sprintf("scopes[%d]", i), "%q is not one of ip, range", s))
		}
	}
	for k, v := range c.Types {
		if v != store.TypeBan && v != store.TypeThrottle {
			l = append(l, field.Errorf("types."+k, "%q is not one of ban, throttle", v))
		}
	}
	return l
}

// Feed is the set of CrowdSec decisions this node holds, kept up to date
// from the Local API's stream.
type Feed struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu     sync.RWMutex
	ips    map[netip.Addr]store.Decision
	ranges map[netip.Prefix]store.Decision
	pulls  uint64
	last   time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// Status is the admin view of a feed.
type Status struct {
	URL       string    `json:"url"`
	Decisions int       `json:"decisions"`
	Pulls     uint64    `json:"pulls"`
	LastPull  time.Time `json:"last_pull,omitzero"`
}

var logOnce sync.Once

// logBridge writes the bouncer library's logrus lines into the gateway's
// own log.
type logBridge struct{ log *slog.Logger }

func (b logBridge) Write(p []byte) (int, error) {
	b.log.Warn("crowdsec bouncer", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}

// Start starts streaming from the Local API in the background. Decisions
// arrive within one interval; while the Local API is unreachable the feed
// keeps what it had and the library retries (logged). Close stops it.
func Start(cfg Config, log *slog.Logger, now func() time.Time) (*Feed, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("crowdsec: %w", errs[0])
	}
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{"ip", "range"}
	}
	logOnce.Do(func() {
		// The library logs through logrus's standard logger; hand its
		// lines to ours (errors only: its info lines are noise here).
		logrus.SetOutput(logBridge{log})
		logrus.SetLevel(logrus.WarnLevel)
		logrus.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})
	})
	b := &csbouncer.StreamBouncer{
		APIKey:                 cfg.APIKey,
		APIUrl:                 cfg.URL,
		TickerInterval:         cfg.Interval.String(),
		Scopes:                 scopes,
		Origins:                cfg.Origins,
		ScenariosContaining:    cfg.ScenariosContaining,
		ScenariosNotContaining: cfg.ScenariosNotContaining,
		CertPath:               cfg.CertFile,
		KeyPath:                cfg.KeyFile,
		CAPath:                 cfg.CAFile,
		UserAgent:              "portcullis",
		RetryInitialConnect:    true,
	}
	if err := b.Init(); err != nil {
		return nil, fmt.Errorf("crowdsec: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Feed{cfg: cfg, log: log, now: now, ips: map[netip.Addr]store.Decision{}, ranges: map[netip.Prefix]store.Decision{},
		cancel: cancel, done: make(chan struct{})}
	go func() {
		if err := b.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("crowdsec stream stopped", "err", err)
		}
	}()
	go func() {
		defer close(f.done)
		for {
			select {
			case <-ctx.Done():
				return
			case r, ok := <-b.Stream:
				if !ok {
					return
				}
				f.apply(r)
			}
		}
	}()
	log.Info("crowdsec bouncer started", "url", cfg.URL, "interval", cfg.Interval.String(), "scopes", scopes)
	return f, nil
}

// Close stops the stream.
func (f *Feed) Close() error {
	f.cancel()
	<-f.done
	return nil
}

// apply adds the stream's new decisions and removes its deleted ones.
func (f *Feed) apply(r *models.DecisionsStreamResponse) {
	if r == nil {
		return
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulls++
	f.last = now
	for _, d := range r.Deleted {
		if a, p, ok := target(d); ok {
			if a.IsValid() {
				delete(f.ips, a)
			} else {
				delete(f.ranges, p)
			}
		}
	}
	added := 0
	for _, d := range r.New {
		a, p, ok := target(d)
		if !ok || d.Duration == nil {
			continue
		}
		if d.Simulated != nil && *d.Simulated {
			continue
		}
		dur, err := time.ParseDuration(*d.Duration)
		if err != nil || dur <= 0 {
			continue
		}
		dec := store.Decision{Type: f.kind(str(d.Type)), Until: now.Add(dur), Created: now, Origin: "crowdsec",
			Reason: "crowdsec " + str(d.Origin) + ": " + str(d.Scenario), ID: fmt.Sprintf("crowdsec:%d", d.ID)}
		if a.IsValid() {
			dec.Scope, dec.Value = store.ScopeIP, a.String()
			f.ips[a] = dec
		} else {
			dec.Scope, dec.Value = store.ScopeRange, p.String()
			f.ranges[p] = dec
		}
		added++
	}
	if added > 0 || len(r.Deleted) > 0 {
		f.log.Info("crowdsec decisions", "added", added, "deleted", len(r.Deleted), "held", len(f.ips)+len(f.ranges))
	}
}

func (f *Feed) kind(t string) string {
	if k, ok := f.cfg.Types[t]; ok {
		return k
	}
	if t == store.TypeThrottle {
		return store.TypeThrottle
	}
	return store.TypeBan
}

// target parses a decision's scope and value: an address or a network.
func target(d *models.Decision) (netip.Addr, netip.Prefix, bool) {
	if d == nil || d.Scope == nil || d.Value == nil {
		return netip.Addr{}, netip.Prefix{}, false
	}
	v := *d.Value
	switch strings.ToLower(*d.Scope) {
	case "ip":
		if a, err := netip.ParseAddr(v); err == nil {
			return a.Unmap(), netip.Prefix{}, true
		}
		if p, err := netip.ParsePrefix(v); err == nil { // an ip decision on a /32 written as a prefix
			return netip.Addr{}, p.Masked(), true
		}
	case "range":
		if p, err := netip.ParsePrefix(v); err == nil {
			return netip.Addr{}, p.Masked(), true
		}
	}
	return netip.Addr{}, netip.Prefix{}, false
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Lookup returns the active decisions on ip and the ranges holding it.
func (f *Feed) Lookup(ip netip.Addr) []store.Decision {
	if !ip.IsValid() {
		return nil
	}
	ip = ip.Unmap()
	now := f.now()
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []store.Decision
	if d, ok := f.ips[ip]; ok && now.Before(d.Until) {
		out = append(out, d)
	}
	for p, d := range f.ranges {
		if p.Contains(ip) && now.Before(d.Until) {
			out = append(out, d)
		}
	}
	return out
}

// Decisions lists the active decisions the feed holds.
func (f *Feed) Decisions() []store.Decision {
	now := f.now()
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]store.Decision, 0, len(f.ips)+len(f.ranges))
	for _, d := range f.ips {
		if now.Before(d.Until) {
			out = append(out, d)
		}
	}
	for _, d := range f.ranges {
		if now.Before(d.Until) {
			out = append(out, d)
		}
	}
	return out
}

// Status returns the feed's state for the admin API.
func (f *Feed) Status() Status {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return Status{URL: f.cfg.URL, Decisions: len(f.ips) + len(f.ranges), Pulls: f.pulls, LastPull: f.last}
}

// Layer is a store whose decisions are the shared store's plus a feed's:
// the ban stages see CrowdSec's decisions without knowing where they came
// from. Everything else is the shared store.
type Layer struct {
	store.Store
	Feed *Feed
}

// Lookup implements store.Decisions: the store's, then the feed's.
func (l Layer) Lookup(ctx context.Context, keys []string, ip netip.Addr) ([]store.Decision, error) {
	ds, err := l.Store.Lookup(ctx, keys, ip)
	if extra := l.Feed.Lookup(ip); len(extra) > 0 {
		ds = append(ds, extra...)
	}
	return ds, err
}

// Decisions implements store.Decisions: the store's and the feed's.
func (l Layer) Decisions(ctx context.Context) ([]store.Decision, error) {
	ds, err := l.Store.Decisions(ctx)
	if err != nil {
		return nil, err
	}
	return append(ds, l.Feed.Decisions()...), nil
}

// Unwrap returns the shared store.
func (l Layer) Unwrap() store.Store { return l.Store }
