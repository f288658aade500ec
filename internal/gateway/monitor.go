package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/access"
	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/alert"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/tlsconf"
	"github.com/portcullis/portcullis/internal/tracing"
)

// monitor is the monitoring plane of a Server: the recent-events and
// access rings the dashboard reads, the audit log, the alert engine, the
// PostgreSQL fleet sink and the tracer. Each part is nil when its config
// block is absent.
type monitor struct {
	node   string
	recent *events.Recent
	ring   *access.Ring
	audit  *audit.Log
	alerts *alert.Engine
	pg     *events.Postgres
	tracer *tracing.Tracer

	mu     sync.Mutex
	tls    []tlsListener // the TLS listeners, set by Start
	config configInfo
}

// configInfo is what the dashboard shows of the configuration: its
// version (a digest of the file), when it was loaded, and the last
// reload's result.
type configInfo struct {
	Version    string      `json:"version"`
	File       string      `json:"file,omitempty"`
	LoadedAt   time.Time   `json:"loaded_at"`
	LastReload *reloadInfo `json:"last_reload,omitempty"`
}

type reloadInfo struct {
	OK    bool      `json:"ok"`
	Time  time.Time `json:"time"`
	Error string    `json:"error,omitempty"`
}

// configVersion is the first 12 hex digits of the SHA-256 of the config
// file ("" when it was built in code or cannot be read).
func configVersion(path string) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// openMonitor opens the monitoring sinks of cfg on the bus. It runs in
// openSinks, after the file and SQLite sinks.
func (s *Server) openMonitor(cfg *config.Config) error {
	m := &s.mon
	m.node = cfg.Events.Node
	m.config = configInfo{Version: configVersion(cfg.File), File: cfg.File, LoadedAt: s.now().UTC()}
	m.recent = events.NewRecent(cfg.Events.RecentEvents)
	s.bus.AddSink(m.recent)
	if !cfg.Admin.Disabled && cfg.Admin.Token != "" {
		// The recent requests are only read through the admin API and the
		// dashboard; with the admin plane off or closed (no token; admin
		// settings need a restart) nobody can ask, so no record is kept.
		m.ring = access.New(cfg.Events.RecentAccess)
	}
	if pc := cfg.Events.Postgres; pc != nil {
		pg, err := events.OpenPostgres(*pc, events.PostgresOptions{Node: m.node, Logger: s.log})
		if err != nil {
			return err
		}
		m.pg = pg
		s.bus.AddSink(pg)
		s.metrics.RegisterPostgres(pg.Stats)
	}
	if ac := cfg.Events.Audit; ac.File != "" {
		key, err := audit.LoadPrivateKey(ac.SigningKey)
		if err != nil {
			return fmt.Errorf("events.audit.signing_key: %w", err)
		}
		l, err := audit.Open(ac, audit.Options{Now: s.now, Key: key})
		if err != nil {
			return fmt.Errorf("events.audit: %w", err)
		}
		m.audit = l
		s.bus.AddSink(l)
	}
	eng, err := alert.New(cfg.Alerts, alert.Options{
		Now:           s.now,
		Logger:        s.log,
		Publisher:     s.bus,
		Drops:         s.eventsLost,
		Certs:         s.alertCerts,
		Node:          m.node,
		ResolveSecret: cfg.ResolveSecret,
	})
	if err != nil {
		return err
	}
	m.alerts = eng
	s.bus.AddSink(eng)
	s.metrics.RegisterAlerts(eng.Stats)
	tr, err := tracing.New(cfg.Tracing, tracing.Options{Node: m.node, Exporter: s.opts.TraceExporter})
	if err != nil {
		return err
	}
	m.tracer = tr
	s.metrics.RegisterUpstreams(s.upstreamTargets)
	s.metrics.RegisterCertificates(s.certificates)
	return nil
}

// eventsLost is how many events the bus has lost so far, every sink
// together (the events-dropped alert).
func (s *Server) eventsLost() uint64 {
	var n uint64
	for _, st := range s.bus.Stats() {
		if st.Name == "alerts" {
			continue // the alert engine's own losses cannot be alerted through it
		}
		n += st.Dropped + st.Errors
	}
	return n
}

// noteCertificates records the TLS listeners once they are built, for
// the expiry metric and the certificate-expiring alert (each read takes
// the certificate served now, so a rotated certificate shows at once).
func (s *Server) noteCertificates() {
	cfg := s.gw.Load().Config()
	var tls []tlsListener
	for i, t := range s.tlsSrvs {
		addr := ""
		if i < len(cfg.Listeners) {
			addr = cfg.Listeners[i].Addr
		}
		tls = append(tls, tlsListener{addr: addr, srv: t})
	}
	s.mon.mu.Lock()
	s.mon.tls = tls
	s.mon.mu.Unlock()
}

