// Package gateway compiles a configuration into a Gateway (routes, per-route
// stage chains, upstreams) and serves requests through it: normalise, route,
// run the route's stages, proxy, and record one access record, metrics and
// security events per exchange. Server owns the listeners and swaps a new
// Gateway in atomically on reload.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/access"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/listener"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/proxy"
	"github.com/portcullis/portcullis/internal/redact"
	"github.com/portcullis/portcullis/internal/stage/limits"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/tracing"
)

// Deps are the process-lifetime services a Gateway reports to. They survive
// reloads; a Gateway only borrows them.
type Deps struct {
	// Metrics receives request, denial and failure counts. Required.
	Metrics *metrics.Metrics
	// Events receives security events. Nil discards them.
	Events events.Publisher
	// Access receives one record per exchange. Nil turns access logging off.
	Access *slog.Logger
	// Logger is the gateway's own log. Nil uses slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil uses time.Now.
	Now func() time.Time
	// Store is the shared state store (rate limits, bans, nonces). Nil
	// means stages that need one use their own in-memory state.
	Store store.Store
	// Tracer traces each exchange (a server span, a span per stage, the
	// upstream call). Nil turns tracing off at no cost.
	Tracer *tracing.Tracer
	// Recent keeps recent access records for the dashboard. Nil keeps none.
	Recent *access.Ring
}

// Gateway is one compiled configuration. It is immutable once built and
// safe for concurrent use; a reload builds a new one.
type Gateway struct {
	cfg      *config.Config
	deps     Deps
	router   *router
	routes   []*route
	pre      pipeline.Chain
	trusted  pipeline.TrustedProxies
	redactor *redact.Redactor
	hsts     string

	inflight sync.WaitGroup
}

// route is one API compiled: its operation matcher, chain and upstream.
type route struct {
	name      string
	hosts     []string
	prefix    string
	chain     pipeline.Chain
	observers []pipeline.EventObserver // stages that count this API's events
	// exchangeObservers are the stages that learn from this API's whole
	// exchanges (detectors).
	exchangeObservers []pipeline.ExchangeObserver
	bodyLimit         int64
	upstream          *proxy.Upstream
	ops               *openapi.Spec // the operation matcher; nil when the API declares none
}

// New compiles cfg into a Gateway. It returns an error (and starts nothing)
// when any part cannot be built.
func New(cfg *config.Config, deps Deps) (*Gateway, error) {
	if deps.Metrics == nil {
		return nil, errors.New("gateway: metrics are required")
	}
	if deps.Events == nil {
		deps.Events = events.Discard
	}
	// Every event leaves with its sensitive values masked (card numbers,
	// keys, tokens, hashes in paths, excerpts and attributes), whichever
	// stage built it.
	deps.Events = redact.Publisher(deps.Events)
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	g := &Gateway{
		cfg:      cfg,
		deps:     deps,
		redactor: redact.New(cfg.Log.RedactHeaders, cfg.Log.RedactQuery),
		hsts:     hstsValue(cfg.Server.HSTS),
	}
	g.pre = pipeline.Chain{{Stage: g.traced(limits.NewNormalizer())}}
	var err error
	if g.trusted, err = pipeline.NewTrustedProxies(cfg.Server.TrustedProxies); err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	if err := checkBlocks("", cfg.Stages, pipeline.ScopeGlobal); err != nil {
		return nil, err
	}
	for i := range cfg.APIs {
		r, err := g.buildRoute(i)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("api %q: %w", cfg.APIs[i].Name, err)
		}
		g.routes = append(g.routes, r)
	}
	g.router = newRouter(g.routes)
	return g, nil
}

// CloseTunnels closes every open WebSocket tunnel (close code 1001). The
// HTTP server neither waits for nor closes connections that switched
// protocols, so shutdown calls it before waiting for in-flight exchanges.
func (g *Gateway) CloseTunnels() {
	for _, r := range g.routes {
		if r.upstream != nil {
			r.upstream.CloseTunnels()
		}
	}
}

