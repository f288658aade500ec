package authn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// jwtMethod authenticates JWT bearer tokens.
type jwtMethod struct {
	header     string
	location   string // "header:<name>", for failures
	keep       bool   // forward the token upstream
	issuer     string
	audience   []string
	algs       map[string]jwa.SignatureAlgorithm
	leeway     time.Duration
	maxAge     time.Duration
	required   []string
	subClaim   string
	rolesClaim string
	tierClaim  string
	maxBytes   int
	opaque     bool // tokens that are not JWTs are left to a later method
	now        func() time.Time

	static jwk.Set     // keys from files; nil when none
	remote *remoteKeys // nil without a JWKS URL or discovery
	cache  *tokenCache // nil when off
}

func newJWTMethod(c *JWTConfig, o Options, opaque bool) (*jwtMethod, error) {
	m := &jwtMethod{
		header: http.CanonicalHeaderKey(c.Header), issuer: c.Issuer, audience: c.Audience,
		leeway: c.Leeway, maxAge: c.MaxAge, required: c.RequiredClaims,
		subClaim: c.SubjectClaim, rolesClaim: c.RolesClaim, tierClaim: c.TierClaim,
		maxBytes: c.MaxTokenBytes, opaque: opaque, now: o.Now, keep: c.KeepCredential,
		algs: map[string]jwa.SignatureAlgorithm{},
	}
	if m.header == "" {
		m.header = "Authorization"
	}
	m.location = "header:" + strings.ToLower(m.header)
	if m.leeway == 0 {
		m.leeway = 30 * time.Second
	}
	if m.subClaim == "" {
		m.subClaim = "sub"
	}
	if m.rolesClaim == "" {
		m.rolesClaim = "roles"
	}
	if m.maxBytes <= 0 {
		m.maxBytes = 8192
	}
	algs := c.Algorithms
	if len(algs) == 0 {
		algs = defaultAlgorithms
	}
	for _, a := range algs {
		alg, _ := jwa.LookupSignatureAlgorithm(a)
		m.algs[alg.String()] = alg
	}
	if len(c.KeyFiles) > 0 {
		m.static = jwk.NewSet()
		for _, f := range c.KeyFiles {
			if err := addKeyFile(m.static, o.Path(f)); err != nil {
				return nil, err
			}
		}
	}
	if size := c.CacheSize; size >= 0 {
		if size == 0 {
			size = 10000
		}
		ttl := c.CacheTTL
		if ttl <= 0 {
			ttl = time.Minute
		}
		m.cache = newTokenCache(size, ttl)
	}
	if c.JWKSURL != "" || c.Discovery {
		rk, err := newRemoteKeys(c, o)
		if err != nil {
			return nil, err
		}
		m.remote = rk
	}
	return m, nil
}

// addKeyFile adds the keys of a JWKS (JSON) or PEM file to set.
func addKeyFile(set jwk.Set, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("jwt key file: %w", err)
	}
	var ks jwk.Set
	if bytes.Contains(b, []byte("-----BEGIN")) {
		ks, err = jwk.Parse(b, jwk.WithPEM(true))
	} else {
		ks, err = jwk.Parse(b)
	}
	if err != nil {
		return fmt.Errorf("jwt key file %s: %w", path, err)
	}
	for i := 0; i < ks.Len(); i++ {
		k, _ := ks.Key(i)
		if priv, _ := jwk.IsPrivateKey(k); priv && k.KeyType() != jwa.OctetSeq() {
			// Only the public half is needed; never keep a private key around.
			if k, err = k.PublicKey(); err != nil {
				return fmt.Errorf("jwt key file %s: %w", path, err)
			}
		}
		if err := set.AddKey(k); err != nil {
			return fmt.Errorf("jwt key file %s: %w", path, err)
		}
	}
	return nil
}

func (m *jwtMethod) kind() string { return "jwt" }

func (m *jwtMethod) challenge(realm string) string { return `Bearer realm="` + realm + `"` }

func (m *jwtMethod) token(r *http.Request) string { return bearerToken(r.Header.Get(m.header)) }

func (m *jwtMethod) present(r *http.Request) bool {
	t := m.token(r)
	if t == "" {
		return false
	}
	// With introspection configured after this method, opaque tokens are
	// its business; only JWT-shaped tokens are claimed here.
	return !m.opaque || strings.Count(t, ".") == 2
}

