package authn

// RFC 9421 HTTP Message Signatures, beside the Portcullis HMAC scheme of
// signature.go: clients sign with a standard library (Signature-Input and
// Signature fields), bodies are bound with an RFC 9530 Content-Digest, and
// keys are shared secrets (hmac-sha256) or public keys (ed25519, ECDSA,
// RSA). The signature base is rebuilt from the request as received; what
// the gateway changes later (normalised paths, stripped headers) is never
// what is verified.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// httpSigAlgorithms are the RFC 9421 algorithms accepted (the registry of
// section 6.2 minus none).
var httpSigAlgorithms = map[string]bool{
	"hmac-sha256": true, "ed25519": true, "ecdsa-p256-sha256": true,
	"ecdsa-p384-sha384": true, "rsa-pss-sha512": true, "rsa-v1_5-sha256": true,
}

// derivedComponents are the RFC 9421 derived components of a request
// (section 2.2; @status belongs to responses).
var derivedComponents = map[string]bool{
	"@method": true, "@target-uri": true, "@authority": true, "@scheme": true,
	"@request-target": true, "@path": true, "@query": true, "@query-param": true,
}

// defaultComponents must be covered when Components is empty: who is
// asked (@authority) to do what (@method) to which resource (@path).
var defaultComponents = []string{"@method", "@authority", "@path"}

// checkComponentName validates a configured component name.
func checkComponentName(s string) error {
	if strings.HasPrefix(s, "@") {
		if !derivedComponents[s] || s == "@query-param" {
			return fmt.Errorf("%q is not a derived request component (expected @method, @target-uri, @authority, @scheme, @request-target, @path or @query)", s)
		}
		return nil
	}
	if s == "" || strings.ToLower(s) != s || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
	}) >= 0 {
		return fmt.Errorf("%q is not a lower-case header field name", s)
	}
	return nil
}

// httpSig verifies RFC 9421 signatures for a signature method.
type httpSig struct {
	keys       map[string]*hsKey
	components []string
	tag        string
	only       bool // format rfc9421: the Portcullis scheme is off
	connState  func(*http.Request) bool
}

// hsKey is one verification key.
type hsKey struct {
	alg    string
	secret []byte           // hmac-sha256
	pub    crypto.PublicKey // the others
	p      pipeline.Principal
}

// newHTTPSig builds the RFC 9421 verifier of a signature method, or nil
// when its format is portcullis. hmac holds the method's shared secrets,
// already resolved and checked.
func newHTTPSig(c *SignatureConfig, o Options, hmacKeys map[string]*sigKey) (*httpSig, error) {
	if c.Format != "rfc9421" && c.Format != "any" {
		return nil, nil
	}
	h := &httpSig{keys: map[string]*hsKey{}, tag: c.Tag, only: c.Format == "rfc9421",
		components: c.Components}
	if len(h.components) == 0 {
		h.components = defaultComponents
	}
	h.connState = func(r *http.Request) bool { return r.TLS != nil }
	if o.ConnState != nil {
		h.connState = func(r *http.Request) bool { return o.ConnState(r) != nil }
	}
	for i, k := range c.Keys {
		if k.PublicKey == "" {
			sk := hmacKeys[k.ID]
			if sk == nil {
				return nil, fmt.Errorf("signature.keys[%d]: no secret", i)
			}
			h.keys[k.ID] = &hsKey{alg: "hmac-sha256", secret: sk.secret, p: sk.p}
			continue
		}
		pub, alg, err := loadPublicKey(k, o.Path)
		if err != nil {
			return nil, fmt.Errorf("signature.keys[%d].public_key: %w", i, err)
		}
		h.keys[k.ID] = &hsKey{alg: alg, pub: pub, p: keyPrincipal(k)}
	}
	return h, nil
}

