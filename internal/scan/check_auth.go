package scan

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The checks of the authentication group.
var (
	checkAuthnMissing = define(CheckInfo{ID: "authn.missing", Group: "authentication", OWASP: OWASPAuthn, CWE: 306, Severity: SeverityHigh,
		Title:       "Operation answers without the credentials its description requires",
		Remediation: "Enforce the operation's security requirement on the server (or in the gateway) for every call."})
	checkAuthnJwtNone = define(CheckInfo{ID: "authn.jwt.none", Group: "authentication", OWASP: OWASPAuthn, CWE: 347, Severity: SeverityCritical,
		Title:       "JWT with alg none accepted",
		Remediation: "Accept only the expected signing algorithms (never none) and verify every signature."})
	checkAuthnJwtUnsigned = define(CheckInfo{ID: "authn.jwt.unsigned", Group: "authentication", OWASP: OWASPAuthn, CWE: 347, Severity: SeverityCritical,
		Title:       "JWT without signature accepted",
		Remediation: "Verify the signature of every token; reject tokens with an empty signature."})
	checkAuthnJwtExpired = define(CheckInfo{ID: "authn.jwt.expired", Group: "authentication", OWASP: OWASPAuthn, CWE: 613, Severity: SeverityHigh,
		Title:       "Expired JWT accepted",
		Remediation: "Check exp (and nbf) on every token with a small clock skew."})
	checkAuthnJwtWeakSecret = define(CheckInfo{ID: "authn.jwt.weak-secret", Group: "authentication", OWASP: OWASPAuthn, CWE: 1391, Severity: SeverityCritical,
		Title:       "JWT signed with a guessable HMAC secret",
		Remediation: "Use a random secret of at least 256 bits (or asymmetric keys) and rotate the compromised one."})
	checkAuthnUserEnumeration = define(CheckInfo{ID: "authn.user-enumeration", Group: "authentication", OWASP: OWASPAuthn, CWE: 204, Severity: SeverityMedium,
		Title:       "Login reveals which user names exist",
		Remediation: "Answer a wrong user name and a wrong password with the same status, body and timing."})
	checkAuthnLoginRateLimit = define(CheckInfo{ID: "authn.login-rate-limit", Group: "authentication", OWASP: OWASPAuthn, CWE: 307, Severity: SeverityMedium,
		Title:       "No lockout or rate limit on login",
		Remediation: "Limit failed logins per account and per client (429 with Retry-After) and alert on bursts."})
)

var _ = runs("authentication", runAuthentication)

func runAuthentication(ctx context.Context, s *scanner) {
	// Operations that answer without credentials although they need some.
	var optional []string
	for _, o := range s.ops {
		switch {
		case o.anon != nil && o.anon.ok():
			wrong := s.wrongCredential(ctx, o)
			if optionalAuth(wrong) {
				optional = append(optional, o.key())
				continue
			}
			detail := "the description requires credentials, but a request without any got " + fmt.Sprint(o.anon.status)
			if wrong != nil && wrong.err == nil {
				detail += fmt.Sprintf(", and one with a wrong credential got %d", wrong.status)
			}
			s.report(checkAuthnMissing, o, "", ConfidenceCertain, s.evidence(o.anon, detail))
		case o.anon != nil && gatewayRefusal(o.anon):
			s.reportBlocked(checkAuthnMissing, o, "", o.anon)
		case len(s.ids) == 0 && !o.op.Public() && o.res.ok():
			s.report(checkAuthnMissing, o, "", ConfidenceFirm, s.evidence(o.res,
				"the description requires credentials, but the scan sent none and got "+fmt.Sprint(o.res.status)))
		}
	}
	switch len(optional) {
	case 0:
	case 1:
		s.note("1 operation answers without credentials although the description requires them; it refuses a wrong credential, so its authentication is optional (check the description): %s", optional[0])
	default:
		s.note("%d operations answer without credentials although the description requires them; they refuse a wrong credential, so their authentication is optional (check the description): %s",
			len(optional), strings.Join(optional, ", "))
	}
	s.jwtChecks(ctx)
	s.loginChecks(ctx)
}

