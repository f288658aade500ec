// Package authn is the authentication stage: API keys, JWT (JWKS), OAuth2
// token introspection, mTLS identity and signed requests.
//
// An API lists its methods in the order they are tried. The first method
// that finds its kind of credential in the request decides: it either
// authenticates the caller (the principal goes on the exchange and, in
// configurable headers, to the upstream) or denies with 401 and a
// WWW-Authenticate challenge. A request with no credential at all is
// denied with "authn.missing", unless the API (or the path) is optional,
// in which case it continues anonymous.
package authn

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/portcullis/portcullis/internal/field"
)

// Config is an API's `authn` block: who the caller is (API keys, JWT, OAuth2
// introspection, mTLS, signed requests). Default: none (anonymous).
type Config struct {
	// Methods are the authentication methods, tried in this order. Each
	// entry sets exactly one of apikey, jwt, introspection, mtls or
	// signature. At least one.
	Methods []Method `yaml:"methods" json:"methods"`
	// Optional lets requests without any credential through as anonymous
	// (no principal), so that later stages (authz, ratelimit) can treat
	// them differently. A credential that is present but wrong is still
	// refused. Default false: a credential is required.
	Optional bool `yaml:"optional,omitempty" json:"optional,omitempty"`
	// OptionalPaths are request paths where a missing credential is
	// accepted even when Optional is false: "/healthz" matches that path,
	// "/docs/*" matches everything below /docs/, and a method prefix
	// ("GET /pets/*") limits the pattern to one method. Default empty.
	OptionalPaths []string `yaml:"optional_paths,omitempty" json:"optional_paths,omitempty"`
	// RequiredPaths are request paths (same patterns as OptionalPaths)
	// where a credential is required even when Optional is true; they win
	// over OptionalPaths. Default empty.
	RequiredPaths []string `yaml:"required_paths,omitempty" json:"required_paths,omitempty"`
	// Realm is the realm of the WWW-Authenticate challenges. Default: the
	// API's name.
	Realm string `yaml:"realm,omitempty" json:"realm,omitempty"`
	// FailMode is what a technical failure (identity provider, JWKS or
	// introspection endpoint or store unreachable) means: "closed"
	// (default) answers 503, "open" lets the request continue anonymous
	// and records the failure as an event.
	FailMode string `yaml:"fail_mode,omitempty" json:"fail_mode,omitempty"`
	// Forward names the headers that carry the principal to the upstream.
	// Whatever is configured, headers with these names (and every header
	// starting with X-Principal-) are removed from client requests, so
	// that a client can never claim an identity by sending them.
	Forward Forward `yaml:"forward,omitempty" json:"forward,omitempty"`
}

// Method is one authentication method; exactly one field is set.
type Method struct {
	// APIKey authenticates with an API key in a header or query parameter.
	APIKey *APIKeyConfig `yaml:"apikey,omitempty" json:"apikey,omitempty"`
	// JWT authenticates with a signed JWT bearer token (OAuth2/OIDC access
	// tokens).
	JWT *JWTConfig `yaml:"jwt,omitempty" json:"jwt,omitempty"`
	// Introspection authenticates opaque bearer tokens with an OAuth2
	// token introspection endpoint (RFC 7662).
	Introspection *IntrospectionConfig `yaml:"introspection,omitempty" json:"introspection,omitempty"`
	// MTLS takes the identity from the verified client certificate (the
	// listener must request client certificates: tls.client_ca).
	MTLS *MTLSConfig `yaml:"mtls,omitempty" json:"mtls,omitempty"`
	// Signature authenticates HMAC-SHA256 signed requests, refusing
	// tampered, stale and replayed requests.
	Signature *SignatureConfig `yaml:"signature,omitempty" json:"signature,omitempty"`
}

// Forward configures the principal headers sent upstream. An empty name
// means the default; "-" leaves that header out. By default the id, the
// kind and the tier are sent; scopes and roles only when named here.
type Forward struct {
	// Disabled sends no principal headers upstream (they are still
	// stripped from client requests). Default false.
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	// ID is the header carrying the principal id. Default X-Principal-Id.
	ID string `yaml:"id,omitempty" json:"id,omitempty"`
	// Kind is the header carrying the method ("apikey", "jwt",
	// "introspection", "mtls", "signature"). Default X-Principal-Kind.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Scopes is the header carrying the space-separated scopes, e.g.
	// X-Principal-Scopes. Default "": not sent (the gateway has checked
	// them; an upstream that decides on scopes itself names a header).
	Scopes string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	// Roles is the header carrying the comma-separated roles, e.g.
	// X-Principal-Roles. Default "": not sent.
	Roles string `yaml:"roles,omitempty" json:"roles,omitempty"`
	// Tier is the header carrying the rate-limit tier. Default
	// X-Principal-Tier.
	Tier string `yaml:"tier,omitempty" json:"tier,omitempty"`
}

