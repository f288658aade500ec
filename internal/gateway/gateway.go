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
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/listener"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/proxy"
	"github.com/portcullis/portcullis/internal/redact"
	"github.com/portcullis/portcullis/internal/stage/ipfilter"
	"github.com/portcullis/portcullis/internal/stage/limits"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/tlsconf"
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

// route is one API compiled: its matcher, chain and upstream.
type route struct {
	name      string
	hosts     []string
	prefix    string
	chain     pipeline.Chain
	bodyLimit int64
	upstream  *proxy.Upstream
	spec      *openapi.Spec // nil when the API has no description
}

// stageFactory builds one stage of an API's chain; a nil stage means the
// stage is not configured for that API and is left out of the chain.
type stageFactory struct {
	id    string
	build func(b *build) (pipeline.Stage, error)
}

// build is what a stage factory gets: the whole config, the API being
// compiled, its compiled OpenAPI description (nil when it has none) and the
// process-lifetime services.
type build struct {
	cfg    *config.Config
	api    *config.API
	spec   *openapi.Spec
	store  store.Store
	events events.Publisher
	logger *slog.Logger
	now    func() time.Time
}

// registry lists the request stages in pipeline order, one line per stage
// (DESIGN.md: ipfilter → ratelimit(ip) → authn → ratelimit(principal) →
// authz → validate → waf). Each factory lives in stage_<id>.go.
var registry = []stageFactory{
	{"ban", buildBan},
	{"ipfilter", buildIPFilter},
	{"limits", buildLimits},
	{"ratelimit", buildRateLimitBeforeAuthn},
	{"authn", buildAuthn},
	{"ratelimit", buildRateLimitAfterAuthn},
	{"authz", buildAuthz},
	{"validate", buildValidate},
	{"waf", buildWAF},
}

func buildIPFilter(b *build) (pipeline.Stage, error) {
	f, err := ipfilter.New(b.cfg.IPFilter, b.api.IPFilter)
	if err != nil || f.Empty() {
		return nil, err
	}
	return f, nil
}

func buildLimits(b *build) (pipeline.Stage, error) {
	return limits.New(b.cfg.Limits, b.api.Limits)
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
		pre:      pipeline.Chain{{Stage: limits.NewNormalizer()}},
	}
	var err error
	if g.trusted, err = pipeline.NewTrustedProxies(cfg.Server.TrustedProxies); err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	baseDir := "."
	if cfg.File != "" {
		baseDir = filepath.Dir(cfg.File)
	}
	for i := range cfg.APIs {
		api := &cfg.APIs[i]
		r, err := g.buildRoute(api, baseDir)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("api %q: %w", api.Name, err)
		}
		g.routes = append(g.routes, r)
	}
	g.router = newRouter(g.routes)
	return g, nil
}