// Close releases the gateway's resources (health checkers, stage resources)
// after every in-flight request on it has finished.
func (g *Gateway) Close() {
	g.inflight.Wait()
	g.close()
}

func (g *Gateway) close() {
	for _, r := range g.routes {
		_ = r.chain.Close()
		if r.upstream != nil {
			_ = r.upstream.Close()
		}
	}
}

// Config returns the configuration this gateway was built from.
func (g *Gateway) Config() *config.Config { return g.cfg }

// Upstreams returns the status of every API's targets, by API name.
func (g *Gateway) Upstreams() map[string][]proxy.TargetStatus {
	out := make(map[string][]proxy.TargetStatus, len(g.routes))
	for _, r := range g.routes {
		out[r.name] = r.upstream.Targets()
	}
	return out
}

func isTLS(r *http.Request) bool { return listener.ConnState(r) != nil }

func hstsValue(h config.HSTS) string {
	if h.Disabled {
		return ""
	}
	maxAge := h.MaxAge
	if maxAge <= 0 {
		maxAge = 8760 * time.Hour
	}
	v := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	if h.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}

// modifyResponse runs on every upstream response of route r before it is
// copied to the client: the route's response stages, then the headers the
// gateway and stages add.
func (g *Gateway) modifyResponse(r *route, resp *http.Response) error {
	x := pipeline.FromContext(resp.Request.Context())
	if x != nil {
		if d := r.chain.RunResponse(resp.Request.Context(), x, resp); d != nil {
			return &proxy.DenialError{Denial: d}
		}
		for k, vs := range x.ResponseHeader { // x is done with them: no copy
			resp.Header[k] = vs
		}
	}
	if g.hsts != "" && isTLS(resp.Request) {
		resp.Header.Set("Strict-Transport-Security", g.hsts)
	}
	return nil
}

// requestIDHeader carries the request id to the upstream and back.
const requestIDHeader = "X-Request-Id"

// validRequestID accepts ids a trusted proxy may hand us: 1-128 characters
// of [A-Za-z0-9._:-]. Anything else is replaced, so that a request id can
// never carry log-injection payloads.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// trustedRequestID returns the valid request id a trusted peer sent, else
// "" (an untrusted peer's is never read).
func trustedRequestID(r *http.Request, trusted bool) string {
	if !trusted {
		return ""
	}
	if vs := r.Header[requestIDHeader]; len(vs) > 0 && validRequestID(vs[0]) {
		return vs[0]
	}
	return ""
}

