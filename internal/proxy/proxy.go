// Package proxy turns an API's upstream configuration into an http.Handler
// that forwards the exchange to one of the API's targets.
//
// An Upstream is built once at load (New) and shared by every request of the
// API. It picks a target round robin among those that are healthy (active
// health checks) and whose circuit is not open (passive circuit breaking),
// forwards the request with httputil.ReverseProxy (Rewrite, never Director),
// and renders every failure it owns as an RFC 9457 problem through
// pipeline.WriteProblem, recording the denial on the exchange.
//
// What the upstream sees:
//
//   - X-Request-Id is the exchange's id; whatever the client sent is
//     replaced.
//   - X-Forwarded-For is built from trusted data only: the chain a trusted
//     proxy sent, extended with that proxy's address; or, for any other peer,
//     just the client address. A client that is not a trusted proxy can never
//     make the upstream believe a forged address.
//   - X-Forwarded-Host and X-Forwarded-Proto are what a trusted proxy said,
//     or else the Host the client asked for and "https"/"http" depending on
//     the client connection.
//   - Forwarded (RFC 7239) is dropped unless the peer is a trusted proxy, in
//     which case it is kept and extended with one element for this hop.
//   - Hop-by-hop headers, every header named in Connection, and every
//     Proxy-* header (and "Proxy", the httpoxy vector) are removed.
//   - Host is the target's host (as httputil.ProxyRequest.SetURL does), so
//     that virtual-hosted and TLS upstreams answer for the name they know;
//     the host the client asked for travels in X-Forwarded-Host.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// StageID is the stage id the proxy uses in denials, events and logs.
const StageID = "proxy"

// Rule ids of the denials the proxy produces.
const (
	// RuleNoHealthyUpstream: every target is unhealthy or has an open
	// circuit (503).
	RuleNoHealthyUpstream = "proxy.no-healthy-upstream"
	// RuleUpstreamUnavailable: the target could not be reached, refused the
	// connection, or reset it (502).
	RuleUpstreamUnavailable = "proxy.upstream-unavailable"
	// RuleUpstreamTimeout: the target did not send response headers in time,
	// or the request's deadline passed (504).
	RuleUpstreamTimeout = "proxy.upstream-timeout"
	// RuleClientClosed: the client went away before the answer (499, no
	// body is written).
	RuleClientClosed = "proxy.client-closed"
	// RuleResponseFailed: Options.ModifyResponse returned an error that is
	// not a *DenialError (502).
	RuleResponseFailed = "proxy.response-failed"
)

// StatusClientClosedRequest is the status recorded when the client went
// away before the upstream answered (nginx's 499). It is never sent.
const StatusClientClosedRequest = 499

// Zero fields of config.Upstream take the defaults config declares
// (config.config.DefaultConnectTimeout, ...): config.WithDefaults fills them at
// load, and New applies the same constants to an Upstream built in code.

// Options are the parts of an Upstream that do not come from its config
// block. The zero value is usable.
type Options struct {
	// TLS is the client TLS configuration for https targets (built by
	// tlsconf.Upstream). It is cloned. Nil means Go's defaults: system roots,
	// the target's host name as SNI and verified name, no client certificate.
	TLS *tls.Config
	// StripPrefix is removed from the request path before forwarding, on a
	// segment boundary ("/api" turns "/api/pets" into "/pets" and "/api" into
	// "/", but leaves "/apix" alone). Empty or "/" strips nothing. It must
	// start with "/".
	StripPrefix string
	// Publisher receives upstream health and circuit transitions. Nil
	// discards them.
	Publisher events.Publisher
	// Logger logs transitions and upstream errors. Nil discards.
	Logger *slog.Logger
	// Now is the clock of the circuit breakers and events. Nil means
	// time.Now.
	Now func() time.Time
	// ModifyResponse runs on every upstream response before it is copied to
	// the client (the gateway's response stages). A returned *DenialError
	// becomes a Deny outcome with its denial; any other error a 502 Error
	// outcome. Nil means none.
	ModifyResponse func(*http.Response) error
	// IsTLS reports whether the client connection of r was TLS, for
	// X-Forwarded-Proto. Nil means r.TLS != nil, which is wrong behind a
	// listener that terminates TLS itself and hands plain requests on.
	IsTLS func(r *http.Request) bool
	// WrapTransport, when set, wraps the transport requests to targets go
	// through (tracing: a client span and the traceparent header). Health
	// checks do not go through it. Nil means the plain transport.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// ObserveUpstream, when set, is called once per request sent to a
	// target with the time to its response headers (err false) or to the
	// failure (err true). Nil means none.
	ObserveUpstream func(target string, d time.Duration, err bool)
}

