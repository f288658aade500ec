package headers

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// ID is the stage id: the config key, log field, metric label and event
// stage.
const ID = "headers"

// Rule ids.
const (
	// RuleCSPViolation: a browser reported a Content-Security-Policy
	// violation.
	RuleCSPViolation = "headers.csp-violation"
	// RuleReportFlood: more reports than reports_per_minute (429).
	RuleReportFlood = "headers.report-flood"
	// RuleBadReport: a report that is not one (400).
	RuleBadReport = "headers.bad-report"
)

// set is the compiled headers of one kind of route: each value its own
// slice of capacity one, so that a later Add copies instead of writing
// into what every request shares.
type set struct {
	h http.Header
}

type route struct {
	patterns []string
	set      set
}

// Stage sets security headers. It is read-only after New (but for the
// report budget) and safe for concurrent use.
type Stage struct {
	api    set
	html   []route
	remove []string
	cache  string
	report string
	budget *bucket
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
)

// Module registers the stage: the API's headers block.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "headers",
	New: func(b *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		return New(*c, b.Now)
	}}

// New compiles the block; now is the clock of the report budget.
func New(c Config, now func() time.Time) (*Stage, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	s := &Stage{cache: or(c.CacheControl, DefaultCacheControl), report: c.ReportPath}
	if s.report != "" {
		n := c.ReportsPerMinute
		if n == 0 {
			n = DefaultReportsPerMinute
		}
		s.budget = &bucket{rate: float64(n) / 60, burst: float64(n), tokens: float64(n), now: now, last: now()}
	}
	build := func(csp, frame string) set {
		h := http.Header{}
		add := func(k, v string) {
			if v != "" {
				h[canon(k)] = []string{v}
			}
		}
		if csp != "" && s.report != "" {
			csp += "; report-uri " + s.report
		}
		if c.CSPReportOnly {
			add("Content-Security-Policy-Report-Only", csp)
		} else {
			add("Content-Security-Policy", csp)
		}
		add("X-Content-Type-Options", or(c.ContentTypeOptions, "nosniff"))
		add("X-Frame-Options", frame)
		add("Referrer-Policy", or(c.ReferrerPolicy, DefaultReferrerPolicy))
		add("Permissions-Policy", or(c.PermissionsPolicy, DefaultPermissionsPolicy))
		add("Cross-Origin-Opener-Policy", or(c.COOP, DefaultCOOP))
		add("Cross-Origin-Resource-Policy", or(c.CORP, DefaultCORP))
		for k, v := range c.Set {
			add(k, v)
		}
		return set{h: h}
	}
	frame := or(c.FrameOptions, DefaultFrameOptions)
	s.api = build(or(c.CSP, DefaultCSP), frame)
	for _, r := range c.HTML {
		csp, _ := BuildCSP(r.CSP, r.UpgradeInsecureRequests) // validated
		if len(r.CSP) == 0 {
			csp = DefaultHTMLCSP
			if r.UpgradeInsecureRequests {
				csp += "; upgrade-insecure-requests"
			}
		}
		f := frame
		if r.FrameOptions != "" {
			f = or(r.FrameOptions, frame)
		}
		s.html = append(s.html, route{patterns: r.Paths, set: build(csp, f)})
	}
	keep := map[string]bool{}
	for _, k := range c.Keep {
		keep[canon(k)] = true
	}
	for _, h := range append(append([]string(nil), DefaultRemove...), c.Remove...) {
		if !keep[canon(h)] {
			s.remove = append(s.remove, canon(h))
		}
	}
	return s, nil
}

// ID returns "headers".
func (s *Stage) ID() string { return ID }

