package authn

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// SignatureScheme is the first line of every string to sign, so that a
// signature made for another purpose with the same secret never verifies.
const SignatureScheme = "portcullis-hmac-sha256"

// signatureMethod authenticates HMAC-SHA256 signed requests.
type signatureMethod struct {
	header   string
	keys     map[string]*sigKey
	window   time.Duration
	required []string
	store    store.Nonces
	local    *nonceSet // used when there is no store
	now      func() time.Time
	httpsig  *httpSig // RFC 9421 (httpsig.go); nil when the format is portcullis
}

type sigKey struct {
	secret []byte
	p      pipeline.Principal
}

func newSignatureMethod(c *SignatureConfig, o Options) (*signatureMethod, error) {
	m := &signatureMethod{header: http.CanonicalHeaderKey(c.Header), window: c.Window, keys: map[string]*sigKey{},
		store: o.Store, now: o.Now}
	if m.header == "" {
		m.header = "Signature"
	}
	if m.window <= 0 {
		m.window = 5 * time.Minute
	}
	m.required = c.RequiredHeaders
	if len(m.required) == 0 {
		m.required = []string{"host"}
	}
	for i, h := range m.required {
		m.required[i] = strings.ToLower(h)
	}
	for i, k := range c.Keys {
		if k.PublicKey != "" {
			continue // RFC 9421 public keys: httpsig.go
		}
		secret, err := o.ResolveSecret(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("signature.keys[%d].secret: %w", i, err)
		}
		key, err := secretBytes(secret)
		if err != nil {
			return nil, fmt.Errorf("signature.keys[%d].secret: %w", i, err)
		}
		if len(key) < minSignatureSecret {
			return nil, fmt.Errorf("signature.keys[%d].secret: at least %d bytes are required", i, minSignatureSecret)
		}
		m.keys[k.ID] = &sigKey{secret: key, p: keyPrincipal(k)}
	}
	hs, err := newHTTPSig(c, o, m.keys)
	if err != nil {
		return nil, err
	}
	m.httpsig = hs
	if m.store == nil {
		m.local = &nonceSet{m: map[string]time.Time{}}
	}
	return m, nil
}

func (m *signatureMethod) kind() string { return "signature" }

func (m *signatureMethod) challenge(realm string) string {
	return `Signature realm="` + realm + `", algorithm="hmac-sha256", headers="` + strings.Join(m.required, " ") + ` content-digest"`
}

func (m *signatureMethod) present(r *http.Request) bool {
	return r.Header.Get(m.header) != "" || m.httpsig != nil && r.Header.Get("Signature-Input") != ""
}

// sigParams are the parsed parameters of the Signature header.
type sigParams struct {
	keyID, nonce, sig string
	ts                int64
	headers           []string
}

// parseSignatureHeader parses `keyId="k", ts="1700000000", nonce="n",
// headers="host content-type", sig="base64"`. Quotes are optional; every
// parameter is required once.
func parseSignatureHeader(v string) (sigParams, error) {
	var p sigParams
	if len(v) > 4096 {
		return p, errors.New("too long")
	}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(v, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return p, errors.New("parameter without '='")
		}
		name = strings.TrimSpace(name)
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if seen[name] {
			return p, fmt.Errorf("parameter %q repeated", name)
		}
		seen[name] = true
		switch name {
		case "keyId":
			p.keyID = val
		case "ts":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return p, errors.New("ts is not a Unix time")
			}
			p.ts = n
		case "nonce":
			p.nonce = val
		case "headers":
			p.headers = strings.Fields(strings.ToLower(val))
		case "sig":
			p.sig = val
		default:
			return p, fmt.Errorf("unknown parameter %q", name)
		}
	}
	for _, n := range []string{"keyId", "ts", "nonce", "headers", "sig"} {
		if !seen[n] {
			return p, fmt.Errorf("missing %s", n)
		}
	}
	if len(p.nonce) < 8 || len(p.nonce) > 128 || strings.IndexFunc(p.nonce, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return p, errors.New("nonce must be 8-128 characters of [A-Za-z0-9_-]")
	}
	return p, nil
}

// StringToSign returns what a signed request signs: the scheme, the method,
// the request target as sent (path and query), the timestamp, the nonce, the
// key id, then "name:value" for each signed header in the order listed
// (Host for "host"; several values joined by ", "), each on its own line.
// Content-Digest is always the last signed header.
func StringToSign(r *http.Request, keyID string, ts int64, nonce string, headers []string) string {
	var b strings.Builder
	b.WriteString(SignatureScheme + "\n")
	b.WriteString(r.Method + "\n")
	target := r.RequestURI
	if target == "" { // client side
		target = r.URL.RequestURI()
	}
	b.WriteString(target + "\n")
	b.WriteString(strconv.FormatInt(ts, 10) + "\n")
	b.WriteString(nonce + "\n")
	b.WriteString(keyID + "\n")
	for _, h := range headers {
		if h == "content-digest" {
			continue
		}
		b.WriteString(h + ":" + headerForSigning(r, h) + "\n")
	}
	b.WriteString("content-digest:" + strings.TrimSpace(r.Header.Get("Content-Digest")))
	return b.String()
}

