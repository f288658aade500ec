// Package redact removes secrets (credentials, cookies, tokens) from what
// Portcullis writes to logs and events. Every access record and every event
// excerpt goes through a Redactor: a secret that reaches a log file is a
// leaked secret.
//
// It redacts by name and by shape. By name: a header, query parameter,
// cookie or JSON field whose name belongs to a credential family (token,
// secret, password/pass/pwd, key, signature/sig, session, auth, jwt, otp,
// private, credential ... in any case, with '-', '_', '.' or camelCase
// between words) has its value masked. By shape (Text): anything that
// looks like a credential wherever it appears (a path, a user agent, an
// error message, an excerpt of a refused header line) is masked: JWTs,
// well-known key prefixes (Stripe, GitHub, GitLab, Slack, AWS, Google, this
// gateway's own pk_ keys), Bearer and Basic credentials, name=value and
// "name":"value" pairs with secret names, and long high-entropy runs.
package redact

import (
	"bytes"
	"math"
	"net/http"
	"net/url"
	"strings"
	"unsafe"

	"golang.org/x/net/http/httpguts"

	"github.com/portcullis/portcullis/internal/urlquery"
)

// Mask replaces a redacted value.
const Mask = "[REDACTED]"

// DefaultHeaders are always redacted (besides every header whose name is
// in a credential family, see SecretName).
var DefaultHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
	"X-Api-Key", "X-Auth-Token", "X-Amz-Security-Token", "Signature",
}

// DefaultQuery are query parameter names always redacted (compared
// case-insensitively; every name in a credential family is redacted too,
// see SecretName).
var DefaultQuery = []string{
	"token", "access_token", "refresh_token", "id_token", "api_key", "apikey",
	"key", "password", "passwd", "pass", "pwd", "secret", "client_secret", "signature", "sig", "code",
	"auth", "auth_token", "session", "sessionid", "jwt", "otp", "private_key", "x-api-key",
	"x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature",
}

// secretWords are the words (of a name split at '-', '_', '.', ' ' and
// camelCase) that make a name secret.
var secretWords = map[string]bool{
	"token": true, "tokens": true, "secret": true, "secrets": true, "password": true, "passwd": true,
	"pass": true, "pwd": true, "passphrase": true, "key": true, "apikey": true, "signature": true,
	"sig": true, "session": true, "sessionid": true, "sid": true, "auth": true, "authorization": true,
	"jwt": true, "otp": true, "totp": true, "pin": true, "private": true, "credential": true,
	"credentials": true, "cookie": true, "bearer": true, "csrf": true, "xsrf": true,
}

// secretParts are substrings that make a name secret wherever they
// appear in it ("authtoken", "clientsecret", "xapikey").
var secretParts = []string{"token", "secret", "passw", "apikey", "credential", "privatekey", "sessionid"}

// secretPartBytes are secretParts as byte slices, and minSecretPart the
// length of the shortest: SecretName compares a name's bytes on the stack
// with them for every parameter of every access record.
var secretPartBytes, minSecretPart = func() ([][]byte, int) {
	out, least := make([][]byte, len(secretParts)), len(secretParts[0])
	for i, p := range secretParts {
		out[i], least = []byte(p), min(least, len(p))
	}
	return out, least
}()

// Redactor knows which header and query names are secret. Its zero value
// redacts nothing by name and still redacts by shape; use New.
type Redactor struct {
	headers map[string]bool // canonical header names
	query   map[string]bool // normalised names
}

// New returns a Redactor for the default names plus extra ones.
func New(extraHeaders, extraQuery []string) *Redactor {
	r := &Redactor{headers: map[string]bool{}, query: map[string]bool{}}
	for _, h := range append(append([]string(nil), DefaultHeaders...), extraHeaders...) {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, q := range append(append([]string(nil), DefaultQuery...), extraQuery...) {
		r.query[normalize(q)] = true
	}
	return r
}

// normalize lower-cases a name and turns every separator into '_'.
func normalize(name string) string {
	return string(appendNormal(make([]byte, 0, len(name)), name))
}

// appendNormal appends normalize(name) to b.
func appendNormal(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c >= 0x80:
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	return b
}

// secretWord reports whether a name, split into lower-case words at
// separators and camelCase boundaries ("X-Api-Key", "accessToken",
// "client_secret"), has a word in secretWords.
func secretWord(name string) bool {
	start := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		isSep := !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80)
		camel := i > start && c >= 'A' && c <= 'Z' && name[i-1] >= 'a' && name[i-1] <= 'z'
		if !isSep && !camel {
			continue
		}
		if i > start && isSecretWord(name[start:i]) {
			return true
		}
		start = i
		if isSep {
			start = i + 1
		}
	}
	return len(name) > start && isSecretWord(name[start:])
}

