// Package cors is the CORS stage: which browser origins may read the
// API's answers, with which methods, headers and credentials. Preflights
// are answered by the gateway (a refused one never reaches the upstream),
// the upstream's own Access-Control-* headers are replaced by the policy,
// and every answer varies on Origin so that caches never hand one
// origin's answer to another.
package cors

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/field"
)

// Defaults.
const (
	DefaultMaxAge = 10 * time.Minute
)

// DefaultMethods are allowed when methods is empty.
var DefaultMethods = []string{"GET", "HEAD", "POST"}

// DefaultHeaders are the request headers allowed when headers is empty.
var DefaultHeaders = []string{"Authorization", "Content-Type"}

// DefaultExpose are the answer headers a page may read when expose is
// empty (besides the CORS-safelisted ones).
var DefaultExpose = []string{"X-Request-Id", "RateLimit", "RateLimit-Policy", "Retry-After"}

// Config is an API's `cors` block. Default: none (browsers then refuse
// every cross-origin read, the upstream's own CORS headers are left as
// they are).
type Config struct {
	// Origins are the allowed origins, exactly ("https://app.example.com",
	// scheme, host and port as the browser sends them), or "*" for any
	// origin without credentials. "null" (sandboxed frames, file: pages,
	// redirects) is never allowed.
	Origins []string `yaml:"origins,omitempty" json:"origins,omitempty"`
	// OriginPatterns are regular expressions an origin must match whole
	// (they are anchored: "https://[a-z0-9-]+\\.example\\.com" does not
	// match https://example.com.evil.net).
	OriginPatterns []string `yaml:"origin_patterns,omitempty" json:"origin_patterns,omitempty"`
	// Methods are the allowed methods. Default GET, HEAD, POST.
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty"`
	// Headers are the request headers a page may send (CORS-safelisted
	// ones always may). Default Authorization, Content-Type.
	Headers []string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Expose are the answer headers a page may read. Default X-Request-Id,
	// RateLimit, RateLimit-Policy, Retry-After.
	Expose []string `yaml:"expose,omitempty" json:"expose,omitempty"`
	// Credentials lets pages send cookies and HTTP authentication and read
	// the answers (Access-Control-Allow-Credentials: true). It cannot be
	// combined with "*". Default false.
	Credentials bool `yaml:"credentials,omitempty" json:"credentials,omitempty"`
	// MaxAge is how long a browser may cache a preflight's answer
	// (Access-Control-Max-Age; Chromium caps it at 2h). Default 10m;
	// negative sends none.
	MaxAge time.Duration `yaml:"max_age,omitempty" json:"max_age,omitempty"`
	// PrivateNetwork answers Private Network Access preflights
	// (Access-Control-Request-Private-Network) with permission. Default
	// false: a public page may not reach this API on a private network.
	PrivateNetwork bool `yaml:"private_network,omitempty" json:"private_network,omitempty"`
	// RefuseOthers refuses (403) requests that carry an Origin header of
	// another site that is not allowed, instead of only withholding the
	// CORS headers (which stops the page from reading the answer, not the
	// request from having its effect). Default false.
	RefuseOthers bool `yaml:"refuse_others,omitempty" json:"refuse_others,omitempty"`
}

// Validate reports problems with the block.
func (c Config) Validate() field.List {
	var errs field.List
	if len(c.Origins) == 0 && len(c.OriginPatterns) == 0 {
		errs = append(errs, field.Errorf("origins", "at least one origin or origin pattern"))
	}
	for i, o := range c.Origins {
		p := fmt.Sprintf("origins[%d]", i)
		switch {
		case o == "*":
			// Security: a wildcard with credentials would let every site
			// read every user's answers.
			if c.Credentials {
				errs = append(errs, field.Errorf(p, `"*" cannot be used with credentials: list the origins`))
			}
		case strings.EqualFold(o, "null"):
			errs = append(errs, field.Errorf(p, `"null" is never allowed: any sandboxed frame or file: page sends it`))
		default:
			if err := checkOrigin(o); err != nil {
				errs = append(errs, field.Errorf(p, "%v", err))
			}
		}
	}
	for i, pat := range c.OriginPatterns {
		if _, err := regexp.Compile(anchor(pat)); err != nil {
			errs = append(errs, field.Errorf(fmt.Sprintf("origin_patterns[%d]", i), "%v", err))
		}
	}
	for i, m := range c.Methods {
		if m == "" || strings.ToUpper(m) != m || strings.ContainsAny(m, " ,") {
			errs = append(errs, field.Errorf(fmt.Sprintf("methods[%d]", i), "got %q, want an upper-case method such as PUT", m))
		}
	}
	for i, h := range append(append([]string(nil), c.Headers...), c.Expose...) {
		if h == "" || strings.ContainsAny(h, " ,:\r\n") {
			errs = append(errs, field.Errorf(fmt.Sprintf("headers/expose[%d]", i), "got %q, want a header name", h))
		}
	}
	return errs
}

// checkOrigin accepts scheme://host[:port] with nothing else.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("got %q, want an origin such as https://app.example.com (scheme, host, port; no path)", o)
	}
	if strings.ToLower(o) != o {
		return fmt.Errorf("got %q, want it in lower case, as browsers send it", o)
	}
	return nil
}

// anchor makes a pattern match whole origins only.
func anchor(p string) string {
	return `\A(?:` + strings.TrimSuffix(strings.TrimPrefix(p, "^"), "$") + `)\z`
}
