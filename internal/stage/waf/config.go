// Package waf is the signature-detection stage: OWASP CRS through Coraza plus
// libinjection, over every decoded part of the request.
package waf

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/field"
)

// Config is an API's `waf` block: signature detection (OWASP CRS through
// Coraza, libinjection, own detectors) on free-text values. Default: none.
type Config struct {
	// Mode is "block" (default: deny a request whose anomaly score reaches
	// AnomalyThreshold) or "detect" (record a detection event and let the
	// request through, for a safe roll-out).
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// ParanoiaLevel is the OWASP CRS paranoia level, 1 to 4. Higher levels
	// run more rules and catch more, with more false positives. Default 1;
	// zero means 1.
	ParanoiaLevel int `yaml:"paranoia_level,omitempty" json:"paranoia_level,omitempty"`
	// AnomalyThreshold is the inbound anomaly score at which a request is
	// blocked (CRS scoring: critical 5, error 4, warning 3, notice 2; each
	// libinjection or built-in detection counts 5). Default 5; zero means 5.
	AnomalyThreshold int `yaml:"anomaly_threshold,omitempty" json:"anomaly_threshold,omitempty"`
	// Status is the HTTP status of a block. Default 403; zero means 403.
	Status int `yaml:"status,omitempty" json:"status,omitempty"`
	// Libinjection runs libinjection's SQLi and XSS tokenizers on every
	// inspected value (rules "libinjection-sqli", "libinjection-xss").
	// Default true; false turns it off.
	Libinjection *bool `yaml:"libinjection,omitempty" json:"libinjection,omitempty"`
	// Exclusions remove rules or locations from inspection: for the whole
	// API, for one operation, or for one parameter. Default none.
	Exclusions []Exclusion `yaml:"exclusions,omitempty" json:"exclusions,omitempty"`
	// CustomRules is a file of SecLang rules loaded after the CRS, for
	// experts (relative paths are resolved against the config file's
	// directory). Default "": none.
	CustomRules string `yaml:"custom_rules,omitempty" json:"custom_rules,omitempty"`
	// StrictCRS keeps every CRS rule. Default false: the built-in API
	// tuning removes a few CRS rules that fire on ordinary free text in API
	// payloads (code snippets, URLs, protocol names) and whose attacks other
	// rules or Portcullis's own detectors already cover (see APITunedRules).
	StrictCRS bool `yaml:"strict_crs,omitempty" json:"strict_crs,omitempty"`
	// IgnoreHeaders lists extra request header names (case-insensitive)
	// that are not inspected, beyond the built-in list of standard headers
	// whose syntax is fixed (Accept*, Content-Length, Connection,
	// Authorization ...). Default none.
	IgnoreHeaders []string `yaml:"ignore_headers,omitempty" json:"ignore_headers,omitempty"`
	// MaxInspectBytes caps, in bytes, the text of one request that goes
	// through the CRS (every value that is neither inert nor prose, with
	// its decodings). The CRS costs about a millisecond per kilobyte of
	// such text, so without a cap a large body or header of punctuation
	// buys seconds of CPU for one request; over the cap the request is
	// refused with 413 (rule waf.inspect-limit), the way ModSecurity's
	// SecRequestBodyLimitAction Reject does. Libinjection and the built-in
	// detectors read every byte whatever the cap. Default 16KiB; zero
	// means 16KiB; -1 switches the cap off.
	MaxInspectBytes int `yaml:"max_inspect_bytes,omitempty" json:"max_inspect_bytes,omitempty"`
	// ClientBudget charges each client for the CRS inspection it causes:
	// the text of a request beyond free_bytes, in KiB, against a rate
	// per client (principal, else address) kept in the store; a client
	// past it gets 429 before the CRS runs (rule waf.client-budget).
	// Default on: 256 KiB per second, bursts of 1024 KiB, 2 KiB free per
	// request; rate -1 switches it off.
	ClientBudget ClientBudget `yaml:"client_budget,omitempty" json:"client_budget,omitempty"`
}

// DefaultMaxInspectBytes is MaxInspectBytes' default.
const DefaultMaxInspectBytes = 16 << 10

func (c Config) maxInspect() int {
	switch {
	case c.MaxInspectBytes < 0:
		return 0
	case c.MaxInspectBytes == 0:
		return DefaultMaxInspectBytes
	}
	return c.MaxInspectBytes
}

