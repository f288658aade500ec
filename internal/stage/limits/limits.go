// Package limits holds the "limits" stages: the Limiter, which caps the
// size and shape of a request (URL, query, headers, body, JSON nesting) per
// API, and the Normalizer, which runs before routing and refuses request
// targets and framing that different HTTP components would read
// differently (bad or layered encodings, path traversal, control bytes,
// ambiguous body length, several Host values).
//
// Both decide from data the gateway already holds; the body is only read
// when a limit needs it, and through the exchange, so that every stage and
// the upstream see the same bytes.
package limits

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// Stage ids of this package: the Limiter's (its block is `limits`) and the
// Normalizer's, which runs before routing and has no block.
const (
	ID          = "limits.request"
	NormalizeID = "limits.normalize"
)

// Module registers the Limiter: the top-level limits block holds every
// API's defaults, which an API's own block overrides field by field. It is
// always in the chain (the defaults are never off).
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "limits", Scope: pipeline.ScopeAPI | pipeline.ScopeGlobal,
	New: func(b *pipeline.Build, global, api *Config) (pipeline.Stage, error) {
		var g Config
		if global != nil {
			g = *global
		}
		l, err := New(g, api)
		if err != nil {
			return nil, err
		}
		l.hygiene.declare(b.Headers)
		return l, nil
	}}

// Rule ids carried by denials of this package.
const (
	// RuleURLLength: the request target is longer than MaxURLLength (414).
	RuleURLLength = "limits.url-length"
	// RuleQueryParams: more query parameters than MaxQueryParams (400).
	RuleQueryParams = "limits.query-params"
	// RuleHeaderBytes: header names and values exceed MaxHeaderBytes (431).
	RuleHeaderBytes = "limits.header-bytes"
	// RuleHeaderLine: one header line exceeds MaxHeaderValueBytes (431).
	RuleHeaderLine = "limits.header-line"
	// RuleBodySize: the body is larger than MaxBodyBytes (413).
	RuleBodySize = "limits.body-size"
	// RuleBodyRead: the body could not be read (client aborted, broken
	// chunked encoding, read timeout) (400).
	RuleBodyRead = "limits.body-read"
	// RuleJSONDepth: a JSON body is nested deeper than MaxJSONDepth (400).
	RuleJSONDepth = "limits.json-depth"
	// RuleJSONElements: a JSON body has more values than MaxJSONElements
	// (400).
	RuleJSONElements = "limits.json-elements"
	// RuleJSONMalformed: a body declared as JSON is not valid JSON (400).
	RuleJSONMalformed = "limits.json-malformed"
	// RuleJSONDuplicateKey: an object of a JSON body names a key twice, or
	// two keys equal but for case (400; see Config.DuplicateKeys).
	RuleJSONDuplicateKey = "limits.json-duplicate-key"

	// RuleBadEncoding: invalid percent-encoding, too many encoding layers,
	// or invalid UTF-8 in the path (400, Normalizer).
	RuleBadEncoding = "limits.bad-encoding"
	// RuleControlChar: NUL or another control byte in the decoded path, or
	// NUL/CR/LF in the decoded query (400, Normalizer).
	RuleControlChar = "limits.control-char"
	// RulePathTraversal: a dot-dot segment or one of its disguises in the
	// decoded path (400, Normalizer).
	RulePathTraversal = "limits.path-traversal"
	// RuleAmbiguousLength: Content-Length together with Transfer-Encoding,
	// a Transfer-Encoding other than chunked, or conflicting Content-Length
	// values: the framing of request smuggling (400, Normalizer).
	RuleAmbiguousLength = "limits.ambiguous-length"
	// RuleConnect: a CONNECT request (501, Normalizer): the gateway never
	// opens a tunnel.
	RuleConnect = "limits.connect"
	// RuleDuplicateHost: more than one Host value, or a Host header that
	// differs from the request's authority (400, Normalizer).
	RuleDuplicateHost = "limits.duplicate-host"
)

