package limits

import (
	"strings"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/units"
)

// Config is the `limits` block, globally and per API: caps on the size and
// shape of requests (URL, query, headers, body, JSON). The global block holds
// every API's defaults; an API's block overrides them field by field.
//
// Every field follows the same rule: in an API block, zero inherits the
// global value; globally, zero means the default given on the field; a
// negative value (write -1) switches that limit off. Limits exist because an
// upstream that parses whatever it is sent can be made to spend memory and
// CPU out of all proportion to the request; the why of each limit is on its
// field.
type Config struct {
	// MaxHeaderBytes caps the total size, in bytes, of request header names
	// and values (the Host included); larger headers get 431. Default 32KiB;
	// at most 16MiB. (The listener's server.max_header_bytes caps what the
	// HTTP parser reads at all; this limit can be tighter per API.)
	MaxHeaderBytes units.Bytes `yaml:"max_header_bytes,omitempty" json:"max_header_bytes,omitempty"`
	// MaxHeaderValueBytes caps the size, in bytes, of any one request header
	// line (name and value; each Cookie line on its own); a larger one gets
	// 431. No API needs a header of tens of kilobytes, and every byte of a
	// header is text the waf stage must read: refusing it here keeps a 30 KB
	// header of "{{" or "&lt;" from ever reaching the detectors. Default
	// 8KiB (nginx's large_client_header_buffers line size); at most 1MiB.
	MaxHeaderValueBytes units.Bytes `yaml:"max_header_value_bytes,omitempty" json:"max_header_value_bytes,omitempty"`
	// MaxURLLength caps the request target (path and query, as sent) in
	// bytes; longer targets get 414. Default 8192; at most 1MiB.
	MaxURLLength int `yaml:"max_url_length,omitempty" json:"max_url_length,omitempty"`
	// MaxQueryParams caps the number of query parameters (non-empty
	// "&"-separated items); more get 400. Default 100; at most 100000.
	MaxQueryParams int `yaml:"max_query_params,omitempty" json:"max_query_params,omitempty"`
	// MaxBodyBytes caps the request body in bytes; larger bodies get 413.
	// A declared Content-Length is checked without reading; a body without
	// one (chunked) is read into memory up to this size, so the limit is
	// also the memory one request may pin. Default 1MiB; at most 1GiB (use
	// -1 for unlimited, streamed bodies).
	MaxBodyBytes units.Bytes `yaml:"max_body_bytes,omitempty" json:"max_body_bytes,omitempty"`
	// MaxJSONDepth caps the nesting depth of a JSON body ("[[1]]" has depth
	// 2); deeper bodies get 400. Recursive parsers upstream can exhaust
	// their stack on deep nesting. Default 32; at most 10000.
	MaxJSONDepth int `yaml:"max_json_depth,omitempty" json:"max_json_depth,omitempty"`
	// MaxJSONElements caps the number of values (scalars, arrays, objects;
	// object keys are not counted) in a JSON body; more get 400. Default
	// 10000; at most 100000000.
	MaxJSONElements int `yaml:"max_json_elements,omitempty" json:"max_json_elements,omitempty"`
	// DuplicateKeys is what happens to a JSON body in which one object has
	// the same key twice (after unescaping: "owner" and "own\u0065r" are the
	// same key) or two keys equal but for case ("owner", "OWNER"):
	// "refuse" (default) answers 400 with the pointer of the second key;
	// "reencode" forwards the body re-encoded from what the gateway checked
	// (the last value of each key, in its first position, so every stage and
	// the upstream read the same document) and still refuses keys equal but
	// for case, which no re-encoding makes unambiguous. Parsers disagree on
	// duplicates: Go, Python and JavaScript keep the last value, gjson,
	// jsonparser and several frameworks the first, and Go's encoding/json
	// matches struct fields without case; a body checked on one reading and
	// acted on in another is a bypass of every check on it.
	DuplicateKeys string `yaml:"duplicate_keys,omitempty" json:"duplicate_keys,omitempty"`
	// UnderscoreHeaders is what happens to a request header whose name has
	// a character other than a letter, a digit or '-' ("X_Tenant",
	// "x.tenant"): "drop" (default, as nginx does) removes it, "refuse"
	// answers 400, "allow" forwards it. WSGI, CGI, PHP and Apache turn '-'
	// into '_' to name headers, so "X_Tenant" and "X-Tenant" become one
	// header there while the gateway checked them as two. A name that
	// spells a header the gateway owns (X-Principal_Id, X_Forwarded_For,
	// X_Real_IP) is refused whatever this says: it is an identity spoof.
	// A name the API declares (a header parameter or apiKey scheme of its
	// OpenAPI description, or a header an authn method names, like
	// Petstore's "api_key") is forwarded whatever this says, and refused
	// (400) when the request also carries another spelling of it.
	UnderscoreHeaders string `yaml:"underscore_headers,omitempty" json:"underscore_headers,omitempty"`
	// MethodOverride is what happens to a request that asks for another
	// method than its own (X-HTTP-Method-Override, X-HTTP-Method,
	// X-Method-Override headers, or a _method query or form parameter, as
	// Rails, Laravel, Symfony and Express's method-override read them):
	// "refuse" (default) answers 400, "allow" forwards it. The gateway
	// authorises, rate-limits and validates the method it sees; a framework
	// honouring an override acts on another one.
	MethodOverride string `yaml:"method_override,omitempty" json:"method_override,omitempty"`
	// URLOverride is what happens to a request carrying X-Original-URL,
	// X-Rewrite-URL, X-Original-URI or X-Override-URL, which IIS, Symfony
	// and some Zend and Drupal set-ups take as the path to serve: "refuse"
	// (default) answers 400, "allow" forwards them. Path rules at the
	// gateway see one path; such an upstream serves another.
	URLOverride string `yaml:"url_override,omitempty" json:"url_override,omitempty"`
}