// loadPublicKey reads a PKIX PEM public key, inline or from a file, and
// returns it with its algorithm.
func loadPublicKey(k SignatureKey, path func(string) string) (crypto.PublicKey, string, error) {
	data := []byte(k.PublicKey)
	if !strings.HasPrefix(strings.TrimSpace(k.PublicKey), "-----BEGIN") {
		file := k.PublicKey
		if path != nil {
			file = path(file)
		}
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, "", err
		}
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, "", errors.New("no PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, "", fmt.Errorf("a PKIX public key (BEGIN PUBLIC KEY) is expected: %w", err)
	}
	var allowed []string
	switch p := pub.(type) {
	case ed25519.PublicKey:
		allowed = []string{"ed25519"}
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256():
			allowed = []string{"ecdsa-p256-sha256"}
		case elliptic.P384():
			allowed = []string{"ecdsa-p384-sha384"}
		default:
			return nil, "", errors.New("only P-256 and P-384 ECDSA keys are used by RFC 9421")
		}
	case *rsa.PublicKey:
		if p.N.BitLen() < 2048 {
			return nil, "", fmt.Errorf("an RSA key of %d bits is too short (2048 at least)", p.N.BitLen())
		}
		if k.Algorithm == "" {
			return nil, "", errors.New("an RSA key needs its algorithm: rsa-pss-sha512 or rsa-v1_5-sha256")
		}
		allowed = []string{"rsa-pss-sha512", "rsa-v1_5-sha256"}
	default:
		return nil, "", fmt.Errorf("unsupported key type %T", pub)
	}
	alg := k.Algorithm
	if alg == "" {
		alg = allowed[0]
	}
	if !slices.Contains(allowed, alg) {
		return nil, "", fmt.Errorf("a %s key cannot verify %s", strings.TrimPrefix(fmt.Sprintf("%T", pub), "*"), alg)
	}
	return pub, alg, nil
}

// secretBytes is a shared secret's key bytes: the text as it is, or the
// decoded bytes of "base64:..." (secrets that are random bytes, as RFC 9421
// libraries and its test vectors use them).
func secretBytes(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, "base64:")
	if !ok {
		return []byte(s), nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("base64: is followed by something that is not standard base64")
	}
	return b, nil
}

// keyPrincipal is the principal a signing key authenticates.
func keyPrincipal(k SignatureKey) pipeline.Principal {
	owner := k.Owner
	if owner == "" {
		owner = k.ID
	}
	attrs := map[string]any{"sub": owner, "key_id": k.ID}
	if k.Tier != "" {
		attrs["tier"] = k.Tier
	}
	return pipeline.Principal{ID: owner, Kind: "signature", Scopes: k.Scopes, Roles: k.Roles, Attributes: attrs}
}

// maxSignatureFields bounds the Signature-Input and Signature fields, so
// that parsing them costs little whatever a client sends.
const maxSignatureFields = 8192

// sigInput is one parsed Signature-Input member.
type sigInput struct {
	label      string
	components []httpsfv.Item
	params     *httpsfv.Params
	raw        httpsfv.InnerList
	keyID      string
	created    int64
	expires    int64 // 0: none
	nonce, alg string
	tag        string
	hasTag     bool
}

// parseInputs parses the Signature-Input and Signature fields.
func parseInputs(r *http.Request) ([]sigInput, *httpsfv.Dictionary, error) {
	in, sg := r.Header.Values("Signature-Input"), r.Header.Values("Signature")
	n := 0
	for _, v := range append(slices.Clone(in), sg...) {
		n += len(v)
	}
	if n > maxSignatureFields {
		return nil, nil, errors.New("signature fields too long")
	}
	inputs, err := httpsfv.UnmarshalDictionary(in)
	if err != nil {
		return nil, nil, fmt.Errorf("Signature-Input: %w", err)
	}
	sigs, err := httpsfv.UnmarshalDictionary(sg)
	if err != nil {
		return nil, nil, fmt.Errorf("Signature: %w", err)
	}
	var out []sigInput
	for _, label := range inputs.Names() {
		m, _ := inputs.Get(label)
		il, ok := m.(httpsfv.InnerList)
		if !ok {
			return nil, nil, fmt.Errorf("Signature-Input %s is not an inner list", label)
		}
		s := sigInput{label: label, components: il.Items, params: il.Params, raw: il}
		for _, name := range il.Params.Names() {
			v, _ := il.Params.Get(name)
			var ok bool
			switch name {
			case "keyid":
				s.keyID, ok = v.(string)
			case "created":
				s.created, ok = v.(int64)
			case "expires":
				s.expires, ok = v.(int64)
			case "nonce":
				s.nonce, ok = v.(string)
			case "alg":
				s.alg, ok = v.(string)
			case "tag":
				s.tag, ok = v.(string)
				s.hasTag = true
			default:
				ok = true // extension parameters are signed like the others
			}
			if !ok {
				return nil, nil, fmt.Errorf("Signature-Input %s: parameter %s has the wrong type", label, name)
			}
		}
		out = append(out, s)
	}
	return out, sigs, nil
}