// Limiter is the compiled limits stage of one API. It is read-only after
// New and safe for concurrent use.
type Limiter struct {
	// Effective limits; zero or less means off.
	headerBytes, urlLength, queryParams int
	headerLine                          int
	bodyBytes                           int64
	jsonDepth, jsonElements             int
	// reencode forwards a body with duplicate keys re-encoded instead of
	// refusing it (Config.DuplicateKeys).
	reencode bool
	hygiene  hygiene
}

var (
	_ pipeline.Stage       = (*Limiter)(nil)
	_ pipeline.BodyLimiter = (*Limiter)(nil)
)

// New returns the limiter for an API from the global block and the API's
// block (nil when the API has none), merged with Merge. It fails when
// either block does not validate.
func New(global Config, api *Config) (*Limiter, error) {
	errs := global.Validate().Prefix("global")
	if api != nil {
		errs = append(errs, api.Validate().Prefix("api")...)
	}
	if len(errs) > 0 {
		list := make([]error, len(errs))
		for i, e := range errs {
			list[i] = e
		}
		return nil, fmt.Errorf("building limits: %w", errors.Join(list...))
	}
	c := Merge(global, api)
	return &Limiter{
		headerBytes:  int(c.MaxHeaderBytes),
		headerLine:   int(c.MaxHeaderValueBytes),
		urlLength:    c.MaxURLLength,
		queryParams:  c.MaxQueryParams,
		bodyBytes:    int64(c.MaxBodyBytes),
		jsonDepth:    c.MaxJSONDepth,
		jsonElements: c.MaxJSONElements,
		reencode:     c.DuplicateKeys == "reencode",
		hygiene: hygiene{
			underscores:    c.UnderscoreHeaders,
			methodOverride: c.MethodOverride == "allow",
			urlOverride:    c.URLOverride == "allow",
		},
	}, nil
}

// ID returns "limits.request".
func (l *Limiter) ID() string { return ID }

// BodyLimit returns the most bytes a request body may have, or 0 when the
// limit is off. The gateway sets Exchange.BodyLimit from it before any
// stage runs.
func (l *Limiter) BodyLimit() int64 { return max(l.bodyBytes, 0) }

// Request checks, in order, the request target length, the number of query
// parameters, the header size, the declared body size, and — only when it
// has to read the body — the actual body size and the shape of a JSON body.
//
// The body is read (through x.Body, once, under the body limit) only when
// the request has a body and either its length is unknown (chunked) and a
// body limit is set, or it is JSON (application/json, text/json or any
// "+json" type) and a JSON depth or element limit is set. Other bodies with
// a Content-Length within the limit are never touched.
func (l *Limiter) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	d, err := l.check(x)
	if d != nil {
		d.Stage = ID
	}
	return d, err
}

