package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/alert"
	"github.com/portcullis/portcullis/internal/events"
)

// UpstreamTarget is one target's state at scrape time.
type UpstreamTarget struct {
	API, Target string
	Healthy     bool
	// Circuit is "closed", "open", "half-open" or "disabled".
	Circuit string
}

// Certificate is one served certificate.
type Certificate struct {
	// Listener is the listener address; Subject the leaf's subject.
	Listener, Subject string
	NotAfter          time.Time
}

var circuitStates = []string{"closed", "open", "half-open", "disabled"}

var (
	descHealthy = prometheus.NewDesc("portcullis_upstream_target_healthy",
		"1 when the upstream target passes its active health checks (always 1 without checks), else 0.", []string{"api", "target"}, nil)
	descCircuit = prometheus.NewDesc("portcullis_upstream_circuit_state",
		"1 for the circuit breaker state the upstream target is in (closed, open, half-open, disabled), 0 for the others.", []string{"api", "target", "state"}, nil)
	descCertExpiry = prometheus.NewDesc("portcullis_tls_certificate_expiry_timestamp_seconds",
		"Unix time at which a listener's certificate expires.", []string{"listener", "subject"}, nil)
	descAlertsFired = prometheus.NewDesc("portcullis_alerts_fired_total",
		"Alerts fired (threshold reached in a window), by rule.", []string{"rule"}, nil)
	descAlertsSuppressed = prometheus.NewDesc("portcullis_alerts_suppressed_total",
		"Alerts held back by their rule's rate limit, by rule.", []string{"rule"}, nil)
	descAlertsSent = prometheus.NewDesc("portcullis_alert_deliveries_total",
		"Alerts delivered to a webhook, by webhook.", []string{"webhook"}, nil)
	descAlertFailures = prometheus.NewDesc("portcullis_alert_delivery_failures_total",
		"Failed webhook delivery attempts (each retry counts), by webhook.", []string{"webhook"}, nil)
	descAlertsDropped = prometheus.NewDesc("portcullis_alerts_dropped_total",
		"Alerts a webhook gave up on (queue full or retries exhausted), by webhook.", []string{"webhook"}, nil)
	descPGSpooled = prometheus.NewDesc("portcullis_event_spooled_total",
		"Events the PostgreSQL sink wrote to its spool while PostgreSQL was unreachable.", nil, nil)
	descPGReplayed = prometheus.NewDesc("portcullis_event_spool_replayed_total",
		"Spooled events later written to PostgreSQL.", nil, nil)
	descPGSpoolBytes = prometheus.NewDesc("portcullis_event_spool_bytes",
		"Current size of the PostgreSQL sink's spool file.", nil, nil)
	descPGSpoolEvents = prometheus.NewDesc("portcullis_event_spool_events",
		"Events waiting in the PostgreSQL sink's spool.", nil, nil)
	descPGUp = prometheus.NewDesc("portcullis_event_postgres_up",
		"1 while the last write to PostgreSQL succeeded, else 0.", nil, nil)
)

// funcCollector exports what collect sends, described by descs.
type funcCollector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c funcCollector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// RegisterUpstreams exports the health and circuit state of every target
// f returns (read at scrape time, so a reload's new targets show at once).
func (m *Metrics) RegisterUpstreams(f func() []UpstreamTarget) {
	m.Registry.MustRegister(funcCollector{descs: []*prometheus.Desc{descHealthy, descCircuit}, collect: func(ch chan<- prometheus.Metric) {
		for _, t := range f() {
			ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, b2f(t.Healthy), t.API, t.Target)
			for _, s := range circuitStates {
				ch <- prometheus.MustNewConstMetric(descCircuit, prometheus.GaugeValue, b2f(t.Circuit == s), t.API, t.Target, s)
			}
		}
	}})
}

// RegisterCertificates exports the expiry of every certificate f returns.
func (m *Metrics) RegisterCertificates(f func() []Certificate) {
	m.Registry.MustRegister(funcCollector{descs: []*prometheus.Desc{descCertExpiry}, collect: func(ch chan<- prometheus.Metric) {
		for _, c := range f() {
			ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue, float64(c.NotAfter.Unix()), c.Listener, c.Subject)
		}
	}})
}

// RegisterAlerts exports the alert engine's counters.
func (m *Metrics) RegisterAlerts(f func() alert.Stats) {
	m.Registry.MustRegister(funcCollector{descs: []*prometheus.Desc{descAlertsFired, descAlertsSuppressed, descAlertsSent, descAlertFailures, descAlertsDropped},
		collect: func(ch chan<- prometheus.Metric) {
			s := f()
			for k, v := range s.Fired {
				ch <- prometheus.MustNewConstMetric(descAlertsFired, prometheus.CounterValue, float64(v), k)
			}
			for k, v := range s.Suppressed {
				ch <- prometheus.MustNewConstMetric(descAlertsSuppressed, prometheus.CounterValue, float64(v), k)
			}
			for k, v := range s.Sent {
				ch <- prometheus.MustNewConstMetric(descAlertsSent, prometheus.CounterValue, float64(v), k)
			}
			for k, v := range s.Failures {
				ch <- prometheus.MustNewConstMetric(descAlertFailures, prometheus.CounterValue, float64(v), k)
			}
			for k, v := range s.Dropped {
				ch <- prometheus.MustNewConstMetric(descAlertsDropped, prometheus.CounterValue, float64(v), k)
			}
		}})
}

// RegisterPostgres exports the PostgreSQL sink's spool counters.
func (m *Metrics) RegisterPostgres(f func() events.PostgresStats) {
	m.Registry.MustRegister(funcCollector{descs: []*prometheus.Desc{descPGSpooled, descPGReplayed, descPGSpoolBytes, descPGSpoolEvents, descPGUp},
		collect: func(ch chan<- prometheus.Metric) {
			s := f()
			ch <- prometheus.MustNewConstMetric(descPGSpooled, prometheus.CounterValue, float64(s.Spooled))
			ch <- prometheus.MustNewConstMetric(descPGReplayed, prometheus.CounterValue, float64(s.Replayed))
			ch <- prometheus.MustNewConstMetric(descPGSpoolBytes, prometheus.GaugeValue, float64(s.SpoolBytes))
			ch <- prometheus.MustNewConstMetric(descPGSpoolEvents, prometheus.GaugeValue, float64(s.SpoolEvents))
			ch <- prometheus.MustNewConstMetric(descPGUp, prometheus.GaugeValue, b2f(s.Up))
		}})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