// authenticate9421 verifies the request's RFC 9421 signature: the first
// Signature-Input member whose keyid names a configured key.
func (m *signatureMethod) authenticate9421(ctx context.Context, x *pipeline.Exchange) (*pipeline.Principal, *failure, error) {
	h := m.httpsig
	r := x.Request
	const loc = "header:signature-input"
	deny := func(rule, reason, detail string) (*pipeline.Principal, *failure, error) {
		return nil, &failure{rule: rule, reason: reason, location: loc, detail: detail}, nil
	}
	inputs, sigs, err := parseInputs(r)
	if err != nil {
		return deny("authn.signature.malformed", "the signature fields are malformed", err.Error())
	}
	if len(inputs) == 0 {
		return deny("authn.signature.malformed", "the signature fields are malformed", "no Signature-Input member")
	}
	var in *sigInput
	var k *hsKey
	for i := range inputs {
		if k = h.keys[inputs[i].keyID]; k != nil {
			in = &inputs[i]
			break
		}
	}
	if in == nil {
		return deny("authn.signature.key", "the signing key is not known", "")
	}
	if in.alg != "" && in.alg != k.alg {
		return deny("authn.signature.alg", "the signature algorithm is not the key's", in.alg+" for a "+k.alg+" key")
	}
	if h.tag != "" && (!in.hasTag || in.tag != h.tag) {
		return deny("authn.signature.tag", "the signature is not made for this API", "tag "+in.tag)
	}
	// Time: created is required (the window bounds how long a captured
	// request can be replayed, and how long its nonce is remembered).
	now := m.now()
	if in.created == 0 {
		return deny("authn.signature.malformed", "the signature fields are malformed", "created is required")
	}
	if d := now.Unix() - in.created; d > int64(m.window/time.Second) || -d > int64(m.window/time.Second) {
		return deny("authn.signature.stale", "the signature timestamp is outside the allowed window", "")
	}
	if in.expires != 0 && now.Unix() >= in.expires {
		return deny("authn.signature.stale", "the signature has expired", "")
	}

	body, f := signedBody(x)
	if f != nil {
		return nil, f, nil
	}
	covered := map[string]bool{}
	for _, it := range in.components {
		if name, ok := it.Value.(string); ok {
			covered[name] = true
		}
	}
	required := slices.Clone(h.components)
	if _, q := splitTarget(r); q != "" {
		required = append(required, "@query")
	}
	if len(body) > 0 {
		required = append(required, "content-digest")
	}
	for _, c := range required {
		if !coveredBy(covered, c) {
			return deny("authn.signature.components", "a required component is not signed", c)
		}
	}

	base, err := signatureBase(r, in, h.connState(r))
	if err != nil {
		return deny("authn.signature.malformed", "the signature fields are malformed", err.Error())
	}
	if covered["content-digest"] {
		if ok, why := contentDigestMatches(r.Header.Values("Content-Digest"), body); !ok {
			return nil, &failure{rule: "authn.signature.digest", reason: "the body does not match its Content-Digest",
				location: "header:content-digest", detail: why}, nil
		}
	}
	sm, ok := sigs.Get(in.label)
	item, isItem := sm.(httpsfv.Item)
	sig, isBytes := item.Value.([]byte)
	if !ok || !isItem || !isBytes {
		return deny("authn.signature.malformed", "the signature fields are malformed", "no Signature for "+in.label)
	}
	if !verifySignature(k, []byte(base), sig) {
		return deny("authn.signature.mismatch", "the signature is not valid", "")
	}
	// Replay: the nonce when the client sent one, else the signature
	// itself (a captured request replays its signature byte for byte).
	// Recorded only once the signature verified, as in the Portcullis
	// scheme, and for twice the window.
	id := in.nonce
	if id == "" {
		sum := sha256.Sum256(sig)
		id = "sig:" + base64.RawURLEncoding.EncodeToString(sum[:])
	} else {
		id = "nonce:" + id
	}
	fresh, err := m.remember(ctx, "authn:rfc9421:"+in.keyID+":"+id, 2*m.window, now)
	if err != nil {
		return nil, nil, fmt.Errorf("nonce store: %w", err)
	}
	if !fresh {
		return deny("authn.signature.replay", "the request was already received", "")
	}
	p := k.p
	return &p, nil, nil
}

