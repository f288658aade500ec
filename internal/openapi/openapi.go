// Package openapi is the OpenAPI 3.0/3.1 model shared by the gateway (route
// matching, validation, authorization) and the scanner (planning requests).
//
// A Spec is loaded, resolved and compiled once (Load or Parse):
// github.com/pb33f/libopenapi parses the documents, checks the version and
// follows every `$ref` (within the file and across files relative to it);
// every schema is compiled into a validator once (santhosh-tekuri/jsonschema),
// and the paths are compiled into a segment tree for Match. After that a Spec is read-only and
// safe for concurrent use; nothing is compiled per request.
package openapi

import (
	"sort"
)

// Spec is a compiled OpenAPI description.
type Spec struct {
	// File is the absolute path the description was loaded from ("" when it
	// was parsed from memory).
	File string
	// Version is the document's `openapi` field ("3.0.3", "3.1.0").
	Version string
	// Title and APIVersion are the document's info.title and info.version.
	Title, APIVersion string
	// Servers are the document's top-level servers, in order.
	Servers []Server
	// Security is the top-level security requirement (operations without
	// their own `security` inherit it). Nil or empty means none.
	Security []SecurityRequirement
	// SecuritySchemes are components.securitySchemes by name.
	SecuritySchemes map[string]*SecurityScheme

	ops   []*Operation
	byID  map[string]*Operation
	tree  *node
	bases []string // server base paths, longest first; "" matches everything
	strip string   // prefix removed before matching (see WithStrippedPrefix)
}

// Server is one entry of `servers`.
type Server struct {
	// URL is the server URL with variables replaced by their defaults.
	URL string
	// Description is the server's description.
	Description string
	// BasePath is the path part of URL without a trailing slash ("/v1"; ""
	// for "/" or a URL without a path). Match strips it.
	BasePath string
}

// Operation is one method on one path.
type Operation struct {
	// Method is the upper-case HTTP method ("GET").
	Method string
	// Path is the path template as written in the description
	// ("/pets/{id}"), without any server base path.
	Path string
	// ID is the operationId ("" when the description gives none).
	ID string
	// Tags, Summary, Description and Deprecated are copied from the
	// description.
	Tags        []string
	Summary     string
	Description string
	Deprecated  bool
	// Parameters are the path item's and the operation's parameters merged
	// (the operation's win on the same name and location), in document
	// order.
	Parameters []*Parameter
	// RequestBody is nil when the operation declares none.
	RequestBody *RequestBody
	// Responses maps a status code ("200", "4XX") or "default" to the
	// response.
	Responses map[string]*Response
	// Security lists alternative requirement sets: any one satisfied is
	// enough. It is the operation's own `security` or, when it has none,
	// the top-level one. Empty means the operation is public.
	Security []SecurityRequirement
	// Extensions holds the operation's x- fields.
	Extensions map[string]any

	key string // Key, computed once
}

// Key is the operation as "METHOD /template" ("GET /pets/{id}"), the form
// the gateway writes into the exchange and logs.
func (o *Operation) Key() string {
	if o.key != "" {
		return o.key
	}
	return o.Method + " " + o.Path
}

// Public reports whether the operation requires no authentication: it has
// no security requirement, or one requirement set is empty (`{}`).
func (o *Operation) Public() bool {
	if len(o.Security) == 0 {
		return true
	}
	for _, r := range o.Security {
		if len(r) == 0 {
			return true
		}
	}
	return false
}

// Parameter returns the parameter with this name and location (in:
// "query", "path", "header", "cookie"; header names compare case
// insensitively), or nil.
func (o *Operation) Parameter(name, in string) *Parameter {
	for _, p := range o.Parameters {
		if p.In != in {
			continue
		}
		if p.Name == name || in == "header" && equalFold(p.Name, name) {
			return p
		}
	}
	return nil
}