func headerForSigning(r *http.Request, name string) string {
	if name == "host" {
		if r.Host != "" {
			return r.Host
		}
		return r.URL.Host
	}
	vs := r.Header.Values(name)
	for i := range vs {
		vs[i] = strings.TrimSpace(vs[i])
	}
	return strings.Join(vs, ", ")
}

// ContentDigest returns the RFC 9530 Content-Digest value of body
// ("sha-256=:BASE64:").
func ContentDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// SignRequest signs r for the signature method: it sets Content-Digest
// from body and the Signature header. headers are the signed header names
// (lower case, "host" included when the API requires it). Clients, tests
// and the scanner use it; the format is in docs/authn.md.
func SignRequest(r *http.Request, body []byte, keyID string, secret []byte, headers []string, now time.Time, nonce string) {
	r.Header.Set("Content-Digest", ContentDigest(body))
	ts := now.Unix()
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(StringToSign(r, keyID, ts, nonce, headers)))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	r.Header.Set("Signature", fmt.Sprintf(`keyId="%s", ts="%d", nonce="%s", headers="%s", sig="%s"`,
		keyID, ts, nonce, strings.Join(headers, " "), sig))
}

func (m *signatureMethod) authenticate(ctx context.Context, x *pipeline.Exchange) (*pipeline.Principal, *failure, error) {
	r := x.Request
	if m.httpsig != nil && (m.httpsig.only || r.Header.Get("Signature-Input") != "") {
		return m.authenticate9421(ctx, x)
	}
	loc := "header:" + strings.ToLower(m.header)
	deny := func(rule, reason string) (*pipeline.Principal, *failure, error) {
		return nil, &failure{rule: rule, reason: reason, location: loc}, nil
	}
	p, err := parseSignatureHeader(r.Header.Get(m.header))
	if err != nil {
		return nil, &failure{rule: "authn.signature.malformed", reason: "the signature header is malformed",
			location: loc, detail: err.Error()}, nil
	}
	k := m.keys[p.keyID]
	if k == nil {
		return deny("authn.signature.key", "the signing key is not known")
	}
	now := m.now()
	skew := now.Unix() - p.ts
	if skew < 0 {
		skew = -skew
	}
	if skew > int64(m.window/time.Second) {
		return deny("authn.signature.stale", "the signature timestamp is outside the allowed window")
	}
	for _, h := range m.required {
		if !slices.Contains(p.headers, h) {
			return deny("authn.signature.headers", "a required header is not signed")
		}
	}
	body, f := signedBody(x)
	if f != nil {
		return nil, f, nil
	}
	if !digestMatches(r.Header.Get("Content-Digest"), body) {
		return nil, &failure{rule: "authn.signature.digest", reason: "the body does not match its Content-Digest", location: "header:content-digest"}, nil
	}
	got, err := base64.StdEncoding.DecodeString(p.sig)
	if err != nil {
		return deny("authn.signature.malformed", "the signature header is malformed")
	}
	mac := hmac.New(sha256.New, k.secret)
	mac.Write([]byte(StringToSign(r, p.keyID, p.ts, p.nonce, p.headers)))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return deny("authn.signature.mismatch", "the signature is not valid")
	}
	// The nonce is recorded only once the signature verified, so that
	// nobody can burn other clients' nonces with unsigned requests. It is
	// remembered for twice the window: any timestamp the window admits
	// will have aged out by then.
	fresh, err := m.remember(ctx, "authn:nonce:"+p.keyID+":"+p.nonce, 2*m.window, now)
	if err != nil {
		return nil, nil, fmt.Errorf("nonce store: %w", err)
	}
	if !fresh {
		return nil, &failure{rule: "authn.signature.replay", reason: "the request was already received", location: loc}, nil
	}
	cp := k.p
	return &cp, nil, nil
}

func (m *signatureMethod) remember(ctx context.Context, key string, ttl time.Duration, now time.Time) (bool, error) {
	if m.store != nil {
		return m.store.SetNX(ctx, key, ttl)
	}
	return m.local.setNX(key, now.Add(ttl), now), nil
}

// digestMatches checks an RFC 9530 Content-Digest field against body. Only
// sha-256 is accepted; other algorithms in the field are ignored.
func digestMatches(field string, body []byte) bool {
	want := sha256.Sum256(body)
	for member := range strings.SplitSeq(field, ",") {
		alg, val, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || strings.TrimSpace(alg) != "sha-256" {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
			return false
		}
		got, err := base64.StdEncoding.DecodeString(val[1 : len(val)-1])
		return err == nil && subtle.ConstantTimeCompare(got, want[:]) == 1
	}
	return false
}

// nonceSet remembers nonces in memory when no store is configured (one
// node only). It is bounded by time: entries expire with the window.
type nonceSet struct {
	mu    sync.Mutex
	m     map[string]time.Time
	sweep time.Time
}

func (s *nonceSet) setNX(key string, until, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.sweep) > time.Minute {
		for k, t := range s.m {
			if !now.Before(t) {
				delete(s.m, k)
			}
		}
		s.sweep = now
	}
	if t, ok := s.m[key]; ok && now.Before(t) {
		return false
	}
	s.m[key] = until
	return true
}
