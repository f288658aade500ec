// Package ratelimit is the abuse-protection stage: GCRA rate limits, quotas,
// concurrency caps, load shedding and auto-bans, shared across nodes through
// the store.
package ratelimit

// Config is an API's `ratelimit` block.
type Config struct {
	// Limits are the API's rate limits. Default none.
	Limits []Limit `yaml:"limits,omitempty" json:"limits,omitempty"`
}

// Limit is one rate limit.
type Limit struct {
	// Rate is the number of requests per Period. Required.
	Rate int64 `yaml:"rate" json:"rate"`
}

// BanConfig is the global `bans` block (auto-ban).
type BanConfig struct {
	// Threshold is how many security events from one client within Window
	// ban it. Zero (default) turns auto-ban off.
	Threshold int `yaml:"threshold,omitempty" json:"threshold,omitempty"`
}