func (g *Gateway) buildRoute(api *config.API, baseDir string) (*route, error) {
	r := &route{name: api.Name, prefix: api.PathPrefix}
	for _, h := range api.Hosts {
		r.hosts = append(r.hosts, normalizeHost(h))
	}
	spec, err := loadSpec(api)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	r.spec = spec
	b := &build{cfg: g.cfg, api: api, spec: spec, store: g.deps.Store,
		events: g.deps.Events, logger: g.deps.Logger, now: g.deps.Now}
	for _, f := range registry {
		st, err := f.build(b)
		if err != nil {
			r.chain.Close()
			return nil, fmt.Errorf("stage %s: %w", f.id, err)
		}
		if st == nil {
			continue
		}
		if l, ok := st.(*limits.Limiter); ok {
			r.bodyLimit = l.BodyLimit()
		}
		r.chain = append(r.chain, pipeline.Step{Stage: st})
	}
	opts := proxy.Options{
		Publisher:      g.deps.Events,
		Logger:         g.deps.Logger,
		Now:            g.deps.Now,
		IsTLS:          isTLS,
		ModifyResponse: func(resp *http.Response) error { return g.modifyResponse(r, resp) },
	}
	if api.StripPrefix && api.PathPrefix != "/" {
		opts.StripPrefix = api.PathPrefix
	}
	if api.Upstream.TLS != nil {
		tc, err := tlsconf.Upstream(api.Upstream.TLS, baseDir)
		if err != nil {
			r.chain.Close()
			return nil, fmt.Errorf("upstream tls: %w", err)
		}
		opts.TLS = tc
	}
	up, err := proxy.New(api.Name, api.Upstream, opts)
	if err != nil {
		r.chain.Close()
		return nil, fmt.Errorf("upstream: %w", err)
	}
	r.upstream = up
	return r, nil
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

// ServeHTTP serves one exchange.
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
	if id := r.Header.Get(requestIDHeader); x.TrustedPeer && validRequestID(id) {
		x.ID = id
	} else {
		x.ID = uuid.NewString()
	}
	body := &countingBody{rc: r.Body}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = body
	}
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set(requestIDHeader, x.ID)
	tls := isTLS(r)
	if tls && g.hsts != "" {
		sw.Header().Set("Strict-Transport-Security", g.hsts)
	}

	ctx := pipeline.WithExchange(r.Context(), x)
	r = r.WithContext(ctx)
	x.Request = r

	decision := "allow"
	var denial *pipeline.Denial
	var rt *route
	if a, ok := listener.Malformed(r); ok {
		decision = "malformed"
		denial = &pipeline.Denial{
			Status:   a.Status,
			Reason:   a.Reason,
			Stage:    "limits",
			Rules:    []string{a.Rule},
			Location: "request",
			Excerpt:  a.Excerpt, // redacted by the listener
			Severity: events.SeverityHigh,
		}
	} else if denial = g.pre.Run(ctx, x); denial == nil {
		rt = g.router.match(r.Host, r.URL.Path)
		if rt == nil {
			denial = &pipeline.Denial{
				Status: http.StatusNotFound,
				Reason: "no API is served at this address",
				Stage:  "route",
				Rules:  []string{"route.not-found"},
				Quiet:  true,
			}
		} else {
			x.API = rt.name
			x.BodyLimit = rt.bodyLimit
			rt.matchOperation(x)
			denial = rt.chain.Run(ctx, x)
		}
	}
	defer x.Finish()
	if denial != nil {
		if decision == "allow" {
			decision = "deny"
		}
		for k, vs := range x.ResponseHeader {
			sw.Header()[k] = vs
		}
		pipeline.WriteProblem(sw, denial, x.ID)
	} else {
		rt.upstream.ServeHTTP(sw, r)
		if v, ok := x.Get(proxy.DenialKey); ok {
			if d, ok := v.(*pipeline.Denial); ok {
				denial = d
				decision = "deny" // a response stage refused the upstream's answer
				if d.Stage == proxy.StageID {
					decision = "error"
				}
			}
		}
	}
	g.finish(x, r, sw, body, decision, denial, tls)
}

