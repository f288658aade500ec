// Package config is Portcullis's one YAML file: the schema (every field
// states its default and what zero means), strict decoding with
// file:line:column errors, ${ENV} and file: references, validation, and a
// JSON Schema export for editors.
package config

import (
	"time"

	"github.com/portcullis/portcullis/internal/alert"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/crowdsec"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/tracing"
	"github.com/portcullis/portcullis/internal/units"
)

// Config is the whole configuration file.
type Config struct {
	// Listeners are the client-facing addresses. Default: one plain HTTP
	// listener on 127.0.0.1:8080.
	Listeners []Listener `yaml:"listeners,omitempty" json:"listeners,omitempty"`
	// Server holds connection-level settings shared by every listener.
	Server Server `yaml:"server,omitempty" json:"server,omitempty"`
	// Admin is the separate admin listener (metrics, health, admin API).
	Admin Admin `yaml:"admin,omitempty" json:"admin,omitempty"`
	// Log configures the access log and the gateway's own log.
	Log Log `yaml:"log,omitempty" json:"log,omitempty"`
	// Events configures security-event sinks.
	Events Events `yaml:"events,omitempty" json:"events,omitempty"`
	// Alerts are alert rules and the webhooks alerts are sent to. The
	// built-in rules (events dropped, reload failed, store fallback,
	// certificate expiring, denial spike) are on by default; without
	// webhooks an alert is only an event.
	Alerts alert.Config `yaml:"alerts,omitempty" json:"alerts,omitempty"`
	// Tracing exports OpenTelemetry traces (a span per stage and for the
	// upstream call). Default: off.
	Tracing tracing.Config `yaml:"tracing,omitempty" json:"tracing,omitempty"`
	// Store is where state shared by nodes lives (rate limits, quotas,
	// bans, nonces). Default: in memory, this node only.
	Store store.Config `yaml:"store,omitempty" json:"store,omitempty"`
	// CrowdSec is the CrowdSec Local API this node takes decisions from
	// (bans and throttles on addresses and ranges, enforced by the ban
	// stages). Default: off.
	CrowdSec crowdsec.Config `yaml:"crowdsec,omitempty" json:"crowdsec,omitempty"`
	// Stages are the top-level stage blocks (ipfilter: applies to every API
	// before its own; limits: the defaults every API's limits override field
	// by field; bans: automatic bans), by key. Which keys exist comes from
	// the stage registry (internal/stage).
	Stages Blocks `yaml:",inline" json:"-" blocks:"global"`
	// APIs are the upstream APIs the gateway protects. At least one.
	APIs []API `yaml:"apis" json:"apis"`

	// File is the path the config was loaded from ("" when built in code).
	File string `yaml:"-" json:"-"`
	// Source maps YAML paths ("apis[0].upstream.targets[1]") to the line
	// and column they came from, so that problems found after loading (a
	// failed reload, a stage that rejects its block) can be reported as
	// file:line:column. Nil when the config was built in code.
	Source *Source `yaml:"-" json:"-"`
}

// Listener is one client-facing address.
type Listener struct {
	// Addr is host:port to listen on. Required.
	Addr string `yaml:"addr" json:"addr"`
	// TLS makes this a TLS listener. Default: nil (plain HTTP).
	TLS *TLS `yaml:"tls,omitempty" json:"tls,omitempty"`
	// RedirectHTTPS makes a plain listener answer every request with a
	// permanent redirect to the same host and path on the first TLS
	// listener's port, and nothing else. Default false. Invalid on a TLS
	// listener.
	RedirectHTTPS bool `yaml:"redirect_https,omitempty" json:"redirect_https,omitempty"`
	// H2C allows cleartext HTTP/2 (prior knowledge or Upgrade) on a plain
	// listener. Default false.
	H2C bool `yaml:"h2c,omitempty" json:"h2c,omitempty"`
	// DisableHTTP2 turns off HTTP/2 negotiation (ALPN "h2") on a TLS
	// listener. Default false: TLS listeners offer h2 and http/1.1.
	DisableHTTP2 bool `yaml:"disable_http2,omitempty" json:"disable_http2,omitempty"`
}