// DenialError carries a denial out of Options.ModifyResponse: a response
// stage refused the upstream's answer and the client gets the denial's
// problem instead.
type DenialError struct {
	Denial *pipeline.Denial
}

// Error implements error. The text is for logs only.
func (e *DenialError) Error() string {
	if e.Denial == nil {
		return "response denied"
	}
	return fmt.Sprintf("response denied by %s (%d)", e.Denial.Stage, e.Denial.Status)
}

// Upstream forwards exchanges to the targets of one API. It is safe for
// concurrent use. Close stops its health checks.
type Upstream struct {
	api     string
	targets []*target
	next    atomic.Uint64

	proxy     *httputil.ReverseProxy
	transport *http.Transport
	h1        *h1Transport

	breaker breakerConfig
	health  *config.HealthCheck // defaults applied; nil when off

	strip      string
	isTLS      func(*http.Request) bool
	pub        events.Publisher
	log        *slog.Logger
	now        func() time.Time
	modify     func(*http.Response) error
	onUpstream func(target string, d time.Duration, err bool)

	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once

	tunnels tunnelSet
}

var _ http.Handler = (*Upstream)(nil)

type breakerConfig struct {
	disabled bool
	failures int
	openFor  time.Duration
}

// Validate checks an upstream config block and returns its problems, with
// paths relative to the block ("targets[1]", "health_check.path").
func Validate(cfg config.Upstream) field.List {
	var l field.List
	if len(cfg.Targets) == 0 {
		l = append(l, field.Errorf("targets", "at least one target is required"))
	}
	for i, s := range cfg.Targets {
		if _, err := parseTarget(s); err != nil {
			l = append(l, field.Errorf(fmt.Sprintf("targets[%d]", i), "%v", err))
		}
	}
	nonNeg := func(path string, d time.Duration) {
		if d < 0 {
			l = append(l, field.Errorf(path, "must not be negative"))
		}
	}
	nonNeg("connect_timeout", cfg.ConnectTimeout)
	nonNeg("response_header_timeout", cfg.ResponseHeaderTimeout)
	nonNeg("idle_conn_timeout", cfg.IdleConnTimeout)
	if cfg.MaxIdleConnsPerHost < 0 {
		l = append(l, field.Errorf("max_idle_conns_per_host", "must not be negative"))
	}
	if cfg.CircuitBreaker.Failures < 0 {
		l = append(l, field.Errorf("circuit_breaker.failures", "must not be negative"))
	}
	nonNeg("circuit_breaker.open_for", cfg.CircuitBreaker.OpenFor)
	if hc := cfg.HealthCheck; hc != nil {
		if hc.Path != "" {
			if !strings.HasPrefix(hc.Path, "/") {
				l = append(l, field.Errorf("health_check.path", "must start with \"/\""))
			} else if _, err := url.Parse(hc.Path); err != nil {
				l = append(l, field.Errorf("health_check.path", "not a valid path"))
			}
		}
		nonNeg("health_check.interval", hc.Interval)
		nonNeg("health_check.timeout", hc.Timeout)
		if hc.HealthyThreshold < 0 {
			l = append(l, field.Errorf("health_check.healthy_threshold", "must not be negative"))
		}
		if hc.UnhealthyThreshold < 0 {
			l = append(l, field.Errorf("health_check.unhealthy_threshold", "must not be negative"))
		}
	}
	return l
}

