// Package metrics holds Portcullis's Prometheus metrics. One *Metrics lives
// for the whole process (it survives reloads) and is shared by the gateway,
// the event bus exporter and the admin listener.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portcullis/portcullis/internal/events"
)

// Metrics is the set of Portcullis metrics on its own registry.
type Metrics struct {
	Registry *prometheus.Registry

	// Requests counts requests by API, decision ("allow", "deny",
	// "error", "malformed", "answer") and status class ("2xx" ... "5xx").
	Requests *prometheus.CounterVec
	// Blocked counts denials by API, stage and rule.
	Blocked *prometheus.CounterVec
	// RequestBytes and ResponseBytes count body bytes received from
	// clients and sent to them, by API.
	RequestBytes  *prometheus.CounterVec
	ResponseBytes *prometheus.CounterVec
	// UpstreamDuration observes the time from sending a request to a
	// target to its response headers (or failure), by API, target and
	// outcome ("response", "error").
	UpstreamDuration *prometheus.HistogramVec
	// Detections counts findings that did not block, by stage and rule.
	Detections *prometheus.CounterVec
	// Duration observes request latency in seconds by API.
	Duration *prometheus.HistogramVec
	// StageFailures counts technical failures by stage.
	StageFailures *prometheus.CounterVec
	// Reloads counts configuration reloads by result ("ok", "error").
	Reloads *prometheus.CounterVec
	// ConfigLastReloadSuccess is 1 when the last reload succeeded.
	ConfigLastReloadSuccess prometheus.Gauge
	// ConfigLastReloadTime is the unix time of the last successful load.
	ConfigLastReloadTime prometheus.Gauge
	// TLSHandshakeErrors counts failed TLS handshakes by listener.
	TLSHandshakeErrors *prometheus.CounterVec
	// InFlight is the number of requests being served.
	InFlight prometheus.Gauge
	// StoreFallback is 1 while the shared store (Redis) is unreachable and
	// this node serves limits from its fallback, else 0.
	StoreFallback prometheus.Gauge
	// StoreFallbacks counts switches from the shared store to the fallback.
	StoreFallbacks prometheus.Counter

	// children caches ObserveRequest's child metrics by API (*apiChildren):
	// WithLabelValues validates, hashes and looks up its labels under a
	// lock on every call. The vectors' children are never deleted, so a
	// cached child stays the one the registry exports.
	children sync.Map
}

// apiChildren are one API's children of the per-request vectors.
type apiChildren struct {
	duration prometheus.Observer
	// requestBytes and responseBytes are set once a request had a body
	// (an answer): as before, no series until then.
	requestBytes, responseBytes atomic.Pointer[counter]
	// requests holds the Requests children by decision (a small fixed
	// set: string to *[len(statusClasses)]atomic.Pointer[counter]) and
	// status class index.
	requests sync.Map
}

// forAPI returns api's cached children, creating them on first use.
func (m *Metrics) forAPI(api string) *apiChildren {
	if c, ok := m.children.Load(api); ok {
		return c.(*apiChildren)
	}
	c := &apiChildren{duration: m.Duration.WithLabelValues(api)}
	got, _ := m.children.LoadOrStore(api, c)
	return got.(*apiChildren)
}

// requestCounter returns the Requests child for api, decision and the
// status class index class. Children are created on first use only, so
// that no series is exported for a class never seen.
func (m *Metrics) requestCounter(c *apiChildren, api, decision string, class int) prometheus.Counter {
	v, ok := c.requests.Load(decision)
	if !ok {
		v, _ = c.requests.LoadOrStore(decision, new([len(statusClasses)]atomic.Pointer[counter]))
	}
	slot := &v.(*[len(statusClasses)]atomic.Pointer[counter])[class]
	if ctr := slot.Load(); ctr != nil {
		return ctr.Counter
	}
	ctr := m.Requests.WithLabelValues(api, decision, statusClasses[class])
	slot.Store(&counter{ctr}) // WithLabelValues returns the same child to every racer
	return ctr
}

// counter boxes a child counter for an atomic.Pointer (a concrete type:
// loading it asserts no interface).
type counter struct{ prometheus.Counter }

// child returns the counter in slot, or vec's child for api, stored there.
// WithLabelValues returns the same child to every racer.
func child(slot *atomic.Pointer[counter], vec *prometheus.CounterVec, api string) prometheus.Counter {
	if c := slot.Load(); c != nil {
		return c.Counter
	}
	c := vec.WithLabelValues(api)
	slot.Store(&counter{c})
	return c
}