// TLS is a listener's TLS policy and certificates.
//
// The policy is strict by default: TLS 1.2 is the minimum, TLS 1.3 is
// preferred, and TLS 1.2 only offers AEAD cipher suites with forward secrecy
// (ECDHE with AES-GCM or ChaCha20-Poly1305). Old protocols are not
// configurable on purpose: they are how man-in-the-middle attacks downgrade
// a connection.
type TLS struct {
	// Cert is a PEM certificate chain file. Required unless Dev is true.
	// The file is watched and reloaded without a restart.
	Cert string `yaml:"cert,omitempty" json:"cert,omitempty"`
	// Key is the PEM private key file for Cert. Required with Cert.
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
	// Dev generates a self-signed development certificate for localhost at
	// start (and logs a loud warning). Default false. Not for production.
	Dev bool `yaml:"dev,omitempty" json:"dev,omitempty"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version,omitempty" json:"min_version,omitempty"`
	// ClientCA is a PEM bundle of CAs that sign client certificates
	// (mTLS). Default "": no client certificates are requested.
	ClientCA string `yaml:"client_ca,omitempty" json:"client_ca,omitempty"`
	// ClientAuth is "required" (default when ClientCA is set) or "optional"
	// (verify a certificate when one is presented).
	ClientAuth string `yaml:"client_auth,omitempty" json:"client_auth,omitempty"`
}

// Server holds connection-level settings.
type Server struct {
	// ReadHeaderTimeout bounds reading a request's headers (slowloris).
	// Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout,omitempty" json:"read_header_timeout,omitempty"`
	// ReadTimeout bounds reading a whole request, body included (slow
	// bodies). Default 60s.
	ReadTimeout time.Duration `yaml:"read_timeout,omitempty" json:"read_timeout,omitempty"`
	// WriteTimeout bounds writing a response. Default 0: no limit, because
	// upstream responses may stream; upstream timeouts bound the wait.
	WriteTimeout time.Duration `yaml:"write_timeout,omitempty" json:"write_timeout,omitempty"`
	// IdleTimeout closes keep-alive connections idle this long. Default 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout,omitempty" json:"idle_timeout,omitempty"`
	// MaxHeaderBytes caps what the HTTP parser reads for the request line
	// and headers; more gets 431. Default 64KiB.
	MaxHeaderBytes units.Bytes `yaml:"max_header_bytes,omitempty" json:"max_header_bytes,omitempty"`
	// TrustedProxies lists CIDRs of proxies allowed to set X-Forwarded-For,
	// Forwarded and X-Request-Id. Default empty: the TCP peer is the client
	// and such headers from clients are ignored and replaced.
	TrustedProxies []string `yaml:"trusted_proxies,omitempty" json:"trusted_proxies,omitempty"`
	// ShutdownTimeout is how long in-flight requests may take to finish on
	// shutdown; those still running then are cut off (their connections
	// closed, their upstream calls cancelled). Default 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout,omitempty" json:"shutdown_timeout,omitempty"`
	// HSTS is the Strict-Transport-Security header sent on TLS responses.
	HSTS HSTS `yaml:"hsts,omitempty" json:"hsts,omitempty"`
	// GCPercent is the Go garbage collector's target (GOGC): the heap may
	// grow by this percentage of what is live before a collection. The
	// compiled rule sets (the CRS is about 20 MB) are live for the life of
	// the process and every collection marks them again, so the gateway
	// collects less often than Go's 100 by default. Peak heap is about
	// live × (1 + gc_percent/100); GOMEMLIMIT still caps it, and GOGC in
	// the environment overrides this. Default 400.
	GCPercent int `yaml:"gc_percent,omitempty" json:"gc_percent,omitempty"`
}