func (l *Limiter) check(x *pipeline.Exchange) (*pipeline.Denial, error) {
	r := x.Request

	if l.urlLength > 0 {
		n := len(r.RequestURI)
		if r.RequestURI == "" { // a request built in code, not read from a client
			n = len(r.URL.RequestURI())
		}
		if n > l.urlLength {
			return deny(http.StatusRequestURITooLong, RuleURLLength, "the request URL is too long", "path",
				"request target is "+strconv.Itoa(n)+" bytes, limit "+strconv.Itoa(l.urlLength)), nil
		}
	}

	if l.queryParams > 0 {
		if n := countParams(r.URL.RawQuery, l.queryParams); n > l.queryParams {
			return deny(http.StatusBadRequest, RuleQueryParams, "the request has too many query parameters", "query",
				"more than "+strconv.Itoa(l.queryParams)+" query parameters"), nil
		}
	}

	if d := l.hygiene.check(x); d != nil {
		return d, nil
	}

	if l.headerBytes > 0 || l.headerLine > 0 {
		n := len("Host") + len(r.Host)
		for k, vs := range r.Header {
			for _, v := range vs {
				n += len(k) + len(v)
				if l.headerLine > 0 && len(k)+len(v) > l.headerLine {
					return deny(http.StatusRequestHeaderFieldsTooLarge, RuleHeaderLine, "a request header is too large", "header:"+strings.ToLower(k),
						"header line is "+strconv.Itoa(len(k)+len(v))+" bytes, limit "+strconv.Itoa(l.headerLine)), nil
				}
			}
		}
		if l.headerBytes > 0 && n > l.headerBytes {
			return deny(http.StatusRequestHeaderFieldsTooLarge, RuleHeaderBytes, "the request headers are too large", "header",
				"headers are "+strconv.Itoa(n)+" bytes, limit "+strconv.Itoa(l.headerBytes)), nil
		}
	}

	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	// Security: a declared length is refused before a single byte is read,
	// so an oversized upload costs us nothing.
	if l.bodyBytes > 0 && r.ContentLength > l.bodyBytes {
		return tooLarge(r.ContentLength, l.bodyBytes), nil
	}
	// Every body declared as JSON is scanned (duplicate keys are checked
	// whatever the limits say), and so is a bounded body declared as
	// nothing or as text, which JSON readers that ignore the Content-Type
	// (authz's owner rules among them) read as JSON all the same.
	declaredJSON := isJSON(r.Header)
	scanJSONBody := declaredJSON || l.bodyBytes > 0 && maybeJSON(r.Header)
	unknownLength := r.ContentLength < 0 && l.bodyBytes > 0
	formOverride := !l.hygiene.methodOverride && isForm(r.Header) && l.bodyBytes > 0
	if !scanJSONBody && !unknownLength && !formOverride {
		return nil, nil
	}
	// Make sure the read is bounded by this stage's limit even when the
	// gateway set no (or a larger) limit on the exchange.
	if l.bodyBytes > 0 && !x.BodyRead() && (x.BodyLimit <= 0 || x.BodyLimit > l.bodyBytes) {
		x.BodyLimit = l.bodyBytes
	}
	body, err := x.Body()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.Is(err, pipeline.ErrBodyTooLarge) || errors.As(err, &mbe) {
			return tooLarge(-1, l.bodyBytes), nil
		}
		d := deny(http.StatusBadRequest, RuleBodyRead, "the request body could not be read", "body",
			"reading body: "+err.Error())
		d.Severity = events.SeverityLow
		return d, nil
	}
	if l.bodyBytes > 0 && int64(len(body)) > l.bodyBytes { // read earlier under a larger limit
		return tooLarge(int64(len(body)), l.bodyBytes), nil
	}
	if formOverride && formHasMethod(body) {
		return overrideDenial("body:_method"), nil
	}
	if !scanJSONBody || len(body) == 0 {
		return nil, nil
	}
	if !declaredJSON && !startsJSON(body) {
		return nil, nil
	}
	res := scanJSON(body, l.jsonDepth, l.jsonElements)
	if res.problem == jsonDuplicate && l.reencode {
		re, err := reencodeJSON(body)
		if err == nil {
			// Every later stage and the upstream read the re-encoded body;
			// it is scanned again for the limits and for keys equal but for
			// case, which re-encoding leaves apart.
			x.ReplaceBody(re)
			body = re
			res = scanJSON(body, l.jsonDepth, l.jsonElements)
		}
	}
	if res.problem == jsonMalformed && (!declaredJSON || l.jsonDepth <= 0 && l.jsonElements <= 0) {
		// Not JSON after all and not declared so, or its shape is not
		// limited here (the validate stage refuses what is not JSON).
		return nil, nil
	}
	switch res.problem {
	case jsonDuplicate, jsonCaseDuplicate:
		reason, detail := "the JSON body names a key twice", "duplicate key"
		if res.problem == jsonCaseDuplicate {
			reason, detail = "the JSON body has two keys that differ only in case", "keys equal but for case"
		}
		d := deny(http.StatusBadRequest, RuleJSONDuplicateKey, reason, "body:"+jsonPointerAt(body, res.value),
			detail+" at byte "+strconv.Itoa(res.offset))
		d.Errors = []pipeline.FieldError{{Pointer: "/body" + jsonPointerAt(body, res.value), Reason: detail}}
		return d, nil
	case jsonTooDeep:
		return deny(http.StatusBadRequest, RuleJSONDepth, "the JSON body is nested too deeply", "body:"+jsonPointerAt(body, res.offset),
			"JSON nesting deeper than "+strconv.Itoa(l.jsonDepth)+" at byte "+strconv.Itoa(res.offset)), nil
	case jsonTooMany:
		return deny(http.StatusBadRequest, RuleJSONElements, "the JSON body has too many elements", "body:"+jsonPointerAt(body, res.offset),
			"more than "+strconv.Itoa(l.jsonElements)+" JSON values, limit reached at byte "+strconv.Itoa(res.offset)), nil
	case jsonMalformed:
		off := strconv.Itoa(res.offset)
		return deny(http.StatusBadRequest, RuleJSONMalformed, "the JSON body is malformed at byte offset "+off, "body",
			"invalid JSON at byte "+off+" of "+strconv.Itoa(len(body))), nil
	}
	return nil, nil
}