// isSecretWord is secretWords[strings.ToLower(w)] without building the
// lower-case copy (the longest secret word is 13 bytes; a word with a
// byte outside ASCII is lower-cased by strings.ToLower as before).
func isSecretWord(w string) bool {
	if len(w) > 16 {
		return false
	}
	var buf [16]byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 0x80 {
			return secretWords[strings.ToLower(w)]
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return secretWords[string(buf[:len(w)])] // no allocation: a map index
}

// SecretName reports whether a header, parameter, cookie or field name
// names a secret: one of the Redactor's names, or a name in a credential
// family (a secret word, or a secret part anywhere in it). It is asked
// for every parameter of every access record: names of usual length are
// normalised in a buffer on the stack.
func (r *Redactor) SecretName(name string) bool {
	if name == "" {
		return false
	}
	var buf [64]byte
	var norm []byte
	if len(name) <= len(buf) {
		norm = appendNormal(buf[:0], name)
	} else {
		norm = []byte(normalize(name))
	}
	if r != nil && (r.query[string(norm)] || r.secretHeaderName(name)) {
		return true
	}
	if secretWord(name) {
		return true
	}
	// The normalised name without its separators: "api_key" is "apikey".
	flat := norm[:0]
	for _, c := range norm {
		if c != '_' {
			flat = append(flat, c)
		}
	}
	if len(flat) < minSecretPart {
		return false
	}
	for _, p := range secretPartBytes {
		if bytes.Contains(flat, p) {
			return true
		}
	}
	return false
}

// secretHeaderName is r.headers[http.CanonicalHeaderKey(name)], the
// canonical form built on the stack: a name of token bytes gets upper case
// first and after each '-', lower case elsewhere; any other name is looked
// up as it is (as CanonicalHeaderKey returns it).
func (r *Redactor) secretHeaderName(name string) bool {
	var buf [64]byte
	if len(name) > len(buf) {
		return r.headers[http.CanonicalHeaderKey(name)]
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !httpguts.IsTokenRune(rune(c)) {
			return r.headers[name]
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
		upper = c == '-'
	}
	return r.headers[string(buf[:len(name)])]
}

// SecretHeader reports whether a header's value must never be logged:
// SecretName, which looks the name up among the secret headers too.
func (r *Redactor) SecretHeader(name string) bool { return r.SecretName(name) }

// Header returns the value to log for header name.
func (r *Redactor) Header(name, value string) string {
	if r.SecretHeader(name) {
		return Mask
	}
	return r.Text(value)
}

// Query returns rawQuery with the values of secret parameters masked and
// credential-shaped values masked (Text). Both '&' and ';' separate
// parameters (several frameworks split on ';'). The parameter order and
// the other values are kept as sent. A name that does not decode is masked
// whole rather than risk leaking a secret.
func (r *Redactor) Query(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	var b strings.Builder // used from the first part that changes
	done := 0             // rawQuery[:done] is settled (written to b once b is used)
	for pos := 0; pos <= len(rawQuery); {
		end := pos
		for end < len(rawQuery) && rawQuery[end] != '&' && rawQuery[end] != ';' {
			end++
		}
		part := rawQuery[pos:end]
		if red := r.param(part); red != part {
			if b.Len() == 0 {
				b.Grow(len(rawQuery))
			}
			b.WriteString(rawQuery[done:pos])
			b.WriteString(red)
			done = end
		}
		pos = end + 1
	}
	if done == 0 {
		return rawQuery // nothing masked: no copy
	}
	b.WriteString(rawQuery[done:])
	return b.String()
}

func (r *Redactor) param(part string) string {
	name, value, hasValue := strings.Cut(part, "=")
	dec := name
	if strings.ContainsAny(name, "%+") {
		var err error
		if dec, err = urlquery.Unescape(name); err != nil {
			return Mask
		}
	}
	if hasValue && r.SecretName(dec) {
		return name + "=" + Mask
	}
	if !hasValue {
		return r.encodedText(part)
	}
	if red := r.encodedText(value); red != value {
		return name + "=" + red
	}
	return part
}

// encodedText is Text for a URL-encoded value, judged on the text it
// encodes: the hex digits of an escape are not part of a word ("don%27t"
// made the run "27t", "%0Aand" made "0Aand", and ordinary sentences were
// masked as keys), and an escaped separator does not split a key
// ("abc%2Bdef…" is one run). '+' stays as it is: a key sent with a raw '+'
// is still one run. A value whose decoded text holds a credential is
// masked whole, since an encoded span maps to no decoded one.
func (r *Redactor) encodedText(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return r.Text(v)
	}
	var buf [512]byte
	dec, ok := pathUnescape(buf[:0], v)
	if !ok {
		return r.Text(v) // not valid escapes: judged as sent
	}
	// The decoded text only lives for this test (Text keeps no reference
	// to what it is given), so it is read in place, not copied.
	if d := unsafe.String(unsafe.SliceData(dec), len(dec)); r.Text(d) == d {
		return v
	}
	return Mask
}

// pathUnescape appends to dst what url.PathUnescape decodes s to ('+'
// kept as it is); false where it fails (a '%' not followed by two hex
// digits).
func pathUnescape(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(s) {
			return dst, false
		}
		hi, lo := unhex[s[i+1]], unhex[s[i+2]]
		if hi|lo > 15 {
			return dst, false
		}
		dst = append(dst, hi<<4|lo)
		i += 2
	}
	return dst, true
}

