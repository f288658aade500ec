// Package headers is the security headers stage: every answer of an API
// (the upstream's and the gateway's own problems) gets safe defaults for
// an API (a Content-Security-Policy that allows nothing, nosniff, no
// referrer, no powerful features, same-origin opener and resource
// policies), HTML routes get a policy built from directives, answers to
// authenticated requests are not cached, the upstream's fingerprints
// (Server, X-Powered-By, ...) are removed, and a CSP report endpoint turns
// browsers' violation reports into events. HSTS is the server's
// (server.hsts), not this stage's.
package headers

import (
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/field"
)

// Defaults for an API's answers.
const (
	DefaultCSP               = "default-src 'none'; frame-ancestors 'none'"
	DefaultHTMLCSP           = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
	DefaultFrameOptions      = "DENY"
	DefaultReferrerPolicy    = "no-referrer"
	DefaultPermissionsPolicy = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
	DefaultCOOP              = "same-origin"
	DefaultCORP              = "same-origin"
	DefaultCacheControl      = "no-store"
	DefaultReportsPerMinute  = 60
)

// DefaultRemove are the upstream headers that name its software and
// version, removed from every answer unless listed in keep.
var DefaultRemove = []string{
	"Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Generator", "X-Runtime", "X-Version",
	"X-Backend-Server", "X-Drupal-Cache", "X-Drupal-Dynamic-Cache", "X-Debug-Token", "X-Debug-Token-Link",
	"X-Turbo-Charged-By", "X-Mod-Pagespeed", "X-Page-Speed", "X-Envoy-Upstream-Service-Time", "X-Litespeed-Cache",
}

// Config is an API's `headers` block. Every header has a safe default for
// an API; a value of "-" sends none (an upstream's own header then passes
// unchanged). A header set here replaces the upstream's. Default: none
// (the stage is off for an API without the block).
type Config struct {
	// CSP is the Content-Security-Policy of the API's answers. Default
	// "default-src 'none'; frame-ancestors 'none'": an API answer is data,
	// never a page that loads anything or is framed.
	CSP string `yaml:"csp,omitempty" json:"csp,omitempty"`
	// CSPReportOnly sends every policy as Content-Security-Policy-Report-Only
	// (violations are reported, nothing is blocked), to roll a policy out.
	// Default false.
	CSPReportOnly bool `yaml:"csp_report_only,omitempty" json:"csp_report_only,omitempty"`
	// ReportPath is a request path (under the API's prefix, as clients see
	// it) where the gateway itself accepts CSP violation reports
	// (application/csp-report and application/reports+json), turns each
	// into an event (rule headers.csp-violation) and answers 204; every
	// policy gets a report-uri directive for it. Default "": no reports.
	ReportPath string `yaml:"report_path,omitempty" json:"report_path,omitempty"`
	// ReportsPerMinute bounds the reports accepted per minute for the API
	// (a page in a loop must not flood the events); more get 429, counted.
	// Default 60.
	ReportsPerMinute int `yaml:"reports_per_minute,omitempty" json:"reports_per_minute,omitempty"`
	// HTML are the routes that serve pages, each with a policy built from
	// directives. The first route whose path pattern matches wins.
	HTML []HTMLRoute `yaml:"html,omitempty" json:"html,omitempty"`
	// ContentTypeOptions is X-Content-Type-Options. Default "nosniff".
	ContentTypeOptions string `yaml:"content_type_options,omitempty" json:"content_type_options,omitempty"`
	// FrameOptions is X-Frame-Options (for browsers without
	// frame-ancestors). Default "DENY".
	FrameOptions string `yaml:"frame_options,omitempty" json:"frame_options,omitempty"`
	// ReferrerPolicy is Referrer-Policy. Default "no-referrer".
	ReferrerPolicy string `yaml:"referrer_policy,omitempty" json:"referrer_policy,omitempty"`
	// PermissionsPolicy is Permissions-Policy. Default: camera,
	// microphone, geolocation, payment, usb and motion sensors off.
	PermissionsPolicy string `yaml:"permissions_policy,omitempty" json:"permissions_policy,omitempty"`
	// COOP is Cross-Origin-Opener-Policy. Default "same-origin".
	COOP string `yaml:"coop,omitempty" json:"coop,omitempty"`
	// CORP is Cross-Origin-Resource-Policy (it does not restrict CORS
	// reads, only no-cors embedding). Default "same-origin".
	CORP string `yaml:"corp,omitempty" json:"corp,omitempty"`
	// CacheControl is the Cache-Control of answers to authenticated
	// requests (a principal, an Authorization header or a cookie), so that
	// no shared cache keeps one user's data for another. Default
	// "no-store".
	CacheControl string `yaml:"cache_control,omitempty" json:"cache_control,omitempty"`
	// Remove are more upstream headers to remove (fingerprints of the
	// software behind), besides DefaultRemove.
	Remove []string `yaml:"remove,omitempty" json:"remove,omitempty"`
	// Keep are headers of DefaultRemove to keep.
	Keep []string `yaml:"keep,omitempty" json:"keep,omitempty"`
	// Set are more headers to send, by name.
	Set map[string]string `yaml:"set,omitempty" json:"set,omitempty"`
}