// APIKeyConfig configures API keys. Keys look like pk_<id>_<secret>; only
// a SHA-256 hash of each key is stored.
type APIKeyConfig struct {
	// Header is the request header carrying the key. Default X-Api-Key;
	// "-" turns header lookup off (then Query must be set).
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	// Query is a query parameter carrying the key ("api_key"). Default ""
	// (off): keys in URLs end up in browser histories and proxy logs.
	Query string `yaml:"query,omitempty" json:"query,omitempty"`
	// File is a keys file (YAML or JSON, written by `portcullis keys`),
	// relative to the config file. It is re-read when it changes. Default
	// "": no file (then Store must be true).
	File string `yaml:"file,omitempty" json:"file,omitempty"`
	// Store also looks keys up in the shared store (record
	// "authn:apikey:<id>", the same JSON as one entry of the keys file),
	// after the file. Default false.
	Store bool `yaml:"store,omitempty" json:"store,omitempty"`
	// ReloadInterval is how often the file's modification time is checked.
	// Default 2s; a gateway reload always re-reads it.
	ReloadInterval time.Duration `yaml:"reload_interval,omitempty" json:"reload_interval,omitempty"`
	// KeepCredential forwards the key to the upstream. Default false: the
	// header or query parameter is removed before proxying, so the
	// upstream never sees a usable credential.
	KeepCredential bool `yaml:"keep_credential,omitempty" json:"keep_credential,omitempty"`
}

// JWTConfig configures JWT bearer tokens.
type JWTConfig struct {
	// Header carries the token as "Bearer <token>". Default Authorization.
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	// Issuer is the required "iss" claim. Default "": not checked
	// (required with Discovery).
	Issuer string `yaml:"issuer,omitempty" json:"issuer,omitempty"`
	// Discovery finds the JWKS URL from Issuer's OpenID Connect discovery
	// document (Issuer + "/.well-known/openid-configuration"). Default
	// false.
	Discovery bool `yaml:"discovery,omitempty" json:"discovery,omitempty"`
	// Audience lists accepted "aud" values; the token must carry one of
	// them. Default empty: not checked (set it: a token minted for another
	// API of the same issuer would otherwise be accepted).
	Audience []string `yaml:"audience,omitempty" json:"audience,omitempty"`
	// JWKSURL is where the signing keys are fetched (https in production).
	// Default "": use KeyFiles or Discovery.
	JWKSURL string `yaml:"jwks_url,omitempty" json:"jwks_url,omitempty"`
	// KeyFiles are JWKS (JSON) or PEM public key files, relative to the
	// config file, read at load. Default empty.
	KeyFiles []string `yaml:"key_files,omitempty" json:"key_files,omitempty"`
	// Algorithms is the allowlist of "alg" values. Default: RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA. "none" is
	// never accepted; HS256/384/512 only verify with symmetric keys from
	// KeyFiles, never with a public key.
	Algorithms []string `yaml:"algorithms,omitempty" json:"algorithms,omitempty"`
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 30s.
	Leeway time.Duration `yaml:"leeway,omitempty" json:"leeway,omitempty"`
	// MaxAge refuses tokens issued longer ago than this (needs iat).
	// Default 0: no limit.
	MaxAge time.Duration `yaml:"max_age,omitempty" json:"max_age,omitempty"`
	// RequiredClaims must be present in every token. "exp" is always
	// required. Default empty.
	RequiredClaims []string `yaml:"required_claims,omitempty" json:"required_claims,omitempty"`
	// SubjectClaim is the claim that becomes the principal id. Default
	// "sub".
	SubjectClaim string `yaml:"subject_claim,omitempty" json:"subject_claim,omitempty"`
	// RolesClaim is the claim holding roles (a list or a space-separated
	// string); a dotted path reaches into objects
	// ("realm_access.roles"). Default "roles". Scopes always come from
	// "scope" (space-separated) and "scp" (list or string).
	RolesClaim string `yaml:"roles_claim,omitempty" json:"roles_claim,omitempty"`
	// TierClaim is the claim holding the rate-limit tier. Default "": no
	// tier.
	TierClaim string `yaml:"tier_claim,omitempty" json:"tier_claim,omitempty"`
	// RefreshInterval is how often the JWKS is fetched again on schedule.
	// Default 15m.
	RefreshInterval time.Duration `yaml:"refresh_interval,omitempty" json:"refresh_interval,omitempty"`
	// MinRefreshInterval is the floor between two fetches triggered by an
	// unknown "kid", so that a flood of tokens with random kids cannot
	// flood the identity provider. Default 30s.
	MinRefreshInterval time.Duration `yaml:"min_refresh_interval,omitempty" json:"min_refresh_interval,omitempty"`
	// FetchTimeout bounds one JWKS or discovery fetch. Default 5s.
	FetchTimeout time.Duration `yaml:"fetch_timeout,omitempty" json:"fetch_timeout,omitempty"`
	// MaxTokenBytes refuses longer tokens unparsed. Default 8192.
	MaxTokenBytes int `yaml:"max_token_bytes,omitempty" json:"max_token_bytes,omitempty"`
	// CacheSize is how many verified tokens are remembered (by SHA-256 of
	// the whole token) so that their signature is not verified again;
	// time claims are re-checked on every use. Default 10000; negative
	// turns the cache off.
	CacheSize int `yaml:"cache_size,omitempty" json:"cache_size,omitempty"`
	// CacheTTL is the longest a verified token is remembered (never past
	// its exp). Default 1m.
	CacheTTL time.Duration `yaml:"cache_ttl,omitempty" json:"cache_ttl,omitempty"`
	// KeepCredential forwards the token to the upstream. Default false:
	// the header is removed before proxying (the upstream gets the
	// principal in the forwarded headers instead), so a token never
	// reaches upstream logs or code that does not need it.
	KeepCredential bool `yaml:"keep_credential,omitempty" json:"keep_credential,omitempty"`
}