// parseTarget accepts an absolute http or https URL with a host and no user
// information or fragment.
func parseTarget(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a valid URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		u.Scheme = strings.ToLower(u.Scheme)
	case "":
		return nil, errors.New("must be an absolute URL (http:// or https://)")
	default:
		return nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("must have a host")
	}
	if u.User != nil {
		// SetURL would silently drop them; credentials in a URL also end up
		// in logs. Refuse instead of surprising.
		return nil, errors.New("must not contain user information")
	}
	if u.Fragment != "" {
		return nil, errors.New("must not contain a fragment")
	}
	return u, nil
}

// New builds the upstream of api from its config block, applying defaults
// to zero fields. It starts the active health checks when cfg.HealthCheck is
// set; call Close to stop them.
func New(api string, cfg config.Upstream, opts Options) (*Upstream, error) {
	if l := Validate(cfg); len(l) > 0 {
		errs := make([]error, len(l))
		for i, e := range l {
			errs[i] = e
		}
		return nil, fmt.Errorf("proxy: api %q: upstream: %w", api, errors.Join(errs...))
	}
	strip := strings.TrimRight(opts.StripPrefix, "/")
	if opts.StripPrefix != "" && !strings.HasPrefix(opts.StripPrefix, "/") {
		return nil, fmt.Errorf("proxy: api %q: strip prefix %q must start with \"/\"", api, opts.StripPrefix)
	}

	u := &Upstream{
		api:        api,
		strip:      strip,
		isTLS:      opts.IsTLS,
		pub:        opts.Publisher,
		log:        opts.Logger,
		now:        opts.Now,
		modify:     opts.ModifyResponse,
		onUpstream: opts.ObserveUpstream,
		breaker: breakerConfig{
			disabled: cfg.CircuitBreaker.Disabled,
			failures: orInt(cfg.CircuitBreaker.Failures, config.DefaultBreakerFailures),
			openFor:  orDur(cfg.CircuitBreaker.OpenFor, config.DefaultBreakerOpenFor),
		},
	}
	if u.isTLS == nil {
		u.isTLS = func(r *http.Request) bool { return r.TLS != nil }
	}
	if u.pub == nil {
		u.pub = events.Discard
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
	if hc := cfg.HealthCheck; hc != nil {
		u.health = &config.HealthCheck{
			Path:               hc.Path,
			Interval:           orDur(hc.Interval, config.DefaultHealthInterval),
			Timeout:            orDur(hc.Timeout, config.DefaultHealthTimeout),
			HealthyThreshold:   orInt(hc.HealthyThreshold, config.DefaultHealthyThreshold),
			UnhealthyThreshold: orInt(hc.UnhealthyThreshold, config.DefaultUnhealthyThreshold),
		}
		if u.health.Path == "" {
			u.health.Path = config.DefaultHealthPath
		}
	}

	anyHTTPS := false
	for _, s := range cfg.Targets {
		tu, _ := parseTarget(s) // validated above
		t := &target{raw: s, url: tu, healthy: true}
		if u.health != nil {
			t.healthURL = healthURL(tu, u.health.Path)
		}
		u.targets = append(u.targets, t)
		anyHTTPS = anyHTTPS || tu.Scheme == "https"
	}

	connect := orDur(cfg.ConnectTimeout, config.DefaultConnectTimeout)
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	u.transport = &http.Transport{
		// Proxy is deliberately nil: an HTTP_PROXY variable in the gateway's
		// environment must not silently route API traffic elsewhere.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       opts.TLS.Clone(),
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: orDur(cfg.ResponseHeaderTimeout, config.DefaultResponseHeaderTimeout),
		IdleConnTimeout:       orDur(cfg.IdleConnTimeout, config.DefaultIdleConnTimeout),
		MaxIdleConnsPerHost:   orInt(cfg.MaxIdleConnsPerHost, config.DefaultMaxIdleConnsPerHost),
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     anyHTTPS,
	}
	// Plain-HTTP targets go through the h1 transport (h1.go); everything
	// it does not take, and the health checks, through u.transport.
	u.h1 = newH1Transport(u.transport, dialer.DialContext, u.transport.ResponseHeaderTimeout, u.transport.IdleConnTimeout, u.transport.MaxIdleConnsPerHost)
	var rt http.RoundTripper = u.h1
	if cfg.StandardTransport {
		rt = u.transport
	}
	if opts.WrapTransport != nil {
		rt = opts.WrapTransport(rt)
	}
	u.proxy = &httputil.ReverseProxy{
		Rewrite:   u.rewrite,
		Transport: rt,
		// FlushInterval stays zero: ReverseProxy then flushes
		// text/event-stream and unknown-length bodies immediately, and
		// never buffers a stream.
		BufferPool:     &bufferPool{},
		ErrorLog:       slog.NewLogLogger(u.log.Handler(), slog.LevelWarn),
		ModifyResponse: u.modifyResponse,
		ErrorHandler:   u.errorHandler,
	}

	if u.health != nil {
		ctx, cancel := context.WithCancel(context.Background())
		u.stop = cancel
		u.done = make(chan struct{})
		go u.healthLoop(ctx)
	}
	return u, nil
}

// API returns the name of the API this upstream serves.
func (u *Upstream) API() string { return u.api }

// Serve forwards r to a target and returns what became of it. When the
// upstream's answer reached w, the outcome is Allow (or Deny/Error with
// Written set for nothing: see below); otherwise nothing was written to w and
// the outcome carries the denial for the caller to render: the proxy's own
// (no healthy target, unreachable, timeout: Error) or a response stage's
// (ModifyResponse returned a *DenialError: Deny). A client that went away
// gets an Error outcome with the unsent 499 denial (Quiet).
//
// The exchange is taken from r's context (pipeline.FromContext); the
// gateway always puts one there. Without one the request is treated as
// coming from an untrusted peer with no request id.
func (u *Upstream) Serve(w http.ResponseWriter, r *http.Request) pipeline.Outcome {
	x := pipeline.FromContext(r.Context())
	grant, refused := prepareUpgrade(r, x)
	if refused != nil {
		return pipeline.Outcome{Decision: pipeline.Deny, Denial: refused}
	}
	sanitizeConnection(r.Header, x)
	t, trial := u.pick()
	if t == nil {
		return pipeline.Outcome{Decision: pipeline.Error, Denial: &pipeline.Denial{
			Status:   http.StatusServiceUnavailable,
			Reason:   "no healthy upstream",
			Stage:    StageID,
			Rules:    []string{RuleNoHealthyUpstream},
			Detail:   fmt.Sprintf("api %q: every target is unhealthy or has an open circuit", u.api),
			Severity: events.SeverityHigh,
		}}
	}
	w = newInformationalFilter(w)
	a := &attempt{t: t, trial: trial, w: w, grant: grant}
	if u.onUpstream != nil {
		a.sent = u.now()
	}
	// Whatever happens below (including the ErrAbortHandler panic on a
	// broken response stream), the attempt ends and a half-open trial slot
	// is given back.
	defer u.finish(a, outcomeNeutral)
	u.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), attemptKey{}, a)))
	out := pipeline.Outcome{Decision: pipeline.Allow, Target: t.raw, Denial: a.denial, Tunnel: a.tunnel}
	if a.denial != nil {
		out.Decision = pipeline.Error
		if a.refused {
			out.Decision = pipeline.Deny
		}
	}
	return out
}

