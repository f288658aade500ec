package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_750_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// run sends r through the stage and returns its verdict and exchange.
func run(t *testing.T, s *Stage, r *http.Request) (*pipeline.Denial, error, *pipeline.Exchange) {
	t.Helper()
	x := pipeline.NewExchange(r, "req-1", time.Now())
	d, err := s.Request(context.Background(), x)
	return d, err, x
}

func rule(d *pipeline.Denial) string {
	if d == nil {
		return ""
	}
	return strings.Join(d.Rules, ",")
}

// signer is a private key with a kid.
type signer struct {
	key jwk.Key
	alg jwa.SignatureAlgorithm
}

func newECSigner(t *testing.T, kid string) signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, kid)
	return signer{key: k, alg: jwa.ES256()}
}

var (
	rsaOnce sync.Once
	rsaPriv *rsa.PrivateKey
)

func newRSASigner(t *testing.T, kid string) signer {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsaPriv, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	k, err := jwk.Import(rsaPriv)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, kid)
	return signer{key: k, alg: jwa.RS256()}
}

func (s signer) public(t *testing.T) jwk.Key {
	t.Helper()
	p, err := s.key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (s signer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	kid, _ := s.key.KeyID()
	return s.signKid(t, kid, claims)
}

func (s signer) signKid(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	h := jws.NewHeaders()
	_ = h.Set(jws.KeyIDKey, kid)
	_ = h.Set(jws.TypeKey, "JWT")
	// jws.Sign takes the kid from a jwk.Key; sign with a copy carrying kid.
	k, _ := s.key.Clone()
	_ = k.Set(jwk.KeyIDKey, kid)
	if kid == "" {
		_ = k.Remove(jwk.KeyIDKey)
	}
	b, err := jws.Sign(payload, jws.WithKey(s.alg, k, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawJWT builds a token by hand (for alg none and key confusion).
func rawJWT(header, claims map[string]any, sign func(input string) []byte) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	var sig []byte
	if sign != nil {
		sig = sign(in)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// jwksServer serves a JWKS that tests can rotate, and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []jwk.Key
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T, keys ...jwk.Key) *jwksServer {
	t.Helper()
	js := &jwksServer{keys: keys}
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": js.URL, "jwks_uri": js.URL + "/jwks"})
		case "/jwks":
			js.fetches.Add(1)
			js.mu.Lock()
			set := jwk.NewSet()
			for _, k := range js.keys {
				_ = set.AddKey(k)
			}
			js.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(set)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(js.Close)
	return js
}

func (js *jwksServer) rotate(keys ...jwk.Key) {
	js.mu.Lock()
	js.keys = keys
	js.mu.Unlock()
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/orders/ord-1001", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func claimsAt(now time.Time, extra map[string]any) map[string]any {
	c := map[string]any{
		"iss": "https://idp.example", "aud": "orders-api", "sub": "alice",
		"exp": now.Add(10 * time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"scope": "orders:read orders:write", "roles": []string{"user"},
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func jwtStage(t *testing.T, clk *clock, c JWTConfig) *Stage {
	t.Helper()
	if c.Issuer == "" {
		c.Issuer = "https://idp.example"
	}
	if c.Audience == nil {
		c.Audience = []string{"orders-api"}
	}
	s, err := New(&Config{Methods: []Method{{JWT: &c}}}, Options{API: "orders", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestJWTWithRotatingJWKS(t *testing.T) {
	clk := newClock()
	rs := newRSASigner(t, "rsa-1")
	ec1 := newECSigner(t, "ec-1")
	js := newJWKSServer(t, rs.public(t), ec1.public(t))
	s := jwtStage(t, clk, JWTConfig{JWKSURL: js.URL + "/jwks", MinRefreshInterval: time.Minute, CacheSize: -1})
	now := clk.Now()

	d, err, x := run(t, s, bearer(ec1.sign(t, claimsAt(now, nil))))
	if d != nil || err != nil {
		t.Fatalf("valid token: got %v %v, want accepted", rule(d), err)
	}
	if x.Principal == nil || x.Principal.ID != "alice" || x.Principal.Kind != "jwt" {
		t.Fatalf("principal: got %+v, want alice/jwt", x.Principal)
	}
	if got := strings.Join(x.Principal.Scopes, " "); got != "orders:read orders:write" {
		t.Errorf("scopes: got %q, want %q", got, "orders:read orders:write")
	}
	if got := strings.Join(x.Principal.Roles, ","); got != "user" {
		t.Errorf("roles: got %q, want user", got)
	}
	if got := x.UpstreamHeader.Get(HeaderID); got != "alice" {
		t.Errorf("forwarded id: got %q, want alice", got)
	}

	// The provider rotates to a new key; a token signed with it is accepted
	// without a restart (an unknown kid triggers a refresh once the floor
	// has passed).
	ec2 := newECSigner(t, "ec-2")
	js.rotate(rs.public(t), ec2.public(t))
	clk.Add(2 * time.Minute)
	now = clk.Now()
	if d, err, _ := run(t, s, bearer(ec2.sign(t, claimsAt(now, nil)))); d != nil || err != nil {
		t.Fatalf("token signed by the rotated-in key: got %v %v, want accepted", rule(d), err)
	}

	other := newECSigner(t, "ec-2") // same kid, different key: a forgery
	hsRSA := func(in string) []byte {
		der, _ := x509.MarshalPKIXPublicKey(&rsaPriv.PublicKey)
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		m := hmac.New(sha256.New, pemKey)
		m.Write([]byte(in))
		return m.Sum(nil)
	}
	hsRaw := func(in string) []byte {
		m := hmac.New(sha256.New, rsaPriv.PublicKey.N.Bytes())
		m.Write([]byte(in))
		return m.Sum(nil)
	}
	cases := []struct {
		name, token, rule string
	}{
		{"forged with another key under the same kid", other.sign(t, claimsAt(now, nil)), "authn.jwt.signature"},
		{"expired", ec2.sign(t, claimsAt(now, map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix(), "nbf": nil})), "authn.jwt.expired"},
		{"expired within leeway is fine", "", ""},
		{"not yet valid", ec2.sign(t, claimsAt(now, map[string]any{"nbf": now.Add(time.Hour).Unix()})), "authn.jwt.not-yet-valid"},
		{"issued in the future", ec2.sign(t, claimsAt(now, map[string]any{"iat": now.Add(time.Hour).Unix()})), "authn.jwt.iat"},
		{"wrong audience", ec2.sign(t, claimsAt(now, map[string]any{"aud": "billing-api"})), "authn.jwt.audience"},
		{"wrong issuer", ec2.sign(t, claimsAt(now, map[string]any{"iss": "https://evil.example"})), "authn.jwt.issuer"},
		{"no expiry", ec2.sign(t, claimsAt(now, map[string]any{"exp": nil})), "authn.jwt.claims"},
		{"alg none", rawJWT(map[string]any{"alg": "none", "kid": "ec-2"}, claimsAt(now, nil), nil), "authn.jwt.algorithm"},
		{"alg none, no signature segment", strings.TrimSuffix(rawJWT(map[string]any{"alg": "none", "kid": "ec-2"}, claimsAt(now, nil), nil), "."), "authn.jwt.malformed"},
		{"HS256 signed with the RSA public key (PEM)", rawJWT(map[string]any{"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}, claimsAt(now, nil), hsRSA), "authn.jwt.algorithm"},
		{"HS256 signed with the RSA modulus", rawJWT(map[string]any{"alg": "HS256", "kid": "rsa-1"}, claimsAt(now, nil), hsRaw), "authn.jwt.algorithm"},
		{"tampered payload", tamper(ec2.sign(t, claimsAt(now, nil))), "authn.jwt.signature"},
		{"not a JWT", "abc.def", "authn.jwt.malformed"},
		{"garbage segments", "a.b.c", "authn.jwt.malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.token == "" {
				tok := ec2.sign(t, claimsAt(now, map[string]any{"exp": now.Add(-10 * time.Second).Unix()}))
				if d, err, _ := run(t, s, bearer(tok)); d != nil || err != nil {
					t.Fatalf("got %v %v, want accepted (30s leeway)", rule(d), err)
				}
				return
			}
			d, err, x := run(t, s, bearer(tc.token))
			if err != nil {
				t.Fatalf("got error %v, want denial %s", err, tc.rule)
			}
			if rule(d) != tc.rule {
				t.Fatalf("got rule %q, want %q", rule(d), tc.rule)
			}
			if d.Status != http.StatusUnauthorized {
				t.Errorf("got status %d, want 401", d.Status)
			}
			ch := d.Headers.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, `Bearer realm="orders", error="invalid_token", error_description="`) {
				t.Errorf("got WWW-Authenticate %q, want a Bearer invalid_token challenge", ch)
			}
			if strings.Contains(d.Detail+d.Reason+d.Location+ch, tc.token) {
				t.Errorf("the token leaked into the denial")
			}
			if x.Principal != nil {
				t.Errorf("got principal %v, want none", x.Principal)
			}
		})
	}
}

// tamper changes the payload of a token, keeping its signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	c["sub"] = "admin"
	nb, _ := json.Marshal(c)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(nb) + "." + parts[2]
}

func TestJWTUnknownKidFloodDoesNotFloodTheJWKSServer(t *testing.T) {
	clk := newClock()
	ec := newECSigner(t, "ec-1")
	js := newJWKSServer(t, ec.public(t))
	s := jwtStage(t, clk, JWTConfig{JWKSURL: js.URL + "/jwks", MinRefreshInterval: time.Minute})
	now := clk.Now()
	if d, err, _ := run(t, s, bearer(ec.sign(t, claimsAt(now, nil)))); d != nil || err != nil {
		t.Fatalf("valid token: got %v %v", rule(d), err)
	}
	base := js.fetches.Load()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := ec.signKid(t, fmt.Sprintf("random-%d", i), claimsAt(now, nil))
			d, err, _ := run(t, s, bearer(tok))
			if err != nil || rule(d) != "authn.jwt.key" {
				t.Errorf("unknown kid: got %v %v, want authn.jwt.key", rule(d), err)
			}
		}()
	}
	wg.Wait()
	// The first flood request was within the floor of the initial fetch:
	// no fetch at all. Past the floor, one more flood gets exactly one.
	if got := js.fetches.Load() - base; got != 0 {
		t.Errorf("fetches during the flood within the floor: got %d, want 0", got)
	}
	clk.Add(61 * time.Second)
	for i := range 50 {
		tok := ec.signKid(t, fmt.Sprintf("again-%d", i), claimsAt(now, nil))
		_, _, _ = run(t, s, bearer(tok))
	}
	if got := js.fetches.Load() - base; got != 1 {
		t.Errorf("fetches during a flood past the floor: got %d, want 1", got)
	}
}

func TestJWTDiscoveryAndKeyFiles(t *testing.T) {
	clk := newClock()
	ec := newECSigner(t, "ec-1")
	js := newJWKSServer(t, ec.public(t))
	s := jwtStage(t, clk, JWTConfig{Issuer: js.URL, Discovery: true})
	tok := ec.sign(t, claimsAt(clk.Now(), map[string]any{"iss": js.URL}))
	if d, err, _ := run(t, s, bearer(tok)); d != nil || err != nil {
		t.Fatalf("discovery: got %v %v, want accepted", rule(d), err)
	}

	// A PEM public key file; a token from another key is refused.
	dir := t.TempDir()
	der, _ := x509.MarshalPKIXPublicKey(&rsaPrivOrNew(t).PublicKey)
	path := dir + "/pub.pem"
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	fs := jwtStage(t, clk, JWTConfig{KeyFiles: []string{path}})
	rs := newRSASigner(t, "")
	if d, err, _ := run(t, fs, bearer(rs.sign(t, claimsAt(clk.Now(), nil)))); d != nil || err != nil {
		t.Fatalf("key file: got %v %v, want accepted", rule(d), err)
	}
	if d, _, _ := run(t, fs, bearer(ec.sign(t, claimsAt(clk.Now(), nil)))); rule(d) != "authn.jwt.key" {
		t.Fatalf("token from another key: got %q, want authn.jwt.key", rule(d))
	}
}

func rsaPrivOrNew(t *testing.T) *rsa.PrivateKey {
	newRSASigner(t, "x")
	return rsaPriv
}

func TestJWTProviderDownFailsClosedOrOpen(t *testing.T) {
	clk := newClock()
	ec := newECSigner(t, "ec-1")
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL + "/jwks"
	dead.Close()
	for _, mode := range []string{"closed", "open"} {
		t.Run(mode, func(t *testing.T) {
			c := &Config{FailMode: mode, Methods: []Method{{JWT: &JWTConfig{JWKSURL: url, FetchTimeout: 200 * time.Millisecond}}}}
			s, err := New(c, Options{API: "a", Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			d, err, x := run(t, s, bearer(ec.sign(t, claimsAt(clk.Now(), nil))))
			switch mode {
			case "closed":
				if err == nil || d != nil {
					t.Fatalf("got %v %v, want an error (the chain answers 503)", rule(d), err)
				}
			case "open":
				if err != nil || d != nil || x.Principal != nil || len(x.Failures()) != 1 {
					t.Fatalf("got %v %v principal %v failures %d, want anonymous with one failure", rule(d), err, x.Principal, len(x.Failures()))
				}
			}
		})
	}
}

func TestJWTCacheRechecksExpiry(t *testing.T) {
	clk := newClock()
	ec := newECSigner(t, "ec-1")
	js := newJWKSServer(t, ec.public(t))
	s := jwtStage(t, clk, JWTConfig{JWKSURL: js.URL + "/jwks", CacheTTL: time.Hour})
	tok := ec.sign(t, claimsAt(clk.Now(), map[string]any{"exp": clk.Now().Add(time.Minute).Unix()}))
	for i := range 3 {
		if d, err, _ := run(t, s, bearer(tok)); d != nil || err != nil {
			t.Fatalf("use %d: got %v %v, want accepted", i, rule(d), err)
		}
	}
	clk.Add(2 * time.Minute)
	if d, _, _ := run(t, s, bearer(tok)); rule(d) != "authn.jwt.expired" {
		t.Fatalf("cached token past exp: got %q, want authn.jwt.expired", rule(d))
	}
}

func TestJWTHMACAllowedNeverVerifiesWithAPublicKey(t *testing.T) {
	clk := newClock()
	rs := newRSASigner(t, "rsa-1")
	js := newJWKSServer(t, rs.public(t))
	dir := t.TempDir()
	secret := []byte("a-shared-secret-of-at-least-32-bytes!!")
	writeFile(t, dir+"/hmac.json", `{"keys":[{"kty":"oct","kid":"hmac-1","k":"`+base64.RawURLEncoding.EncodeToString(secret)+`"}]}`)
	s := jwtStage(t, clk, JWTConfig{JWKSURL: js.URL + "/jwks", KeyFiles: []string{dir + "/hmac.json"}, Algorithms: []string{"RS256", "HS256"}})
	now := clk.Now()
	der, _ := x509.MarshalPKIXPublicKey(&rsaPriv.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hs := func(key []byte) func(string) []byte {
		return func(in string) []byte {
			m := hmac.New(sha256.New, key)
			m.Write([]byte(in))
			return m.Sum(nil)
		}
	}
	cases := []struct {
		name, token, rule string
	}{
		{"RS256 from the JWKS", rs.sign(t, claimsAt(now, nil)), ""},
		{"HS256 with the file's shared secret", rawJWT(map[string]any{"alg": "HS256", "kid": "hmac-1"}, claimsAt(now, nil), hs(secret)), ""},
		{"HS256 naming the RSA key, signed with its PEM", rawJWT(map[string]any{"alg": "HS256", "kid": "rsa-1"}, claimsAt(now, nil), hs(pemKey)), "authn.jwt.key"},
		{"HS256 without kid, signed with the RSA PEM", rawJWT(map[string]any{"alg": "HS256"}, claimsAt(now, nil), hs(pemKey)), "authn.jwt.signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err, _ := run(t, s, bearer(tc.token))
			if err != nil || rule(d) != tc.rule {
				t.Fatalf("got %q %v, want %q", rule(d), err, tc.rule)
			}
		})
	}
}

// TestBearerTokenIsNotForwardedUnlessKept: by default the Authorization
// header is removed once a JWT or an introspected token has been looked at
// (accepted or not), so the upstream never receives the token; with
// keep_credential it is forwarded unchanged.
func TestBearerTokenIsNotForwardedUnlessKept(t *testing.T) {
	clk := newClock()
	ec := newECSigner(t, "ec-1")
	js := newJWKSServer(t, ec.public(t))
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		active := r.PostForm.Get("token") == "opaque-good"
		_ = json.NewEncoder(w).Encode(map[string]any{"active": active, "sub": "alice", "exp": clk.Now().Add(time.Minute).Unix()})
	}))
	defer as.Close()
	good := ec.sign(t, claimsAt(clk.Now(), nil))
	expired := ec.sign(t, claimsAt(clk.Now(), map[string]any{"exp": clk.Now().Add(-time.Hour).Unix()}))
	for _, keep := range []bool{false, true} {
		jwtS := jwtStage(t, clk, JWTConfig{JWKSURL: js.URL + "/jwks", KeepCredential: keep})
		intS, err := New(&Config{Methods: []Method{{Introspection: &IntrospectionConfig{URL: as.URL, KeepCredential: keep}}}},
			Options{API: "orders", Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer intS.Close()
		for _, tc := range []struct {
			name   string
			s      *Stage
			tok    string
			accept bool
		}{
			{"jwt accepted", jwtS, good, true},
			{"jwt expired", jwtS, expired, false},
			{"introspection active", intS, "opaque-good", true},
			{"introspection inactive", intS, "opaque-bad", false},
		} {
			d, err, x := run(t, tc.s, bearer(tc.tok))
			if err != nil || (d == nil) != tc.accept {
				t.Fatalf("keep=%v %s: got %v %v, want accepted=%v", keep, tc.name, rule(d), err, tc.accept)
			}
			got := x.Request.Header.Get("Authorization")
			want := ""
			if keep {
				want = "Bearer " + tc.tok
			}
			if got != want {
				t.Errorf("keep=%v %s: Authorization after the stage = %q, want %q", keep, tc.name, got, want)
			}
		}
	}
}