// unhex is the value of a hex digit, 0xff for any other byte.
var unhex = func() (t [256]byte) {
	for c := range t {
		switch {
		case c >= '0' && c <= '9':
			t[c] = byte(c - '0')
		case c >= 'a' && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			t[c] = byte(c - 'A' + 10)
		default:
			t[c] = 0xff
		}
	}
	return t
}()

// URL returns path?query with secrets masked.
func (r *Redactor) URL(u *url.URL) string {
	p := r.Text(u.EscapedPath())
	if u.RawQuery == "" {
		return p
	}
	return p + "?" + r.Query(u.RawQuery)
}

// Location reports whether a finding's location ("header:x-auth-token",
// "query:password", "cookie:sid", "body:/user/password") names a secret,
// so that its excerpt must not be logged. Cookies always do.
func (r *Redactor) Location(loc string) bool {
	kind, name, _ := strings.Cut(loc, ":")
	switch kind {
	case "cookie":
		return true
	case "body":
		for _, seg := range strings.Split(name, "/") {
			if r.SecretName(seg) {
				return true
			}
		}
		return false
	}
	return r.SecretName(name)
}

// Safe is Excerpt(r.Text(s), n): what to put in a log line for free text.
func (r *Redactor) Safe(s string, n int) string { return Excerpt(r.Text(s), n) }

// Excerpt returns at most n bytes of s with control characters escaped, so
// that an excerpt can be put in a log line safely (no log injection).
func Excerpt(s string, n int) string {
	if len(s) <= n && printable(s) {
		return s // the common case: nothing to escape or cut, no copy
	}
	return excerpt(s, n)
}