// finish records the exchange: access record, metrics, events.
func (g *Gateway) finish(x *pipeline.Exchange, r *http.Request, sw *statusWriter, body *countingBody, decision string, d *pipeline.Denial, tls bool) {
	now := g.deps.Now()
	lat := now.Sub(x.Start)
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	m := g.deps.Metrics
	m.ObserveRequest(x.API, decision, lat)

	var stage string
	var rules []string
	if d != nil {
		stage = d.Stage
		rules = d.Rules
		if decision != "error" {
			for _, rule := range ruleLabels(d.Rules) {
				m.Blocked.WithLabelValues(d.Stage, rule).Inc()
			}
		}
	}
	principal := ""
	if x.Principal != nil {
		principal = x.Principal.ID
	}
	path := r.URL.EscapedPath()
	if d != nil && !d.Quiet {
		typ := events.TypeDenial
		if decision == "malformed" {
			typ = events.TypeMalformed
		}
		sev := d.Severity
		if sev == "" {
			sev = events.SeverityMedium
		}
		if decision == "error" {
			typ = events.TypeUpstream
			sev = events.SeverityHigh
		}
		e := events.Event{
			Time:      now,
			Type:      typ,
			Severity:  sev,
			RequestID: x.ID,
			ClientIP:  addrString(x.ClientIP),
			API:       x.API,
			Method:    r.Method,
			Path:      path,
			Stage:     d.Stage,
			Rules:     d.Rules,
			Status:    status,
			Reason:    d.Reason,
			Location:  d.Location,
			Excerpt:   redact.Excerpt(d.Excerpt, 128),
			Score:     d.Score,
			Mode:      "block",
			Principal: principal,
		}
		if d.Detail != "" {
			e.Attrs = map[string]any{"detail": redact.Excerpt(d.Detail, 256)}
		}
		g.deps.Events.Publish(e)
	}
	for _, f := range x.Findings() {
		for _, rule := range ruleLabels(f.Rules) {
			m.Detections.WithLabelValues(f.Stage, rule).Inc()
		}
		sev := f.Severity
		if sev == "" {
			sev = events.SeverityMedium
		}
		g.deps.Events.Publish(events.Event{
			Time: now, Type: events.TypeDetection, Severity: sev, RequestID: x.ID,
			ClientIP: addrString(x.ClientIP), API: x.API, Method: r.Method, Path: path,
			Stage: f.Stage, Rules: f.Rules, Reason: f.Reason, Location: f.Location,
			Excerpt: f.Excerpt, Score: f.Score, Mode: f.Mode, Principal: principal,
		})
		rules = append(rules, f.Rules...)
	}
	for _, fl := range x.Failures() {
		m.StageFailures.WithLabelValues(fl.Stage).Inc()
		g.deps.Events.Publish(events.Event{
			Time: now, Type: events.TypeStageFailure, Severity: events.SeverityHigh, RequestID: x.ID,
			ClientIP: addrString(x.ClientIP), API: x.API, Method: r.Method, Path: path,
			Stage: fl.Stage, Reason: redact.Excerpt(fl.Err.Error(), 256),
		})
	}

	if g.deps.Access == nil {
		return
	}
	proto := "http"
	if tls {
		proto = "https"
	}
	attrs := make([]slog.Attr, 0, 20)
	attrs = append(attrs,
		slog.String("request_id", x.ID),
		slog.String("client_ip", addrString(x.ClientIP)),
		slog.String("peer", addrString(x.Peer)),
		slog.String("method", r.Method),
		slog.String("scheme", proto),
		slog.String("proto", r.Proto),
		slog.String("host", redact.Excerpt(r.Host, 256)),
		slog.String("path", redact.Excerpt(path, 2048)),
	)
	if r.URL.RawQuery != "" {
		attrs = append(attrs, slog.String("query", redact.Excerpt(g.redactor.Query(r.URL.RawQuery), 2048)))
	}
	attrs = append(attrs,
		slog.String("api", x.API),
		slog.Int("status", status),
		slog.Int64("bytes_in", body.n),
		slog.Int64("bytes_out", sw.bytes),
		slog.Float64("latency_ms", float64(lat.Microseconds())/1000),
		slog.String("decision", decision),
	)
	if principal != "" {
		attrs = append(attrs, slog.String("principal", principal))
	}
	if stage != "" {
		attrs = append(attrs, slog.String("stage", stage))
	}
	if len(rules) > 0 {
		attrs = append(attrs, slog.Any("rules", rules))
	}
	if ua := r.Header.Get("User-Agent"); ua != "" {
		attrs = append(attrs, slog.String("user_agent", redact.Excerpt(ua, 256)))
	}
	g.deps.Access.LogAttrs(context.Background(), slog.LevelInfo, "access", attrs...)
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
