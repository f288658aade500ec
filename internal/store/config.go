package store

// Config is the global `store` block: where shared state lives.
type Config struct {
	// URL is "memory" (default: this node only) or a Redis URL
	// ("redis://[:password@]host:6379/0", "rediss://..." for TLS).
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
}