// signedBody reads the body of a signed request, or returns the failure
// that a body too large or unreadable is.
func signedBody(x *pipeline.Exchange) ([]byte, *failure) {
	body, err := x.Body()
	if err == nil {
		return body, nil
	}
	if errors.Is(err, pipeline.ErrBodyTooLarge) {
		return nil, &failure{rule: "authn.signature.body", reason: "the request body is too large", location: "body",
			status: http.StatusRequestEntityTooLarge}
	}
	return nil, &failure{rule: "authn.signature.body", reason: "the request body could not be read", location: "body",
		status: http.StatusBadRequest}
}

// coveredBy reports whether component c is covered, directly or by a
// component that includes it (@target-uri holds the authority, path and
// query; @request-target the path and query).
func coveredBy(covered map[string]bool, c string) bool {
	switch {
	case covered[c]:
		return true
	case c == "@path" || c == "@query":
		return covered["@request-target"] || covered["@target-uri"]
	case c == "@authority" || c == "@scheme":
		return covered["@target-uri"]
	}
	return false
}

// splitTarget returns the path and the query (without '?') of the request
// target as the client sent it.
func splitTarget(r *http.Request) (path, query string) {
	target := r.RequestURI
	if target == "" { // built in code, not received
		target = r.URL.RequestURI()
	}
	if u, err := url.ParseRequestURI(target); err == nil && u.IsAbs() { // absolute-form
		target = u.RequestURI()
	}
	path, query, _ = strings.Cut(target, "?")
	if path == "" {
		path = "/"
	}
	return path, query
}

// authority is the request's host and port, lower case, without the
// scheme's default port (RFC 9421 section 2.2.3).
func authority(r *http.Request, tls bool) string {
	a := strings.ToLower(r.Host)
	if a == "" {
		a = strings.ToLower(r.URL.Host)
	}
	if tls {
		a = strings.TrimSuffix(a, ":443")
	} else {
		a = strings.TrimSuffix(a, ":80")
	}
	return a
}

// signatureBase builds the RFC 9421 signature base (section 2.5) of the
// request for one Signature-Input member.
func signatureBase(r *http.Request, in *sigInput, tls bool) (string, error) {
	var b strings.Builder
	seen := map[string]bool{}
	for _, it := range in.components {
		name, ok := it.Value.(string)
		if !ok {
			return "", errors.New("a component identifier is not a string")
		}
		id, err := httpsfv.Marshal(it)
		if err != nil {
			return "", err
		}
		if seen[id] {
			return "", fmt.Errorf("component %s is listed twice", id)
		}
		seen[id] = true
		values, err := componentValues(r, name, it.Params, tls)
		if err != nil {
			return "", err
		}
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n") {
				return "", fmt.Errorf("component %s holds a line break", id)
			}
			b.WriteString(id + ": " + v + "\n")
		}
	}
	params, err := httpsfv.Marshal(in.raw)
	if err != nil {
		return "", err
	}
	b.WriteString(`"@signature-params": ` + params)
	return b.String(), nil
}

