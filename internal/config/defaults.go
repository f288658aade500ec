package config

import (
	"os"
	"time"

	"github.com/portcullis/portcullis/internal/units"
)

// Defaults stated in the field docs of config.go. Stage blocks (ipfilter,
// limits) are not filled here: their packages own their defaults.
const (
	DefaultListenAddr            = "127.0.0.1:8080"
	DefaultAdminAddr             = "127.0.0.1:9901"
	DefaultReadHeaderTimeout     = 10 * time.Second
	DefaultReadTimeout           = 60 * time.Second
	DefaultIdleTimeout           = 120 * time.Second
	DefaultMaxHeaderBytes        = 64 * units.Bytes(1<<10)
	DefaultShutdownTimeout       = 30 * time.Second
	DefaultGCPercent             = 400
	DefaultHSTSMaxAge            = 8760 * time.Hour
	DefaultTLSMinVersion         = "1.2"
	DefaultClientAuth            = "required"
	DefaultLogAccess             = "stdout"
	DefaultLogAccessBuffer       = 64 * units.Bytes(1<<10)
	DefaultLogAccessFlush        = time.Second
	DefaultLogLevel              = "info"
	DefaultEventsQueueSize       = 4096
	DefaultEventsClientBurst     = 200
	DefaultEventsClientRate      = 20.0
	DefaultPathPrefix            = "/"
	DefaultConnectTimeout        = 5 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultMaxIdleConnsPerHost   = 64
	DefaultHealthPath            = "/healthz"
	DefaultHealthInterval        = 10 * time.Second
	DefaultHealthTimeout         = 2 * time.Second
	DefaultHealthyThreshold      = 2
	DefaultUnhealthyThreshold    = 3
	DefaultBreakerFailures       = 5
	DefaultBreakerOpenFor        = 30 * time.Second
	DefaultSessionTTL            = 8 * time.Hour
	DefaultRecentEvents          = 2000
	DefaultRecentAccess          = 2000
)

// WithDefaults fills every zero field of c (outside stage blocks) with the
// default its doc comment states, in place, and returns c. Optional blocks
// that are nil (a listener's tls, an upstream's tls and health_check) stay
// nil; the fields of those that are set get their defaults. Calling it
// again changes nothing. Load calls it.
func (c *Config) WithDefaults() *Config {
	if len(c.Listeners) == 0 {
		c.Listeners = []Listener{{Addr: DefaultListenAddr}}
	}
	for i := range c.Listeners {
		if t := c.Listeners[i].TLS; t != nil {
			setDefault(&t.MinVersion, DefaultTLSMinVersion)
			if t.ClientCA != "" {
				setDefault(&t.ClientAuth, DefaultClientAuth)
			}
		}
	}
	s := &c.Server
	setDefault(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&s.ReadTimeout, DefaultReadTimeout)
	setDefault(&s.IdleTimeout, DefaultIdleTimeout)
	setDefault(&s.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&s.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&s.GCPercent, DefaultGCPercent)
	setDefault(&s.HSTS.MaxAge, DefaultHSTSMaxAge)
	setDefault(&c.Admin.Addr, DefaultAdminAddr)
	setDefault(&c.Log.Access, DefaultLogAccess)
	setDefault(&c.Log.AccessBuffer, DefaultLogAccessBuffer)
	setDefault(&c.Log.AccessFlush, DefaultLogAccessFlush)
	setDefault(&c.Log.Level, DefaultLogLevel)
	setDefault(&c.Events.QueueSize, DefaultEventsQueueSize)
	setDefault(&c.Events.ClientBurst, DefaultEventsClientBurst)
	setDefault(&c.Events.ClientRate, DefaultEventsClientRate)
	setDefault(&c.Events.RecentEvents, DefaultRecentEvents)
	setDefault(&c.Events.RecentAccess, DefaultRecentAccess)
	setDefault(&c.Admin.SessionTTL, DefaultSessionTTL)
	if c.Events.Node == "" {
		c.Events.Node, _ = os.Hostname()
	}
	for i := range c.APIs {
		a := &c.APIs[i]
		setDefault(&a.PathPrefix, DefaultPathPrefix)
		u := &a.Upstream
		setDefault(&u.ConnectTimeout, DefaultConnectTimeout)
		setDefault(&u.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
		setDefault(&u.IdleConnTimeout, DefaultIdleConnTimeout)
		setDefault(&u.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)
		if h := u.HealthCheck; h != nil {
			setDefault(&h.Path, DefaultHealthPath)
			setDefault(&h.Interval, DefaultHealthInterval)
			setDefault(&h.Timeout, DefaultHealthTimeout)
			setDefault(&h.HealthyThreshold, DefaultHealthyThreshold)
			setDefault(&h.UnhealthyThreshold, DefaultUnhealthyThreshold)
		}
		setDefault(&u.CircuitBreaker.Failures, DefaultBreakerFailures)
		setDefault(&u.CircuitBreaker.OpenFor, DefaultBreakerOpenFor)
	}
	return c
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