func (m *jwtMethod) close() {
	if m.remote != nil {
		m.remote.close()
	}
}

func (m *jwtMethod) fail(rule, reason string) (*pipeline.Principal, *failure, error) {
	return nil, &failure{rule: rule, reason: reason, location: m.location, bearerError: "invalid_token"}, nil
}

func (m *jwtMethod) authenticate(ctx context.Context, x *pipeline.Exchange) (*pipeline.Principal, *failure, error) {
	tok := m.token(x.Request)
	if !m.keep {
		x.Request.Header.Del(m.header)
	}
	if len(tok) > m.maxBytes {
		return m.fail("authn.jwt.malformed", "the token is too large")
	}
	if strings.Count(tok, ".") != 2 {
		return m.fail("authn.jwt.malformed", "the token is not a JWT")
	}
	now := m.now()
	var ck [32]byte
	if m.cache != nil {
		ck = sha256.Sum256([]byte(tok))
		if e, ok := m.cache.get(ck, now); ok {
			if f := m.checkTimes(e.times, now); f != nil {
				return nil, f, nil
			}
			return e.principal, nil, nil // principals are read-only: shared
		}
	}
	msg, err := jws.ParseString(tok)
	if err != nil || len(msg.Signatures()) != 1 {
		return m.fail("authn.jwt.malformed", "the token is not a JWT")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	algv, ok := hdr.Algorithm()
	if !ok {
		return m.fail("authn.jwt.algorithm", "the token's algorithm is not accepted")
	}
	alg, allowed := m.algs[algv.String()]
	if !allowed || alg == jwa.NoSignature() {
		return m.fail("authn.jwt.algorithm", "the token's algorithm is not accepted")
	}
	kid, _ := hdr.KeyID()
	keys, err := m.candidates(ctx, kid, alg)
	if err != nil {
		return nil, nil, err
	}
	if len(keys) == 0 {
		return m.fail("authn.jwt.key", "the token's signing key is not known")
	}
	var payload []byte
	for _, k := range keys {
		if payload, err = jws.Verify([]byte(tok), jws.WithKey(alg, k)); err == nil {
			break
		}
	}
	if err != nil {
		return m.fail("authn.jwt.signature", "the token's signature is not valid")
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return m.fail("authn.jwt.malformed", "the token's claims are not a JSON object")
	}
	times, f := m.checkClaims(claims)
	if f != nil {
		return nil, f, nil
	}
	if f := m.checkTimes(times, now); f != nil {
		return nil, f, nil
	}
	p := m.principal(claims)
	if p.ID == "" {
		return m.fail("authn.jwt.claims", "the token has no subject")
	}
	if m.cache != nil {
		m.cache.put(ck, &tokenEntry{principal: p, times: times}, now)
	}
	return p, nil, nil
}

// candidates returns the keys that may have signed a token with kid and
// alg: the key type must fit the algorithm (an RSA public key is never an
// HMAC secret), a key's own "alg" and "use" must agree.
func (m *jwtMethod) candidates(ctx context.Context, kid string, alg jwa.SignatureAlgorithm) ([]jwk.Key, error) {
	var out []jwk.Key
	collect := func(set jwk.Set, remote bool) {
		if set == nil {
			return
		}
		for i := 0; i < set.Len(); i++ {
			k, _ := set.Key(i)
			if kid != "" {
				if id, _ := k.KeyID(); id != kid {
					continue
				}
			}
			// Symmetric keys are never taken from a JWKS endpoint: that
			// document is public, so a secret in it is no secret.
			if remote && k.KeyType() == jwa.OctetSeq() {
				continue
			}
			if keyFits(k, alg) {
				out = append(out, k)
			}
		}
	}
	collect(m.static, false)
	if m.remote == nil {
		return out, nil
	}
	set, err := m.remote.get(ctx)
	if err != nil {
		return nil, err
	}
	before := len(out)
	collect(set, true)
	if len(out) == before && kid != "" {
		// An unknown kid may mean the provider rotated its keys: refresh,
		// unless a refresh happened too recently (flood protection).
		if set, ok := m.remote.refreshUnknown(ctx); ok {
			collect(set, true)
		}
	}
	return out, nil
}

// keyFits reports whether key k may verify alg.
func keyFits(k jwk.Key, alg jwa.SignatureAlgorithm) bool {
	if u, ok := k.KeyUsage(); ok && u != "sig" {
		return false
	}
	if ka, ok := k.Algorithm(); ok && ka.String() != alg.String() {
		return false
	}
	name := alg.String()
	switch k.KeyType() {
	case jwa.RSA():
		return strings.HasPrefix(name, "RS") || strings.HasPrefix(name, "PS")
	case jwa.EC():
		return strings.HasPrefix(name, "ES")
	case jwa.OKP():
		return name == "EdDSA" || name == "Ed25519"
	case jwa.OctetSeq():
		return alg.IsSymmetric()
	}
	return false
}

// claimTimes are the time claims of a token, in Unix seconds (0: absent).
type claimTimes struct {
	exp, nbf, iat int64
}

func decodeClaims(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("claims are null")
	}
	return m, nil
}