// New returns metrics registered on a new registry, with Go and process
// collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_requests_total",
			Help: "Requests handled, by API, decision (allow, deny, error, malformed, answer: a stage answered in the upstream's place) and status class (2xx ... 5xx).",
		}, []string{"api", "decision", "status_class"}),
		Blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_blocked_total",
			Help: "Requests denied, by API, stage and rule.",
		}, []string{"api", "stage", "rule"}),
		RequestBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_request_body_bytes_total",
			Help: "Request body bytes read from clients, by API.",
		}, []string{"api"}),
		ResponseBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_response_body_bytes_total",
			Help: "Response body bytes written to clients, by API.",
		}, []string{"api"}),
		UpstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_upstream_duration_seconds",
			Help:    "Time from sending a request to an upstream target to its response headers or failure, by API, target and outcome (response, error).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"api", "target", "outcome"}),
		Detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_detections_total",
			Help: "Detections that did not block (detect mode), by stage and rule.",
		}, []string{"stage", "rule"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_request_duration_seconds",
			Help:    "Time from receiving a request to finishing its response, by API.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"api"}),
		StageFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_stage_failures_total",
			Help: "Technical failures of stages (not denials), by stage.",
		}, []string{"stage"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_config_reloads_total",
			Help: "Configuration reloads, by result (ok, error).",
		}, []string{"result"}),
		ConfigLastReloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_config_last_reload_successful",
			Help: "1 when the last configuration reload succeeded, 0 when it failed.",
		}),
		ConfigLastReloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load.",
		}),
		TLSHandshakeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_tls_handshake_errors_total",
			Help: "Failed TLS handshakes, by listener address.",
		}, []string{"listener"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_requests_in_flight",
			Help: "Requests currently being served.",
		}),
		StoreFallback: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_store_fallback",
			Help: "1 while the shared store (Redis) is unreachable and limits are served by the fallback, else 0.",
		}),
		StoreFallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_store_fallbacks_total",
			Help: "Switches from the shared store (Redis) to the fallback.",
		}),
	}
	m.Registry.MustRegister(
		m.Requests, m.Blocked, m.RequestBytes, m.ResponseBytes, m.UpstreamDuration, m.Detections, m.Duration, m.StageFailures,
		m.Reloads, m.ConfigLastReloadSuccess, m.ConfigLastReloadTime,
		m.TLSHandshakeErrors, m.InFlight, m.StoreFallback, m.StoreFallbacks,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// ObserveRequest records one finished request: its API ("" counts as
// "none"), decision, status, latency and body bytes in and out.
func (m *Metrics) ObserveRequest(api, decision string, status int, d time.Duration, in, out int64) {
	if api == "" {
		api = "none"
	}
	c := m.forAPI(api)
	m.requestCounter(c, api, decision, statusClassIndex(status)).Inc()
	c.duration.Observe(d.Seconds())
	if in > 0 {
		child(&c.requestBytes, m.RequestBytes, api).Add(float64(in))
	}
	if out > 0 {
		child(&c.responseBytes, m.ResponseBytes, api).Add(float64(out))
	}
}

// statusClasses are the status_class label values, indexed by status/100.
var statusClasses = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClassIndex(status int) int {
	if status < 100 || status > 599 {
		return 0
	}
	return status / 100
}

// ReloadResult records a configuration load or reload.
func (m *Metrics) ReloadResult(ok bool, now time.Time) {
	if ok {
		m.Reloads.WithLabelValues("ok").Inc()
		m.ConfigLastReloadSuccess.Set(1)
		m.ConfigLastReloadTime.Set(float64(now.Unix()))
		return
	}
	m.Reloads.WithLabelValues("error").Inc()
	m.ConfigLastReloadSuccess.Set(0)
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// SinkStatser is what the event bus offers the metrics exporter.
type SinkStatser interface {
	Stats() []events.SinkStats
}

// RegisterEventBus exports the bus's per-sink counters:
// portcullis_events_published_total, portcullis_events_written_total,
// portcullis_events_dropped_total, portcullis_event_sink_errors_total and
// portcullis_event_queue_length, each labelled by sink.
func (m *Metrics) RegisterEventBus(bus SinkStatser) {
	m.Registry.MustRegister(&busCollector{bus: bus})
}

var (
	descPublished = prometheus.NewDesc("portcullis_events_published_total", "Security events queued for a sink.", []string{"sink"}, nil)
	descWritten   = prometheus.NewDesc("portcullis_events_written_total", "Security events written by a sink.", []string{"sink"}, nil)
	descDropped   = prometheus.NewDesc("portcullis_events_dropped_total", "Security events dropped because a sink's queue was full.", []string{"sink"}, nil)
	descErrors    = prometheus.NewDesc("portcullis_event_sink_errors_total", "Security events a sink failed to write after retries.", []string{"sink"}, nil)
	descQueue     = prometheus.NewDesc("portcullis_event_queue_length", "Security events waiting in a sink's queue.", []string{"sink"}, nil)
	descQueueCap  = prometheus.NewDesc("portcullis_event_queue_capacity", "Capacity of a sink's queue.", []string{"sink"}, nil)
)

type busCollector struct{ bus SinkStatser }

func (c *busCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPublished, descWritten, descDropped, descErrors, descQueue, descQueueCap} {
		ch <- d
	}
}

func (c *busCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.bus.Stats() {
		ch <- prometheus.MustNewConstMetric(descPublished, prometheus.CounterValue, float64(s.Published), s.Name)
		ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(s.Written), s.Name)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.Dropped), s.Name)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(s.Errors), s.Name)
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(s.QueueLen), s.Name)
		ch <- prometheus.MustNewConstMetric(descQueueCap, prometheus.GaugeValue, float64(s.QueueCap), s.Name)
	}
}
