// Package alert turns security events into alerts: rules in config count
// matching events per group (client or API) over a window and fire once
// per window when a threshold is reached; built-in rules watch for events
// dropped, failed reloads, store fallback, expiring certificates and
// denial spikes. Alerts go to webhooks (generic JSON or Slack-compatible)
// signed with HMAC-SHA256, retried with exponential backoff, deduplicated
// by id, and rate-limited per rule. Nothing here ever blocks a request:
// the engine is an events.Sink (it runs on the bus's goroutine), and each
// webhook has its own bounded queue and sender.
package alert

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/field"
)

// Defaults of the alerts block.
const (
	DefaultWindow       = time.Minute
	DefaultThreshold    = 1
	DefaultMaxAlerts    = 10
	DefaultRatePeriod   = time.Hour
	DefaultTimeout      = 5 * time.Second
	DefaultMaxRetries   = 5
	DefaultBackoff      = time.Second
	DefaultMaxBackoff   = time.Minute
	DefaultQueueSize    = 256
	DefaultCertWarn     = 14 * 24 * time.Hour
	DefaultSpikeCount   = 100
	DefaultSpikeWindow  = time.Minute
	DefaultSampleEvents = 5
)

// Webhook formats.
const (
	FormatJSON  = "json"
	FormatSlack = "slack"
)

// Group-by keys.
const (
	GroupNone   = "none"
	GroupClient = "client"
	GroupAPI    = "api"
)

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>">" when the webhook has a secret. Receivers recompute it and
// refuse stale timestamps, so a captured alert cannot be replayed later.
const SignatureHeader = "X-Portcullis-Signature"

// IDHeader carries the alert id, the same on every retry, so that a
// receiver can drop duplicates.
const IDHeader = "X-Portcullis-Alert-Id"

// Config is the top-level `alerts` block.
type Config struct {
	// Webhooks are where alerts are sent. Default: none (alerts are only
	// events, logged and counted).
	Webhooks []Webhook `yaml:"webhooks,omitempty" json:"webhooks,omitempty"`
	// Rules are the alert rules. Default: none (the built-in rules still
	// apply).
	Rules []Rule `yaml:"rules,omitempty" json:"rules,omitempty"`
	// Builtin tunes the built-in rules.
	Builtin Builtin `yaml:"builtin,omitempty" json:"builtin,omitempty"`
}

// Webhook is one alert receiver.
type Webhook struct {
	// Name identifies the webhook in rules, metrics and logs. Required,
	// unique.
	Name string `yaml:"name" json:"name"`
	// URL receives a POST per alert. Required (http or https).
	URL string `yaml:"url" json:"url"`
	// Format is "json" (default: the alert as a JSON object) or "slack"
	// (a Slack incoming-webhook message: {"text": ...}).
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
	// Secret signs each body with HMAC-SHA256 into the
	// X-Portcullis-Signature header; use ${ENV} or file:PATH. Default "":
	// unsigned.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// Timeout bounds one delivery attempt. Default 5s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// MaxRetries is how many times a failed delivery is retried. Default
	// 5; negative means never retry.
	MaxRetries int `yaml:"max_retries,omitempty" json:"max_retries,omitempty"`
	// Backoff is the wait before the first retry; it doubles on each
	// retry up to MaxBackoff. Default 1s.
	Backoff time.Duration `yaml:"backoff,omitempty" json:"backoff,omitempty"`
	// MaxBackoff caps the wait between retries. Default 1m.
	MaxBackoff time.Duration `yaml:"max_backoff,omitempty" json:"max_backoff,omitempty"`
	// QueueSize is how many alerts may wait for delivery; more are
	// dropped and counted. Default 256.
	QueueSize int `yaml:"queue_size,omitempty" json:"queue_size,omitempty"`
}

// Match selects events. Empty fields match anything.
type Match struct {
	// Type is an event type ("denial", "detection", "malformed", ...).
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Stage is a stage id ("waf", "authn").
	Stage string `yaml:"stage,omitempty" json:"stage,omitempty"`
	// Rule is a rule id the event must carry ("942100").
	Rule string `yaml:"rule,omitempty" json:"rule,omitempty"`
	// Severity is the lowest severity that matches ("high" matches high
	// and critical).
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
	// API is an API name.
	API string `yaml:"api,omitempty" json:"api,omitempty"`
}

// Rule is one alert rule: when Threshold events that Match arrive within
// Window for one group, an alert is sent, once per window and group.
type Rule struct {
	// Name identifies the rule in alerts and metrics. Required, unique.
	Name string `yaml:"name" json:"name"`
	// Match selects the events the rule counts.
	Match Match `yaml:"match,omitempty" json:"match,omitempty"`
	// Threshold is how many matching events fire the alert. Default 1.
	Threshold int `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	// Window is the counting window (tumbling, from a group's first
	// event). Default 1m.
	Window time.Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// GroupBy counts per "client" (the client address), per "api", or
	// "none" (default: all events together).
	GroupBy string `yaml:"group_by,omitempty" json:"group_by,omitempty"`
	// Severity is the alert's severity. Default: the highest severity
	// among the counted events.
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty"`
	// Webhooks names the webhooks to send to. Default: all of them.
	Webhooks []string `yaml:"webhooks,omitempty" json:"webhooks,omitempty"`
	// MaxAlerts caps how many alerts the rule sends per RatePeriod (all
	// groups together); past it alerts are counted as suppressed and the
	// next alert sent says how many. Default 10.
	MaxAlerts int `yaml:"max_alerts,omitempty" json:"max_alerts,omitempty"`
	// RatePeriod is the period of MaxAlerts. Default 1h.
	RatePeriod time.Duration `yaml:"rate_period,omitempty" json:"rate_period,omitempty"`
}