// ServeHTTP is Serve as an http.Handler: a denial is rendered as a problem
// (a client that went away gets no body, only the recorded 499).
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out := u.Serve(w, r)
	if out.Denial == nil {
		return
	}
	if out.Denial.Status == StatusClientClosedRequest {
		w.WriteHeader(StatusClientClosedRequest)
		return
	}
	id := ""
	if x := pipeline.FromContext(r.Context()); x != nil {
		id = x.ID
	}
	pipeline.WriteProblem(w, out.Denial, id)
}

// attempt is one request sent to one target. It lives in the outbound
// request's context so that the ReverseProxy hooks find the target, and
// carries back what the error handler decided.
type attempt struct {
	t     *target
	trial bool // the half-open trial request
	done  bool // outcome recorded; hooks run on the ServeHTTP goroutine
	// denial is the answer the caller must render (nothing was written).
	denial *pipeline.Denial
	// refused reports that a response stage refused the upstream's answer
	// (a denial, not an upstream failure).
	refused bool
	// w is the client's response writer, which a protocol switch takes
	// over; grant is the exchange's permission to switch (nil: none);
	// tunnel is what passed through once it closed.
	w      http.ResponseWriter
	grant  *pipeline.Upgrade
	tunnel *pipeline.Tunnel
	// sent is when the request left for the target (zero without
	// Options.ObserveUpstream).
	sent time.Time
}

