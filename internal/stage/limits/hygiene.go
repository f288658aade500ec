package limits

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// Rule ids of the request hygiene checks (see Config.UnderscoreHeaders,
// MethodOverride and URLOverride).
const (
	// RuleHeaderName: a header name with a character other than a letter,
	// a digit or '-', with underscore_headers: refuse (400).
	RuleHeaderName = "limits.header-name"
	// RuleSpoofedHeader: a header name that spells a header the gateway
	// owns another way ("X-Principal_Id", "x.forwarded.for") (400, high).
	RuleSpoofedHeader = "limits.spoofed-header"
	// RuleMethodOverride: X-HTTP-Method-Override and its kin, or a _method
	// query or form parameter (400).
	RuleMethodOverride = "limits.method-override"
	// RuleURLOverride: X-Original-URL, X-Rewrite-URL and their kin (400).
	RuleURLOverride = "limits.url-override"
)

// methodOverrideKeys and urlOverrideKeys are pipeline.HeaderKey forms, so
// every spelling of them is caught.
var (
	methodOverrideKeys = map[string]bool{
		"x-http-method-override": true, "x-http-method": true, "x-method-override": true,
	}
	urlOverrideKeys = map[string]bool{
		"x-original-url": true, "x-rewrite-url": true, "x-original-uri": true, "x-override-url": true,
	}
)

// hygiene is the compiled header and parameter policy of a Limiter.
type hygiene struct {
	underscores    string // "drop", "refuse" or "allow"
	methodOverride bool   // allowed
	urlOverride    bool   // allowed
	// declared maps the HeaderKey of each header the API declares with a
	// character other than a letter, a digit or '-' ("api_key") to its
	// lower-case name: such a header is forwarded whatever underscores
	// says, and another spelling of it next to it is refused.
	declared map[string]string
}

// declare records the API's declared header names (pipeline.Build.Headers).
func (h *hygiene) declare(names []string) {
	for _, n := range names {
		if pipeline.CanonicalName(n) {
			continue
		}
		if h.declared == nil {
			h.declared = map[string]string{}
		}
		h.declared[pipeline.HeaderKey(n)] = strings.ToLower(n)
	}
}

// check applies the policy to the request's headers (dropping odd names
// when the policy says so) and query, and returns a denial or nil.
func (h hygiene) check(x *pipeline.Exchange) *pipeline.Denial {
	r := x.Request
	for k := range r.Header {
		canonical := pipeline.CanonicalName(k)
		if !canonical && pipeline.OwnedHeader(k) != pipeline.NotOwned {
			d := deny(http.StatusBadRequest, RuleSpoofedHeader, "the request spells a header the gateway sets in another way",
				"header:"+strings.ToLower(safeName(k)), "header "+safeName(k)+" is "+pipeline.HeaderKey(k)+" to CGI-style upstreams")
			d.Severity = events.SeverityHigh
			return d
		}
		// The key is built on the stack for the lookups: as a string only
		// when one hits.
		var buf [64]byte
		kb := pipeline.AppendHeaderKey(buf[:0], k)
		if !h.methodOverride && methodOverrideKeys[string(kb)] {
			return overrideDenial("header:" + string(kb))
		}
		if !h.urlOverride && urlOverrideKeys[string(kb)] {
			d := deny(http.StatusBadRequest, RuleURLOverride, "the request asks for another URL than its own",
				"header:"+string(kb), "header "+safeName(k))
			d.Severity = events.SeverityHigh
			return d
		}
		if name, ok := h.declared[string(kb)]; ok {
			if other := h.otherSpelling(r.Header, k, string(kb), name); other != "" {
				return deny(http.StatusBadRequest, RuleHeaderName, "the request spells a header the API declares in two ways",
					"header:"+name, "headers "+safeName(k)+" and "+safeName(other)+" are one header to CGI-style upstreams")
			}
			if !canonical && strings.ToLower(k) == name {
				continue // the API's own header, as it declares it
			}
		}
		if canonical {
			continue
		}
		switch h.underscores {
		case "refuse":
			return deny(http.StatusBadRequest, RuleHeaderName, "a header name has characters other than letters, digits and '-'",
				"header:"+strings.ToLower(safeName(k)), "header "+safeName(k))
		case "allow":
		default: // "drop", as nginx does
			delete(r.Header, k)
		}
	}
	if !h.methodOverride && queryHasMethod(r.URL.RawQuery) {
		return overrideDenial("query:_method")
	}
	return nil
}

// otherSpelling returns a header name of hdr other than k with the same
// HeaderKey that would reach the upstream (a canonical name, or any name
// under underscore_headers: allow; others are dropped or refused on their
// own), when k is the declared spelling name, else "".
func (h hygiene) otherSpelling(hdr http.Header, k, key, name string) string {
	if strings.ToLower(k) != name {
		return "" // reported when the loop reaches the declared spelling
	}
	for o := range hdr {
		if o != k && pipeline.SameHeaderKey(o, key) && (h.underscores == "allow" || pipeline.CanonicalName(o)) {
			return o
		}
	}
	return ""
}

func overrideDenial(loc string) *pipeline.Denial {
	d := deny(http.StatusBadRequest, RuleMethodOverride, "the request asks for another method than its own", loc,
		"method override at "+loc)
	d.Severity = events.SeverityHigh
	return d
}

// queryHasMethod reports whether a raw query (or form body) has a
// parameter named _method, under any case or percent-encoding.
func queryHasMethod(q string) bool {
	for q != "" {
		var item string
		item, q, _ = strings.Cut(q, "&")
		name, _, _ := strings.Cut(item, "=")
		if len(name) < 7 {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil && strings.EqualFold(strings.TrimSpace(n), "_method") {
			return true
		}
	}
	return false
}

// formHasMethod reports whether an urlencoded form body has _method.
func formHasMethod(body []byte) bool { return queryHasMethod(string(body)) }

// isForm reports whether the request's body is an urlencoded form.
func isForm(h http.Header) bool {
	vs := h["Content-Type"]
	if len(vs) == 0 {
		return false
	}
	mt, _, _ := strings.Cut(vs[0], ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded")
}

// safeName is a header name cut and stripped for logs.
func safeName(k string) string {
	if len(k) > 64 {
		k = k[:64]
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if c := k[i]; c > 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}