// ServeHTTP serves one exchange: it reaches one Outcome (malformed, refused
// before routing, unrouted, denied by the chain, or what the upstream made
// of it), counts its events with the route's observers before the answer
// is written (so a ban applies to the client's next request), renders a
// denial, and records the exchange.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.inflight.Add(1)
	defer g.inflight.Done()
	start := g.deps.Now()
	g.deps.Metrics.InFlight.Inc()
	defer g.deps.Metrics.InFlight.Dec()

	peer := pipeline.PeerAddr(r)
	x := pipeline.NewExchange(r, "", start)
	x.Peer = peer
	x.TrustedPeer = g.trusted.Trusts(peer)
	x.ClientIP = g.trusted.ClientIP(r, peer)
	if id := trustedRequestID(r, x.TrustedPeer); id != "" {
		x.ID = id
	} else {
		x.ID = uuid.NewString()
	}
	body := &countingBody{rc: r.Body}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = body
	}
	sw := &statusWriter{ResponseWriter: w}
	sw.Header()[requestIDHeader] = []string{x.ID} // canonical key
	tls := isTLS(r)
	if tls && g.hsts != "" {
		sw.Header().Set("Strict-Transport-Security", g.hsts)
	}

	ctx := pipeline.WithExchange(r.Context(), x)
	var span trace.Span
	if g.deps.Tracer != nil {
		ctx, span = g.startSpan(ctx, r, x)
	}
	r = r.WithContext(ctx)
	x.Request = r
	defer x.Finish()

	out, rt := g.decide(ctx, x, r, sw)
	evs := g.events(x, r, out)
	g.observe(ctx, rt, evs)
	g.observeExchange(ctx, rt, x, out, sw, evs)
	if out.Denial != nil && !out.Written {
		left := r.ProtoMajor == 1 && bodyLeft(x)
		if left {
			// Answer and close at once: net/http would otherwise read (and
			// for Expect: 100-continue, ask for) the body it was refused
			// for, holding the answer until read_timeout.
			sw.Header().Set("Connection", "close")
			defer lingerClose(sw, r)
		}
		switch {
		case out.Denial.Status == proxy.StatusClientClosedRequest:
			sw.WriteHeader(proxy.StatusClientClosedRequest) // recorded, never seen
		case out.Denial.Reply != nil:
			for k, vs := range x.ResponseHeader {
				sw.Header()[k] = vs
			}
			pipeline.WriteReply(sw, out.Denial.Reply)
		default:
			for k, vs := range x.ResponseHeader {
				sw.Header()[k] = vs
			}
			pipeline.WriteProblem(sw, out.Denial, x.ID)
		}
	}
	for _, e := range evs {
		g.deps.Events.Publish(e)
	}
	g.record(x, r, sw, body, out, tls)
	if span != nil {
		g.endSpan(span, x, out, sw.status)
	}
}

// decide runs the exchange up to its outcome: the listener's verdict on the
// head, the normaliser, routing, the route's chain and the upstream. It
// returns the matched route too (nil when none).
func (g *Gateway) decide(ctx context.Context, x *pipeline.Exchange, r *http.Request, sw *statusWriter) (pipeline.Outcome, *route) {
	deny := func(d *pipeline.Denial) pipeline.Outcome { return pipeline.Outcome{Decision: pipeline.Deny, Denial: d} }
	if a, ok := listener.Malformed(r); ok {
		return pipeline.Outcome{Decision: pipeline.Malformed, Denial: &pipeline.Denial{
			Status:   a.Status,
			Reason:   a.Reason,
			Stage:    MalformedStage,
			Rules:    []string{a.Rule},
			Location: "request",
			Excerpt:  a.Excerpt, // redacted by the listener
			Severity: events.SeverityHigh,
		}}, nil
	}
	if d := g.pre.Run(ctx, x); d != nil {
		return deny(d), nil
	}
	rt := g.router.match(r.Host, r.URL.Path)
	if rt == nil {
		return deny(&pipeline.Denial{
			Status: http.StatusNotFound,
			Reason: "no API is served at this address",
			Stage:  RouteStage,
			Rules:  []string{"route.not-found"},
			Quiet:  true,
		}), nil
	}
	x.API = rt.name
	x.BodyLimit = rt.bodyLimit
	rt.match(x)
	if d := rt.chain.Run(ctx, x); d != nil {
		if d.Status == pipeline.StatusClientClosedRequest {
			// The client went away while a stage ran: not a denial.
			return pipeline.Outcome{Decision: pipeline.Error, Denial: d}, rt
		}
		if d.Reply != nil {
			return pipeline.Outcome{Decision: pipeline.Answer, Denial: d}, rt
		}
		return deny(d), rt
	}
	out := rt.upstream.Serve(sw, r)
	if out.Denial != nil && out.Denial.Reply != nil {
		out.Decision = pipeline.Answer // a response stage answered in the upstream's place
	}
	return out, rt
}

// bodyLeft reports whether the client sent (or announced) a body that was
// not read to its end: no stage read it, or reading it failed (too large).
// Lingering close of a refused request whose body is unread (as nginx's
// lingering_close): at most lingerBytes of it are read and thrown away, for
// at most lingerTime.
const (
	lingerBytes = 256 << 10
	lingerTime  = 2 * time.Second
)