// HTMLRoute is a policy for pages.
type HTMLRoute struct {
	// Paths are request path patterns: "/app/*" matches everything below
	// /app/, "/" only the root ("/*" everything). Required.
	Paths []string `yaml:"paths" json:"paths"`
	// CSP maps directives to their sources ({script-src: ["'self'",
	// "https://cdn.example.com"]}). Keywords are quoted as CSP writes them
	// ('self', 'none', 'strict-dynamic'). Default: default-src 'self',
	// base-uri 'self', form-action 'self', frame-ancestors 'none',
	// object-src 'none'.
	CSP map[string][]string `yaml:"csp,omitempty" json:"csp,omitempty"`
	// UpgradeInsecureRequests adds upgrade-insecure-requests. Default false.
	UpgradeInsecureRequests bool `yaml:"upgrade_insecure_requests,omitempty" json:"upgrade_insecure_requests,omitempty"`
	// FrameOptions overrides the block's X-Frame-Options for these pages
	// ("SAMEORIGIN"). Default: the block's.
	FrameOptions string `yaml:"frame_options,omitempty" json:"frame_options,omitempty"`
}

// directives are the CSP Level 3 directives the builder accepts.
var directives = map[string]bool{
	"default-src": true, "script-src": true, "script-src-elem": true, "script-src-attr": true, "style-src": true,
	"style-src-elem": true, "style-src-attr": true, "img-src": true, "font-src": true, "connect-src": true,
	"media-src": true, "object-src": true, "frame-src": true, "child-src": true, "worker-src": true,
	"manifest-src": true, "fenced-frame-src": true, "form-action": true, "frame-ancestors": true, "base-uri": true,
	"sandbox": true, "require-trusted-types-for": true, "trusted-types": true,
}

// keywords must be written quoted.
var keywords = map[string]bool{
	"self": true, "none": true, "unsafe-inline": true, "unsafe-eval": true, "strict-dynamic": true,
	"unsafe-hashes": true, "report-sample": true, "wasm-unsafe-eval": true, "inline-speculation-rules": true,
}

