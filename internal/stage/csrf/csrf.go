package csrf

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// ID is the stage id: the config key, log field, metric label and event
// stage.
const ID = "csrf"

// Rule ids of the stage's denials.
const (
	// RuleCrossOrigin: Sec-Fetch-Site or Origin say another site sent it.
	RuleCrossOrigin = "csrf.cross-origin"
	// RuleReferer: no Sec-Fetch-Site nor Origin, and the Referer is
	// another site.
	RuleReferer = "csrf.referer"
	// RuleToken: the double-submit token is missing, differs from the
	// cookie, or is not bound to this session.
	RuleToken = "csrf.token"
	// RuleContentType: a form or text body on a JSON API (415).
	RuleContentType = "csrf.content-type"
)

// Stage refuses forged cross-site requests. It is read-only after New and
// safe for concurrent use.
type Stage struct {
	block   bool
	cookies []string
	trusted map[string]bool
	cop     *http.CrossOriginProtection
	json    bool
	exempt  map[string]bool

	token  bool
	cookie string
	header string
	issue  bool
	secret []byte
	tls    func(*http.Request) *tls.ConnectionState
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
)

// Module registers the stage: the API's csrf block.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "csrf",
	New: func(b *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		return New(*c, b.ResolveSecret, b.ConnState)
	}}

// New builds the stage; resolve reads file: secrets, connState tells TLS
// requests (for the cookie's Secure flag; nil means never TLS).
func New(c Config, resolve func(string) (string, error), connState func(*http.Request) *tls.ConnectionState) (*Stage, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	s := &Stage{block: c.Mode != "log", cookies: c.Cookies, trusted: map[string]bool{}, cop: http.NewCrossOriginProtection(),
		json: c.JSONOnly, exempt: map[string]bool{}, tls: connState}
	for _, o := range c.TrustedOrigins {
		_ = s.cop.AddTrustedOrigin(o) // validated
		s.trusted[strings.ToLower(o)] = true
	}
	for _, op := range c.Exempt {
		m, p, _ := openapi.ParseOperationKey(op)
		s.exempt[m+" "+p] = true
	}
	if t := c.Token; t != nil {
		s.token, s.cookie, s.header, s.issue = true, t.Cookie, t.Header, t.Issue
		if s.cookie == "" {
			s.cookie = DefaultTokenCookie
		}
		if s.header == "" {
			s.header = DefaultTokenHeader
		}
		if t.Secret != "" {
			sec := t.Secret
			if resolve != nil {
				var err error
				if sec, err = resolve(t.Secret); err != nil {
					return nil, fmt.Errorf("token.secret: %w", err)
				}
			}
			if len(sec) < 32 {
				return nil, fmt.Errorf("token.secret: at least 32 characters")
			}
			s.secret = []byte(sec)
		}
	}
	if s.tls == nil {
		s.tls = func(*http.Request) *tls.ConnectionState { return nil }
	}
	return s, nil
}

// ID returns "csrf".
func (s *Stage) ID() string { return ID }

func safe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// session returns the value of the first session cookie the request
// carries and whether it carries one (any cookie when none is named).
func (s *Stage) session(r *http.Request) (string, bool) {
	if len(s.cookies) == 0 {
		return "", r.Header.Get("Cookie") != ""
	}
	for _, n := range s.cookies {
		if c, err := r.Cookie(n); err == nil {
			return c.Value, true
		}
	}
	return "", false
}