// Parameter is one operation parameter.
type Parameter struct {
	// Name is the parameter name as declared.
	Name string
	// In is "query", "path", "header" or "cookie".
	In string
	// Required is true for path parameters and where declared.
	Required bool
	// Deprecated and AllowEmptyValue are copied from the description.
	Deprecated      bool
	AllowEmptyValue bool
	// Style is the serialisation style with the default for In applied
	// ("form" for query and cookie, "simple" for path and header).
	Style string
	// Explode is the explode flag with the default applied (true for
	// style form, false otherwise).
	Explode bool
	// Schema is the parameter's schema (from `schema`, or from the first
	// media type of `content`). Nil when it declares neither.
	Schema *Schema
	// ContentType is the media type when the parameter uses `content`
	// instead of `schema` ("application/json"); "" otherwise.
	ContentType string
	// Example is the parameter's `example`, or its schema's example or
	// default, or nil.
	Example any
	// Examples are the values of the parameter's `examples` by name.
	Examples map[string]any
}

// RequestBody is an operation's request body.
type RequestBody struct {
	// Required is the body's `required` flag.
	Required bool
	// Content maps a media type ("application/json", "multipart/form-data",
	// "image/*") to what the body may hold in that type.
	Content map[string]*MediaType
}

// MediaType is the schema and examples of one content type.
type MediaType struct {
	// Schema is nil when the media type declares none (anything goes).
	Schema *Schema
	// Example is the media type's `example`, or the first of `examples`,
	// or the schema's example, or nil.
	Example any
	// Examples are the values of `examples` by name.
	Examples map[string]any
}

// Response is one declared response.
type Response struct {
	// Description is the response's description.
	Description string
	// Content maps a media type to the response schema.
	Content map[string]*MediaType
	// Headers maps a header name to its schema (nil schema when none).
	Headers map[string]*Schema
	// Links are the response's links by name.
	Links map[string]*Link
}

// Link is an OpenAPI link: how a value of this response feeds another
// operation (the scanner follows them to chain requests).
type Link struct {
	// OperationID names the target operation ("" when OperationRef is used).
	OperationID string
	// OperationRef is a reference to the target operation.
	OperationRef string
	// Parameters maps a target parameter name to a value or runtime
	// expression ("$response.body#/id").
	Parameters map[string]any
	// RequestBody is a value or runtime expression for the target's body.
	RequestBody any
	// Description is the link's description.
	Description string
}

// SecurityRequirement maps a security scheme name to the scopes required
// (empty for schemes without scopes). All schemes of one requirement must be
// satisfied together.
type SecurityRequirement map[string][]string

// SecurityScheme is one entry of components.securitySchemes.
type SecurityScheme struct {
	// Type is "apiKey", "http", "oauth2", "openIdConnect" or "mutualTLS".
	Type string
	// Description is the scheme's description.
	Description string
	// Name and In locate an apiKey ("X-Api-Key", "header"|"query"|"cookie").
	Name, In string
	// Scheme is the HTTP auth scheme for type http ("bearer", "basic"),
	// lower case.
	Scheme string
	// BearerFormat is a hint such as "JWT".
	BearerFormat string
	// OpenIDConnectURL is the discovery URL for type openIdConnect.
	OpenIDConnectURL string
	// Flows are the OAuth2 flows by name ("clientCredentials",
	// "authorizationCode", "implicit", "password").
	Flows map[string]*OAuthFlow
}

// OAuthFlow is one OAuth2 flow.
type OAuthFlow struct {
	AuthorizationURL string
	TokenURL         string
	RefreshURL       string
	// Scopes maps a scope to its description.
	Scopes map[string]string
}

// Operations returns every operation, ordered by path template and then by
// method in the order GET, PUT, POST, DELETE, OPTIONS, HEAD, PATCH, TRACE.
// The slice is shared; do not modify it.
func (s *Spec) Operations() []*Operation { return s.ops }

// OperationByID returns the operation with this operationId, or nil.
func (s *Spec) OperationByID(id string) *Operation { return s.byID[id] }

// WithStrippedPrefix returns a copy of s whose Match first removes prefix
// from the path, on a segment boundary: the gateway uses it when an API's
// path_prefix is stripped before proxying, so that the description is
// matched against the path the upstream sees. "" or "/" strips nothing.
func (s *Spec) WithStrippedPrefix(prefix string) *Spec {
	c := *s
	c.strip = trimSlash(prefix)
	return &c
}

func sortOperations(ops []*Operation) {
	rank := func(m string) int {
		for i, x := range Methods {
			if x == m {
				return i
			}
		}
		return len(Methods)
	}
	sort.SliceStable(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return rank(ops[i].Method) < rank(ops[j].Method)
	})
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}
