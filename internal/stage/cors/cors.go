package cors

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// ID is the stage id: the config key, log field, metric label and event
// stage.
const ID = "cors"

// Rule ids of the stage's denials.
const (
	// RuleOrigin: the origin is not allowed.
	RuleOrigin = "cors.origin"
	// RuleMethod: a preflight asked for a method that is not allowed.
	RuleMethod = "cors.method"
	// RuleHeaders: a preflight asked for a header that is not allowed.
	RuleHeaders = "cors.headers"
	// RulePrivateNetwork: a Private Network Access preflight.
	RulePrivateNetwork = "cors.private-network"
)

// Stage applies the CORS policy. It is read-only after New and safe for
// concurrent use.
type Stage struct {
	any        bool
	origins    map[string]bool
	patterns   []*regexp.Regexp
	methods    map[string]bool
	methodList string
	headers    map[string]bool // lower case
	headerList string
	expose     string
	creds      bool
	maxAge     string
	pna        bool
	refuse     bool
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
)

// Module registers the stage: the API's cors block.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "cors",
	New: func(_ *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		return New(*c)
	}}

// New compiles the policy.
func New(c Config) (*Stage, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	s := &Stage{origins: map[string]bool{}, methods: map[string]bool{}, headers: map[string]bool{}, creds: c.Credentials,
		pna: c.PrivateNetwork, refuse: c.RefuseOthers}
	for _, o := range c.Origins {
		if o == "*" {
			s.any = true
		} else {
			s.origins[o] = true
		}
	}
	for _, p := range c.OriginPatterns {
		s.patterns = append(s.patterns, regexp.MustCompile(anchor(p)))
	}
	methods := c.Methods
	if len(methods) == 0 {
		methods = DefaultMethods
	}
	for _, m := range methods {
		s.methods[m] = true
	}
	s.methodList = strings.Join(methods, ", ")
	hs := c.Headers
	if len(hs) == 0 {
		hs = DefaultHeaders
	}
	for _, h := range hs {
		s.headers[strings.ToLower(h)] = true
	}
	s.headerList = strings.Join(hs, ", ")
	ex := c.Expose
	if len(ex) == 0 {
		ex = DefaultExpose
	}
	s.expose = strings.Join(ex, ", ")
	switch {
	case c.MaxAge == 0:
		s.maxAge = strconv.Itoa(int(DefaultMaxAge.Seconds()))
	case c.MaxAge > 0:
		s.maxAge = strconv.Itoa(int(c.MaxAge.Seconds()))
	}
	return s, nil
}

// ID returns "cors".
func (s *Stage) ID() string { return ID }

// allowed reports whether an Origin header value may read answers.
// Security: the value is compared whole, never reflected unchecked;
// "null" and anything that is not one origin are refused.
func (s *Stage) allowed(o string) bool {
	if o == "" || strings.EqualFold(o, "null") || strings.ContainsAny(o, " ,\t") {
		return false
	}
	if s.origins[o] {
		return true
	}
	for _, p := range s.patterns {
		if p.MatchString(o) {
			return true
		}
	}
	return s.any
}

// sameOrigin reports whether the Origin is the gateway's own (a page of
// this very site: not a CORS request).
func sameOrigin(r *http.Request, o string) bool {
	_, host, ok := strings.Cut(o, "://")
	return ok && strings.EqualFold(host, r.Host)
}

// Request answers preflights and puts the CORS headers of the answer on
// the exchange (the gateway's own answers carry them too, so a page can
// read a 401 or a 429).
func (s *Stage) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	r := x.Request
	x.AddResponseHeader("Vary", "Origin")
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" {
		return nil, nil
	}
	ok := s.allowed(origin)
	if preflight {
		return s.preflight(x, origin, ok), nil
	}
	if !ok {
		if s.refuse && !sameOrigin(r, origin) {
			return &pipeline.Denial{Status: http.StatusForbidden, Reason: "this origin may not call the API", Rules: []string{RuleOrigin},
				Location: "header:origin", Excerpt: origin, Severity: events.SeverityLow}, nil
		}
		return nil, nil // no CORS headers: the browser keeps the answer from the page
	}
	s.allow(x, origin)
	if s.expose != "" {
		x.AddResponseHeader("Access-Control-Expose-Headers", s.expose)
	}
	return nil, nil
}

func (s *Stage) allow(x *pipeline.Exchange, origin string) {
	if s.any && !s.creds && !s.origins[origin] {
		x.AddResponseHeader("Access-Control-Allow-Origin", "*")
	} else {
		x.AddResponseHeader("Access-Control-Allow-Origin", origin)
	}
	if s.creds {
		x.AddResponseHeader("Access-Control-Allow-Credentials", "true")
	}
}

// preflight answers an OPTIONS preflight at the gateway: 204 with the
// policy, or 403. Neither reaches the upstream.
func (s *Stage) preflight(x *pipeline.Exchange, origin string, ok bool) *pipeline.Denial {
	r := x.Request
	x.AddResponseHeader("Vary", "Access-Control-Request-Method")
	x.AddResponseHeader("Vary", "Access-Control-Request-Headers")
	refuse := func(rule, reason string) *pipeline.Denial {
		return &pipeline.Denial{Status: http.StatusForbidden, Reason: reason, Rules: []string{rule}, Location: "header:origin",
			Excerpt: origin, Severity: events.SeverityLow}
	}
	if !ok {
		return refuse(RuleOrigin, "this origin may not call the API")
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if !s.methods[method] {
		return refuse(RuleMethod, "this method is not allowed from other origins")
	}
	var asked []string
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for _, h := range strings.Split(v, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				if !s.headers[h] && !safelisted(h) {
					return refuse(RuleHeaders, "a requested header is not allowed from other origins")
				}
				asked = append(asked, h)
			}
		}
	}
	if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") && !s.pna {
		return refuse(RulePrivateNetwork, "pages on public networks may not call this API")
	}
	s.allow(x, origin)
	h := http.Header{"Access-Control-Allow-Methods": {s.methodList}}
	if len(asked) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(asked, ", "))
	}
	if s.maxAge != "" {
		h.Set("Access-Control-Max-Age", s.maxAge)
	}
	if s.pna {
		h.Set("Access-Control-Allow-Private-Network", "true")
	}
	return &pipeline.Denial{Status: http.StatusNoContent, Reason: "CORS preflight answered", Rules: []string{"cors.preflight"},
		Reply: &pipeline.Reply{Status: http.StatusNoContent, Header: h}}
}

// safelisted reports the request headers a page may always send.
func safelisted(h string) bool {
	switch h {
	case "accept", "accept-language", "content-language", "content-type", "range":
		return true
	}
	return false
}

// Response replaces the upstream's CORS headers with the policy's (an
// upstream that reflects any origin with credentials is overruled) and
// merges the upstream's Vary with Origin.
func (s *Stage) Response(_ context.Context, x *pipeline.Exchange, resp *http.Response) (*pipeline.Denial, error) {
	for k := range resp.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(resp.Header, k)
		}
	}
	if up := resp.Header.Values("Vary"); len(up) > 0 {
		merged := append([]string(nil), up...)
		for _, v := range x.ResponseHeader.Values("Vary") {
			if !varies(up, v) {
				merged = append(merged, v)
			}
		}
		x.ResponseHeader["Vary"] = merged
	}
	return nil, nil
}

func varies(vals []string, h string) bool {
	for _, v := range vals {
		for _, f := range strings.Split(v, ",") {
			if t := strings.TrimSpace(f); t == "*" || strings.EqualFold(t, h) {
				return true
			}
		}
	}
	return false
}
