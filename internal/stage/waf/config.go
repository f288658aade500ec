// Package waf is the signature-detection stage: OWASP CRS through Coraza plus
// libinjection, over every decoded part of the request.
package waf

// Config is an API's `waf` block.
type Config struct {
	// Mode is "block" (default) or "detect".
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
}