// IntrospectionConfig configures OAuth2 token introspection (RFC 7662).
type IntrospectionConfig struct {
	// URL is the introspection endpoint. Required.
	URL string `yaml:"url" json:"url"`
	// ClientID authenticates the gateway to the endpoint (HTTP Basic,
	// client_secret_basic). Default "": no client authentication.
	ClientID string `yaml:"client_id,omitempty" json:"client_id,omitempty"`
	// ClientSecret is the client's secret; use ${ENV} or file:PATH. Default "".
	ClientSecret string `yaml:"client_secret,omitempty" json:"client_secret,omitempty"`
	// Header carries the token as "Bearer <token>". Default Authorization.
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	// Issuer, when set, must equal the response's "iss" if it has one.
	// Default "".
	Issuer string `yaml:"issuer,omitempty" json:"issuer,omitempty"`
	// Audience, when set, requires one of these in the response's "aud".
	// Default empty: not checked.
	Audience []string `yaml:"audience,omitempty" json:"audience,omitempty"`
	// RolesClaim is the response member holding roles. Default "roles".
	RolesClaim string `yaml:"roles_claim,omitempty" json:"roles_claim,omitempty"`
	// TierClaim is the response member holding the tier. Default "".
	TierClaim string `yaml:"tier_claim,omitempty" json:"tier_claim,omitempty"`
	// Timeout bounds one call to the endpoint. Default 3s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// CacheTTL is the longest an active answer is cached; it is never
	// cached past the token's exp. Default 5m; negative turns caching off.
	CacheTTL time.Duration `yaml:"cache_ttl,omitempty" json:"cache_ttl,omitempty"`
	// NegativeTTL is how long an inactive answer is cached, so that a
	// client retrying a bad token does not reach the endpoint every time.
	// Default 10s; negative turns it off.
	NegativeTTL time.Duration `yaml:"negative_ttl,omitempty" json:"negative_ttl,omitempty"`
	// CacheSize bounds the cache (entries). Default 10000.
	CacheSize int `yaml:"cache_size,omitempty" json:"cache_size,omitempty"`
	// KeepCredential forwards the token to the upstream. Default false:
	// the header is removed before proxying (the upstream gets the
	// principal in the forwarded headers instead), so a token never
	// reaches upstream logs or code that does not need it.
	KeepCredential bool `yaml:"keep_credential,omitempty" json:"keep_credential,omitempty"`
}