// componentValues returns the value(s) of one covered component.
func componentValues(r *http.Request, name string, params *httpsfv.Params, tls bool) ([]string, error) {
	var sf, bs bool
	var key, qname string
	for _, p := range params.Names() {
		v, _ := params.Get(p)
		switch p {
		case "sf":
			sf = v == true
		case "bs":
			bs = v == true
		case "key":
			key, _ = v.(string)
		case "name":
			qname, _ = v.(string)
		default: // req, tr: responses and trailers are not signed by clients here
			return nil, fmt.Errorf("component parameter %s is not supported", p)
		}
	}
	if strings.HasPrefix(name, "@") {
		if sf || bs || key != "" || (qname != "") != (name == "@query-param") {
			return nil, fmt.Errorf("bad parameters on %s", name)
		}
		path, query := splitTarget(r)
		scheme := "http"
		if tls {
			scheme = "https"
		}
		target := r.RequestURI
		if target == "" {
			target = r.URL.RequestURI()
		}
		switch name {
		case "@method":
			return []string{r.Method}, nil
		case "@authority":
			return []string{authority(r, tls)}, nil
		case "@scheme":
			return []string{scheme}, nil
		case "@target-uri":
			return []string{scheme + "://" + authority(r, tls) + path + queryPart(query)}, nil
		case "@request-target":
			return []string{target}, nil
		case "@path":
			return []string{path}, nil
		case "@query":
			return []string{"?" + query}, nil
		case "@query-param":
			return queryParam(query, qname)
		}
		return nil, fmt.Errorf("%s is not a request component", name)
	}
	if name != strings.ToLower(name) {
		return nil, fmt.Errorf("component %q is not lower case", name)
	}
	var lines []string
	if name == "host" {
		lines = []string{r.Host}
	} else {
		lines = r.Header.Values(name)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("the request has no %s field", name)
	}
	for i := range lines {
		lines[i] = strings.Trim(lines[i], " \t")
	}
	switch {
	case bs:
		if sf || key != "" {
			return nil, errors.New("bs cannot be combined with sf or key")
		}
		out := make([]string, len(lines))
		for i, l := range lines {
			out[i] = ":" + base64.StdEncoding.EncodeToString([]byte(l)) + ":"
		}
		return []string{strings.Join(out, ", ")}, nil
	case key != "":
		d, err := httpsfv.UnmarshalDictionary(lines)
		if err != nil {
			return nil, fmt.Errorf("%s is not a dictionary: %w", name, err)
		}
		m, ok := d.Get(key)
		if !ok {
			return nil, fmt.Errorf("%s has no member %s", name, key)
		}
		s, err := httpsfv.Marshal(m.(httpsfv.StructuredFieldValue))
		return []string{s}, err
	case sf:
		s, err := reserialize(lines)
		if err != nil {
			return nil, fmt.Errorf("%s is not a structured field: %w", name, err)
		}
		return []string{s}, nil
	}
	return []string{strings.Join(lines, ", ")}, nil
}

