package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/openapi"
)

// Config is the `detect` block: behavioural detectors that watch what a
// client, a principal or an account does across many requests, counted in
// the shared store so that they hold across nodes. A detector is on when
// its block is present. The top-level block applies to every API; an API's
// own block replaces it for that API.
type Config struct {
	// Recon counts bursts of error answers (401, 404, 405 by default) per
	// client: an API being mapped. Stage id detect.recon.
	Recon *Recon `yaml:"recon,omitempty" json:"recon,omitempty"`
	// Undeclared counts distinct paths and methods the API's description
	// (or declared operations) does not have, per client. Stage id
	// detect.undeclared.
	Undeclared *Rule `yaml:"undeclared,omitempty" json:"undeclared,omitempty"`
	// Sequence finds sequential probing: one client walking numeric ids
	// in a path (/orders/1001, /orders/1002, ...). Stage id
	// detect.sequence.
	Sequence *Sequence `yaml:"sequence,omitempty" json:"sequence,omitempty"`
	// Stuffing counts failed authentications for distinct accounts from
	// one client (credential stuffing). Stage id detect.stuffing.
	Stuffing *Rule `yaml:"stuffing,omitempty" json:"stuffing,omitempty"`
	// BruteForce counts distinct clients failing to authenticate as one
	// account (distributed brute force). Stage id detect.bruteforce.
	BruteForce *Rule `yaml:"bruteforce,omitempty" json:"bruteforce,omitempty"`
	// Sharing counts distinct clients using one principal or API key
	// (a shared or stolen credential). Stage id detect.sharing.
	Sharing *Sharing `yaml:"sharing,omitempty" json:"sharing,omitempty"`
	// Volume compares a principal's or API key's requests per bucket with
	// its own moving baseline (a scraper that stays under a flat rate
	// limit). Stage id detect.volume.
	Volume *Volume `yaml:"volume,omitempty" json:"volume,omitempty"`
	// Stages counts the distinct stages that refused one client (the same
	// client tripping the WAF, validation, authorization...). Stage id
	// detect.stages.
	Stages *StagesRule `yaml:"stages,omitempty" json:"stages,omitempty"`
	// Logins names the API's login operations, whose failed answers count
	// as failed authentications (with the account read from the request)
	// for stuffing and bruteforce, as authn's own refusals do. A login
	// refused by a rate limit (login throttling) counts as failed too.
	Logins []Login `yaml:"logins,omitempty" json:"logins,omitempty"`
}