// MTLSConfig configures identity from client certificates.
type MTLSConfig struct {
	// Identity is the certificate field that becomes the principal id:
	// "cn" (subject common name, default), "san-dns", "san-uri" or
	// "san-email" (the first such SAN).
	Identity string `yaml:"identity,omitempty" json:"identity,omitempty"`
	// Roles are given to every certificate principal. Default empty.
	Roles []string `yaml:"roles,omitempty" json:"roles,omitempty"`
	// Scopes are given to every certificate principal. Default empty.
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
}

// SignatureConfig configures signed requests: Portcullis's own HMAC-SHA256
// scheme, RFC 9421 HTTP Message Signatures (with RFC 9530 Content-Digest),
// or both (formats in docs/authn.md).
type SignatureConfig struct {
	// Format is the signature format accepted: "portcullis" (default: the
	// HMAC-SHA256 scheme in the Header header), "rfc9421" (HTTP Message
	// Signatures: the Signature-Input and Signature fields, HMAC or public
	// keys), or "any" (RFC 9421 when the request has a Signature-Input
	// field, the Portcullis scheme otherwise).
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
	// Components (rfc9421) must all be covered by a signature: derived
	// components ("@method", "@authority", "@path", "@target-uri", ...)
	// and lower-case header names. Default ["@method", "@authority",
	// "@path"]; "@query" is required as well when the request has a query,
	// and "content-digest" when it has a body (which must match it).
	Components []string `yaml:"components,omitempty" json:"components,omitempty"`
	// Tag (rfc9421), when set, is the application tag every signature must
	// carry (its "tag" parameter), so that signatures made for another
	// purpose with the same key never verify. Default "": any tag.
	Tag string `yaml:"tag,omitempty" json:"tag,omitempty"`
	// Header carries the signature parameters. Default Signature.
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	// Keys are the shared secrets, by key id. At least one.
	Keys []SignatureKey `yaml:"keys" json:"keys"`
	// Window is the clock skew allowed between the request's timestamp and
	// the gateway's clock, either way; nonces are remembered this long
	// twice over. Default 5m.
	Window time.Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// RequiredHeaders must be among the signed headers (lower case).
	// Default ["host"]; content-digest is always signed.
	RequiredHeaders []string `yaml:"required_headers,omitempty" json:"required_headers,omitempty"`
}

// SignatureKey is one signing key: a shared secret (HMAC) or, for
// rfc9421, a public key.
type SignatureKey struct {
	// ID is the key id sent in the request (rfc9421: the keyid
	// parameter). Required.
	ID string `yaml:"id" json:"id"`
	// Secret is the shared secret (at least 32 bytes); use ${ENV} or
	// file:PATH. "base64:..." gives the key as base64-encoded bytes.
	// Required unless PublicKey is set.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// PublicKey (rfc9421) is a PEM public key ("-----BEGIN PUBLIC
	// KEY-----", PKIX) inline or as a file path relative to the config
	// file, for the ed25519, ecdsa-* and rsa-* algorithms. Default "".
	PublicKey string `yaml:"public_key,omitempty" json:"public_key,omitempty"`
	// Algorithm (rfc9421) is the key's algorithm: "hmac-sha256" (the
	// default with Secret), "ed25519", "ecdsa-p256-sha256",
	// "ecdsa-p384-sha384", "rsa-pss-sha512" or "rsa-v1_5-sha256" (the
	// default with PublicKey is the one its type allows, RSA keys need it
	// named). A signature whose alg parameter names another is refused.
	Algorithm string `yaml:"algorithm,omitempty" json:"algorithm,omitempty"`
	// Owner becomes the principal id. Default: the key id.
	Owner string `yaml:"owner,omitempty" json:"owner,omitempty"`
	// Scopes of the principal. Default empty.
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	// Roles of the principal. Default empty.
	Roles []string `yaml:"roles,omitempty" json:"roles,omitempty"`
	// Tier is the principal's rate-limit tier. Default "".
	Tier string `yaml:"tier,omitempty" json:"tier,omitempty"`
}