// BuildCSP builds a policy from directives: default-src first, the others
// in name order, each source checked (quoted keywords, no separators that
// would end a directive or the header).
func BuildCSP(d map[string][]string, upgrade bool) (string, error) {
	names := make([]string, 0, len(d))
	for n := range d {
		if !directives[n] {
			return "", fmt.Errorf("unknown CSP directive %q", n)
		}
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if names[i] == "default-src" || names[j] == "default-src" {
			return names[i] == "default-src"
		}
		return names[i] < names[j]
	})
	parts := make([]string, 0, len(names)+1)
	for _, n := range names {
		srcs := d[n]
		for _, s := range srcs {
			if s == "" || strings.ContainsAny(s, ";,\r\n\t ") {
				return "", fmt.Errorf("%s: source %q must be one word without ';' or ','", n, s)
			}
			if keywords[strings.ToLower(s)] {
				return "", fmt.Errorf("%s: write the keyword quoted: '%s'", n, s)
			}
			if strings.EqualFold(s, "'none'") && len(srcs) > 1 {
				return "", fmt.Errorf("%s: 'none' cannot be combined with other sources", n)
			}
		}
		if len(srcs) == 0 && n != "sandbox" {
			return "", fmt.Errorf("%s: at least one source (or 'none')", n)
		}
		parts = append(parts, strings.TrimSpace(n+" "+strings.Join(srcs, " ")))
	}
	if upgrade {
		parts = append(parts, "upgrade-insecure-requests")
	}
	return strings.Join(parts, "; "), nil
}

// safeValue reports whether v can be sent as a header value.
func safeValue(v string) bool { return !strings.ContainsAny(v, "\r\n\x00") }

// Validate reports problems with the block.
func (c Config) Validate() field.List {
	var errs field.List
	for name, v := range map[string]string{"csp": c.CSP, "content_type_options": c.ContentTypeOptions, "frame_options": c.FrameOptions,
		"referrer_policy": c.ReferrerPolicy, "permissions_policy": c.PermissionsPolicy, "coop": c.COOP, "corp": c.CORP, "cache_control": c.CacheControl} {
		if !safeValue(v) {
			errs = append(errs, field.Errorf(name, "must be one line"))
		}
	}
	if c.ReportPath != "" && (!strings.HasPrefix(c.ReportPath, "/") || strings.ContainsAny(c.ReportPath, "?# ;,'\"")) {
		errs = append(errs, field.Errorf("report_path", "got %q, want a path such as /csp-report", c.ReportPath))
	}
	if c.ReportsPerMinute < 0 {
		errs = append(errs, field.Errorf("reports_per_minute", "must not be negative (0 means %d)", DefaultReportsPerMinute))
	}
	for i, r := range c.HTML {
		p := fmt.Sprintf("html[%d]", i)
		if len(r.Paths) == 0 {
			errs = append(errs, field.Errorf(p+".paths", "at least one path pattern (\"/app/*\")"))
		}
		for j, pat := range r.Paths {
			if !strings.HasPrefix(pat, "/") {
				errs = append(errs, field.Errorf(fmt.Sprintf("%s.paths[%d]", p, j), "got %q, want a pattern starting with /", pat))
			} else if _, err := path.Match(pat, "/"); err != nil {
				errs = append(errs, field.Errorf(fmt.Sprintf("%s.paths[%d]", p, j), "%v", err))
			}
		}
		if _, err := BuildCSP(r.CSP, r.UpgradeInsecureRequests); err != nil {
			errs = append(errs, field.Errorf(p+".csp", "%v", err))
		}
		if !safeValue(r.FrameOptions) {
			errs = append(errs, field.Errorf(p+".frame_options", "must be one line"))
		}
	}
	for k, v := range c.Set {
		if k == "" || strings.ContainsAny(k, " :\r\n") || !safeValue(v) {
			errs = append(errs, field.Errorf("set."+k, "not a header name and one-line value"))
		}
	}
	for i, h := range append(append([]string(nil), c.Remove...), c.Keep...) {
		if h == "" || strings.ContainsAny(h, " :\r\n") {
			errs = append(errs, field.Errorf(fmt.Sprintf("remove/keep[%d]", i), "got %q, want a header name", h))
		}
	}
	return errs
}

// or returns v, def for "", and "" for "-".
func or(v, def string) string {
	switch v {
	case "":
		return def
	case "-":
		return ""
	}
	return v
}

func canon(h string) string { return http.CanonicalHeaderKey(h) }