// Builtin tunes the built-in rules: events-dropped, reload-failed,
// store-fallback, certificate-expiring, denial-spike.
type Builtin struct {
	// Disabled lists built-in rules to turn off by name. Default: none.
	Disabled []string `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	// CertificateWarning fires certificate-expiring when a listener's
	// certificate expires within this. Default 336h (14 days).
	CertificateWarning time.Duration `yaml:"certificate_warning,omitempty" json:"certificate_warning,omitempty"`
	// DenialSpike fires denial-spike when this many denials arrive within
	// DenialSpikeWindow (all clients and APIs together). Default 100.
	DenialSpike int `yaml:"denial_spike,omitempty" json:"denial_spike,omitempty"`
	// DenialSpikeWindow is the window of DenialSpike. Default 1m.
	DenialSpikeWindow time.Duration `yaml:"denial_spike_window,omitempty" json:"denial_spike_window,omitempty"`
}

// Built-in rule names.
const (
	BuiltinEventsDropped = "events-dropped"
	BuiltinReloadFailed  = "reload-failed"
	BuiltinStoreFallback = "store-fallback"
	BuiltinCertExpiring  = "certificate-expiring"
	BuiltinDenialSpike   = "denial-spike"
)

var builtinNames = []string{BuiltinEventsDropped, BuiltinReloadFailed, BuiltinStoreFallback, BuiltinCertExpiring, BuiltinDenialSpike}

var severities = []string{"info", "low", "medium", "high", "critical"}

func severityRank(s string) int { return slices.Index(severities, s) }

// Validate checks the block.
func (c *Config) Validate() field.List {
	var l field.List
	hooks := map[string]bool{}
	for i, w := range c.Webhooks {
		p := fmt.Sprintf("webhooks[%d]", i)
		switch {
		case w.Name == "":
			l = append(l, field.Errorf(p+".name", "name is required"))
		case hooks[w.Name]:
			l = append(l, field.Errorf(p+".name", "duplicate webhook name %q", w.Name))
		}
		hooks[w.Name] = true
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l = append(l, field.Errorf(p+".url", "%q is not an http or https URL", w.URL))
		}
		switch w.Format {
		case "", FormatJSON, FormatSlack:
		default:
			l = append(l, field.Errorf(p+".format", "%q is not a format (expected \"json\" or \"slack\")", w.Format))
		}
		for name, d := range map[string]time.Duration{"timeout": w.Timeout, "backoff": w.Backoff, "max_backoff": w.MaxBackoff} {
			if d < 0 {
				l = append(l, field.Errorf(p+"."+name, "must not be negative"))
			}
		}
		if w.QueueSize < 0 {
			l = append(l, field.Errorf(p+".queue_size", "must not be negative"))
		}
	}
	rules := map[string]bool{}
	for _, b := range builtinNames {
		rules[b] = true
	}
	for i, r := range c.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		switch {
		case r.Name == "":
			l = append(l, field.Errorf(p+".name", "name is required"))
		case rules[r.Name]:
			l = append(l, field.Errorf(p+".name", "duplicate rule name %q (built-in names are taken too)", r.Name))
		}
		rules[r.Name] = true
		switch r.GroupBy {
		case "", GroupNone, GroupClient, GroupAPI:
		default:
			l = append(l, field.Errorf(p+".group_by", "%q is not a group (expected \"client\", \"api\" or \"none\")", r.GroupBy))
		}
		for _, sv := range []struct{ path, v string }{{p + ".severity", r.Severity}, {p + ".match.severity", r.Match.Severity}} {
			if sv.v != "" && severityRank(sv.v) < 0 {
				l = append(l, field.Errorf(sv.path, "%q is not a severity (expected one of %v)", sv.v, severities))
			}
		}
		if r.Threshold < 0 || r.MaxAlerts < 0 {
			l = append(l, field.Errorf(p, "threshold and max_alerts must not be negative"))
		}
		if r.Window < 0 || r.RatePeriod < 0 {
			l = append(l, field.Errorf(p, "window and rate_period must not be negative"))
		}
		for j, w := range r.Webhooks {
			if !hooks[w] {
				l = append(l, field.Errorf(fmt.Sprintf("%s.webhooks[%d]", p, j), "no webhook is named %q", w))
			}
		}
	}
	for i, d := range c.Builtin.Disabled {
		if !slices.Contains(builtinNames, d) {
			l = append(l, field.Errorf(fmt.Sprintf("builtin.disabled[%d]", i), "%q is not a built-in rule (expected one of %v)", d, builtinNames))
		}
	}
	if c.Builtin.DenialSpike < 0 || c.Builtin.DenialSpikeWindow < 0 || c.Builtin.CertificateWarning < 0 {
		l = append(l, field.Errorf("builtin", "values must not be negative"))
	}
	return l
}