// HSTS configures Strict-Transport-Security on TLS responses.
type HSTS struct {
	// Disabled turns the header off. Default false (HSTS is on for TLS).
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	// MaxAge is the max-age. Default 8760h (one year).
	MaxAge time.Duration `yaml:"max_age,omitempty" json:"max_age,omitempty"`
	// IncludeSubdomains adds includeSubDomains. Default false.
	IncludeSubdomains bool `yaml:"include_subdomains,omitempty" json:"include_subdomains,omitempty"`
	// Preload adds preload (requires a max-age of at least a year and
	// includeSubDomains). Default false.
	Preload bool `yaml:"preload,omitempty" json:"preload,omitempty"`
}

// Admin is the admin listener: /metrics, /healthz and /readyz are open;
// every other path requires "Authorization: Bearer <token>".
type Admin struct {
	// Addr is host:port. Default 127.0.0.1:9901 (loopback on purpose: the
	// admin plane should not face the internet).
	Addr string `yaml:"addr,omitempty" json:"addr,omitempty"`
	// Token is the bearer token for the admin API; use ${ENV} or
	// file:PATH rather than a literal. Default "": the admin API (but not
	// metrics and health) is closed.
	Token string `yaml:"token,omitempty" json:"token,omitempty"`
	// Disabled turns the admin listener off. Default false.
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	// SessionTTL is how long a dashboard login lasts (the session cookie
	// and its server-side record). Default 8h.
	SessionTTL time.Duration `yaml:"session_ttl,omitempty" json:"session_ttl,omitempty"`
	// Profiling serves Go's runtime profiles (CPU, heap, allocations,
	// goroutines, mutex and block contention, execution traces) under
	// /debug/pprof/ on the admin listener, behind the admin token, for
	// `go tool pprof`. Default false.
	Profiling bool `yaml:"profiling,omitempty" json:"profiling,omitempty"`
}

// Log configures logging.
type Log struct {
	// Access is where access records go: "stdout" (default), "stderr",
	// "off", or a file path (appended to).
	Access string `yaml:"access,omitempty" json:"access,omitempty"`
	// AccessBuffer is how many bytes of access records are held in memory
	// and written together (one write instead of one per request, as
	// Envoy's and nginx's buffered access logs do). Default 64KiB.
	AccessBuffer units.Bytes `yaml:"access_buffer,omitempty" json:"access_buffer,omitempty"`
	// AccessFlush is the longest a record waits in that buffer before it
	// is written. Default 1s. Records are written on shutdown, before a
	// reopen (SIGUSR1) and when the buffer is full; a crash loses at most
	// this long of records (security events have their own sinks).
	AccessFlush time.Duration `yaml:"access_flush,omitempty" json:"access_flush,omitempty"`
	// AccessSync writes each access record as its request ends, one write
	// per record, instead of buffering them. Default false.
	AccessSync bool `yaml:"access_sync,omitempty" json:"access_sync,omitempty"`
	// Level of the gateway's own log (stderr): "debug", "info" (default),
	// "warn" or "error".
	Level string `yaml:"level,omitempty" json:"level,omitempty"`
	// RedactHeaders adds header names to redact in logs and events, beyond
	// the built-in Authorization, Proxy-Authorization, Cookie, Set-Cookie,
	// X-Api-Key and X-Auth-Token.
	RedactHeaders []string `yaml:"redact_headers,omitempty" json:"redact_headers,omitempty"`
	// RedactQuery adds query parameter names to redact, beyond the
	// built-in token-like names (token, access_token, api_key, apikey, key,
	// password, secret, signature, sig, code).
	RedactQuery []string `yaml:"redact_query,omitempty" json:"redact_query,omitempty"`
}

