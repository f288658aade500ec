package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options are the process services Open hands to the store it opens.
type Options struct {
	// Now is the clock of every limit, quota, expiry and ban. Nil uses
	// time.Now.
	Now func() time.Time
	// OnChange is called whenever a Redis store switches to its fallback
	// or back (see FallbackOptions.OnChange). Nil does nothing.
	OnChange func(Status)
}

// Open opens the store cfg names: a Memory store for "" or "memory", and
// for a redis:// or rediss:// URL a Redis store wrapped in a Fallback (see
// Config.Fallback). An unreachable Redis is not an error: the store starts
// in fallback and switches to Redis once it answers. A bad URL or CA file
// is.
func Open(cfg Config, o Options) (Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if cfg.URL == "" || cfg.URL == "memory" {
		return NewMemory(o.Now), nil
	}
	if !cfg.IsRedis() {
		return nil, errors.New("store url: must be \"memory\" or a redis:// or rediss:// URL")
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("store: %w", errs[0])
	}
	cfg = cfg.withDefaults()
	ro, err := redis.ParseURL(cfg.URL)
	if err != nil {
		// The URL may carry a password: never echo it.
		return nil, errors.New("store url: not a valid Redis URL")
	}
	ro.DialTimeout = cfg.DialTimeout
	ro.ReadTimeout = cfg.Timeout
	ro.WriteTimeout = cfg.Timeout
	ro.PoolTimeout = cfg.Timeout
	// Fail fast instead of retrying into the request's latency: the
	// fallback store answers the retry locally.
	ro.MaxRetries = -1
	if cfg.PoolSize > 0 {
		ro.PoolSize = cfg.PoolSize
	}
	if ro.TLSConfig != nil {
		ro.TLSConfig.MinVersion = tls.VersionTLS12
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("store ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("store ca_file %s: no PEM certificates", cfg.CAFile)
			}
			ro.TLSConfig.RootCAs = pool
		}
	}
	r := NewRedis(redis.NewClient(ro), cfg.KeyPrefix, o.Now)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout+cfg.Timeout)
	startErr := r.Ping(ctx)
	cancel()
	return NewFallback(r, FallbackOptions{
		Mode:         cfg.Fallback,
		PingInterval: cfg.PingInterval,
		PingTimeout:  cfg.DialTimeout + cfg.Timeout,
		Now:          o.Now,
		OnChange:     o.OnChange,
	}, startErr), nil
}