// Rule is what every detector has: a threshold within a window for one
// group key, and the action taken when it is reached.
type Rule struct {
	// Threshold is the count that trips the detector within Window (the
	// detector fires on the sighting that reaches it, once per Window and
	// key across all nodes). Default per detector (docs/detect.md).
	Threshold int `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	// Window is the sliding window counted over. Default per detector.
	Window time.Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// Key is what is counted per: "ip" (the client address, IPv6 by /64),
	// "principal", "apikey" or "account" (the account a failed login
	// named). Default per detector; each accepts the keys that make sense
	// for it.
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
	// Action is what a detection does: "log" (an event), "alert" (a high
	// severity event, for the alert sinks), "throttle" or "ban" (an event
	// and a decision on the key, enforced by the ban stages: needs a bans
	// block). Default per detector.
	Action string `yaml:"action,omitempty" json:"action,omitempty"`
	// Duration is the first decision's length for throttle and ban;
	// repeat offenders get it escalated by bans.multiplier. Zero uses
	// bans.duration.
	Duration time.Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
}

// Recon is the recon detector's block.
type Recon struct {
	Rule `yaml:",inline"`
	// Statuses are the answers counted. Default [401, 404, 405].
	Statuses []int `yaml:"statuses,omitempty" json:"statuses,omitempty"`
}

// Sequence is the sequence detector's block.
type Sequence struct {
	Rule `yaml:",inline"`
	// MaxGap is the largest step between two ids that still continues a
	// run. Default 1 (consecutive ids).
	MaxGap int `yaml:"max_gap,omitempty" json:"max_gap,omitempty"`
}

// Sharing is the sharing detector's block.
type Sharing struct {
	Rule `yaml:",inline"`
	// Tiers sets the threshold per principal tier (the API key's tier or
	// the tier claim): how many clients a profile may use. Others use
	// Threshold.
	Tiers map[string]int `yaml:"tiers,omitempty" json:"tiers,omitempty"`
}

// Volume is the volume detector's block.
type Volume struct {
	Rule `yaml:",inline"`
	// Bucket is the period requests are counted in. Default 1m.
	Bucket time.Duration `yaml:"bucket,omitempty" json:"bucket,omitempty"`
	// Alpha is the weight of the newest bucket in the moving average
	// (EWMA), between 0 and 1. Default 0.1 (about the last 10 buckets).
	Alpha float64 `yaml:"alpha,omitempty" json:"alpha,omitempty"`
	// Factor is how many times its baseline a bucket must reach to be an
	// anomaly. Default 4.
	Factor float64 `yaml:"factor,omitempty" json:"factor,omitempty"`
	// Floor is the least requests in a bucket that can be an anomaly,
	// whatever the baseline (a quiet principal's 3 requests are not a
	// burst). Default 100.
	Floor int `yaml:"floor,omitempty" json:"floor,omitempty"`
	// Warmup is how many past buckets a key needs before it can be
	// judged. Default 5.
	Warmup int `yaml:"warmup,omitempty" json:"warmup,omitempty"`
}

// StagesRule is the cross-stage detector's block.
type StagesRule struct {
	Rule `yaml:",inline"`
	// Count lists the stages whose refusals count. Default [ipfilter,
	// limits.request, authz, validate, waf, listener.malformed,
	// limits.normalize].
	Count []string `yaml:"count,omitempty" json:"count,omitempty"`
}

// Login is one login operation.
type Login struct {
	// Operation is the login operation ("POST /login"), as the API's
	// description or declared operations write it.
	Operation string `yaml:"operation" json:"operation"`
	// Account is where the account name is: "body:/json/pointer",
	// "form:NAME" (an urlencoded body), "query:NAME" or "header:NAME".
	Account string `yaml:"account" json:"account"`
	// Failure are the answers that mean the login failed. Default [401,
	// 403]. A 429 (login throttling) always counts.
	Failure []int `yaml:"failure,omitempty" json:"failure,omitempty"`
}

// Actions.
const (
	ActionLog      = "log"
	ActionAlert    = "alert"
	ActionThrottle = "throttle"
	ActionBan      = "ban"
)

// Keys.
const (
	KeyIP        = "ip"
	KeyPrincipal = "principal"
	KeyAPIKey    = "apikey"
	KeyAccount   = "account"
)

// defaults per detector: threshold, window, key, action.
var defaults = map[string]Rule{
	"recon":      {Threshold: 20, Window: time.Minute, Key: KeyIP, Action: ActionBan},
	"undeclared": {Threshold: 10, Window: time.Minute, Key: KeyIP, Action: ActionBan},
	"sequence":   {Threshold: 20, Window: time.Minute, Key: KeyIP, Action: ActionAlert},
	"stuffing":   {Threshold: 10, Window: 10 * time.Minute, Key: KeyIP, Action: ActionBan},
	"bruteforce": {Threshold: 10, Window: 10 * time.Minute, Key: KeyAccount, Action: ActionAlert},
	"sharing":    {Threshold: 5, Window: 10 * time.Minute, Key: KeyPrincipal, Action: ActionAlert},
	"volume":     {Key: KeyPrincipal, Action: ActionThrottle},
	"stages":     {Threshold: 3, Window: 10 * time.Minute, Key: KeyIP, Action: ActionBan},
}

// keys each detector accepts.
var allowedKeys = map[string][]string{
	"recon":      {KeyIP, KeyPrincipal, KeyAPIKey},
	"undeclared": {KeyIP, KeyPrincipal, KeyAPIKey},
	"sequence":   {KeyIP, KeyPrincipal, KeyAPIKey},
	"stuffing":   {KeyIP},
	"bruteforce": {KeyAccount},
	"sharing":    {KeyPrincipal, KeyAPIKey},
	"volume":     {KeyPrincipal, KeyAPIKey},
	"stages":     {KeyIP, KeyPrincipal, KeyAPIKey},
}

// withDefaults fills r's zero fields from the detector's defaults.
func (r Rule) withDefaults(name string) Rule {
	d := defaults[name]
	if r.Threshold <= 0 {
		r.Threshold = d.Threshold
	}
	if r.Window <= 0 {
		r.Window = d.Window
	}
	if r.Key == "" {
		r.Key = d.Key
	}
	if r.Action == "" {
		r.Action = d.Action
	}
	return r
}

func (r Rule) validate(name string) field.List {
	var l field.List
	if r.Threshold < 0 {
		l = append(l, field.Errorf("threshold", "must not be negative"))
	}
	if r.Window < 0 || r.Duration < 0 {
		l = append(l, field.Errorf("window", "window and duration must not be negative"))
	}
	if r.Key != "" && !contains(allowedKeys[name], r.Key) {
		l = append(l, field.Errorf("key", "%q is not one of %s", r.Key, strings.Join(allowedKeys[name], ", ")))
	}
	switch r.Action {
	case "", ActionLog, ActionAlert, ActionThrottle, ActionBan:
	default:
		l = append(l, field.Errorf("action", "%q is not one of log, alert, throttle, ban", r.Action))
	}
	return l
}

func contains[T comparable](l []T, v T) bool {
	for _, e := range l {
		if e == v {
			return true
		}
	}
	return false
}

// Validate checks the block.
func (c Config) Validate() field.List {
	var l field.List
	for name, r := range c.rules() {
		l = append(l, r.validate(name).Prefix(name)...)
	}
	if v := c.Volume; v != nil {
		if v.Alpha < 0 || v.Alpha > 1 {
			l = append(l, field.Errorf("volume.alpha", "%v is not between 0 and 1", v.Alpha))
		}
		if v.Factor < 0 || v.Floor < 0 || v.Warmup < 0 || v.Bucket < 0 {
			l = append(l, field.Errorf("volume", "bucket, factor, floor and warmup must not be negative"))
		}
	}
	if s := c.Sequence; s != nil && s.MaxGap < 0 {
		l = append(l, field.Errorf("sequence.max_gap", "must not be negative"))
	}
	for i, lg := range c.Logins {
		p := fmt.Sprintf("logins[%d]", i)
		if _, _, err := openapi.ParseOperationKey(lg.Operation); err != nil {
			l = append(l, field.Errorf(p+".operation", "%v", err))
		}
		kind, name, _ := strings.Cut(lg.Account, ":")
		switch {
		case name == "":
			l = append(l, field.Errorf(p+".account", "%q is not one of body:/pointer, form:NAME, query:NAME, header:NAME", lg.Account))
		case kind == "body" && !strings.HasPrefix(name, "/"):
			l = append(l, field.Errorf(p+".account", "a body location is a JSON pointer: body:/username"))
		case kind != "body" && kind != "form" && kind != "query" && kind != "header":
			l = append(l, field.Errorf(p+".account", "%q is not one of body:/pointer, form:NAME, query:NAME, header:NAME", lg.Account))
		}
	}
	return l
}

// rules returns the configured detectors' rules by name.
func (c Config) rules() map[string]Rule {
	m := map[string]Rule{}
	if c.Recon != nil {
		m["recon"] = c.Recon.Rule
	}
	if c.Undeclared != nil {
		m["undeclared"] = *c.Undeclared
	}
	if c.Sequence != nil {
		m["sequence"] = c.Sequence.Rule
	}
	if c.Stuffing != nil {
		m["stuffing"] = *c.Stuffing
	}
	if c.BruteForce != nil {
		m["bruteforce"] = *c.BruteForce
	}
	if c.Sharing != nil {
		m["sharing"] = c.Sharing.Rule
	}
	if c.Volume != nil {
		m["volume"] = c.Volume.Rule
	}
	if c.Stages != nil {
		m["stages"] = c.Stages.Rule
	}
	return m
}

// OperationKeys implements pipeline.OperationNamer: the login operations.
func (c *Config) OperationKeys() []string {
	var out []string
	for _, l := range c.Logins {
		out = append(out, l.Operation)
	}
	return out
}