func numericDate(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// checkClaims checks what does not depend on time: presence, issuer,
// audience, and the shape of the time claims.
func (m *jwtMethod) checkClaims(c map[string]any) (claimTimes, *failure) {
	var t claimTimes
	_, f, _ := m.fail("", "")
	bad := func(rule, reason string) (claimTimes, *failure) {
		f.rule, f.reason = rule, reason
		return t, f
	}
	var ok bool
	v, has := c["exp"]
	if !has {
		return bad("authn.jwt.claims", "the token has no expiry")
	}
	if t.exp, ok = numericDate(v); !ok {
		return bad("authn.jwt.claims", "the token's exp is not a date")
	}
	if v, has := c["nbf"]; has {
		if t.nbf, ok = numericDate(v); !ok {
			return bad("authn.jwt.claims", "the token's nbf is not a date")
		}
	}
	if v, has := c["iat"]; has {
		if t.iat, ok = numericDate(v); !ok {
			return bad("authn.jwt.claims", "the token's iat is not a date")
		}
	} else if m.maxAge > 0 {
		return bad("authn.jwt.claims", "the token has no issue time")
	}
	for _, r := range m.required {
		if _, has := c[r]; !has {
			return bad("authn.jwt.claims", "the token lacks a required claim")
		}
	}
	if m.issuer != "" {
		if iss, _ := c["iss"].(string); iss != m.issuer {
			return bad("authn.jwt.issuer", "the token's issuer is not accepted")
		}
	}
	if len(m.audience) > 0 {
		if !slices.ContainsFunc(stringList(c["aud"]), func(a string) bool { return slices.Contains(m.audience, a) }) {
			return bad("authn.jwt.audience", "the token is not meant for this API")
		}
	}
	return t, nil
}

// checkTimes checks exp, nbf, iat and max_age against now, with leeway.
func (m *jwtMethod) checkTimes(t claimTimes, now time.Time) *failure {
	l := int64(m.leeway / time.Second)
	n := now.Unix()
	var rule, reason string
	switch {
	case n >= t.exp+l:
		rule, reason = "authn.jwt.expired", "the token has expired"
	case t.nbf != 0 && n+l < t.nbf:
		rule, reason = "authn.jwt.not-yet-valid", "the token is not valid yet"
	case t.iat != 0 && n+l < t.iat:
		rule, reason = "authn.jwt.iat", "the token was issued in the future"
	case m.maxAge > 0 && n-t.iat > int64(m.maxAge/time.Second)+l:
		rule, reason = "authn.jwt.expired", "the token is too old"
	default:
		return nil
	}
	_, f, _ := m.fail(rule, reason)
	return f
}

// principal builds the principal from verified claims.
func (m *jwtMethod) principal(c map[string]any) *pipeline.Principal {
	p := &pipeline.Principal{Kind: "jwt", Attributes: make(map[string]any, len(c))}
	p.ID, _ = c[m.subClaim].(string)
	for k, v := range c {
		p.Attributes[k] = plainClaim(v)
	}
	p.Scopes = scopesOf(c)
	p.Roles = stringList(claimPath(c, m.rolesClaim))
	if m.tierClaim != "" {
		if t, ok := claimPath(c, m.tierClaim).(string); ok {
			p.Attributes["tier"] = t
		}
	}
	return p
}

// plainClaim turns json.Number into int64 or float64 so that later stages
// (policies) see ordinary Go values.
func plainClaim(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case []any:
		out := make([]any, len(t))
		for i := range t {
			out[i] = plainClaim(t[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = plainClaim(e)
		}
		return out
	}
	return v
}

// scopesOf reads "scope" (space-separated, RFC 8693/9068) and "scp" (a
// list or a string, as some providers send it).
func scopesOf(c map[string]any) []string {
	var out []string
	for _, name := range []string{"scope", "scp"} {
		for _, s := range stringList(c[name]) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// claimPath follows a dotted path ("realm_access.roles").
func claimPath(c map[string]any, path string) any {
	var v any = c
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// stringList reads a claim that is a list of strings or a space-separated
// string.
func stringList(v any) []string {
	switch t := v.(type) {
	case string:
		return strings.Fields(t)
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return t
	}
	return nil
}

// remoteKeys is a JWKS fetched over HTTP through jwk.Cache: refreshed in
// the background every RefreshInterval, and on demand when a token names
// an unknown kid, at most once per MinRefreshInterval.
type remoteKeys struct {
	issuer    string // for discovery
	discovery bool
	interval  time.Duration
	floor     time.Duration
	timeout   time.Duration
	client    *http.Client
	now       func() time.Time
	logger    func(msg string, args ...any)

	cache  *jwk.Cache
	cancel context.CancelFunc

	mu          sync.Mutex
	url         string    // "" until discovery succeeded
	tried       bool      // discovery was attempted at least once
	lastRefresh time.Time // last on-demand refresh or discovery attempt
}

func newRemoteKeys(c *JWTConfig, o Options) (*remoteKeys, error) {
	rk := &remoteKeys{
		issuer: strings.TrimSuffix(c.Issuer, "/"), discovery: c.Discovery,
		interval: c.RefreshInterval, floor: c.MinRefreshInterval, timeout: c.FetchTimeout,
		client: o.HTTPClient, now: o.Now, url: c.JWKSURL,
		logger: func(msg string, args ...any) { o.Logger.Warn(msg, append([]any{"api", o.API}, args...)...) },
	}
	if rk.interval <= 0 {
		rk.interval = 15 * time.Minute
	}
	if rk.floor <= 0 {
		rk.floor = 30 * time.Second
	}
	if rk.timeout <= 0 {
		rk.timeout = 5 * time.Second
	}
	if rk.client == nil {
		rk.client = &http.Client{Timeout: rk.timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cache, err := jwk.NewCache(ctx, httprc.NewClient(httprc.WithWorkers(2), httprc.WithHTTPClient(rk.client),
		httprc.WithErrorSink(errSink{rk.logger})))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwks cache: %w", err)
	}
	rk.cache, rk.cancel = cache, cancel
	rk.lastRefresh = o.Now()
	if rk.url != "" {
		if err := rk.register(rk.url); err != nil {
			rk.close()
			return nil, err
		}
	} else {
		// Discover in the background so that the first request does not
		// wait; get retries (within the floor) if this fails.
		go func() {
			rk.mu.Lock()
			defer rk.mu.Unlock()
			if err := rk.discover(ctx); err != nil {
				rk.logger("authn: openid discovery failed", "err", err)
			}
		}()
	}
	return rk, nil
}

// errSink logs background fetch failures of the JWKS cache.
type errSink struct{ log func(string, ...any) }

func (s errSink) Put(_ context.Context, err error) { s.log("authn: jwks refresh failed", "err", err) }

func (rk *remoteKeys) register(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), rk.timeout)
	defer cancel()
	err := rk.cache.Register(ctx, u, jwk.WithWaitReady(false), jwk.WithHTTPClient(rk.client),
		jwk.WithConstantInterval(rk.interval))
	if err != nil {
		return fmt.Errorf("jwks %s: %w", u, err)
	}
	return nil
}

// discover fetches the OpenID Connect discovery document and registers its
// jwks_uri. The caller holds rk.mu.
func (rk *remoteKeys) discover(ctx context.Context) error {
	if rk.url != "" {
		return nil
	}
	rk.tried, rk.lastRefresh = true, rk.now()
	ctx, cancel := context.WithTimeout(ctx, rk.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rk.issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	resp, err := rk.client.Do(req)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery: status %d", resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return fmt.Errorf("discovery document: %w", err)
	}
	// OIDC Discovery 1.0 §4.3: the issuer in the document must be exactly
	// the one it was fetched for (a mix-up defence).
	if strings.TrimSuffix(doc.Issuer, "/") != rk.issuer {
		return fmt.Errorf("discovery document names issuer %q, expected %q", doc.Issuer, rk.issuer)
	}
	if !strings.HasPrefix(doc.JWKSURI, "https://") && !strings.HasPrefix(doc.JWKSURI, "http://") {
		return fmt.Errorf("discovery document has no usable jwks_uri")
	}
	if err := rk.register(doc.JWKSURI); err != nil {
		return err
	}
	rk.url = doc.JWKSURI
	return nil
}

// get returns the current key set, waiting (up to the fetch timeout) for
// the first fetch.
func (rk *remoteKeys) get(ctx context.Context) (jwk.Set, error) {
	rk.mu.Lock()
	u := rk.url
	if u == "" {
		if rk.tried && rk.now().Sub(rk.lastRefresh) < rk.floor {
			rk.mu.Unlock()
			return nil, errors.New("jwks: openid discovery has not succeeded yet")
		}
		err := rk.discover(ctx)
		u = rk.url
		rk.mu.Unlock()
		if err != nil {
			return nil, err
		}
	} else {
		rk.mu.Unlock()
	}
	r, err := rk.cache.LookupResource(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if set := r.Resource(); set != nil {
		return set, nil
	}
	wctx, cancel := context.WithTimeout(ctx, rk.timeout)
	defer cancel()
	if err := r.Ready(wctx); err != nil {
		if set, ok := rk.refreshUnknown(ctx); ok {
			return set, nil
		}
		return nil, fmt.Errorf("jwks %s: no keys fetched yet: %w", u, err)
	}
	return r.Resource(), nil
}

// refreshUnknown fetches the JWKS now, unless the last on-demand fetch was
// less than the floor ago. It reports whether a fresh set was fetched.
func (rk *remoteKeys) refreshUnknown(ctx context.Context) (jwk.Set, bool) {
	rk.mu.Lock()
	now := rk.now()
	if rk.url == "" || now.Sub(rk.lastRefresh) < rk.floor {
		rk.mu.Unlock()
		return nil, false
	}
	rk.lastRefresh = now
	u := rk.url
	rk.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, rk.timeout)
	defer cancel()
	set, err := rk.cache.Refresh(ctx, u)
	if err != nil {
		rk.logger("authn: jwks refresh failed", "err", err)
		return nil, false
	}
	return set, true
}

func (rk *remoteKeys) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = rk.cache.Shutdown(ctx)
	rk.cancel()
}

// tokenCache remembers verified tokens by the SHA-256 of the whole token.
// A hit skips the signature check only; time claims are checked again.
type tokenCache struct {
	mu   sync.Mutex
	max  int
	ttl  time.Duration
	data map[[32]byte]*tokenEntry
}

type tokenEntry struct {
	principal *pipeline.Principal
	times     claimTimes
	until     time.Time
}

func newTokenCache(max int, ttl time.Duration) *tokenCache {
	return &tokenCache{max: max, ttl: ttl, data: make(map[[32]byte]*tokenEntry)}
}

func (c *tokenCache) get(k [32]byte, now time.Time) (*tokenEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.data[k]
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		delete(c.data, k)
		return nil, false
	}
	return e, true
}

func (c *tokenCache) put(k [32]byte, e *tokenEntry, now time.Time) {
	e.until = now.Add(c.ttl)
	if exp := time.Unix(e.times.exp, 0); exp.Before(e.until) {
		e.until = exp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.data) >= c.max {
		// Evict expired entries, then arbitrary ones (map order), so the
		// cache never grows past max.
		for key, old := range c.data {
			if !now.Before(old.until) || len(c.data) >= c.max {
				delete(c.data, key)
			}
		}
	}
	c.data[k] = e
}
