package proxy

import (
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// hopTokens are the Connection tokens that may remove a header on the way
// to the upstream: the registered hop-by-hop fields (RFC 9110 section 7.6.1)
// and HTTP2-Settings. Any other token is honoured only when it names a
// header the gateway neither owns nor vouches for (see protectedHeader).
var hopTokens = map[string]bool{
	"close": true, "keep-alive": true, "te": true, "trailer": true,
	"transfer-encoding": true, "upgrade": true, "http2-settings": true,
	"proxy-connection": true, "proxy-authenticate": true, "proxy-authorization": true,
}

// protectedHeader reports whether a Connection token must not remove the
// header it names. Removing a header is only harmless when nothing the
// gateway checked depends on it; these do:
//
//   - headers the gateway owns or sets (the principal, X-Request-Id,
//     X-Real-IP, X-Forwarded-*, Forwarded, ...): "Connection:
//     X-Principal-Id" would otherwise drop the identity the gateway
//     forwards, or the address it vouches for;
//   - headers that give the request its meaning and that stages validated
//     or read: every Content-* header (a JSON body checked as JSON must not
//     reach the upstream without its Content-Type), Host, Authorization,
//     Cookie, Origin, Referer, Sec-Fetch-* and Sec-WebSocket-* (CSRF and
//     handshake checks upstream), Date, Digest and the HTTP message
//     signature fields;
//   - the header parameters the matched operation declares (validated by
//     type against the description).
func protectedHeader(key string, op *pipeline.Exchange) bool {
	if pipeline.OwnedHeader(key) != pipeline.NotOwned {
		return true
	}
	switch {
	case strings.HasPrefix(key, "content-"), strings.HasPrefix(key, "sec-fetch-"), strings.HasPrefix(key, "sec-websocket-"):
		return true
	}
	switch key {
	case "host", "authorization", "cookie", "origin", "referer", "date", "digest",
		"signature", "signature-input":
		return true
	}
	if op != nil && op.Match.Operation != nil {
		for _, p := range op.Match.Operation.Parameters {
			if p.In == "header" && pipeline.HeaderKey(p.Name) == key {
				return true
			}
		}
	}
	if op != nil {
		for k := range op.UpstreamHeader {
			if pipeline.HeaderKey(k) == key {
				return true
			}
		}
	}
	return false
}

// sanitizeConnection rewrites the client's Connection header so that it
// names only what a client may ask a proxy to remove: the hop-by-hop
// fields, and end-to-end headers nobody vouched for. ReverseProxy removes
// every header the header names before the request is rewritten, so a
// token left here would let a client delete a header the gateway set or
// validated ("Connection: Content-Type, X-Principal-Id").
func sanitizeConnection(h http.Header, x *pipeline.Exchange) {
	vs, ok := h["Connection"]
	if !ok {
		return
	}
	var keep []string
	changed := false
	for _, v := range vs {
		for _, tok := range strings.Split(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			key := pipeline.HeaderKey(tok)
			if !hopTokens[key] && protectedHeader(key, x) {
				changed = true
				continue
			}
			keep = append(keep, tok)
		}
	}
	if !changed {
		return
	}
	if len(keep) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = []string{strings.Join(keep, ", ")}
}

// stripOwned removes from h (the outbound request's headers) every header
// the gateway owns, under any spelling (pipeline.HeaderKey), and every
// header with the key of one a stage set for the upstream. From a trusted
// proxy, the canonical spelling of a connection header (X-Forwarded-Port,
// CF-Connecting-IP, ...) is kept: that proxy wrote it.
func stripOwned(h http.Header, trusted bool, set http.Header) {
	var buf [8]string // the names set, iterated once (on the stack for up to 8)
	setKeys := buf[:0]
	for k := range set {
		setKeys = append(setKeys, k)
	}
	for k := range h {
		switch pipeline.OwnedHeader(k) {
		case pipeline.OwnedAlways:
			delete(h, k)
			continue
		case pipeline.OwnedUnlessTrusted:
			if !trusted || !pipeline.CanonicalName(k) || k != http.CanonicalHeaderKey(k) || rebuiltHeader(k) {
				delete(h, k)
				continue
			}
		}
		for _, sk := range setKeys {
			if pipeline.SameHeaderKey(k, sk) {
				delete(h, k)
				break
			}
		}
	}
}

// rebuiltHeader reports whether the proxy builds header k itself (from a
// trusted proxy's value, extended with this hop), so no client spelling of
// it may pass.
func rebuiltHeader(k string) bool {
	for _, r := range [...]string{"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded"} {
		if pipeline.SameHeaderKey(k, r) {
			return true
		}
	}
	return false
}

// upgradeToken returns the protocol a request asks to switch to: the
// Upgrade header, when Connection carries the "upgrade" token (as
// ReverseProxy reads it), else "".
func upgradeToken(h http.Header) string {
	if !httpguts.HeaderValuesContainsToken(h["Connection"], "upgrade") {
		return ""
	}
	return strings.Join(h["Upgrade"], ", ")
}

// dropUpgrade removes a request's wish to switch protocols, so that it is
// forwarded as a plain HTTP/1.1 request (RFC 9110 section 7.8: a server may
// ignore Upgrade).
func dropUpgrade(h http.Header) {
	delete(h, "Upgrade")
	delete(h, "Http2-Settings")
	vs, ok := h["Connection"]
	if !ok {
		return
	}
	var keep []string
	for _, v := range vs {
		for _, tok := range strings.Split(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok != "" && !strings.EqualFold(tok, "upgrade") && !strings.EqualFold(tok, "http2-settings") {
				keep = append(keep, tok)
			}
		}
	}
	if len(keep) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = []string{strings.Join(keep, ", ")}
}

// informationalFilter is the ResponseWriter the upstream's answer is
// written through. It drops the upstream's 100 Continue (the client got
// its own from the gateway's HTTP server when the body was read: two would
// confuse it, and the upstream never sees an Expect) and puts back the
// headers the gateway set before proxying (X-Request-Id, HSTS), which
// ReverseProxy clears from the writer after every 1xx it forwards.
type informationalFilter struct {
	http.ResponseWriter
	saved []savedField // the gateway's headers when proxying began
	dirty bool         // a 1xx went through: saved may need restoring
}

func newInformationalFilter(w http.ResponseWriter) *informationalFilter {
	h := w.Header()
	// A copy as Header.Clone makes (values in one backing array), in a
	// slice: no map is built for the few headers of almost every request.
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	vals := make([]string, 0, n)
	saved := make([]savedField, 0, len(h))
	for k, vs := range h {
		start := len(vals)
		vals = append(vals, vs...)
		saved = append(saved, savedField{k, vals[start:len(vals):len(vals)]})
	}
	return &informationalFilter{ResponseWriter: w, saved: saved}
}

// savedField is one header field the informationalFilter puts back.
type savedField struct {
	key    string
	values []string
}

func (f *informationalFilter) restore() {
	if !f.dirty {
		return
	}
	f.dirty = false
	h := f.ResponseWriter.Header()
	for _, s := range f.saved {
		if _, ok := h[s.key]; !ok {
			h[s.key] = s.values
		}
	}
}

// WriteHeader implements http.ResponseWriter.
func (f *informationalFilter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		if code != http.StatusContinue {
			f.ResponseWriter.WriteHeader(code)
		}
		f.dirty = true
		return
	}
	f.restore()
	f.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (f *informationalFilter) Write(b []byte) (int, error) {
	f.restore()
	return f.ResponseWriter.Write(b)
}

// Flush keeps streaming responses streaming.
func (f *informationalFilter) Flush() {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (Hijack).
func (f *informationalFilter) Unwrap() http.ResponseWriter { return f.ResponseWriter }
