// Package redact removes secrets (credentials, cookies, tokens) from what
// Portcullis writes to logs and events. Every access record and every event
// excerpt goes through a Redactor: a secret that reaches a log file is a
// leaked secret.
package redact

import (
	"net/http"
	"net/url"
	"strings"
)

// Mask replaces a redacted value.
const Mask = "[REDACTED]"

// DefaultHeaders are always redacted.
var DefaultHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
	"X-Api-Key", "X-Auth-Token", "X-Amz-Security-Token", "Signature",
}

// DefaultQuery are query parameter names always redacted (compared
// case-insensitively).
var DefaultQuery = []string{
	"token", "access_token", "refresh_token", "id_token", "api_key", "apikey",
	"key", "password", "passwd", "secret", "client_secret", "signature", "sig", "code",
	"auth", "session", "sessionid",
}

// Redactor knows which header and query names are secret. Its zero value
// redacts nothing; use New.
type Redactor struct {
	headers map[string]bool // canonical header names
	query   map[string]bool // lower-case names
}

// New returns a Redactor for the default names plus extra ones.
func New(extraHeaders, extraQuery []string) *Redactor {
	r := &Redactor{headers: map[string]bool{}, query: map[string]bool{}}
	for _, h := range append(append([]string(nil), DefaultHeaders...), extraHeaders...) {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, q := range append(append([]string(nil), DefaultQuery...), extraQuery...) {
		r.query[strings.ToLower(q)] = true
	}
	return r
}

// SecretHeader reports whether a header's value must never be logged.
func (r *Redactor) SecretHeader(name string) bool {
	return r.headers[http.CanonicalHeaderKey(name)]
}

// Header returns the value to log for header name.
func (r *Redactor) Header(name, value string) string {
	if r.SecretHeader(name) {
		return Mask
	}
	return value
}

// Query returns rawQuery with the values of secret parameters masked. The
// parameter order and the other values are kept as sent. A query that does
// not parse is returned masked whole rather than risk leaking a secret.
func (r *Redactor) Query(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(rawQuery))
	for i, part := range strings.Split(rawQuery, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		name, _, hasValue := strings.Cut(part, "=")
		dec, err := url.QueryUnescape(name)
		if err != nil {
			b.WriteString(Mask)
			continue
		}
		if hasValue && r.query[strings.ToLower(dec)] {
			b.WriteString(name)
			b.WriteString("=")
			b.WriteString(Mask)
			continue
		}
		b.WriteString(part)
	}
	return b.String()
}

// URL returns path?query with secret query values masked.
func (r *Redactor) URL(u *url.URL) string {
	p := u.EscapedPath()
	if u.RawQuery == "" {
		return p
	}
	return p + "?" + r.Query(u.RawQuery)
}

// Excerpt returns at most n bytes of s with control characters escaped, so
// that an excerpt can be put in a log line safely (no log injection).
func Excerpt(s string, n int) string {
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