// defaultAlgorithms is the JWT algorithm allowlist when none is configured:
// every asymmetric algorithm, no HMAC (a shared secret is not an identity
// provider's key) and never "none".
var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Validate checks the block and returns every problem, with paths relative
// to the block.
func (c *Config) Validate() field.List {
	var l field.List
	if len(c.Methods) == 0 {
		l = append(l, field.Errorf("methods", "at least one method is required (apikey, jwt, introspection, mtls or signature)"))
	}
	switch c.FailMode {
	case "", "closed", "open":
	default:
		l = append(l, field.Errorf("fail_mode", "%q is not a fail mode (expected \"closed\" or \"open\")", c.FailMode))
	}
	for i, p := range c.OptionalPaths {
		if _, err := parsePathPattern(p); err != nil {
			l = append(l, field.Errorf(fmt.Sprintf("optional_paths[%d]", i), "%v", err))
		}
	}
	for i, p := range c.RequiredPaths {
		if _, err := parsePathPattern(p); err != nil {
			l = append(l, field.Errorf(fmt.Sprintf("required_paths[%d]", i), "%v", err))
		}
	}
	for i := range c.Methods {
		p := fmt.Sprintf("methods[%d]", i)
		l = append(l, c.Methods[i].validate().Prefix(p)...)
	}
	return l
}

func (m *Method) validate() field.List {
	n := 0
	for _, set := range []bool{m.APIKey != nil, m.JWT != nil, m.Introspection != nil, m.MTLS != nil, m.Signature != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return field.List{field.Errorf("", "each method sets exactly one of apikey, jwt, introspection, mtls or signature (found %d)", n)}
	}
	switch {
	case m.APIKey != nil:
		return m.APIKey.validate().Prefix("apikey")
	case m.JWT != nil:
		return m.JWT.validate().Prefix("jwt")
	case m.Introspection != nil:
		return m.Introspection.validate().Prefix("introspection")
	case m.MTLS != nil:
		return m.MTLS.validate().Prefix("mtls")
	default:
		return m.Signature.validate().Prefix("signature")
	}
}

func (c *APIKeyConfig) validate() field.List {
	var l field.List
	if c.Header == "-" && c.Query == "" {
		l = append(l, field.Errorf("query", "with header \"-\" a query parameter is required (nowhere to find the key)"))
	}
	if c.File == "" && !c.Store {
		l = append(l, field.Errorf("file", "a keys file or store: true is required"))
	}
	return l
}

func (c *JWTConfig) validate() field.List {
	var l field.List
	if c.JWKSURL == "" && len(c.KeyFiles) == 0 && !c.Discovery {
		l = append(l, field.Errorf("jwks_url", "one of jwks_url, key_files or discovery is required (where do the signing keys come from?)"))
	}
	if c.Discovery && c.Issuer == "" {
		l = append(l, field.Errorf("issuer", "discovery needs the issuer URL"))
	}
	if c.Discovery && c.JWKSURL != "" {
		l = append(l, field.Errorf("discovery", "discovery and jwks_url exclude each other"))
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			l = append(l, field.Errorf("jwks_url", "%q is not an http(s) URL", c.JWKSURL))
		}
	}
	for i, a := range c.Algorithms {
		p := fmt.Sprintf("algorithms[%d]", i)
		alg, ok := jwa.LookupSignatureAlgorithm(a)
		switch {
		case strings.EqualFold(a, "none"):
			l = append(l, field.Errorf(p, "\"none\" is never accepted: an unsigned token proves nothing"))
		case !ok || alg == jwa.NoSignature():
			l = append(l, field.Errorf(p, "%q is not a JWS signature algorithm (expected e.g. RS256, ES256, EdDSA)", a))
		case alg.IsSymmetric() && len(c.KeyFiles) == 0:
			l = append(l, field.Errorf(p, "%s needs a symmetric key in key_files (HMAC never verifies with a public key)", a))
		}
	}
	return l
}

func (c *IntrospectionConfig) validate() field.List {
	var l field.List
	if u, err := url.Parse(c.URL); c.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		l = append(l, field.Errorf("url", "an http(s) introspection endpoint URL is required"))
	}
	if c.ClientSecret != "" && c.ClientID == "" {
		l = append(l, field.Errorf("client_id", "client_secret needs client_id"))
	}
	return l
}

func (c *MTLSConfig) validate() field.List {
	switch c.Identity {
	case "", "cn", "san-dns", "san-uri", "san-email":
		return nil
	}
	return field.List{field.Errorf("identity", "%q is not a certificate identity (expected cn, san-dns, san-uri or san-email)", c.Identity)}
}

