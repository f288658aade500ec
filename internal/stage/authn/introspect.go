package authn

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// introspectionMethod authenticates opaque bearer tokens with an RFC 7662
// introspection endpoint.
type introspectionMethod struct {
	url        string
	clientID   string
	secret     string
	header     string
	keep       bool // forward the token upstream
	issuer     string
	audience   []string
	rolesClaim string
	tierClaim  string
	client     *http.Client
	now        func() time.Time
	maxTTL     time.Duration // <0: no caching of active answers
	negTTL     time.Duration // <0: no caching of inactive answers

	mu    sync.Mutex
	max   int
	cache map[[32]byte]introspectEntry
}

type introspectEntry struct {
	principal *pipeline.Principal // nil: inactive
	until     time.Time
}

func newIntrospectionMethod(c *IntrospectionConfig, o Options) (*introspectionMethod, error) {
	secret, err := o.ResolveSecret(c.ClientSecret)
	if err != nil {
		return nil, fmt.Errorf("introspection.client_secret: %w", err)
	}
	m := &introspectionMethod{
		url: c.URL, clientID: c.ClientID, secret: secret, header: http.CanonicalHeaderKey(c.Header), keep: c.KeepCredential,
		issuer: c.Issuer, audience: c.Audience, rolesClaim: c.RolesClaim, tierClaim: c.TierClaim,
		client: o.HTTPClient, now: o.Now, maxTTL: c.CacheTTL, negTTL: c.NegativeTTL, max: c.CacheSize,
		cache: map[[32]byte]introspectEntry{},
	}
	if m.header == "" {
		m.header = "Authorization"
	}
	if m.rolesClaim == "" {
		m.rolesClaim = "roles"
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	if m.client == nil {
		m.client = &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if m.maxTTL == 0 {
		m.maxTTL = 5 * time.Minute
	}
	if m.negTTL == 0 {
		m.negTTL = 10 * time.Second
	}
	if m.max <= 0 {
		m.max = 10000
	}
	return m, nil
}

func (m *introspectionMethod) kind() string { return "introspection" }

func (m *introspectionMethod) challenge(realm string) string { return `Bearer realm="` + realm + `"` }

func (m *introspectionMethod) present(r *http.Request) bool {
	return bearerToken(r.Header.Get(m.header)) != ""
}

func (m *introspectionMethod) authenticate(ctx context.Context, x *pipeline.Exchange) (*pipeline.Principal, *failure, error) {
	tok := bearerToken(x.Request.Header.Get(m.header))
	if !m.keep {
		x.Request.Header.Del(m.header)
	}
	inactive := &failure{rule: "authn.introspection.inactive", reason: "the token is not active",
		location: "header:" + strings.ToLower(m.header), bearerError: "invalid_token"}
	if len(tok) > 8192 {
		return nil, inactive, nil
	}
	now := m.now()
	key := sha256.Sum256([]byte(tok))
	m.mu.Lock()
	e, ok := m.cache[key]
	if ok && !now.Before(e.until) {
		delete(m.cache, key)
		ok = false
	}
	m.mu.Unlock()
	if ok {
		if e.principal == nil {
			return nil, inactive, nil
		}
		return e.principal, nil, nil // principals are read-only: shared
	}
	p, exp, err := m.introspect(ctx, tok)
	if err != nil {
		return nil, nil, err
	}
	var until time.Time
	switch {
	case p == nil && m.negTTL > 0:
		until = now.Add(m.negTTL)
	case p != nil && m.maxTTL > 0:
		// Never cache past the token's own expiry: a revoked-by-expiry
		// token must stop working on time.
		until = now.Add(m.maxTTL)
		if !exp.IsZero() && exp.Before(until) {
			until = exp
		}
	}
	if until.After(now) {
		m.store(key, introspectEntry{principal: p, until: until}, now)
	}
	if p == nil {
		return nil, inactive, nil
	}
	return p, nil, nil
}

func (m *introspectionMethod) store(key [32]byte, e introspectEntry, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cache) >= m.max {
		for k, old := range m.cache {
			if !now.Before(old.until) || len(m.cache) >= m.max {
				delete(m.cache, k)
			}
		}
	}
	m.cache[key] = e
}

// introspect asks the endpoint. It returns (nil, _, nil) for an inactive
// (or unacceptable) token and an error when the endpoint cannot answer.
func (m *introspectionMethod) introspect(ctx context.Context, tok string) (*pipeline.Principal, time.Time, error) {
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("introspection: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if m.clientID != "" {
		// RFC 6749 §2.3.1: form-encode before Basic.
		req.SetBasicAuth(url.QueryEscape(m.clientID), url.QueryEscape(m.secret))
	}
	resp, err := m.client.Do(req)
	if err != nil {
		// The error can carry the URL but never the token (it is in the body).
		return nil, time.Time{}, fmt.Errorf("introspection endpoint unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, time.Time{}, fmt.Errorf("introspection endpoint answered %d", resp.StatusCode)
	}
	claims, err := decodeClaims(mustRead(io.LimitReader(resp.Body, 1<<20)))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("introspection response: %w", err)
	}
	if active, _ := claims["active"].(bool); !active {
		return nil, time.Time{}, nil
	}
	var exp time.Time
	if v, ok := claims["exp"]; ok {
		n, ok := numericDate(v)
		if !ok {
			return nil, time.Time{}, nil
		}
		exp = time.Unix(n, 0)
		if !m.now().Before(exp) {
			return nil, time.Time{}, nil
		}
	}
	if iss, ok := claims["iss"].(string); ok && m.issuer != "" && iss != m.issuer {
		return nil, time.Time{}, nil
	}
	if len(m.audience) > 0 && !slices.ContainsFunc(stringList(claims["aud"]), func(a string) bool { return slices.Contains(m.audience, a) }) {
		return nil, time.Time{}, nil
	}
	p := &pipeline.Principal{Kind: "introspection", Attributes: map[string]any{}}
	for _, k := range []string{"sub", "username", "client_id"} {
		if s, _ := claims[k].(string); s != "" {
			p.ID = s
			break
		}
	}
	if p.ID == "" {
		return nil, time.Time{}, nil
	}
	for k, v := range claims {
		p.Attributes[k] = plainClaim(v)
	}
	p.Scopes = scopesOf(claims)
	p.Roles = stringList(claimPath(claims, m.rolesClaim))
	if m.tierClaim != "" {
		if t, ok := claimPath(claims, m.tierClaim).(string); ok {
			p.Attributes["tier"] = t
		}
	}
	return p, exp, nil
}

func mustRead(r io.Reader) []byte {
	b, _ := io.ReadAll(r)
	return b
}