// optionalAuth reports whether the answer to a wrong credential (on an
// operation that answered none with 2xx) is the target's own refusal:
// an operation whose authentication is optional checks a credential
// when one is presented, while a forgotten check ignores it and answers
// the wrong one like none. A refusal by a gateway in front says nothing
// of the operation behind it, and anything but 401/403 (a 2xx, a 400, a
// 500, no answer at all) leaves the finding standing.
func optionalAuth(wrong *result) bool {
	return wrong != nil && wrong.err == nil && !gatewayRefusal(wrong) &&
		(wrong.status == http.StatusUnauthorized || wrong.status == http.StatusForbidden)
}

// wrongCredential sends o's anonymous request again with identity 1's
// credentials forged (wrongHeaders); nil when identity 1 has none to
// forge. It sends only what the scan already sent without credentials
// (a secured GET), once.
func (s *scanner) wrongCredential(ctx context.Context, o *opState) *result {
	if len(s.ids) == 0 || o.op.Method != http.MethodGet {
		return nil
	}
	h := wrongHeaders(s.ids[0].header())
	if len(h) == 0 {
		return nil
	}
	r := o.req.clone()
	r.ident = -1
	for k, vs := range h {
		r.header[k] = vs
	}
	return s.send(ctx, r)
}

// wrongHeaders returns the credential headers h with every credential
// replaced by a wrong one of the same scheme and shape: the scheme word
// ("Bearer ", "Token ") and cookie names kept, a JWT's header and payload
// kept with its signature changed, any other token changed character by
// character within its class (letters stay letters, digits digits), so
// that a server which checks the format before the value still looks the
// value up and refuses it.
func wrongHeaders(h http.Header) http.Header {
	out := http.Header{}
	for k, vs := range h {
		for _, v := range vs {
			if strings.EqualFold(k, "Cookie") {
				var parts []string
				for _, c := range strings.Split(v, ";") {
					name, val, ok := strings.Cut(strings.TrimSpace(c), "=")
					if ok {
						c = name + "=" + wrongToken(val)
					}
					parts = append(parts, c)
				}
				out.Add(k, strings.Join(parts, "; "))
				continue
			}
			if scheme, tok, ok := strings.Cut(v, " "); ok && tok != "" && !strings.Contains(scheme, ".") {
				out.Add(k, scheme+" "+wrongToken(tok))
				continue
			}
			out.Add(k, wrongToken(v))
		}
	}
	return out
}

// wrongToken returns tok changed in every letter and digit: only its
// signature when it is a JWT.
func wrongToken(tok string) string {
	if i := strings.LastIndexByte(tok, '.'); i >= 0 && strings.Count(tok, ".") == 2 && i < len(tok)-1 {
		if _, ok := parseJWT(tok); ok {
			return tok[:i+1] + rotate(tok[i+1:])
		}
	}
	return rotate(tok)
}

// rotate shifts every ASCII letter and digit by one within its class
// (a→b, z→a, 9→0), which changes each one and keeps the text's shape.
func rotate(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + (c-'a'+1)%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + (c-'A'+1)%26
		case c >= '0' && c <= '9':
			b[i] = '0' + (c-'0'+1)%10
		}
	}
	return string(b)
}

// authProbe returns an operation that proves credentials matter: a
// secured GET that answers identity 1 with 2xx and no credentials with
// 401/403.
func (s *scanner) authProbe() *opState {
	for _, o := range s.ops {
		if o.anon != nil && o.res.ok() && (o.anon.status == http.StatusUnauthorized || o.anon.status == http.StatusForbidden) {
			return o
		}
	}
	return nil
}

// jwtDictionary are the HMAC secrets tried offline against the identity's
// token: defaults from tutorials, frameworks and demos.
var jwtDictionary = []string{
	"secret", "password", "123456", "12345678", "changeme", "change-me", "jwt", "jwtsecret", "jwt-secret",
	"jwt_secret", "secretkey", "secret-key", "secret_key", "key", "admin", "test", "qwerty", "letmein",
	"your-256-bit-secret", "your-secret-key", "supersecret", "super-secret", "default", "demo", "s3cr3t",
	"mysecret", "my-secret", "my_secret", "hs256", "token", "private", "pass", "abc123", "development",
	"portcullis", "shhhhh", "keyboard cat", "Secret", "SECRET", "secret123", "password123", "auth",
}