type attemptKey struct{}

func attemptFrom(ctx context.Context) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	return a
}

func (u *Upstream) finish(a *attempt, o outcome) {
	if a == nil || a.done {
		return
	}
	a.done = true
	u.record(a, o)
}

// observed reports the attempt's upstream latency once: to the response
// headers (failed false) or to the failure.
func (u *Upstream) observed(a *attempt, failed bool) {
	if u.onUpstream == nil || a == nil || a.sent.IsZero() || a.t == nil {
		return
	}
	u.onUpstream(a.t.raw, u.now().Sub(a.sent), failed)
	a.sent = time.Time{}
}

// rewrite builds the outbound request. ReverseProxy has already removed the
// hop-by-hop headers (including those named in Connection) and Forwarded /
// X-Forwarded-* from pr.Out; pr.In is the client's request, untouched.
func (u *Upstream) rewrite(pr *httputil.ProxyRequest) {
	a := attemptFrom(pr.In.Context())
	if u.strip != "" {
		stripPrefix(pr.Out.URL, u.strip)
	}
	pr.SetURL(a.t.url) // also sets Out.Host = "" so the target's host is sent

	x := pipeline.FromContext(pr.In.Context())
	var (
		id          string
		trusted     bool
		peer, cli   string
		clientValid bool
	)
	if x != nil {
		id, trusted = x.ID, x.TrustedPeer
		if x.Peer.IsValid() {
			peer = x.Peer.String()
		}
		if x.ClientIP.IsValid() {
			cli, clientValid = x.ClientIP.String(), true
		}
	} else if p := pipeline.PeerAddr(pr.In); p.IsValid() {
		peer, cli, clientValid = p.String(), p.String(), true
	}

	h := pr.Out.Header
	vals := pipeline.NewHeaderValues(5) // the five values set below, one allocation
	// Security: the headers the gateway owns are removed under every
	// spelling first ("X-Principal_Id" is X-Principal-Id to a WSGI, CGI or
	// PHP upstream), then set from what the gateway knows. See
	// pipeline.OwnedHeader for the list and why.
	var set http.Header
	if x != nil {
		set = x.UpstreamHeader
	}
	stripOwned(h, trusted, set)
	// The gateway has read (or will stream) the body itself; an Expect
	// would only make the upstream wait or answer 100 to nobody.
	delete(h, "Expect") // canonical keys: the map directly, without re-canonicalising

	// Security: a client must not be able to choose the id under which its
	// request is logged upstream; the exchange's id always wins.
	if id != "" {
		h["X-Request-Id"] = vals.One(id)
	} else {
		delete(h, "X-Request-Id")
	}

	// Security: X-Forwarded-For is only extended when the peer is a trusted
	// proxy. For anyone else it is exactly the client address, so a forged
	// header from the internet never reaches the upstream.
	if prior := pr.In.Header.Values("X-Forwarded-For"); trusted && len(prior) > 0 && peer != "" {
		h.Set("X-Forwarded-For", strings.Join(prior, ", ")+", "+peer)
	} else if trusted && peer != "" {
		h.Set("X-Forwarded-For", peer)
	} else if clientValid {
		h["X-Forwarded-For"] = vals.One(cli)
	}

	proto := "http"
	if u.isTLS(pr.In) {
		proto = "https"
	}
	host := pr.In.Host
	if trusted {
		if v := pr.In.Header.Get("X-Forwarded-Host"); v != "" {
			h.Set("X-Forwarded-Host", v)
		} else {
			h.Set("X-Forwarded-Host", host)
		}
		if v := pr.In.Header.Get("X-Forwarded-Proto"); v != "" {
			h.Set("X-Forwarded-Proto", v)
		} else {
			h.Set("X-Forwarded-Proto", proto)
		}
		// Forwarded from a trusted proxy is kept and extended with this hop;
		// from anyone else it stays removed (ReverseProxy dropped it).
		if prior := pr.In.Header.Values("Forwarded"); len(prior) > 0 && peer != "" {
			elem := "for=" + forwardedNode(peer) + ";host=" + quote(host) + ";proto=" + proto
			h.Set("Forwarded", strings.Join(prior, ", ")+", "+elem)
		}
	} else {
		h["X-Forwarded-Host"] = vals.One(host)
		h["X-Forwarded-Proto"] = vals.One(proto)
	}

	// X-Real-IP is always the client address the gateway resolved (nginx's
	// usual proxy_set_header X-Real-IP $remote_addr).
	if clientValid {
		h["X-Real-Ip"] = vals.One(cli) // X-Real-IP, canonical
	}
	for k, vs := range set {
		h[k] = vs
	}

	// Security: ReverseProxy removes Proxy-Authorization/-Authenticate and
	// Proxy-Connection, but not the other Proxy-* headers nor "Proxy" (the
	// httpoxy vector: CGI-style upstreams turn it into HTTP_PROXY). None of
	// them is meant for the upstream.
	for k := range h {
		if isProxyHeader(k) {
			delete(h, k)
		}
	}
}

