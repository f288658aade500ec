package authn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// ID is the stage id: the config key, log field, metric label and event
// stage of every authentication decision.
const ID = "authn"

// Default principal header names.
const (
	HeaderID     = "X-Principal-Id"
	HeaderKind   = "X-Principal-Kind"
	HeaderScopes = "X-Principal-Scopes"
	HeaderRoles  = "X-Principal-Roles"
	HeaderTier   = "X-Principal-Tier"
)

// principalKeyPrefix: every client header whose pipeline.HeaderKey starts
// with it is removed (pipeline.PrincipalHeaderPrefix, normalised).
const principalKeyPrefix = "x-principal-"

// Module registers the stage: the API's authn block.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "authn",
	New: func(b *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		return New(c, Options{API: b.API, Store: b.Store, Now: b.Now, Logger: b.Logger,
			Path: b.Path, ResolveSecret: b.ResolveSecret, ConnState: b.ConnState})
	}}

// Store is what authentication keeps in the store: API key records and
// replay nonces.
type Store interface {
	store.KV
	store.Nonces
}

// Options are what New needs besides the config block.
type Options struct {
	// API is the API's name, the default realm.
	API string
	// Store holds API key records (apikey.store) and replay nonces. Nil
	// means nonces are kept in this process's memory.
	Store Store
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives load-time and background problems (a keys file that
	// no longer parses, a failed JWKS refresh). Nil means slog.Default().
	Logger *slog.Logger
	// Path makes a config path absolute (config.Config.Path). Nil keeps
	// paths as they are.
	Path func(string) string
	// ResolveSecret resolves "file:PATH" secrets (config.Config.
	// ResolveSecret). Nil keeps values as they are.
	ResolveSecret func(string) (string, error)
	// ConnState returns the TLS state of the request's connection
	// (listener.ConnState). Nil means r.TLS.
	ConnState func(*http.Request) *tls.ConnectionState
	// HTTPClient is used for JWKS, discovery and introspection calls. Nil
	// means a client with the configured timeouts.
	HTTPClient *http.Client
}

// Stage is the authentication stage of one API.
type Stage struct {
	methods  []method
	optional bool
	optPaths []pathPattern
	reqPaths []pathPattern
	realm    string
	failOpen bool
	fwd      forward
	strip    []string // canonical header names removed from every request
	missing  http.Header
	closers  []func()
}

var (
	_ pipeline.Stage  = (*Stage)(nil)
	_ pipeline.Closer = (*Stage)(nil)
)

// method is one authentication method.
type method interface {
	kind() string
	// present reports whether the request carries this method's credential.
	present(r *http.Request) bool
	// authenticate checks the credential. It returns a principal, a
	// failure (a denial), or an error (a technical failure).
	authenticate(ctx context.Context, x *pipeline.Exchange) (*pipeline.Principal, *failure, error)
	// challenge is this method's WWW-Authenticate challenge for realm.
	challenge(realm string) string
}

// failure is a method's refusal, turned into a denial by the stage.
type failure struct {
	rule     string
	reason   string // safe for clients
	location string
	status   int    // 0 means 401
	detail   string // logs only; never a credential
	// bearerError is the RFC 6750 error code for Bearer challenges
	// ("invalid_token"); "" for other schemes.
	bearerError string
}

type forward struct {
	disabled                      bool
	id, kind, scopes, roles, tier string
}

// New builds the stage from its config block.
func New(c *Config, o Options) (*Stage, error) {
	if c == nil {
		return nil, errors.New("authn: no config")
	}
	if l := c.Validate(); len(l) > 0 {
		return nil, l[0]
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Path == nil {
		o.Path = func(s string) string { return s }
	}
	if o.ResolveSecret == nil {
		o.ResolveSecret = func(s string) (string, error) { return s, nil }
	}
	s := &Stage{optional: c.Optional, realm: c.Realm, failOpen: c.FailMode == "open"}
	if s.realm == "" {
		s.realm = o.API
	}
	s.realm = strings.NewReplacer(`"`, "", `\`, "").Replace(s.realm)
	for _, p := range c.OptionalPaths {
		pp, _ := parsePathPattern(p)
		s.optPaths = append(s.optPaths, pp)
	}
	for _, p := range c.RequiredPaths {
		pp, _ := parsePathPattern(p)
		s.reqPaths = append(s.reqPaths, pp)
	}
	s.fwd = forward{
		disabled: c.Forward.Disabled,
		id:       headerName(c.Forward.ID, HeaderID),
		kind:     headerName(c.Forward.Kind, HeaderKind),
		// Scopes and roles are sent only when asked for: most upstreams
		// need who is calling, not what the gateway already checked, and
		// every forwarded header costs both hops a header to write and
		// parse (HeaderScopes and HeaderRoles are the usual names).
		scopes: headerName(c.Forward.Scopes, ""),
		roles:  headerName(c.Forward.Roles, ""),
		tier:   headerName(c.Forward.Tier, HeaderTier),
	}
	for _, h := range []string{s.fwd.id, s.fwd.kind, s.fwd.scopes, s.fwd.roles, s.fwd.tier} {
		if k := pipeline.HeaderKey(h); h != "" && !strings.HasPrefix(k, principalKeyPrefix) {
			s.strip = append(s.strip, k)
		}
	}
	for i := range c.Methods {
		m, err := s.buildMethod(&c.Methods[i], c.Methods[i+1:], o)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("methods[%d]: %w", i, err)
		}
		s.methods = append(s.methods, m)
	}
	s.missing = make(http.Header)
	seen := map[string]bool{}
	for _, m := range s.methods {
		if ch := m.challenge(s.realm); ch != "" && !seen[ch] {
			seen[ch] = true
			s.missing.Add("WWW-Authenticate", ch)
		}
	}
	return s, nil
}

func (s *Stage) buildMethod(m *Method, later []Method, o Options) (method, error) {
	switch {
	case m.APIKey != nil:
		return newAPIKeyMethod(m.APIKey, o)
	case m.JWT != nil:
		opaque := false
		for _, l := range later {
			if l.Introspection != nil {
				opaque = true
			}
		}
		j, err := newJWTMethod(m.JWT, o, opaque)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, j.close)
		return j, nil
	case m.Introspection != nil:
		return newIntrospectionMethod(m.Introspection, o)
	case m.MTLS != nil:
		return newMTLSMethod(m.MTLS, o), nil
	default:
		return newSignatureMethod(m.Signature, o)
	}
}

func newAPIKeyMethod(c *APIKeyConfig, o Options) (*apiKeyMethod, error) {
	m := &apiKeyMethod{header: c.Header, query: c.Query, keep: c.KeepCredential, now: o.Now,
		onReloadError: func(err error) { o.Logger.Warn("authn: keys file not reloaded", "api", o.API, "err", err) }}
	switch m.header {
	case "":
		m.header = "X-Api-Key"
	case "-":
		m.header = ""
	}
	m.header = http.CanonicalHeaderKey(m.header)
	m.headerLoc, m.queryLoc = "header:"+strings.ToLower(m.header), "query:"+m.query
	if c.File != "" {
		iv := c.ReloadInterval
		if iv <= 0 {
			iv = 2 * time.Second
		}
		kr, err := newKeyring(o.Path(c.File), iv, o.Now())
		if err != nil {
			return nil, err
		}
		m.ring = kr
	}
	if c.Store {
		if o.Store == nil {
			return nil, errors.New("apikey: store: true needs a store")
		}
		m.store = o.Store
	}
	return m, nil
}

func headerName(v, def string) string {
	switch v {
	case "":
		return def
	case "-":
		return ""
	}
	return http.CanonicalHeaderKey(v)
}

// ID implements pipeline.Stage.
func (s *Stage) ID() string { return ID }

// Close stops background work (JWKS refreshes).
func (s *Stage) Close() error {
	for _, c := range s.closers {
		c()
	}
	s.closers = nil
	return nil
}

// Request implements pipeline.Stage.
func (s *Stage) Request(ctx context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	r := x.Request
	s.stripPrincipalHeaders(r.Header)
	for _, m := range s.methods {
		if !m.present(r) {
			continue
		}
		p, f, err := m.authenticate(ctx, x)
		if err != nil {
			if s.failOpen {
				x.AddFailure(ID, fmt.Errorf("%s: %w (failing open: anonymous)", m.kind(), err))
				return nil, nil
			}
			return nil, fmt.Errorf("%s: %w", m.kind(), err)
		}
		if f != nil {
			return s.deny(m, f), nil
		}
		x.Principal = p
		s.forward(x, p)
		return nil, nil
	}
	if s.anonymousAllowed(r.Method, r.URL.Path) {
		return nil, nil
	}
	return &pipeline.Denial{
		Status:   http.StatusUnauthorized,
		Reason:   "authentication is required",
		Stage:    ID,
		Rules:    []string{"authn.missing"},
		Headers:  s.missing.Clone(),
		Severity: "low",
	}, nil
}

func (s *Stage) anonymousAllowed(method, path string) bool {
	for _, p := range s.reqPaths {
		if p.match(method, path) {
			return false
		}
	}
	if s.optional {
		return true
	}
	for _, p := range s.optPaths {
		if p.match(method, path) {
			return true
		}
	}
	return false
}

func (s *Stage) deny(m method, f *failure) *pipeline.Denial {
	status := f.status
	if status == 0 {
		status = http.StatusUnauthorized
	}
	d := &pipeline.Denial{
		Status:   status,
		Reason:   f.reason,
		Stage:    ID,
		Rules:    []string{f.rule},
		Location: f.location,
		Detail:   f.detail,
	}
	if status == http.StatusUnauthorized {
		ch := m.challenge(s.realm)
		if f.bearerError != "" && ch != "" {
			ch += `, error="` + f.bearerError + `", error_description="` + f.reason + `"`
		}
		if ch != "" {
			d.Headers = http.Header{"Www-Authenticate": {ch}}
		}
	}
	return d
}

// stripPrincipalHeaders removes every principal header a client sent,
// under any spelling: they are only ever set by this stage.
//
// Security: names are compared by pipeline.HeaderKey, case and '_' for
// '-' ignored. A WSGI, CGI or PHP upstream reads "X-Principal_Id" and
// "x.principal.id" as X-Principal-Id; a check on the hyphenated spelling
// alone let a client claim any identity there. The proxy strips them again
// (and every other header the gateway owns) just before forwarding.
func (s *Stage) stripPrincipalHeaders(h http.Header) {
	for k := range h {
		if pipeline.HasHeaderKeyPrefix(k, principalKeyPrefix) {
			delete(h, k)
			continue
		}
		for _, sk := range s.strip {
			if pipeline.SameHeaderKey(k, sk) {
				delete(h, k)
				break
			}
		}
	}
}

// forward sets the principal headers for the upstream. They go on the
// exchange (UpstreamHeader), not on the client's request: the proxy sets
// them after removing every client header of the same name, and after the
// hop-by-hop removal, so neither a spelling trick nor "Connection:
// X-Principal-Id" can add to, replace or drop them.
func (s *Stage) forward(x *pipeline.Exchange, p *pipeline.Principal) {
	if s.fwd.disabled || p == nil {
		return
	}
	if x.UpstreamHeader == nil {
		x.UpstreamHeader = make(http.Header, 4)
	}
	h := x.UpstreamHeader
	vals := pipeline.NewHeaderValues(5)
	set := func(name, v string) {
		if name != "" && v != "" {
			h[name] = vals.One(headerValue(v))
		}
	}
	set(s.fwd.id, p.ID)
	set(s.fwd.kind, p.Kind)
	set(s.fwd.scopes, strings.Join(p.Scopes, " "))
	set(s.fwd.roles, strings.Join(p.Roles, ","))
	if t, ok := p.Attributes["tier"].(string); ok {
		set(s.fwd.tier, t)
	}
}

// headerValue makes v safe as a header value: printable ASCII is kept,
// everything else (control characters, non-ASCII) is percent-encoded, so a
// claim can never split or smuggle a header.
func headerValue(v string) string {
	ok := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '%' {
			ok = false
			break
		}
	}
	if ok {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// style header value, or "".
func bearerToken(v string) string {
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}