// Request refuses unsafe cookie-authenticated requests that another site
// could have made the browser send.
func (s *Stage) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	r := x.Request
	if safe(r.Method) || s.exempt[x.Operation] {
		return nil, nil
	}
	sess, ok := s.session(r)
	if !ok {
		return nil, nil // no ambient credential: nothing to forge
	}
	if err := s.cop.Check(r); err != nil {
		return s.verdict(x, &pipeline.Denial{Status: http.StatusForbidden, Reason: "cross-site requests may not change anything here",
			Rules: []string{RuleCrossOrigin}, Location: "header:sec-fetch-site", Excerpt: fetchSite(r), Severity: events.SeverityHigh}), nil
	}
	if r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
		if ref := r.Header.Get("Referer"); ref != "" && !s.sameSite(r, ref) {
			return s.verdict(x, &pipeline.Denial{Status: http.StatusForbidden, Reason: "cross-site requests may not change anything here",
				Rules: []string{RuleReferer}, Location: "header:referer", Excerpt: ref, Severity: events.SeverityHigh}), nil
		}
	}
	if s.json && formLike(r) {
		return s.verdict(x, &pipeline.Denial{Status: http.StatusUnsupportedMediaType, Reason: "this API accepts JSON bodies only",
			Rules: []string{RuleContentType}, Location: "header:content-type", Severity: events.SeverityMedium}), nil
	}
	if s.token && !s.validToken(r, sess) {
		return s.verdict(x, &pipeline.Denial{Status: http.StatusForbidden, Reason: "a valid CSRF token is required",
			Rules: []string{RuleToken}, Location: "header:" + strings.ToLower(s.header), Severity: events.SeverityHigh}), nil
	}
	return nil, nil
}

func fetchSite(r *http.Request) string {
	if v := r.Header.Get("Sec-Fetch-Site"); v != "" {
		return "Sec-Fetch-Site: " + v
	}
	return "Origin: " + r.Header.Get("Origin")
}

// sameSite reports whether a Referer is this host or a trusted origin.
func (s *Stage) sameSite(r *http.Request, ref string) bool {
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) || s.trusted[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// formLike reports a body a form or a no-preflight fetch could send.
func formLike(r *http.Request) bool {
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true
	}
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}

func (s *Stage) verdict(x *pipeline.Exchange, d *pipeline.Denial) *pipeline.Denial {
	if s.block {
		return d
	}
	x.AddFinding(pipeline.Finding{Stage: ID, Rules: d.Rules, Location: d.Location, Excerpt: d.Excerpt, Reason: d.Reason, Mode: "detect", Severity: d.Severity})
	return nil
}

// validToken checks the double submit: the header equals the cookie (in
// constant time) and, with a secret, the token is signed for this session.
func (s *Stage) validToken(r *http.Request, sess string) bool {
	c, err := r.Cookie(s.cookie)
	h := r.Header.Get(s.header)
	if err != nil || len(c.Value) < 16 || h == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(h)) != 1 {
		return false
	}
	return s.secret == nil || s.signedFor(c.Value, sess)
}

// newToken returns a token: 32 random bytes, and with a secret
// "<nonce>.<HMAC-SHA256(secret, session '\x00' nonce)>".
func (s *Stage) newToken(sess string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	if s.secret == nil {
		return nonce
	}
	return nonce + "." + s.mac(sess, nonce)
}

func (s *Stage) mac(sess, nonce string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(sess))
	m.Write([]byte{0})
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Stage) signedFor(tok, sess string) bool {
	nonce, sig, ok := strings.Cut(tok, ".")
	return ok && hmac.Equal([]byte(sig), []byte(s.mac(sess, nonce)))
}

// Response issues the token cookie when the request had no valid one
// (token.issue). It adds to the upstream's Set-Cookie headers, never
// replaces them.
func (s *Stage) Response(_ context.Context, x *pipeline.Exchange, resp *http.Response) (*pipeline.Denial, error) {
	if !s.issue {
		return nil, nil
	}
	r := x.Request
	sess, _ := s.session(r)
	if c, err := r.Cookie(s.cookie); err == nil && len(c.Value) >= 16 && (s.secret == nil || s.signedFor(c.Value, sess)) {
		return nil, nil
	}
	ck := &http.Cookie{Name: s.cookie, Value: s.newToken(sess), Path: "/", SameSite: http.SameSiteStrictMode,
		Secure: s.tls(r) != nil || strings.HasPrefix(s.cookie, "__Host-") || strings.HasPrefix(s.cookie, "__Secure-")}
	resp.Header.Add("Set-Cookie", ck.String())
	return nil, nil
}
