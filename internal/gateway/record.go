package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/access"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/redact"
)

// events builds the security events of an exchange from one base: its
// denial (unless quiet), each finding, and each technical failure of a
// stage. They are built before the answer is written, so that observers
// can count them first.
func (g *Gateway) events(x *pipeline.Exchange, r *http.Request, out pipeline.Outcome) []events.Event {
	findings, failures := x.Findings(), x.Failures()
	d := out.Denial
	if d != nil && d.Reply != nil {
		d = nil // an answer, not a refusal: only its findings are events
	}
	if (d == nil || d.Quiet) && len(findings) == 0 && len(failures) == 0 {
		return nil
	}
	base := events.Event{
		Time:      g.deps.Now(),
		RequestID: x.ID,
		ClientIP:  addrString(x.ClientIP),
		API:       x.API,
		Method:    r.Method,
		Path:      g.redactor.Text(r.URL.EscapedPath()),
		TraceID:   x.TraceID,
	}
	if x.Principal != nil {
		base.Principal = x.Principal.ID
	}
	evs := make([]events.Event, 0, 1+len(findings)+len(failures))
	if d != nil && !d.Quiet {
		e := base
		e.Type, e.Severity = events.TypeDenial, d.Severity
		switch out.Decision {
		case pipeline.Malformed:
			e.Type = events.TypeMalformed
		case pipeline.Error:
			e.Type, e.Severity = events.TypeUpstream, events.SeverityHigh
		}
		if e.Severity == "" {
			e.Severity = events.SeverityMedium
		}
		e.Stage, e.Rules, e.Reason, e.Location = d.Stage, d.Rules, d.Reason, d.Location
		e.Status = pipeline.NewProblem(d, "").Status
		e.Excerpt = g.excerpt(d.Location, d.Excerpt, 128)
		e.Score, e.Mode = d.Score, "block"
		if d.Detail != "" {
			e.Attrs = map[string]any{"detail": g.redactor.Safe(d.Detail, 256)}
		}
		evs = append(evs, e)
	}
	for _, f := range findings {
		e := base
		e.Type, e.Severity = events.TypeDetection, f.Severity
		if e.Severity == "" {
			e.Severity = events.SeverityMedium
		}
		e.Stage, e.Rules, e.Reason, e.Location = f.Stage, f.Rules, g.redactor.Text(f.Reason), f.Location
		e.Excerpt, e.Score, e.Mode = g.excerpt(f.Location, f.Excerpt, 128), f.Score, f.Mode
		evs = append(evs, e)
	}
	for _, fl := range failures {
		e := base
		e.Type, e.Severity = events.TypeStageFailure, events.SeverityHigh
		e.Stage, e.Reason = fl.Stage, g.redactor.Safe(fl.Err.Error(), 256)
		evs = append(evs, e)
	}
	return evs
}

// excerpt is what an event shows of the input at loc: nothing when loc
// names a secret (a cookie, a token header, a password field), else the
// excerpt with anything credential-shaped masked.
func (g *Gateway) excerpt(loc, s string, n int) string {
	if s == "" {
		return ""
	}
	if g.redactor.Location(loc) {
		return redact.Mask
	}
	return g.redactor.Safe(s, n)
}

