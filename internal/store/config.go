package store

import (
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/field"
)

// Fallback modes: what a node does while Redis is unreachable.
const (
	// FallbackLocal serves limits, quotas, bans and nonces from this
	// node's memory until Redis is back. Limits then apply per node (a
	// fleet of N nodes admits up to N times a limit) but nothing fails.
	FallbackLocal = "local"
	// FallbackClosed makes every store operation fail, so the stages that
	// need the store refuse requests (503) until Redis is back.
	FallbackClosed = "closed"
)

// Defaults of the store block.
const (
	DefaultKeyPrefix    = "portcullis:"
	DefaultDialTimeout  = time.Second
	DefaultTimeout      = 250 * time.Millisecond
	DefaultPingInterval = time.Second
)

// Config is the global `store` block: where shared state lives.
type Config struct {
	// URL is "memory" (default: this node only) or a Redis URL:
	// "redis://[[user]:password@]host:6379/0" or "rediss://..." for TLS.
	// The path is the database number (default 0). Use ${ENV} or file:
	// references for the password. Empty means "memory".
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// KeyPrefix is put in front of every Redis key, so that several
	// gateways (or other programs) can share one Redis. Default
	// "portcullis:". Ignored by the memory store.
	KeyPrefix string `yaml:"key_prefix,omitempty" json:"key_prefix,omitempty"`
	// DialTimeout bounds connecting to Redis. Default 1s; zero means the
	// default.
	DialTimeout time.Duration `yaml:"dial_timeout,omitempty" json:"dial_timeout,omitempty"`
	// Timeout bounds one Redis command (read and write). A request never
	// waits longer than this for a limit decision: past it the node falls
	// back. Default 250ms; zero means the default.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// PoolSize is the number of Redis connections per node. Default (0):
	// 10 per CPU.
	PoolSize int `yaml:"pool_size,omitempty" json:"pool_size,omitempty"`
	// CAFile is a PEM file of certificate authorities that sign the Redis
	// server's certificate (rediss:// only). Default "": the system roots.
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// Fallback is what a node does while Redis is unreachable: "local"
	// (default: serve from this node's memory, emit a store.fallback event
	// and set portcullis_store_fallback to 1) or "closed" (refuse requests
	// that need the store with 503).
	Fallback string `yaml:"fallback,omitempty" json:"fallback,omitempty"`
	// PingInterval is how often a node checks Redis, to notice an outage
	// before a request does and to return to Redis by itself once it is
	// back. Default 1s; zero means the default.
	PingInterval time.Duration `yaml:"ping_interval,omitempty" json:"ping_interval,omitempty"`
}

// IsRedis reports whether the config names a Redis URL.
func (c Config) IsRedis() bool {
	return strings.HasPrefix(c.URL, "redis://") || strings.HasPrefix(c.URL, "rediss://")
}

// Validate checks the block.
func (c Config) Validate() field.List {
	var l field.List
	switch {
	case c.URL == "" || c.URL == "memory":
	case c.IsRedis():
		if _, err := url.Parse(c.URL); err != nil {
			l = append(l, field.Errorf("url", "not a valid Redis URL"))
		}
	default:
		l = append(l, field.Errorf("url", "must be \"memory\" or a redis:// or rediss:// URL"))
	}
	switch c.Fallback {
	case "", FallbackLocal, FallbackClosed:
	default:
		l = append(l, field.Errorf("fallback", "%q is not one of local, closed", c.Fallback))
	}
	if c.CAFile != "" && !strings.HasPrefix(c.URL, "rediss://") {
		l = append(l, field.Errorf("ca_file", "only applies to a rediss:// URL"))
	}
	return l
}

func (c Config) withDefaults() Config {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.Fallback == "" {
		c.Fallback = FallbackLocal
	}
	return c
}