// Events configures the security-event sinks.
type Events struct {
	// QueueSize is the per-sink queue length. A full queue drops the event,
	// counts it, logs it and exports it as a metric; it never blocks a
	// request. Default 4096.
	QueueSize int `yaml:"queue_size,omitempty" json:"queue_size,omitempty"`
	// ClientBurst is how many events (of one class: detections and high
	// severity, or the rest) one client's requests may produce at once;
	// past it and ClientRate, its events are counted into one
	// events.suppressed summary per rule every 10s instead of being
	// written, so that one client's flood cannot crowd out everyone else's
	// events. Default 200; -1 turns the budget off.
	ClientBurst int `yaml:"client_burst,omitempty" json:"client_burst,omitempty"`
	// ClientRate is how many events per second (of one class) one client
	// may produce on average once its burst is spent. Default 20.
	ClientRate float64 `yaml:"client_rate,omitempty" json:"client_rate,omitempty"`
	// JSONL is a file path for one JSON event per line. Default "" (off).
	JSONL string `yaml:"jsonl,omitempty" json:"jsonl,omitempty"`
	// SQLite is a database file path for the embedded event store.
	// Default "" (off).
	SQLite string `yaml:"sqlite,omitempty" json:"sqlite,omitempty"`
	// Postgres is the fleet event store: every node writes into one
	// PostgreSQL database and any node's dashboard shows all of them.
	// Default: none.
	Postgres *events.PostgresConfig `yaml:"postgres,omitempty" json:"postgres,omitempty"`
	// Audit is the tamper-evident audit log of security events and admin
	// actions. Default: none.
	Audit audit.Config `yaml:"audit,omitempty" json:"audit,omitempty"`
	// Node names this gateway in events shared by a fleet (PostgreSQL) and
	// in alerts. Default: the host name.
	Node string `yaml:"node,omitempty" json:"node,omitempty"`
	// RecentEvents is how many recent events the admin plane keeps in
	// memory for the dashboard (its live feed and, without a store, its
	// queries). Default 2000.
	RecentEvents int `yaml:"recent_events,omitempty" json:"recent_events,omitempty"`
	// RecentAccess is how many recent access records the admin plane keeps
	// in memory, so that the dashboard can show an event's access record.
	// None are kept when the admin listener is off or has no token (nobody
	// could read them). Default 2000.
	RecentAccess int `yaml:"recent_access,omitempty" json:"recent_access,omitempty"`
}

// API is one protected upstream API.
type API struct {
	// Name identifies the API in logs, metrics and events. Required, unique,
	// lowercase letters, digits, '-' and '_'.
	Name string `yaml:"name" json:"name"`
	// Hosts restricts the API to these Host header values ("api.example.com",
	// "*.example.com"). Default empty: any host.
	Hosts []string `yaml:"hosts,omitempty" json:"hosts,omitempty"`
	// PathPrefix restricts the API to paths under this prefix. Default "/".
	// The longest matching prefix wins among APIs with matching hosts.
	PathPrefix string `yaml:"path_prefix,omitempty" json:"path_prefix,omitempty"`
	// StripPrefix removes PathPrefix before proxying. Default false.
	StripPrefix bool `yaml:"strip_prefix,omitempty" json:"strip_prefix,omitempty"`
	// OpenAPI is the path of the API's OpenAPI 3.0/3.1 description: its
	// operations are what the gateway matches requests against, and the
	// validate stage enforces it. Default "".
	OpenAPI string `yaml:"openapi,omitempty" json:"openapi,omitempty"`
	// Operations declares the API's operations ("GET /users/{id}", "POST
	// /orders") when it has no OpenAPI description, so that stages can
	// address them (authz rules, ratelimit operations, waf exclusions).
	// Operations that a stage block names are declared implicitly. Invalid
	// with openapi (the description declares them). Default: none.
	Operations []string `yaml:"operations,omitempty" json:"operations,omitempty"`
	// Upstream is where requests go. Required.
	Upstream Upstream `yaml:"upstream" json:"upstream"`
	// Stages are the API's stage blocks (ipfilter, limits, ratelimit, authn,
	// authz, validate, waf, ...), by key. Which keys exist comes from the
	// stage registry (internal/stage).
	Stages Blocks `yaml:",inline" json:"-" blocks:"api"`
}