func isProxyHeader(k string) bool {
	return strings.EqualFold(k, "Proxy") || len(k) > 6 && strings.EqualFold(k[:6], "Proxy-")
}

// stripPrefix removes prefix (no trailing slash) from u's path on a segment
// boundary, keeping a leading "/".
func stripPrefix(u *url.URL, prefix string) {
	p, ok := cutSegmentPrefix(u.Path, prefix)
	if !ok {
		return
	}
	if u.RawPath != "" {
		if rp, ok := cutSegmentPrefix(u.RawPath, prefix); ok {
			u.RawPath = rp
		} else {
			// The encoded form does not start with the prefix (an escaped
			// slash inside it): fall back to the decoded path, re-encoded.
			u.RawPath = ""
		}
	}
	u.Path = p
}

func cutSegmentPrefix(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return path, false
	}
	switch {
	case rest == "":
		return "/", true
	case rest[0] == '/':
		return rest, true
	}
	return path, false
}

// forwardedNode formats an address as an RFC 7239 node (IPv6 quoted and
// bracketed).
func forwardedNode(ip string) string {
	if strings.Contains(ip, ":") {
		return `"[` + ip + `]"`
	}
	return ip
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// modifyResponse feeds the circuit breaker with the target's status, then
// runs the gateway's response hook.
func (u *Upstream) modifyResponse(resp *http.Response) error {
	if resp.Request != nil {
		if a := attemptFrom(resp.Request.Context()); a != nil {
			u.observed(a, false)
			switch resp.StatusCode {
			case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				u.finish(a, outcomeFailure)
			default:
				u.finish(a, outcomeSuccess)
			}
		}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Response stages are not run on a 101: its body is the connection.
		return u.switchProtocols(resp)
	}
	if u.modify != nil {
		return u.modify(resp)
	}
	return nil
}

// errorHandler answers when no usable response came back. r is the
// outbound request; its context carries the exchange and the attempt.
// Error text goes to logs and the denial's Detail, never to the client.
//
// It writes nothing: the denial goes back to Serve's caller through the
// attempt, so that one renderer answers and the gateway sees the outcome.
func (u *Upstream) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	x := pipeline.FromContext(ctx)
	a := attemptFrom(ctx)
	if a == nil { // not from Serve: cannot happen, answer safely anyway
		a = &attempt{done: true}
		defer func() {
			if a.denial != nil {
				pipeline.WriteProblem(w, a.denial, "")
			}
		}()
	}

	if errors.Is(err, errTunnel) {
		return // switchProtocols recorded the outcome on the attempt
	}
	var de *DenialError
	if errors.As(err, &de) && de.Denial != nil {
		a.denial, a.refused = de.Denial, true
		return
	}
	if a.done {
		// The target answered (the breaker already counted it); the
		// gateway's response hook failed.
		u.logError(x, a, "response hook failed", err)
		u.deny(a, &pipeline.Denial{
			Status: http.StatusBadGateway,
			Reason: "the upstream response could not be processed",
			Stage:  StageID,
			Rules:  []string{RuleResponseFailed},
			Detail: err.Error(),
		})
		return
	}

	if errors.Is(ctx.Err(), context.Canceled) {
		// The client went away: nobody to answer, and no verdict on the
		// target either.
		u.finish(a, outcomeNeutral)
		u.deny(a, &pipeline.Denial{
			Status: StatusClientClosedRequest,
			Reason: "client closed request",
			Stage:  StageID,
			Rules:  []string{RuleClientClosed},
			Detail: err.Error(),
			Quiet:  true,
		})
		return
	}

	u.observed(a, true)
	u.finish(a, outcomeFailure)
	d := &pipeline.Denial{
		Status:   http.StatusBadGateway,
		Reason:   "the upstream service is unavailable",
		Stage:    StageID,
		Rules:    []string{RuleUpstreamUnavailable},
		Detail:   targetDetail(a, err),
		Severity: events.SeverityLow,
	}
	if isTimeout(ctx, err) {
		d.Status = http.StatusGatewayTimeout
		d.Reason = "the upstream service did not answer in time"
		d.Rules = []string{RuleUpstreamTimeout}
	}
	u.logError(x, a, "upstream request failed", err)
	u.deny(a, d)
}

// isTimeout reports whether err means the target was reached but too slow
// (504). Failing to connect, even by timing out, is "unavailable" (502).
func isTimeout(ctx context.Context, err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func targetDetail(a *attempt, err error) string {
	if a == nil || a.t == nil {
		return err.Error()
	}
	return "target " + a.t.raw + ": " + err.Error()
}

func (u *Upstream) logError(x *pipeline.Exchange, a *attempt, msg string, err error) {
	attrs := []any{"api", u.api, "error", err}
	if a != nil && a.t != nil {
		attrs = append(attrs, "target", a.t.raw)
	}
	if x != nil {
		attrs = append(attrs, "request_id", x.ID)
	}
	u.log.Warn(msg, attrs...)
}

// deny hands d back to Serve through the attempt.
func (u *Upstream) deny(a *attempt, d *pipeline.Denial) { a.denial = d }

// bufferPool recycles ReverseProxy's 32 KiB copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32*1024)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}