// tlsListener is a TLS listener's address and certificate source.
type tlsListener struct {
	addr string
	srv  *tlsconf.Server
}

func (s *Server) certificates() []metrics.Certificate {
	s.mon.mu.Lock()
	tls := s.mon.tls
	s.mon.mu.Unlock()
	var out []metrics.Certificate
	for _, l := range tls {
		c := l.srv.Certificate()
		if c == nil || len(c.Certificate) == 0 {
			continue
		}
		leaf := c.Leaf
		if leaf == nil {
			var err error
			if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				continue
			}
		}
		out = append(out, metrics.Certificate{Listener: l.addr, Subject: leaf.Subject.String(), NotAfter: leaf.NotAfter})
	}
	return out
}

func (s *Server) alertCerts() []alert.Cert {
	cs := s.certificates()
	out := make([]alert.Cert, len(cs))
	for i, c := range cs {
		out[i] = alert.Cert{Name: c.Listener + " " + c.Subject, NotAfter: c.NotAfter}
	}
	return out
}

// upstreamTargets is every target's health and circuit state now.
func (s *Server) upstreamTargets() []metrics.UpstreamTarget {
	var out []metrics.UpstreamTarget
	for api, ts := range s.gw.Load().Upstreams() {
		for _, t := range ts {
			out = append(out, metrics.UpstreamTarget{API: api, Target: t.URL, Healthy: t.Healthy, Circuit: t.CircuitState})
		}
	}
	return out
}

// noteReload records a reload's result for the dashboard.
func (s *Server) noteReload(err error, file string) {
	s.mon.mu.Lock()
	defer s.mon.mu.Unlock()
	r := &reloadInfo{OK: err == nil, Time: s.now().UTC()}
	if err != nil {
		r.Error = err.Error()
	} else {
		s.mon.config.Version, s.mon.config.LoadedAt = configVersion(file), r.Time
	}
	s.mon.config.LastReload = r
}

func (s *Server) configInfo() configInfo {
	s.mon.mu.Lock()
	defer s.mon.mu.Unlock()
	c := s.mon.config
	if c.LastReload != nil {
		r := *c.LastReload
		c.LastReload = &r
	}
	return c
}

// adminOptions wires the admin plane to the monitoring plane.
func (s *Server) adminOptions(cfg *config.Config) admin.Options {
	o := admin.Options{
		Token:      cfg.Admin.Token,
		Metrics:    s.metrics,
		Ready:      s.ready.Load,
		Status:     s.status,
		Reload:     s.Reload,
		Decisions:  storeDecisions{s: s},
		Subscribe:  s.bus.Subscribe,
		Access:     s.mon.ring,
		Publisher:  s.bus,
		SessionTTL: cfg.Admin.SessionTTL,
		Profiling:  cfg.Admin.Profiling,
		Now:        s.now,
		Logger:     s.log,
		Node:       s.mon.node,
	}
	// Security: a nil pointer in an interface is not a nil interface;
	// each is set only when it is there.
	switch {
	case s.mon.pg != nil:
		o.Events, o.Fleet = s.mon.pg, true
	case s.store != nil:
		o.Events = s.store
	case s.mon.recent != nil:
		o.Events = s.mon.recent
	}
	if s.mon.audit != nil {
		o.Audit = s.mon.audit
	}
	return o
}

// closeMonitor stops what the bus does not close: the tracer (its last
// spans are flushed).
func (s *Server) closeMonitor() {
	if t := s.mon.tracer; t != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = t.Shutdown(ctx)
		cancel()
	}
}

// alertStatus is the admin status view of the alert engine: one entry
// per rule and per webhook (names are values, not keys, so that the
// document keeps snake_case keys).
func (s *Server) alertStatus() map[string]any {
	st := s.mon.alerts.Stats()
	rules := []map[string]any{}
	for _, name := range sortedKeys(st.Fired) {
		rules = append(rules, map[string]any{"rule": name, "fired": st.Fired[name], "suppressed": st.Suppressed[name]})
	}
	hooks := []map[string]any{}
	for _, name := range sortedKeys(st.Sent) {
		hooks = append(hooks, map[string]any{"webhook": name, "sent": st.Sent[name], "failures": st.Failures[name],
			"retries": st.Retries[name], "dropped": st.Dropped[name]})
	}
	return map[string]any{"rules": rules, "webhooks": hooks, "untracked": st.Untracked}
}

func sortedKeys(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