// lingerClose ends a refused request whose body is still unread. The answer
// is flushed first, so the client has it at once; then, unless the client
// waits for 100 Continue (it sends nothing more), what it is still sending
// is read and discarded for a moment, because closing a connection with
// unread data resets it, and a reset can destroy the answer in the
// client's receive buffer before it reads it (RFC 9112 §9.6). Then the read
// deadline expires, so net/http reads no more of it and closes.
func lingerClose(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	if !strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		_ = rc.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.CopyN(io.Discard, r.Body, lingerBytes)
	}
	_ = rc.SetReadDeadline(time.Now())
}

func bodyLeft(x *pipeline.Exchange) bool {
	r := x.Request
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return false
	}
	if !x.BodyRead() {
		return true
	}
	_, err := x.Body() // the cached result of the one read
	return err != nil
}

// Stage ids the gateway itself reports (the stages' own ids come from the
// registry: internal/stage).
const (
	// MalformedStage refuses request heads the listener found malformed.
	MalformedStage = "listener.malformed"
	// RouteStage answers requests no API serves.
	RouteStage = "route"
)

// Report counts an event that belongs to no exchange (a listener's
// detection, such as an HTTP/2 rapid reset) with the first API's observers
// (the auto-ban), then publishes it.
func (g *Gateway) Report(e events.Event) {
	g.observe(context.Background(), nil, []events.Event{e})
	g.deps.Events.Publish(e)
}

// observe hands the exchange's events to the stages that learn from them
// (the auto-ban), synchronously: the first API's stages observe what no API
// matched. A failure is logged; it never changes the answer.
func (g *Gateway) observe(ctx context.Context, rt *route, evs []events.Event) {
	if len(evs) == 0 {
		return
	}
	if rt == nil {
		if len(g.routes) == 0 {
			return
		}
		rt = g.routes[0]
	}
	for _, o := range rt.observers {
		for _, e := range evs {
			if err := o.ObserveEvent(ctx, e); err != nil {
				g.deps.Logger.Warn("counting a security event failed", "err", err, "request_id", e.RequestID)
			}
		}
	}
}

// observeExchange hands the whole exchange to the stages that learn from
// exchanges (detectors), synchronously, after observe: the first API's
// stages observe what no API matched. A failure is logged; it never
// changes the answer.
func (g *Gateway) observeExchange(ctx context.Context, rt *route, x *pipeline.Exchange, out pipeline.Outcome, sw *statusWriter, evs []events.Event) {
	if rt == nil {
		if len(g.routes) == 0 {
			return
		}
		rt = g.routes[0]
	}
	if len(rt.exchangeObservers) == 0 {
		return
	}
	status := sw.status
	if !out.Written && out.Denial != nil {
		status = pipeline.NewProblem(out.Denial, "").Status
	}
	if status == 0 {
		status = http.StatusOK
	}
	o := pipeline.Observed{X: x, Outcome: out, Status: status, Events: evs}
	for _, ob := range rt.exchangeObservers {
		if err := ob.ObserveExchange(ctx, o); err != nil {
			g.deps.Logger.Warn("observing an exchange failed", "err", err, "request_id", x.ID)
		}
	}
}

func ruleLabels(rules []string) []string {
	if len(rules) == 0 {
		return []string{"none"}
	}
	return rules
}

func addrString(a interface {
	IsValid() bool
	String() string
}) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// statusWriter records the status and bytes written. It keeps Flush and
// Unwrap so streaming responses and http.ResponseController keep working.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts request body bytes read (by stages or the proxy).
type countingBody struct {
	rc io.ReadCloser
	n  int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }

// Check compiles cfg the way New does — OpenAPI descriptions, policies,
// rule sets, upstreams — and releases everything again, so that `portcullis
// check` finds the problems only a build reveals.
func Check(cfg *config.Config) error {
	g, err := New(cfg, Deps{Metrics: metrics.New(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	g.close()
	return nil
}