// Upstream is an API's set of targets and how to reach them. Requests to
// http targets travel over pooled HTTP/1.1 keep-alive connections, written
// and answered on the request's goroutine; https targets (HTTP/2 when the
// target offers it), upgrades, bodies of unknown length or over 64 KiB and
// request trailers go through Go's http.Transport (standard_transport
// sends everything there). Both keep the same timeouts and pool size.
type Upstream struct {
	// Targets are base URLs ("http://10.0.0.5:8080", "https://svc:8443").
	// Requests are spread round robin over healthy targets. At least one.
	Targets []string `yaml:"targets" json:"targets"`
	// ConnectTimeout bounds dialing a target. Default 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout,omitempty" json:"connect_timeout,omitempty"`
	// ResponseHeaderTimeout bounds the wait for the response headers after
	// the request is sent; past it the client gets 504. Default 30s.
	ResponseHeaderTimeout time.Duration `yaml:"response_header_timeout,omitempty" json:"response_header_timeout,omitempty"`
	// IdleConnTimeout closes idle upstream connections. Default 90s.
	IdleConnTimeout time.Duration `yaml:"idle_conn_timeout,omitempty" json:"idle_conn_timeout,omitempty"`
	// MaxIdleConnsPerHost is the keep-alive pool size per target. Default 64.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host,omitempty" json:"max_idle_conns_per_host,omitempty"`
	// StandardTransport sends every request through Go's http.Transport,
	// http targets too (its reader and writer goroutines per connection,
	// ~10 µs of CPU a request more on a small GET). Default false.
	StandardTransport bool `yaml:"standard_transport,omitempty" json:"standard_transport,omitempty"`
	// TLS configures TLS to https targets. Default: system roots, the
	// target's host name, no client certificate.
	TLS *UpstreamTLS `yaml:"tls,omitempty" json:"tls,omitempty"`
	// HealthCheck turns on active health checks. Default: none (targets are
	// healthy until the circuit breaker says otherwise).
	HealthCheck *HealthCheck `yaml:"health_check,omitempty" json:"health_check,omitempty"`
	// CircuitBreaker is passive health: consecutive failures open a
	// target's circuit. On by default.
	CircuitBreaker CircuitBreaker `yaml:"circuit_breaker,omitempty" json:"circuit_breaker,omitempty"`
}

// UpstreamTLS configures TLS towards https targets. Certificate checks are
// never turned off: use CA for private CAs.
type UpstreamTLS struct {
	// CA is a PEM bundle of CAs to trust instead of the system roots.
	// Default "": the system roots.
	CA string `yaml:"ca,omitempty" json:"ca,omitempty"`
	// ServerName overrides the name verified in the target's certificate
	// (and sent as SNI). Default: the target URL's host.
	ServerName string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
	// Cert is a PEM client certificate chain file for mTLS to the
	// upstream. Default "": no client certificate. Requires Key.
	Cert string `yaml:"cert,omitempty" json:"cert,omitempty"`
	// Key is the PEM private key file for Cert. Required with Cert.
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
}

// HealthCheck configures active health checks of every target.
type HealthCheck struct {
	// Path is requested with GET on each target. Default "/healthz".
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Interval between checks. Default 10s.
	Interval time.Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Timeout of one check. Default 2s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// HealthyThreshold is how many passes in a row mark a target healthy.
	// Default 2.
	HealthyThreshold int `yaml:"healthy_threshold,omitempty" json:"healthy_threshold,omitempty"`
	// UnhealthyThreshold is how many failures in a row mark it unhealthy.
	// Default 3.
	UnhealthyThreshold int `yaml:"unhealthy_threshold,omitempty" json:"unhealthy_threshold,omitempty"`
}

// CircuitBreaker configures passive health per target.
type CircuitBreaker struct {
	// Disabled turns the breaker off. Default false.
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	// Failures is how many consecutive failures (connection errors,
	// timeouts, 502/503/504 from the target) open the circuit. Default 5.
	Failures int `yaml:"failures,omitempty" json:"failures,omitempty"`
	// OpenFor is how long an open circuit keeps the target out of rotation
	// before one trial request is let through. Default 30s.
	OpenFor time.Duration `yaml:"open_for,omitempty" json:"open_for,omitempty"`
}