// Default values of the limits (see each Config field).
const (
	DefaultMaxHeaderBytes  = 32 << 10
	DefaultMaxHeaderValue  = 8 << 10
	DefaultMaxURLLength    = 8192
	DefaultMaxQueryParams  = 100
	DefaultMaxBodyBytes    = 1 << 20
	DefaultMaxJSONDepth    = 32
	DefaultMaxJSONElements = 10000
)

// Upper bounds accepted by Validate: values above them are typos or would
// defeat the purpose of the limit.
const (
	maxMaxHeaderBytes  = 16 << 20
	maxMaxHeaderValue  = 1 << 20
	maxMaxURLLength    = 1 << 20
	maxMaxQueryParams  = 100000
	maxMaxBodyBytes    = 1 << 30
	maxMaxJSONDepth    = 10000
	maxMaxJSONElements = 100000000
)

// Defaults returns the default limits, every field set.
func Defaults() Config {
	return Config{
		MaxHeaderBytes:      DefaultMaxHeaderBytes,
		MaxHeaderValueBytes: DefaultMaxHeaderValue,
		MaxURLLength:        DefaultMaxURLLength,
		MaxQueryParams:      DefaultMaxQueryParams,
		MaxBodyBytes:        DefaultMaxBodyBytes,
		MaxJSONDepth:        DefaultMaxJSONDepth,
		MaxJSONElements:     DefaultMaxJSONElements,
		DuplicateKeys:       "refuse",
		// UnderscoreHeaders: "drop", MethodOverride and URLOverride:
		// "refuse" (see the fields).
		UnderscoreHeaders: "drop",
		MethodOverride:    "refuse",
		URLOverride:       "refuse",
	}
}

// Merge returns the effective limits of an API: each non-zero field of api
// (nil means no API block) wins over global, and a field still zero takes
// its default. Negative fields (off) are kept as they are.
func Merge(global Config, api *Config) Config {
	out := global
	if api != nil {
		pick(&out.MaxHeaderBytes, api.MaxHeaderBytes)
		pick(&out.MaxHeaderValueBytes, api.MaxHeaderValueBytes)
		pick(&out.MaxURLLength, api.MaxURLLength)
		pick(&out.MaxQueryParams, api.MaxQueryParams)
		pick(&out.MaxBodyBytes, api.MaxBodyBytes)
		pick(&out.MaxJSONDepth, api.MaxJSONDepth)
		pick(&out.MaxJSONElements, api.MaxJSONElements)
		pickString(&out.DuplicateKeys, api.DuplicateKeys)
		pickString(&out.UnderscoreHeaders, api.UnderscoreHeaders)
		pickString(&out.MethodOverride, api.MethodOverride)
		pickString(&out.URLOverride, api.URLOverride)
	}
	d := Defaults()
	pick(&d.MaxHeaderBytes, out.MaxHeaderBytes)
	pick(&d.MaxHeaderValueBytes, out.MaxHeaderValueBytes)
	pick(&d.MaxURLLength, out.MaxURLLength)
	pick(&d.MaxQueryParams, out.MaxQueryParams)
	pick(&d.MaxBodyBytes, out.MaxBodyBytes)
	pick(&d.MaxJSONDepth, out.MaxJSONDepth)
	pick(&d.MaxJSONElements, out.MaxJSONElements)
	pickString(&d.DuplicateKeys, out.DuplicateKeys)
	pickString(&d.UnderscoreHeaders, out.UnderscoreHeaders)
	pickString(&d.MethodOverride, out.MethodOverride)
	pickString(&d.URLOverride, out.URLOverride)
	return d
}

func pickString(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// pick sets *dst to v when v is not zero.
func pick[T ~int | ~int64](dst *T, v T) {
	if v != 0 {
		*dst = v
	}
}

// Validate reports fields above their upper bound, with paths relative to
// the block ("max_json_depth"). Zero (default) and negative (off) values
// are always valid.
func (c Config) Validate() field.List {
	var errs field.List
	check := func(path string, v, limit int64, unit string) {
		if v > limit {
			errs = append(errs, field.Errorf(path, "%d%s is above the maximum of %d%s (use -1 to switch the limit off)", v, unit, limit, unit))
		}
	}
	check("max_header_bytes", int64(c.MaxHeaderBytes), maxMaxHeaderBytes, " bytes")
	check("max_header_value_bytes", int64(c.MaxHeaderValueBytes), maxMaxHeaderValue, " bytes")
	check("max_url_length", int64(c.MaxURLLength), maxMaxURLLength, " bytes")
	check("max_query_params", int64(c.MaxQueryParams), maxMaxQueryParams, "")
	check("max_body_bytes", int64(c.MaxBodyBytes), maxMaxBodyBytes, " bytes")
	check("max_json_depth", int64(c.MaxJSONDepth), maxMaxJSONDepth, "")
	check("max_json_elements", int64(c.MaxJSONElements), maxMaxJSONElements, "")
	oneOf := func(path, v string, allowed ...string) {
		if v == "" {
			return
		}
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		errs = append(errs, field.Errorf(path, "%q: expected one of %s", v, strings.Join(allowed, ", ")))
	}
	oneOf("duplicate_keys", c.DuplicateKeys, "refuse", "reencode")
	oneOf("underscore_headers", c.UnderscoreHeaders, "drop", "refuse", "allow")
	oneOf("method_override", c.MethodOverride, "refuse", "allow")
	oneOf("url_override", c.URLOverride, "refuse", "allow")
	return errs
}
