// Package csrf is the cross-site request forgery stage for APIs that
// browsers call with cookies: unsafe requests (anything but GET, HEAD,
// OPTIONS) that carry the session cookie must come from the API's own
// origin or a trusted one, judged by Fetch Metadata (Sec-Fetch-Site) and
// Origin with Go's http.CrossOriginProtection, and by Referer when a
// browser sends neither; optionally they must carry a double-submit token
// (signed and bound to the session when a secret is set), and JSON APIs
// can refuse the content types a plain HTML form sends.
package csrf

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/openapi"
)

// Defaults of the token.
const (
	DefaultTokenCookie = "csrf_token"
	DefaultTokenHeader = "X-CSRF-Token"
)

// Config is an API's `csrf` block. Default: none.
type Config struct {
	// Mode is "block" (default: 403/415) or "log" (an event, the request
	// passes).
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// Cookies are the names of the cookies that authenticate a browser
	// (the session). The checks apply to unsafe requests that carry one of
	// them; a request without (an API client with a bearer token) cannot
	// be forged by another site. Default: any cookie.
	Cookies []string `yaml:"cookies,omitempty" json:"cookies,omitempty"`
	// TrustedOrigins may send unsafe requests from another origin
	// ("https://app.example.com"): the front end of a cookie-authenticated
	// API on its own host.
	TrustedOrigins []string `yaml:"trusted_origins,omitempty" json:"trusted_origins,omitempty"`
	// Token requires a double-submit token on unsafe requests. Default:
	// none.
	Token *Token `yaml:"token,omitempty" json:"token,omitempty"`
	// JSONOnly refuses (415) unsafe requests that carry the session cookie
	// with a body whose content type a cross-site HTML form or a
	// no-preflight fetch can send
	// (application/x-www-form-urlencoded, multipart/form-data, text/plain,
	// or none), so that a JSON API is only reached by requests that needed
	// a CORS preflight. Default false.
	JSONOnly bool `yaml:"json_only,omitempty" json:"json_only,omitempty"`
	// Exempt are operations the checks skip ("POST /oauth/token", which
	// takes forms from other origins by design).
	Exempt []string `yaml:"exempt,omitempty" json:"exempt,omitempty"`
}

// Token is the double-submit token: the gateway sets it in a cookie that
// the page's script reads and sends back in a header; another site can
// make the browser send the cookie but cannot read it.
type Token struct {
	// Cookie is the token cookie's name. Default "csrf_token" (on HTTPS,
	// "__Host-csrf" is stronger: no subdomain can set it).
	Cookie string `yaml:"cookie,omitempty" json:"cookie,omitempty"`
	// Header is the request header carrying the token. Default
	// X-CSRF-Token.
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	// Issue sets the cookie (SameSite=Strict, Secure on HTTPS, readable by
	// the page) on answers to requests that lack a valid one. Default
	// false: the application sets it.
	Issue bool `yaml:"issue,omitempty" json:"issue,omitempty"`
	// Secret signs tokens and binds them to the session cookie's value
	// (HMAC-SHA256), so that a token planted by a subdomain or kept from
	// another session is refused; ${ENV} or file:PATH. At least 32
	// characters. Default "": plain double submit (cookie equals header).
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
}

// Validate reports problems with the block.
func (c Config) Validate() field.List {
	var errs field.List
	switch c.Mode {
	case "", "block", "log":
	default:
		errs = append(errs, field.Errorf("mode", "got %q, want block or log", c.Mode))
	}
	cop := http.NewCrossOriginProtection()
	for i, o := range c.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			errs = append(errs, field.Errorf(fmt.Sprintf("trusted_origins[%d]", i), "%v", err))
		}
	}
	for i, n := range c.Cookies {
		if n == "" || strings.ContainsAny(n, " ;,=") {
			errs = append(errs, field.Errorf(fmt.Sprintf("cookies[%d]", i), "got %q, want a cookie name", n))
		}
	}
	if t := c.Token; t != nil {
		if t.Cookie != "" && strings.ContainsAny(t.Cookie, " ;,=") {
			errs = append(errs, field.Errorf("token.cookie", "got %q, want a cookie name", t.Cookie))
		}
		if t.Header != "" && strings.ContainsAny(t.Header, " :,") {
			errs = append(errs, field.Errorf("token.header", "got %q, want a header name", t.Header))
		}
		if t.Secret != "" && !strings.HasPrefix(t.Secret, "file:") && len(t.Secret) < 32 {
			errs = append(errs, field.Errorf("token.secret", "at least 32 characters (a short key can be guessed)"))
		}
	}
	for i, op := range c.Exempt {
		if _, _, err := openapi.ParseOperationKey(op); err != nil {
			errs = append(errs, field.Errorf(fmt.Sprintf("exempt[%d]", i), "%v", err))
		}
	}
	return errs
}

// OperationKeys implements pipeline.OperationNamer.
func (c *Config) OperationKeys() []string {
	keys := append([]string(nil), c.Exempt...)
	sort.Strings(keys)
	return keys
}