// match reports whether p matches a route pattern ("/app/*" covers
// everything below /app/).
func match(pattern, p string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/*"); ok {
		return p == prefix || strings.HasPrefix(p, prefix+"/")
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

// headersFor returns the headers of the route of path p.
func (s *Stage) headersFor(p string) http.Header {
	for _, r := range s.html {
		for _, pat := range r.patterns {
			if match(pat, p) {
				return r.set.h
			}
		}
	}
	return s.api.h
}

// Request puts the security headers on the exchange (so the gateway's own
// answers carry them too) and answers CSP reports.
func (s *Stage) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	for k, vs := range s.headersFor(x.Request.URL.Path) {
		if x.ResponseHeader == nil {
			x.ResponseHeader = make(http.Header, 8)
		}
		x.ResponseHeader[k] = vs[:1:1]
	}
	if s.report != "" && x.Request.URL.Path == s.report {
		return s.reports(x), nil
	}
	return nil, nil
}

// Response removes the upstream's fingerprints and keeps answers to
// authenticated requests out of caches.
func (s *Stage) Response(_ context.Context, x *pipeline.Exchange, resp *http.Response) (*pipeline.Denial, error) {
	for _, h := range s.remove {
		delete(resp.Header, h)
	}
	if s.cache != "" && authenticated(x) {
		resp.Header["Cache-Control"] = []string{s.cache}
		delete(resp.Header, "Expires")
	}
	return nil, nil
}

// authenticated reports whether the request carried credentials.
func authenticated(x *pipeline.Exchange) bool {
	if x.Principal != nil {
		return true
	}
	h := x.Request.Header
	return h.Get("Authorization") != "" || h.Get("Cookie") != ""
}

// maxReports bounds the events made from one report request.
const maxReports = 20

// reports turns a CSP report request into events and answers 204.
func (s *Stage) reports(x *pipeline.Exchange) *pipeline.Denial {
	r := x.Request
	if r.Method != http.MethodPost {
		return &pipeline.Denial{Status: http.StatusMethodNotAllowed, Reason: "CSP reports are sent with POST", Rules: []string{RuleBadReport},
			Headers: http.Header{"Allow": {"POST"}}, Quiet: true}
	}
	if !s.budget.take() {
		return &pipeline.Denial{Status: http.StatusTooManyRequests, Reason: "too many CSP reports", Rules: []string{RuleReportFlood},
			Headers: http.Header{"Retry-After": {"60"}}, Quiet: true}
	}
	body, err := x.Body()
	if err != nil {
		return &pipeline.Denial{Status: http.StatusRequestEntityTooLarge, Reason: "the report is too large", Rules: []string{RuleBadReport}, Severity: events.SeverityLow}
	}
	reps, ok := parseReports(r.Header.Get("Content-Type"), body)
	if !ok {
		return &pipeline.Denial{Status: http.StatusBadRequest, Reason: "the body is not a CSP report", Rules: []string{RuleBadReport}, Severity: events.SeverityLow}
	}
	for i, rep := range reps {
		if i == maxReports {
			break
		}
		mode := "block"
		if rep.Disposition == "report" {
			mode = "detect"
		}
		where := rep.Source
		if rep.Line > 0 {
			where = fmt.Sprintf("%s:%d", where, rep.Line)
		}
		x.AddFinding(pipeline.Finding{Stage: ID, Rules: []string{RuleCSPViolation}, Location: "csp:" + clip(rep.Directive, 40),
			Reason:  clip(fmt.Sprintf("CSP %s violation on %s: blocked %s (%s)", rep.Directive, rep.Document, rep.Blocked, where), 400),
			Excerpt: clip(rep.Sample, 80), Mode: mode, Severity: events.SeverityLow})
	}
	return &pipeline.Denial{Status: http.StatusNoContent, Reason: "report received", Rules: []string{RuleCSPViolation},
		Reply: &pipeline.Reply{Status: http.StatusNoContent, Header: http.Header{}}}
}

// report is one violation, from either report format.
type report struct {
	Document, Directive, Blocked, Source, Sample, Disposition string
	Line                                                      int
}

// parseReports reads the legacy report-uri format ({"csp-report": {...}},
// application/csp-report) and the Reporting API's
// ([{"type": "csp-violation", "body": {...}}], application/reports+json).
func parseReports(ct string, body []byte) ([]report, bool) {
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "application/csp-report", "application/json":
		var legacy struct {
			R *struct {
				Document    string `json:"document-uri"`
				Violated    string `json:"violated-directive"`
				Effective   string `json:"effective-directive"`
				Blocked     string `json:"blocked-uri"`
				Source      string `json:"source-file"`
				Line        int    `json:"line-number"`
				Sample      string `json:"script-sample"`
				Disposition string `json:"disposition"`
			} `json:"csp-report"`
		}
		if json.Unmarshal(body, &legacy) != nil || legacy.R == nil {
			return nil, false
		}
		d := legacy.R.Effective
		if d == "" {
			d = legacy.R.Violated
		}
		return []report{{Document: legacy.R.Document, Directive: d, Blocked: legacy.R.Blocked, Source: legacy.R.Source,
			Line: legacy.R.Line, Sample: legacy.R.Sample, Disposition: legacy.R.Disposition}}, true
	case "application/reports+json":
		var list []struct {
			Type string `json:"type"`
			Body struct {
				Document    string `json:"documentURL"`
				Directive   string `json:"effectiveDirective"`
				Blocked     string `json:"blockedURL"`
				Source      string `json:"sourceFile"`
				Line        int    `json:"lineNumber"`
				Sample      string `json:"sample"`
				Disposition string `json:"disposition"`
			} `json:"body"`
		}
		if json.Unmarshal(body, &list) != nil {
			return nil, false
		}
		var out []report
		for _, r := range list {
			if r.Type != "csp-violation" {
				continue
			}
			b := r.Body
			out = append(out, report{Document: b.Document, Directive: b.Directive, Blocked: b.Blocked, Source: b.Source,
				Line: b.Line, Sample: b.Sample, Disposition: b.Disposition})
		}
		return out, len(out) > 0
	}
	return nil, false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// bucket is a token bucket on the build's clock.
type bucket struct {
	mu                  sync.Mutex
	rate, burst, tokens float64
	now                 func() time.Time
	last                time.Time
}

func (b *bucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	b.tokens = min(b.burst, b.tokens+t.Sub(b.last).Seconds()*b.rate)
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