type jwtParts struct {
	header, payload map[string]any
	signed          string // header.payload as sent
	sig             []byte
}

func parseJWT(tok string) (*jwtParts, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	j := &jwtParts{signed: parts[0] + "." + parts[1]}
	for i, dst := range []*map[string]any{&j.header, &j.payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			return nil, false
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, false
	}
	j.sig = sig
	return j, true
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hmacFor(alg string) func() hash.Hash {
	switch alg {
	case "HS256":
		return sha256.New
	case "HS384":
		return sha512.New384
	case "HS512":
		return sha512.New
	}
	return nil
}

func signHS(alg, secret, signed string) string {
	m := hmac.New(hmacFor(alg), []byte(secret))
	m.Write([]byte(signed))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// jwtChecks forges variants of identity 1's bearer token and sends them to
// an operation that needs credentials.
func (s *scanner) jwtChecks(ctx context.Context) {
	if len(s.ids) == 0 {
		return
	}
	authz := s.ids[0].header().Get("Authorization")
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		return
	}
	j, ok := parseJWT(strings.TrimSpace(tok))
	if !ok {
		return
	}
	o := s.authProbe()
	if o == nil {
		s.note("JWT checks skipped: no secured GET operation answered the token with 2xx and no credentials with 401/403")
		return
	}
	try := func(id *check, token, detail string) bool {
		r := o.req.clone()
		r.ident = -1
		r.header.Set("Authorization", "Bearer "+token)
		res := s.send(ctx, r)
		if gatewayRefusal(res) {
			s.reportBlocked(id, o, "header:Authorization", res)
			return false
		}
		if res.ok() {
			s.report(id, o, "header:Authorization", ConfidenceCertain, s.evidence(res, detail))
			return true
		}
		return false
	}
	noneHeader := map[string]any{"alg": "none", "typ": "JWT"}
	try(checkAuthnJwtNone, b64json(noneHeader)+"."+b64json(j.payload)+".", "a token with alg none and no signature was accepted")
	try(checkAuthnJwtUnsigned, j.signed+".", "the token with its signature removed was accepted")

	alg, _ := j.header["alg"].(string)
	if hmacFor(alg) == nil {
		return
	}
	secret, ok := crackHMAC(alg, j.signed, j.sig)
	if !ok {
		return
	}
	masked := secret[:1] + strings.Repeat("*", len(secret)-1)
	// Confirm online: a token forged with the guessed secret is accepted.
	forged := map[string]any{}
	for k, v := range j.payload {
		forged[k] = v
	}
	forged["pcscan"] = true
	signed := b64json(j.header) + "." + b64json(forged)
	if !try(checkAuthnJwtWeakSecret, signed+"."+signHS(alg, secret, signed),
		fmt.Sprintf("the %s key was found offline among %d known JWT secrets and all numbers of up to %d digits (%s, %d characters); a token forged with it was accepted", alg, len(knownJWTSecrets()), maxDigits, masked, len(secret))) {
		return
	}
	exp := map[string]any{}
	for k, v := range j.payload {
		exp[k] = v
	}
	now := s.now()
	exp["iat"] = now.Add(-2 * time.Hour).Unix()
	exp["exp"] = now.Add(-time.Hour).Unix()
	signed = b64json(j.header) + "." + b64json(exp)
	try(checkAuthnJwtExpired, signed+"."+signHS(alg, secret, signed), "a validly signed token that expired an hour ago was accepted")
}

var (
	userField = regexp.MustCompile(`(?i)^(user(name)?|login|email|e-mail|account|user_?id)$`)
	passField = regexp.MustCompile(`(?i)^(pass(word)?|passwd|pwd|secret)$`)
	loginPath = regexp.MustCompile(`(?i)(login|signin|sign-in|session|authenticate|/auth\b|/token\b)`)
)

// loginOp is a login operation with the names of its user and password
// members and identity 1's user name.
type loginOp struct {
	o                 *opState
	user, pass, known string
}

// loginOps returns the login operations: the one identity 1 logs in with
// first, then every other POST that looks like a login (by path or id)
// and has a user and a password member. Each is checked for enumeration
// and throttling: an API with a second login (a v2, a mobile one) leaks
// through the one nobody configured.
func (s *scanner) loginOps() []loginOp {
	var want string
	var body map[string]any
	if len(s.cfg.Identities) > 0 && s.cfg.Identities[0].Login != nil {
		l := s.cfg.Identities[0].Login
		if op := s.findOperation(l.Operation); op != nil {
			want = op.Method + " " + op.Path
		}
		body = l.Body
	}
	var first, rest []loginOp
	for _, x := range s.ops {
		if x.op.Method != http.MethodPost || x.req.body == nil {
			continue
		}
		configured := want != "" && x.key() == want
		if !configured && !loginPath.MatchString(x.op.Path+" "+x.op.ID) {
			continue
		}
		obj, at := x.req.object()
		if obj == nil {
			continue
		}
		var l loginOp
		l.o = x
		for k := range obj {
			switch {
			case userField.MatchString(k):
				l.user = at + "/" + escapePointer(k)
			case passField.MatchString(k):
				l.pass = at + "/" + escapePointer(k)
			}
		}
		if l.user == "" || l.pass == "" {
			continue
		}
		if v, ok := pointerGet(map[string]any(body), l.user); ok && scalarString(v) != "" {
			l.known = scalarString(v)
		} else if v, ok := objectOf(map[string]any(body))[lastSegment(l.user)].(string); ok {
			l.known = v
		}
		if configured {
			first = append(first, l)
		} else {
			rest = append(rest, l)
		}
	}
	return append(first, rest...)
}

// loginChecks looks for user enumeration and a missing login rate limit
// on every login operation.
func (s *scanner) loginChecks(ctx context.Context) {
	for _, l := range s.loginOps() {
		if ctx.Err() != nil || s.exhausted.Load() {
			return
		}
		s.loginCheck(ctx, l.o, l.user, l.pass, l.known)
	}
}

// madeUpLike returns the made-up user name u shaped like the known one:
// an address when the known user is one (an API that logs in by address
// refuses a bare name before it looks anyone up).
func madeUpLike(u, known string) string {
	if strings.Contains(known, "@") && !strings.Contains(u, "@") {
		return u + "@example.com"
	}
	return u
}

func (s *scanner) loginCheck(ctx context.Context, o *opState, user, pass, known string) {
	attempt := func(u string, n int) *result {
		r := o.req.clone()
		r.ident = -1
		u = madeUpLike(u, known)
		r.set(location{in: "body", name: user}, u)
		r.set(location{in: "body", name: pass}, fmt.Sprintf("pcscan-wrong-%d", n))
		return s.send(ctx, r)
	}
	if known != "" {
		s.userEnumeration(o, user, known, attempt)
	}
	// A bounded burst of failed logins for one made-up account (a new one
	// per operation, so that one login's lockout does not hide another's
	// lack of one).
	probeUser := "pcscan-lockout-" + randomTag()
	var mu sync.Mutex
	var limited, sent int
	var last *result
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := 0; i < s.cfg.Burst; i++ {
		mu.Lock()
		stop := limited > 0
		mu.Unlock()
		if stop || s.exhausted.Load() {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			res := attempt(probeUser, i)
			mu.Lock()
			defer mu.Unlock()
			if res.err != nil {
				return
			}
			sent++
			last = res
			if res.status == http.StatusTooManyRequests || res.status == http.StatusLocked || hasRateLimitHeaders(res) {
				limited++
			}
		}(i)
	}
	wg.Wait()
	if limited == 0 && sent == s.cfg.Burst && last != nil {
		s.report(checkAuthnLoginRateLimit, o, "", ConfidenceFirm, s.evidence(last,
			fmt.Sprintf("%d failed logins for one account in a burst: none was refused with 429/423", sent)))
	}
}

// userEnumeration compares failed logins of the known user (wrong
// password) with those of made-up users, by status and body once the
// echoed values and volatile members are removed, 2xx answers included
// (an API that answers 200 {"error": "no such user"}); and, when the
// answers are alike, by timing. It sends at most 4 failed logins for the
// known user so as not to lock the identity's own account.
func (s *scanner) userEnumeration(o *opState, user, known string, attempt func(string, int) *result) {
	norm := func(r *result, u string, n int) string {
		b := normalise(r)
		for _, v := range []string{madeUpLike(u, known), fmt.Sprintf("pcscan-wrong-%d", n)} {
			b = strings.ReplaceAll(b, v, "")
		}
		return fmt.Sprint(r.status) + " " + b
	}
	usable := func(r *result) bool {
		return r.err == nil && !gatewayRefusal(r) && r.status != http.StatusTooManyRequests && r.status != http.StatusLocked && !s.loginSucceeded(r)
	}
	u1, u2 := "pcscan-no-such-user-"+randomTag(), "pcscan-no-such-user-"+randomTag()
	a1, b1 := attempt(known, 1), attempt(u1, 1)
	if !usable(a1) || !usable(b1) {
		return
	}
	if norm(a1, known, 1) != norm(b1, u1, 1) {
		a2, b2 := attempt(known, 2), attempt(u2, 2)
		if usable(a2) && usable(b2) && norm(a1, known, 1) == norm(a2, known, 2) && norm(b1, u1, 1) == norm(b2, u2, 2) {
			s.report(checkAuthnUserEnumeration, o, "body:"+user, ConfidenceFirm, Evidence{
				Request:  a2.reqText + "\n\n" + b2.reqText,
				Response: s.describeResponse(a2) + "\n\n" + s.describeResponse(b2),
				Detail:   fmt.Sprintf("a known user with a wrong password (%d) and an unknown user (%d) get different answers, twice", a2.status, b2.status),
			})
		}
		return
	}
	// Alike answers: compare timing (a password hash computed for known
	// users only). Every known-user sample must be slower than every
	// unknown-user sample by a margin, over four pairs sent alternately.
	known4, unknown4 := []time.Duration{a1.dur}, []time.Duration{b1.dur}
	var last, lastU *result
	for n := 2; n <= 4; n++ {
		a, b := attempt(known, n), attempt("pcscan-no-such-user-"+randomTag(), n)
		if !usable(a) || !usable(b) {
			return
		}
		known4, unknown4 = append(known4, a.dur), append(unknown4, b.dur)
		last, lastU = a, b
	}
	slowestU, fastestK := slices.Max(unknown4), slices.Min(known4)
	if gap := fastestK - slowestU; gap >= 25*time.Millisecond && fastestK >= 2*slowestU {
		s.report(checkAuthnUserEnumeration, o, "body:"+user, ConfidenceTentative, Evidence{
			Request:  last.reqText + "\n\n" + lastU.reqText,
			Response: s.describeResponse(last) + "\n\n" + s.describeResponse(lastU),
			Detail: fmt.Sprintf("the answers are alike, but failed logins of the known user took %s to %s and those of unknown users %s to %s (4 each, alternated)",
				fastestK.Round(time.Millisecond), slices.Max(known4).Round(time.Millisecond), slices.Min(unknown4).Round(time.Millisecond), slowestU.Round(time.Millisecond)),
		})
	}
}

var tokenMember = regexp.MustCompile(`(?i)(^|_)(access_?|id_?)?token$|^jwt$`)

// loginSucceeded reports whether a login answer hands out a token (at the
// configured pointer, or any member named like a token).
func (s *scanner) loginSucceeded(r *result) bool {
	if !r.ok() {
		return false
	}
	ptr := "/token"
	if len(s.cfg.Identities) > 0 && s.cfg.Identities[0].Login != nil && s.cfg.Identities[0].Login.Token != "" {
		ptr = s.cfg.Identities[0].Login.Token
	}
	if v, ok := pointerGet(r.json(), ptr); ok && scalarString(v) != "" {
		return true
	}
	if obj := objectOf(r.json()); obj != nil {
		for k, v := range obj {
			if str, ok := v.(string); ok && len(str) > 16 && tokenMember.MatchString(k) {
				return true
			}
		}
	}
	return false
}

func hasRateLimitHeaders(res *result) bool {
	for _, h := range []string{"RateLimit", "RateLimit-Policy", "RateLimit-Limit", "X-RateLimit-Limit", "X-Rate-Limit-Limit", "Retry-After"} {
		if res.header.Get(h) != "" {
			return true
		}
	}
	return false
}