func queryPart(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

// reserialize parses a structured field of unknown type (dictionary, list,
// then item) and serialises it canonically.
func reserialize(lines []string) (string, error) {
	if d, err := httpsfv.UnmarshalDictionary(lines); err == nil {
		return httpsfv.Marshal(d)
	}
	if l, err := httpsfv.UnmarshalList(lines); err == nil {
		return httpsfv.Marshal(l)
	}
	it, err := httpsfv.UnmarshalItem(lines)
	if err != nil {
		return "", err
	}
	return httpsfv.Marshal(it)
}

// queryParam returns the values of the query parameter named name, each
// percent-encoded again (RFC 9421 section 2.2.8), in request order.
func queryParam(query, name string) ([]string, error) {
	var out []string
	for pair := range strings.SplitSeq(query, "&") {
		k, v, _ := strings.Cut(pair, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, errors.New("the query is not valid percent-encoding")
		}
		if dk == name {
			out = append(out, strings.ReplaceAll(url.QueryEscape(dv), "+", "%20"))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the query has no parameter %q", name)
	}
	return out, nil
}

// contentDigestMatches checks an RFC 9530 Content-Digest field against
// body: sha-256 and sha-512 members are checked (every one present must
// match), others are ignored, and at least one must be present.
func contentDigestMatches(field []string, body []byte) (bool, string) {
	d, err := httpsfv.UnmarshalDictionary(field)
	if err != nil {
		return false, "Content-Digest is not a dictionary"
	}
	checked := 0
	for _, alg := range d.Names() {
		var want []byte
		switch alg {
		case "sha-256":
			s := sha256.Sum256(body)
			want = s[:]
		case "sha-512":
			s := sha512.Sum512(body)
			want = s[:]
		default:
			continue
		}
		m, _ := d.Get(alg)
		it, ok := m.(httpsfv.Item)
		got, isBytes := it.Value.([]byte)
		if !ok || !isBytes || subtle.ConstantTimeCompare(got, want) != 1 {
			return false, alg + " does not match"
		}
		checked++
	}
	if checked == 0 {
		return false, "no sha-256 or sha-512 digest"
	}
	return true, ""
}

// verifySignature checks sig over base with the key's algorithm (RFC 9421
// section 3.3).
func verifySignature(k *hsKey, base, sig []byte) bool {
	switch k.alg {
	case "hmac-sha256":
		mac := hmac.New(sha256.New, k.secret)
		mac.Write(base)
		return hmac.Equal(sig, mac.Sum(nil))
	case "ed25519":
		pub, ok := k.pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(pub, base, sig)
	case "ecdsa-p256-sha256", "ecdsa-p384-sha384":
		pub, ok := k.pub.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		// r and s, each as wide as the curve order, concatenated (not DER).
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return false
		}
		var digest []byte
		if k.alg == "ecdsa-p256-sha256" {
			s := sha256.Sum256(base)
			digest = s[:]
		} else {
			s := sha512.Sum384(base)
			digest = s[:]
		}
		return ecdsa.Verify(pub, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:]))
	case "rsa-pss-sha512":
		// RFC 9421 signs with a 64-byte salt; some libraries (Node's
		// http-message-signatures) use the longest salt the key allows.
		// The salt length is read from the signature: either verifies, and
		// neither weakens PSS.
		pub, ok := k.pub.(*rsa.PublicKey)
		s := sha512.Sum512(base)
		return ok && rsa.VerifyPSS(pub, crypto.SHA512, s[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA512}) == nil
	case "rsa-v1_5-sha256":
		pub, ok := k.pub.(*rsa.PublicKey)
		s := sha256.Sum256(base)
		return ok && rsa.VerifyPKCS1v15(pub, crypto.SHA256, s[:], sig) == nil
	}
	return false
}

// SignRequest9421 signs r with RFC 9421 and an HMAC-SHA256 secret: it sets
// Content-Digest (sha-256) when body is not empty, then Signature-Input and
// Signature under label "sig1", covering components (lower-case header
// names or derived components such as "@method"), with created, keyid,
// alg and, when not empty, nonce and tag. Tests and the scanner use it;
// clients use their own RFC 9421 library.
func SignRequest9421(r *http.Request, body []byte, keyID string, secret []byte, components []string, now time.Time, nonce, tag string) error {
	if len(body) > 0 {
		r.Header.Set("Content-Digest", ContentDigest(body))
	}
	il := httpsfv.InnerList{Params: httpsfv.NewParams()}
	for _, c := range components {
		il.Items = append(il.Items, httpsfv.NewItem(c))
	}
	il.Params.Add("created", now.Unix())
	il.Params.Add("keyid", keyID)
	il.Params.Add("alg", "hmac-sha256")
	if nonce != "" {
		il.Params.Add("nonce", nonce)
	}
	if tag != "" {
		il.Params.Add("tag", tag)
	}
	in := &sigInput{label: "sig1", components: il.Items, params: il.Params, raw: il}
	base, err := signatureBase(r, in, r.TLS != nil || r.URL.Scheme == "https")
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(base))
	sigInputs := httpsfv.NewDictionary()
	sigInputs.Add("sig1", il)
	sv, err := httpsfv.Marshal(sigInputs)
	if err != nil {
		return err
	}
	sigs := httpsfv.NewDictionary()
	sigs.Add("sig1", httpsfv.NewItem(mac.Sum(nil)))
	s, err := httpsfv.Marshal(sigs)
	if err != nil {
		return err
	}
	r.Header.Set("Signature-Input", sv)
	r.Header.Set("Signature", s)
	return nil
}