func (c *SignatureConfig) validate() field.List {
	var l field.List
	if len(c.Keys) == 0 {
		l = append(l, field.Errorf("keys", "at least one key is required"))
	}
	seen := map[string]bool{}
	for i, k := range c.Keys {
		p := fmt.Sprintf("keys[%d]", i)
		if k.ID == "" || strings.ContainsAny(k.ID, "\",= ") {
			l = append(l, field.Errorf(p+".id", "a key id without quotes, commas, '=' or spaces is required"))
		} else if seen[k.ID] {
			l = append(l, field.Errorf(p+".id", "key id %q is used twice", k.ID))
		}
		seen[k.ID] = true
		// Secrets written as file: references are checked when the stage
		// is built (the file is read then).
		switch {
		case k.Secret != "" && k.PublicKey != "":
			l = append(l, field.Errorf(p+".public_key", "a key has a secret or a public key, not both"))
		case k.PublicKey != "":
			if c.Format != "rfc9421" && c.Format != "any" {
				l = append(l, field.Errorf(p+".public_key", "public keys need format rfc9421 or any (the portcullis scheme is HMAC only)"))
			}
		case k.Secret == "":
			l = append(l, field.Errorf(p+".secret", "a secret is required"))
		case !strings.HasPrefix(k.Secret, "file:") && len(k.Secret) < minSignatureSecret:
			l = append(l, field.Errorf(p+".secret", "the secret must be at least %d bytes", minSignatureSecret))
		}
		if k.Algorithm != "" {
			if _, ok := httpSigAlgorithms[k.Algorithm]; !ok {
				l = append(l, field.Errorf(p+".algorithm", "%q is not an RFC 9421 algorithm (expected hmac-sha256, ed25519, ecdsa-p256-sha256, ecdsa-p384-sha384, rsa-pss-sha512 or rsa-v1_5-sha256)", k.Algorithm))
			} else if (k.Algorithm == "hmac-sha256") != (k.PublicKey == "") {
				l = append(l, field.Errorf(p+".algorithm", "%s needs %s", k.Algorithm, map[bool]string{true: "a secret", false: "a public key"}[k.Algorithm == "hmac-sha256"]))
			}
		}
	}
	switch c.Format {
	case "", "portcullis", "rfc9421", "any":
	default:
		l = append(l, field.Errorf("format", "%q is not a signature format (expected portcullis, rfc9421 or any)", c.Format))
	}
	for i, comp := range c.Components {
		if err := checkComponentName(comp); err != nil {
			l = append(l, field.Errorf(fmt.Sprintf("components[%d]", i), "%v", err))
		}
	}
	return l
}

// minSignatureSecret is the shortest HMAC secret accepted: 256 bits, the
// output size of SHA-256, so the secret is never the weak link.
const minSignatureSecret = 32

// pathPattern is one compiled optional_paths/required_paths entry.
type pathPattern struct {
	method string // "" for any
	path   string // exact, or prefix when prefix is true
	prefix bool
}

func parsePathPattern(s string) (pathPattern, error) {
	var p pathPattern
	if m, rest, ok := strings.Cut(s, " "); ok {
		p.method, s = strings.ToUpper(m), strings.TrimSpace(rest)
	}
	if !strings.HasPrefix(s, "/") {
		return p, fmt.Errorf("%q is not a path pattern (expected \"/path\", \"/path/*\" or \"GET /path\")", s)
	}
	if strings.HasSuffix(s, "/*") {
		p.path, p.prefix = strings.TrimSuffix(s, "*"), true
	} else if strings.Contains(s, "*") {
		return p, fmt.Errorf("%q: '*' is only allowed as the last segment (\"/path/*\")", s)
	} else {
		p.path = s
	}
	return p, nil
}

func (p pathPattern) match(method, path string) bool {
	if p.method != "" && p.method != method {
		return false
	}
	if p.prefix {
		return strings.HasPrefix(path, p.path)
	}
	return path == p.path
}

// parseCIDRs parses addresses and prefixes ("10.0.0.0/8", "192.0.2.7").
func parseCIDRs(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// HeaderNames implements pipeline.HeaderNamer: the headers the methods
// read credentials from, when configured (the defaults are plain names).
func (c *Config) HeaderNames() []string {
	var names []string
	add := func(h string) {
		if h != "" && h != "-" {
			names = append(names, h)
		}
	}
	for _, m := range c.Methods {
		switch {
		case m.APIKey != nil:
			add(m.APIKey.Header)
		case m.JWT != nil:
			add(m.JWT.Header)
		case m.Introspection != nil:
			add(m.Introspection.Header)
		case m.Signature != nil:
			add(m.Signature.Header)
		}
	}
	return names
}