// Exclusion removes rules, or a whole location, from inspection. With
// neither Operation nor Target it applies to the whole API; with only a
// Target and no Rule/Rules/Tags the target is not inspected at all.
type Exclusion struct {
	// Rule is one rule id to remove: a CRS id ("942100") or a built-in
	// one ("libinjection-sqli", "libinjection-xss", "waf.nosql",
	// "waf.ssti", "waf.crlf", "waf.xxe"). Default "".
	Rule string `yaml:"rule,omitempty" json:"rule,omitempty"`
	// Rules are more rule ids, like Rule. Default none.
	Rules []string `yaml:"rules,omitempty" json:"rules,omitempty"`
	// Tags remove every CRS rule carrying one of these tags
	// ("attack-sqli", "paranoia-level/2"). Default none.
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Operation limits the exclusion to one operation: "GET /search" (the
	// OpenAPI path template when the API has a description, else the
	// literal request path) or an operationId. Default "": every operation.
	Operation string `yaml:"operation,omitempty" json:"operation,omitempty"`
	// Target limits the exclusion to one location: "query:q",
	// "header:x-note", "cookie:prefs", "path:id", "body:/comment". A '*'
	// matches one segment ("body:/items/*/text"). Default "": every
	// location.
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
}

// ruleIDs returns Rule and Rules together.
func (e Exclusion) ruleIDs() []string {
	if e.Rule == "" {
		return e.Rules
	}
	return append([]string{e.Rule}, e.Rules...)
}

// Defaults.
const (
	DefaultParanoiaLevel    = 1
	DefaultAnomalyThreshold = 5
	DefaultStatus           = http.StatusForbidden
)

// Mode values.
const (
	ModeBlock  = "block"
	ModeDetect = "detect"
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeBlock
	}
	if c.ParanoiaLevel == 0 {
		c.ParanoiaLevel = DefaultParanoiaLevel
	}
	if c.AnomalyThreshold == 0 {
		c.AnomalyThreshold = DefaultAnomalyThreshold
	}
	if c.Status == 0 {
		c.Status = DefaultStatus
	}
	c.ClientBudget = c.ClientBudget.withDefaults()
	return c
}

// libinjection reports whether libinjection is on.
func (c Config) libinjection() bool { return c.Libinjection == nil || *c.Libinjection }

// Validate reports problems with the block.
func (c Config) Validate() field.List {
	var errs field.List
	switch c.Mode {
	case "", ModeBlock, ModeDetect:
	default:
		errs = append(errs, field.Errorf("mode", "%q is not a mode (expected block or detect)", c.Mode))
	}
	if c.ParanoiaLevel < 0 || c.ParanoiaLevel > 4 {
		errs = append(errs, field.Errorf("paranoia_level", "%d is outside 1-4", c.ParanoiaLevel))
	}
	if c.AnomalyThreshold < 0 {
		errs = append(errs, field.Errorf("anomaly_threshold", "%d is negative", c.AnomalyThreshold))
	}
	if c.Status != 0 && (c.Status < 400 || c.Status > 599) {
		errs = append(errs, field.Errorf("status", "%d is not a 4xx or 5xx status", c.Status))
	}
	errs = append(errs, c.ClientBudget.validate()...)
	for i, e := range c.Exclusions {
		p := "exclusions[" + strconv.Itoa(i) + "]"
		ids := e.ruleIDs()
		if len(ids) == 0 && len(e.Tags) == 0 && e.Target == "" {
			errs = append(errs, field.Errorf(p, "needs rule, rules, tags or target"))
		}
		for _, id := range ids {
			if !validRuleID(id) {
				errs = append(errs, field.Errorf(p+".rule", "%q is not a CRS rule id or a built-in rule", id))
			}
		}
		if e.Target != "" && !validTarget(e.Target) {
			errs = append(errs, field.Errorf(p+".target", "%q is not a location (expected query:NAME, header:NAME, cookie:NAME, path:NAME or body:/pointer)", e.Target))
		}
		if e.Operation != "" && strings.ContainsAny(e.Operation, "\r\n") {
			errs = append(errs, field.Errorf(p+".operation", "contains a line break"))
		}
	}
	return errs
}

// builtinRules are the rule ids Portcullis itself raises.
var builtinRules = map[string]bool{
	RuleSQLi: true, RuleXSS: true, RuleXXE: true, RuleNoSQL: true,
	RuleSSTI: true, RuleCRLF: true, RuleBodyParse: true, RuleCustom: true, RuleInspectLimit: true, RuleJunk: true, RuleSQLi2: true,
}

func validRuleID(id string) bool {
	if builtinRules[id] {
		return true
	}
	n, err := strconv.Atoi(id)
	return err == nil && n > 0
}

func validTarget(t string) bool {
	kind, name, ok := strings.Cut(t, ":")
	if !ok || name == "" {
		return kind == "path"
	}
	switch kind {
	case "query", "header", "cookie", "path":
		return true
	case "body":
		return strings.HasPrefix(name, "/")
	}
	return false
}