// record counts the exchange in the metrics and writes its access record.
func (g *Gateway) record(x *pipeline.Exchange, r *http.Request, sw *statusWriter, body *countingBody, out pipeline.Outcome, tls bool) {
	lat := g.deps.Now().Sub(x.Start)
	status := sw.status
	if out.Tunnel != nil {
		status = http.StatusSwitchingProtocols
	} else if status == 0 {
		status = http.StatusOK
	}
	m := g.deps.Metrics
	m.ObserveRequest(x.API, string(out.Decision), status, lat, body.n, sw.bytes)
	var rules []string
	if d := out.Denial; d != nil {
		rules = d.Rules
		if out.Decision != pipeline.Error && out.Decision != pipeline.Answer {
			api := x.API
			if api == "" {
				api = "none"
			}
			for _, rule := range ruleLabels(d.Rules) {
				m.Blocked.WithLabelValues(api, d.Stage, rule).Inc()
			}
		}
	}
	for _, f := range x.Findings() {
		for _, rule := range ruleLabels(f.Rules) {
			m.Detections.WithLabelValues(f.Stage, rule).Inc()
		}
		rules = append(rules, f.Rules...)
	}
	for _, fl := range x.Failures() {
		m.StageFailures.WithLabelValues(fl.Stage).Inc()
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if g.deps.Recent == nil && g.deps.Access == nil {
		return
	}
	// What both records show of the request, redacted once.
	client, peer := addrString(x.ClientIP), addrString(x.Peer)
	host := g.redactor.Safe(r.Host, 256)
	path := g.redactor.Safe(r.URL.EscapedPath(), 2048)
	var query, ua string
	if r.URL.RawQuery != "" {
		query = redact.Excerpt(g.redactor.Query(r.URL.RawQuery), 2048)
	}
	if s := r.Header.Get("User-Agent"); s != "" {
		ua = g.redactor.Safe(s, 256)
	}
	if g.deps.Recent != nil {
		g.remember(x, r, out, status, body.n, sw.bytes, lat, scheme, client, peer, host, path, query, ua, rules)
	}
	if g.deps.Access == nil {
		return
	}
	attrs := make([]slog.Attr, 0, 20)
	attrs = append(attrs,
		slog.String("request_id", x.ID),
		slog.String("client_ip", client),
		slog.String("peer", peer),
		slog.String("method", r.Method),
		slog.String("scheme", scheme),
		slog.String("proto", r.Proto),
		slog.String("host", host),
		slog.String("path", path),
	)
	if query != "" {
		attrs = append(attrs, slog.String("query", query))
	}
	attrs = append(attrs,
		slog.String("api", x.API),
		slog.Int("status", status),
		slog.Int64("bytes_in", body.n),
		slog.Int64("bytes_out", sw.bytes),
		slog.Float64("latency_ms", float64(lat.Microseconds())/1000),
		slog.String("decision", string(out.Decision)),
	)
	if x.Operation != "" {
		attrs = append(attrs, slog.String("operation", x.Operation))
	}
	if out.Target != "" {
		attrs = append(attrs, slog.String("upstream", out.Target))
	}
	if x.Principal != nil {
		attrs = append(attrs, slog.String("principal", x.Principal.ID))
	}
	if out.Denial != nil {
		attrs = append(attrs, slog.String("stage", out.Denial.Stage))
	}
	if len(rules) > 0 {
		attrs = append(attrs, slog.Any("rules", rules))
	}
	if t := out.Tunnel; t != nil {
		attrs = append(attrs, slog.Group("tunnel",
			slog.String("protocol", t.Protocol),
			slog.Int64("client_messages", t.ClientMessages),
			slog.Int64("upstream_messages", t.UpstreamMessages),
			slog.Int64("client_bytes", t.ClientBytes),
			slog.Int64("upstream_bytes", t.UpstreamBytes),
			slog.String("close", t.Close)))
	}
	if ua != "" {
		attrs = append(attrs, slog.String("user_agent", ua))
	}
	if x.TraceID != "" {
		attrs = append(attrs, slog.String("trace_id", x.TraceID))
	}
	// The handler directly, as Logger.LogAttrs would call it but without
	// the caller's program counter (the access handler writes no source).
	ctx := context.Background()
	if h := g.deps.Access.Handler(); h.Enabled(ctx, slog.LevelInfo) {
		_ = redact.Log(ctx, h, time.Now(), slog.LevelInfo, "access", attrs)
	}
}

// remember keeps the exchange's access record in the recent ring, for the
// dashboard's drill-down and charts; host, path, query and ua are
// already redacted.
func (g *Gateway) remember(x *pipeline.Exchange, r *http.Request, out pipeline.Outcome, status int, in, outBytes int64,
	lat time.Duration, scheme, client, peer, host, path, query, ua string, rules []string) {
	rec := access.Record{
		Time:      x.Start,
		RequestID: x.ID,
		ClientIP:  client,
		Peer:      peer,
		Method:    r.Method,
		Scheme:    scheme,
		Proto:     r.Proto,
		Host:      host,
		Path:      path,
		Query:     query,
		UserAgent: ua,
		API:       x.API,
		Operation: x.Operation,
		Status:    status,
		BytesIn:   in,
		BytesOut:  outBytes,
		LatencyMS: float64(lat.Microseconds()) / 1000,
		Decision:  string(out.Decision),
		Rules:     rules,
		Upstream:  out.Target,
		TraceID:   x.TraceID,
	}
	if x.Principal != nil {
		rec.Principal = x.Principal.ID
	}
	if out.Denial != nil {
		rec.Stage = out.Denial.Stage
	}
	g.deps.Recent.Add(rec)
}

// observeUpstream returns the proxy's upstream-latency callback for api.
func (g *Gateway) observeUpstream(api string) func(string, time.Duration, bool) {
	h := g.deps.Metrics.UpstreamDuration
	return func(target string, d time.Duration, failed bool) {
		outcome := "response"
		if failed {
			outcome = "error"
		}
		h.WithLabelValues(api, target, outcome).Observe(d.Seconds())
	}
}