// printable reports whether s has no byte Excerpt escapes.
func printable(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		// Eight ASCII bytes at a time; a chunk with other bytes is
		// looked at byte by byte below.
		const ones, highs = 0x0101010101010101, 0x8080808080808080
		if w := load64(s[i : i+8]); w&highs == 0 &&
			((w-ones*0x20)|((w^ones*'\\')-ones)|((w^ones*0x7f)-ones))&highs == 0 {
			continue
		}
		break
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '\\' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func excerpt(s string, n int) string {
	var b strings.Builder
	for i, c := range []byte(s) {
		if b.Len() >= n {
			b.WriteString("…")
			break
		}
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c < 0x20 || c == 0x7f:
			const hex = "0123456789abcdef"
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// keyPrefixes start well-known credential formats; a run of token
// characters that starts with one and is at least minPrefixed long is a
// credential.
var keyPrefixes = []string{
	"pk_", "sk_", "rk_", "whsec_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-",
	"xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-", "AKIA", "ASIA", "AIza", "sk-", "SG.", "shpat_", "shpss_",
	"npm_", "hf_", "pat_", "dop_v1_", "sq0atp-", "EAAC", "ya29.",
}

const (
	minPrefixed   = 16 // a prefixed credential's shortest length
	minEntropyRun = 24 // a mixed-case high-entropy run's shortest length
	minHexRun     = 40 // a hex run's shortest length (sha1 and up)
)

// Text masks credential-shaped parts of free text (see the package doc).
// Text that holds none is returned as it is, without allocating.
func (r *Redactor) Text(s string) string {
	var b *strings.Builder
	last := 0 // s[:last] is written to b (when b != nil)
	mask := func(from, to int) {
		if b == nil {
			b = &strings.Builder{}
			b.Grow(len(s))
		}
		b.WriteString(s[last:from])
		b.WriteString(Mask)
		last = to
	}
	for i := 0; i < len(s); {
		if !runByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && runByte(s[j]) {
			j++
		}
		run := s[i:j]
		switch {
		case segmented(run) && r.maskSegments(s, i, j, mask):
			// A path: only the segments shaped like credentials are
			// masked ("/v1/keys/pk_live_.../rotate").
		case credentialRun(run):
			// A credential as a whole (a JWT, a base64 secret with '/').
			mask(i, j)
		case j < len(s) && (s[j] == '=' || s[j] == ':' || s[j] == '"' && j+1 < len(s) && s[j+1] == ':'):
			// name=value, "name": "value", and a header line's name: value
			if r.SecretName(run) {
				vs, ve := valueAfter(s, j)
				switch {
				case strings.HasPrefix(s[vs:], Mask):
					j = vs + len(Mask) // already masked (a query redacted by name)
				case ve > vs:
					mask(vs, ve)
					j = ve
				}
			}
		case j < len(s) && s[j] == ' ' && (strings.EqualFold(run, "bearer") || strings.EqualFold(run, "basic") ||
			strings.EqualFold(run, "token") || strings.EqualFold(run, "apikey") || strings.EqualFold(run, "digest")):
			vs, ve := valueAfter(s, j)
			if ve > vs {
				mask(vs, ve)
				j = ve
			}
		}
		i = j
	}
	if b == nil {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// maskSegments masks the segments of s[i:j] (between '/', '.' and '~')
// shaped like credentials and reports whether there were any. A JWT is
// one credential whatever its dots.
func (r *Redactor) maskSegments(s string, i, j int, mask func(from, to int)) bool {
	if isJWT(s[i:j]) {
		return false
	}
	found := false
	seg := i
	for k := i; k <= j; k++ {
		if k < j && !segmentSep[s[k]] {
			continue
		}
		if k > seg && credentialRun(s[seg:k]) {
			mask(seg, k)
			found = true
		}
		seg = k + 1
	}
	return found
}

// runByte is a byte of a token-like run: base64, base64url, hex, and the
// separators keys use.
func runByte(c byte) bool { return runBytes[c] }

// runBytes is runByte as a table (one load per byte of every text that
// is redacted, which is every event reason and log field).
var runBytes = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '_' || b == '-' || b == '.' || b == '+' || b == '/' || b == '~'
	}
	return t
}()

// segmentSep are the bytes maskSegments splits a run at.
var segmentSep = [256]bool{'/': true, '.': true, '~': true}

// prefixFirst are the first bytes of keyPrefixes: a run starting with
// another byte is compared with none of them.
var prefixFirst = func() (t [256]bool) {
	for _, p := range keyPrefixes {
		t[p[0]] = true
	}
	return t
}()

// valueAfter returns the span of the value that follows a name ending at
// j: for "name": "value", up to the closing quote; for a header line's
// "name: value", up to the end of the line (the value may have spaces:
// "Bearer xyz"); for name=value, up to a separator.
func valueAfter(s string, j int) (int, int) {
	header := s[j] == ':'
	k := j
	for k < len(s) && (s[k] == '=' || s[k] == ':' || s[k] == '"' || s[k] == ' ' || s[k] == '\'' || s[k] == '\t') {
		k++
	}
	quoted := k > j && (s[k-1] == '"' || s[k-1] == '\'')
	e := k
	for e < len(s) {
		c := s[e]
		switch {
		case c == '\r' || c == '\n':
		case quoted:
			if c == s[k-1] && s[e-1] != '\\' {
				return k, e
			}
			e++
			continue
		case header:
			e++
			continue
		case c == '&' || c == ';' || c == ',' || c == '"' || c == '\'' || c == ' ' || c == '\t' || c < 0x20 || c == '}' || c == ']':
		default:
			e++
			continue
		}
		break
	}
	return k, e
}

// credentialRun reports whether a token-like run, as a whole, is shaped
// like a credential.
func credentialRun(run string) bool {
	if len(run) < minPrefixed {
		return false
	}
	if isJWT(run) {
		return true
	}
	if prefixFirst[run[0]] {
		for _, p := range keyPrefixes {
			if strings.HasPrefix(run, p) && len(run) >= len(p)+minPrefixed-4 {
				return true
			}
		}
	}
	return random(run)
}

// segmented reports whether a run holds a path or dotted-name separator.
func segmented(run string) bool {
	for i := 0; i < len(run); i++ {
		if c := run[i]; c == '/' || c == '.' || c == '~' {
			return true
		}
	}
	return false
}

// isJWT matches the compact JWS/JWE serialisation: base64url segments
// separated by dots, the first a JSON object ("eyJ").
func isJWT(run string) bool {
	i := strings.Index(run, "eyJ")
	if i < 0 {
		return false
	}
	seg, dots := 0, 0
	for _, c := range []byte(run[i:]) {
		switch {
		case c == '.':
			if seg < 2 {
				return false
			}
			dots++
			seg = 0
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-':
			seg++
		default:
			return dots >= 2
		}
	}
	return dots >= 2 || dots == 1 && seg >= 8
}

// random reports whether s looks like a random token rather than text or
// a path: at least minEntropyRun long with lower and upper case, an
// entropy of 3.5 bits a byte or more, and less than a third of it in
// words (pronounceable runs of four lower-case letters or more, with their
// capital): "api/v2/Users/Alice123/Profile" and "getUserProfileByIdV2" are
// words; "Zk8wQ2xpZW50U2VjcmV0" is not (random base64 has few long
// lower-case runs: 26 of its 64 symbols are lower case).
func random(s string) bool {
	if len(s) >= minHexRun && allHex(s) {
		return true
	}
	if len(s) < minEntropyRun || !hasUpper(s) {
		return false // (no upper case: the answer below is false too, found cheaper)
	}
	var lower, upper bool
	wordy, run, start := 0, 0, 0 // run: lower-case letters from start
	capital := false
	for i := 0; i <= len(s); i++ {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		if c >= 'a' && c <= 'z' {
			lower = true
			if run == 0 {
				start = i
			}
			run++
			continue
		}
		if (run >= 4 || capital && run >= 2) && pronounceable(s[start-b2i(capital):start+run]) {
			wordy += run + b2i(capital)
		}
		run, capital = 0, false
		if c >= 'A' && c <= 'Z' {
			upper, capital = true, true
		}
	}
	return lower && upper && 2*wordy < len(s) && !formSentence(s) && entropy(s) >= 3.5
}

// formSentence reports a form-encoded sentence: three or more '+' (the
// spaces of form encoding), and half of the run or more in whole words
// between them ('+', '.' or '-' on each side; letters only, lower case,
// capitalised or all capitals): "and+cry.++If+I+have+to+cry",
// "the+five-hundred+I+owe", "HOODLUMS+FROM+ANOTHER+WORLD". Words
// of every length count, and no test of how a word sounds ("Slightly" has
// four consonants in a row). A key's pieces between '+' hold digits or
// inner capitals ("Nf3kLp+9xZt7Wq1+Vb6Rc0Hy4Ms5Jd3Ke2Ga" stays a key).
func formSentence(s string) bool {
	if strings.Count(s, "+") < 3 {
		return false
	}
	// The fields between '+', '.' and '-' (strings.FieldsFunc's, split
	// by bytes: no byte of a multi-byte rune is one of them).
	words, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '+' && s[i] != '.' && s[i] != '-' {
			continue
		}
		if tok := s[start:i]; plainWord(tok) {
			words += len(tok)
		}
		start = i + 1
	}
	return 2*words >= len(s)
}

// plainWord: letters only, in lower case, capitalised or all capitals
// (not the inner capitals of random text).
func plainWord(w string) bool {
	if w == "" {
		return false
	}
	upper := 0
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case c >= 'A' && c <= 'Z':
			upper++
		case c < 'a' || c > 'z':
			return false
		}
	}
	return upper == 0 || upper == len(w) || upper == 1 && w[0] <= 'Z'
}

// hasUpper reports whether s has an ASCII upper-case letter.
func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pronounceable reports whether a lower-case run reads like a word: a
// quarter of it or more vowels, and never four consonants in a row
// ("profile", "users"; not "xcnt" or "sxvpzkpw", which random base64
// makes).
func pronounceable(w string) bool {
	vowels, streak := 0, 0
	for i := 0; i < len(w); i++ {
		switch w[i] | 0x20 {
		case 'a', 'e', 'i', 'o', 'u', 'y':
			vowels++
			streak = 0
		default:
			streak++
			if streak >= 4 {
				return false
			}
		}
	}
	return 4*vowels >= len(w)
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