func tooLarge(n, limit int64) *pipeline.Denial {
	detail := "body exceeds " + strconv.FormatInt(limit, 10) + " bytes"
	if n >= 0 {
		detail = "body is " + strconv.FormatInt(n, 10) + " bytes, limit " + strconv.FormatInt(limit, 10)
	}
	return deny(http.StatusRequestEntityTooLarge, RuleBodySize, "the request body is too large", "body", detail)
}

// deny builds a denial of this package with medium severity. The stage
// that returns it (the Limiter or the Normalizer) sets its Stage.
func deny(status int, rule, reason, location, detail string) *pipeline.Denial {
	return &pipeline.Denial{
		Status:   status,
		Reason:   reason,
		Rules:    []string{rule},
		Detail:   detail,
		Location: location,
		Severity: events.SeverityMedium,
	}
}

// countParams counts the non-empty "&"-separated items of a raw query, the
// way url.ParseQuery does, without allocating; it stops counting past limit.
func countParams(q string, limit int) int {
	n := 0
	for len(q) > 0 && n <= limit {
		var item string
		if i := strings.IndexByte(q, '&'); i >= 0 {
			item, q = q[:i], q[i+1:]
		} else {
			item, q = q, ""
		}
		if item != "" {
			n++
		}
	}
	return n
}

// maybeJSON reports whether a body declared with this Content-Type may be
// read as JSON by someone: no Content-Type at all, or a text type.
func maybeJSON(h http.Header) bool {
	vs := h["Content-Type"]
	if len(vs) == 0 {
		return true
	}
	mt, _, _ := strings.Cut(vs[0], ";")
	mt = strings.TrimSpace(mt)
	return mt == "" || len(mt) >= 5 && strings.EqualFold(mt[:5], "text/")
}

// startsJSON reports whether b starts (after whitespace) like a JSON object
// or array.
func startsJSON(b []byte) bool {
	i := skipWS(b, 0)
	return i < len(b) && (b[i] == '{' || b[i] == '[')
}

// isJSON reports whether the request's Content-Type is a JSON media type:
// application/json, text/json, or any type with the "+json" suffix
// (application/problem+json, application/vnd.api+json). Parameters and case
// are ignored. It does not allocate.
func isJSON(h http.Header) bool {
	vs := h["Content-Type"]
	if len(vs) == 0 {
		return false
	}
	mt, _, _ := strings.Cut(vs[0], ";")
	mt = strings.TrimSpace(mt)
	if strings.EqualFold(mt, "application/json") || strings.EqualFold(mt, "text/json") {
		return true
	}
	return len(mt) > 5 && strings.EqualFold(mt[len(mt)-5:], "+json") && strings.IndexByte(mt, '/') > 0
}
