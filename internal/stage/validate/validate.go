package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/urlquery"
)

// ID is the stage id: the config key, log field, metric label and event
// stage.
const ID = "validate"

// Rule ids, one per kind of problem (metric labels and event rules).
const (
	RulePath         = "validate.path"          // 404: undeclared path
	RuleMethod       = "validate.method"        // 405: undeclared method
	RuleParam        = "validate.parameter"     // a path, query, header or cookie parameter
	RuleUnknownQuery = "validate.unknown-query" // an undeclared query parameter
	RuleBody         = "validate.body"          // the body does not match its schema
	RuleContentType  = "validate.content-type"  // 415
	RuleMalformed    = "validate.malformed"     // body is not JSON / form / multipart / UTF-8
	RuleReadOnly     = "validate.read-only"     // a readOnly property was sent
	RuleExtra        = "validate.extra-property"
	RuleResponse     = "validate.response"
)

// maxResponseBytes bounds response validation: larger responses pass
// unchecked rather than being buffered.
const maxResponseBytes = 1 << 20

// maxParts bounds the number of multipart parts read.
const maxParts = 1000

// Stage enforces an OpenAPI description on requests (and, optionally,
// responses).
type Stage struct {
	spec      *openapi.Spec
	block     bool
	unknownQ  bool
	strict    bool
	responses bool
	maxErrors int
	// declared caches each operation's query parameter names
	// (*openapi.Operation to map[string]bool, read-only once stored): the
	// description does not change while the stage lives.
	declared sync.Map
}

// declaredQuery returns the names of op's query parameters.
func (s *Stage) declaredQuery(op *openapi.Operation) map[string]bool {
	if v, ok := s.declared.Load(op); ok {
		return v.(map[string]bool)
	}
	names := map[string]bool{}
	for _, prm := range op.Parameters {
		if prm.In == "query" {
			names[prm.Name] = true
		}
	}
	v, _ := s.declared.LoadOrStore(op, names)
	return v.(map[string]bool)
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
)

// Module registers the stage: the API's validate block, which needs the
// API's description.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "validate",
	New: func(b *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		if b.Spec == nil {
			return nil, errors.New("apis[].validate requires apis[].openapi (the API's OpenAPI description)")
		}
		return New(*c, b.Spec)
	}}

// New builds the stage for a compiled description. spec must not be nil.
func New(cfg Config, spec *openapi.Spec) (*Stage, error) {
	if spec == nil {
		return nil, errors.New("validate requires the API's openapi description")
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	s := &Stage{spec: spec, block: cfg.Mode != "log", unknownQ: cfg.RejectUnknownQuery,
		strict: cfg.StrictObjects, responses: cfg.ValidateResponses, maxErrors: cfg.MaxErrors}
	if s.maxErrors == 0 {
		s.maxErrors = 10
	}
	return s, nil
}

// ID returns "validate".
func (s *Stage) ID() string { return ID }

// problems collects field errors and the rules they fall under.
type problems struct {
	max    int
	errs   []pipeline.FieldError
	rules  []string
	status int
}

func (p *problems) add(rule, ptr, reason string) {
	if !contains(p.rules, rule) {
		p.rules = append(p.rules, rule)
	}
	if len(p.errs) < p.max {
		p.errs = append(p.errs, pipeline.FieldError{Pointer: ptr, Reason: reason})
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// errUnmatched is returned for an exchange the gateway did not match: a
// wiring bug, which must not pass as valid.
var errUnmatched = errors.New("validate: the exchange was not matched against the description")

// Request checks the exchange against the operation the gateway's matcher
// found (Exchange.Match; the matcher is the API's description).
func (s *Stage) Request(ctx context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	res := x.Match
	switch res.Status {
	case openapi.Unmatched:
		return nil, errUnmatched
	case openapi.PathNotFound:
		return s.verdict(x, &pipeline.Denial{Status: http.StatusNotFound, Reason: "the API does not declare this path",
			Rules: []string{RulePath}, Location: "path", Severity: events.SeverityLow}), nil
	case openapi.MethodNotAllowed:
		h := http.Header{}
		h.Set("Allow", strings.Join(res.Allow, ", "))
		return s.verdict(x, &pipeline.Denial{Status: http.StatusMethodNotAllowed, Reason: "the API does not declare this method for this path",
			Rules: []string{RuleMethod}, Location: "method", Headers: h, Severity: events.SeverityLow}), nil
	}
	op := res.Operation
	p := &problems{max: s.maxErrors, status: http.StatusBadRequest}
	var typed []string
	r := x.Request

	// Query string: parsed strictly; a malformed one is refused.
	query, qerr := urlquery.Parse(r.URL.RawQuery)
	if qerr != nil {
		p.add(RuleParam, "/query", "is not a valid query string")
	}
	declaredQ := s.declaredQuery(op)
	for _, prm := range op.Parameters {
		var raw []string
		var present bool
		switch prm.In {
		case "path":
			v, ok := res.Params[prm.Name]
			if ok {
				raw, present = []string{v}, true
			}
		case "query":
			if prm.Style == "deepObject" {
				obj, ok := deepObject(query, prm)
				if ok {
					s.checkValue(p, &typed, prm, obj, "query")
				} else if prm.Required {
					p.add(RuleParam, "/query/"+safeToken(prm.Name), "is required")
				}
				continue
			}
			raw, present = query[prm.Name]
		case "header":
			switch strings.ToLower(prm.Name) {
			case "accept", "content-type", "authorization":
				continue // OpenAPI: described elsewhere, ignored here
			}
			if vs := r.Header.Values(prm.Name); len(vs) > 0 {
				raw, present = []string{strings.Join(vs, ",")}, true
			}
		case "cookie":
			if c, err := r.Cookie(prm.Name); err == nil {
				raw, present = []string{c.Value}, true
			}
		}
		if !present {
			if prm.Required {
				p.add(RuleParam, "/"+prm.In+"/"+safeToken(prm.Name), "is required")
			}
			continue
		}
		if prm.In == "query" && len(raw) == 1 && raw[0] == "" && prm.AllowEmptyValue {
			continue
		}
		s.checkValue(p, &typed, prm, prm.Decode(raw), prm.In)
	}
	for _, k := range lookalikes(query, declaredQ) {
		p.add(RuleParam, "/query/"+safeToken(k), "spells a declared parameter another way (case, '.' or ' ')")
	}
	if s.unknownQ || op.Extensions["x-portcullis-reject-unknown-query"] == true {
		keys := make([]string, 0, len(query))
		for k := range query {
			if !declaredQ[k] && !declaredQ[deepBase(k)] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p.add(RuleUnknownQuery, "/query/"+safeToken(k), "is not a declared parameter")
		}
	}

	bodyTyped := s.checkBody(x, op, p)
	if len(p.errs) == 0 && len(p.rules) == 0 {
		for _, t := range typed {
			x.Proven.Add(t)
		}
		for _, t := range bodyTyped {
			x.Proven.Add(t)
		}
		return nil, nil
	}
	reason := "the request does not match the API description"
	switch p.status {
	case http.StatusUnsupportedMediaType:
		reason = "the operation does not accept this content type"
	case http.StatusRequestEntityTooLarge:
		reason = "the request body is too large"
	}
	d := &pipeline.Denial{Status: p.status, Reason: reason, Rules: p.rules, Errors: p.errs, Severity: events.SeverityMedium}
	if len(p.errs) > 0 {
		d.Location = location(p.errs[0].Pointer)
		parts := make([]string, 0, len(p.errs))
		for _, e := range p.errs {
			parts = append(parts, e.Pointer+" "+e.Reason)
		}
		d.Detail = strings.Join(parts, "; ")
	}
	return s.verdict(x, d), nil
}

// verdict returns d in block mode; in log mode it records d as a finding
// and lets the exchange continue.
func (s *Stage) verdict(x *pipeline.Exchange, d *pipeline.Denial) *pipeline.Denial {
	if s.block {
		return d
	}
	reason := d.Reason
	if d.Detail != "" {
		reason += ": " + d.Detail
	}
	x.AddFinding(pipeline.Finding{Stage: ID, Rules: d.Rules, Location: d.Location, Reason: clip(reason, 512),
		Mode: "detect", Severity: d.Severity})
	return nil
}

func (s *Stage) checkValue(p *problems, typed *[]string, prm *openapi.Parameter, v any, in string) {
	if prm.Schema == nil {
		return
	}
	errs := prm.Schema.Validate(v, p.max)
	if len(errs) > 0 {
		base := "/" + in + "/" + safeToken(prm.Name)
		for _, e := range errs {
			p.add(RuleParam, base+safePointer(e.Pointer), e.Reason)
		}
	}
	if len(errs) == 0 && prm.Schema.Typed() {
		name := prm.Name
		if in == "header" {
			name = strings.ToLower(name)
		}
		*typed = append(*typed, in+":"+name)
	}
}

// deepObject gathers name[key]=value query parameters into an object.
func deepObject(q url.Values, prm *openapi.Parameter) (map[string]any, bool) {
	var obj map[string]any
	var raw map[string]any
	if prm.Schema != nil {
		raw = prm.Schema.Raw
	}
	for k, vs := range q {
		if deepBase(k) != prm.Name || len(k) <= len(prm.Name)+2 {
			continue
		}
		key := k[len(prm.Name)+1 : len(k)-1]
		if obj == nil {
			obj = map[string]any{}
		}
		sub, _ := openapi.PropertySchema(raw, key)
		if len(vs) == 1 {
			obj[key] = openapi.Coerce(vs[0], sub)
		} else {
			arr := make([]any, len(vs))
			for i, v := range vs {
				arr[i] = openapi.Coerce(v, openapi.ItemsSchema(sub))
			}
			obj[key] = arr
		}
	}
	return obj, obj != nil
}

// deepBase returns "filter" for "filter[name]", or "" when k has no
// bracket.
func deepBase(k string) string {
	i := strings.IndexByte(k, '[')
	if i <= 0 || !strings.HasSuffix(k, "]") {
		return ""
	}
	return k[:i]
}

// checkBody validates the request body; it returns the body locations
// proven by type when the body is valid.
func (s *Stage) checkBody(x *pipeline.Exchange, op *openapi.Operation, p *problems) []string {
	r := x.Request
	body, err := x.Body()
	if err != nil {
		if errors.Is(err, pipeline.ErrBodyTooLarge) {
			p.status = http.StatusRequestEntityTooLarge
			p.add(RuleBody, "/body", "is larger than the limit")
		} else {
			p.add(RuleMalformed, "/body", "could not be read")
		}
		return nil
	}
	if op.RequestBody == nil {
		if len(body) > 0 {
			p.add(RuleBody, "/body", "is not allowed: the operation declares no request body")
		}
		return nil
	}
	if len(body) == 0 {
		if op.RequestBody.Required {
			p.add(RuleBody, "/body", "is required")
		}
		return nil
	}
	ctype := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		p.status = http.StatusUnsupportedMediaType
		p.add(RuleContentType, "/header/content-type", "is missing or malformed")
		return nil
	}
	media := mediaFor(op.RequestBody.Content, mt)
	if media == nil {
		p.status = http.StatusUnsupportedMediaType
		accepted := make([]string, 0, len(op.RequestBody.Content))
		for k := range op.RequestBody.Content {
			accepted = append(accepted, k)
		}
		sort.Strings(accepted)
		p.add(RuleContentType, "/header/content-type", "must be one of "+clip(strings.Join(accepted, ", "), 150))
		return nil
	}
	var v any
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if !utf8.Valid(body) {
			p.add(RuleMalformed, "/body", "is not valid UTF-8")
			return nil
		}
		var err error
		if v, err = decodeJSON(body); err != nil {
			msg := "is not valid JSON"
			if err == errTrailing {
				msg += " (data after the value)"
			}
			p.add(RuleMalformed, "/body", msg)
			return nil
		}
	case mt == "application/x-www-form-urlencoded":
		if !utf8.Valid(body) {
			p.add(RuleMalformed, "/body", "is not valid UTF-8")
			return nil
		}
		vals, err := urlquery.Parse(string(body))
		if err != nil {
			p.add(RuleMalformed, "/body", "is not a valid form")
			return nil
		}
		v = formObject(vals, nil, media)
	case strings.HasPrefix(mt, "multipart/"):
		obj, ok := multipartObject(body, params["boundary"], media)
		if !ok {
			p.add(RuleMalformed, "/body", "is not valid multipart content")
			return nil
		}
		v = obj
	default:
		return nil // accepted type without a structure we can check
	}
	if media.Schema == nil {
		return nil
	}
	before := len(p.rules)
	for _, e := range media.Schema.Validate(v, p.max) {
		rule := RuleBody
		if e.Reason == "is not an allowed property" {
			rule = RuleExtra
		}
		p.add(rule, "/body"+safePointer(e.Pointer), e.Reason)
	}
	var typed []string
	s.walk(p, media.Schema.Raw, v, "", 0, &typed)
	if len(p.rules) != before {
		return nil
	}
	return typed
}

// mediaFor picks the declared media type for a request content type:
// exact, then "type/*", then "*/*".
func mediaFor(content map[string]*openapi.MediaType, mt string) *openapi.MediaType {
	if m, ok := content[mt]; ok {
		return m
	}
	if i := strings.IndexByte(mt, '/'); i > 0 {
		if m, ok := content[mt[:i]+"/*"]; ok {
			return m
		}
	}
	return content["*/*"]
}

// formObject turns form fields into an object typed by the body schema.
func formObject(vals url.Values, files map[string]bool, media *openapi.MediaType) map[string]any {
	var raw map[string]any
	if media.Schema != nil {
		raw = media.Schema.Raw
	}
	obj := make(map[string]any, len(vals))
	for k, vs := range vals {
		sub, _ := openapi.PropertySchema(raw, k)
		isArray := false
		for _, t := range openapi.SchemaTypes(sub) {
			if t == "array" {
				isArray = true
			}
		}
		switch {
		case isArray:
			items := openapi.ItemsSchema(sub)
			arr := make([]any, len(vs))
			for i, s := range vs {
				arr[i] = openapi.Coerce(s, items)
			}
			obj[k] = arr
		case len(vs) == 1:
			if files[k] {
				obj[k] = vs[0]
			} else {
				obj[k] = openapi.Coerce(vs[0], sub)
			}
		default:
			arr := make([]any, len(vs))
			for i, s := range vs {
				arr[i] = s
			}
			obj[k] = arr
		}
	}
	return obj
}

// multipartObject reads every part of a multipart body into an object.
// Truncated or malformed bodies, too many parts and non-UTF-8 field values
// are refused.
func multipartObject(body []byte, boundary string, media *openapi.MediaType) (map[string]any, bool) {
	if boundary == "" {
		return nil, false
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	vals := url.Values{}
	files := map[string]bool{}
	for n := 0; ; n++ {
		if n >= maxParts {
			return nil, false
		}
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, false
		}
		name := part.FormName()
		if name == "" {
			continue
		}
		if part.FileName() != "" {
			files[name] = true
		} else if !utf8.Valid(data) {
			return nil, false
		}
		vals[name] = append(vals[name], string(data))
	}
	return formObject(vals, files, media), true
}

// walk checks what JSON Schema cannot say per request: readOnly properties
// sent by the client, and (strict objects) undeclared properties where the
// description is silent. It collects the locations of leaves proven by
// their type.
func (s *Stage) walk(p *problems, raw map[string]any, v any, ptr string, depth int, typed *[]string) {
	if raw == nil || depth > 64 {
		return
	}
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		object := false
		if s.strict && !openapi.ClosedObject(raw) {
			for _, ty := range openapi.SchemaTypes(raw) {
				if ty == "object" {
					object = true
				}
			}
		}
		for _, k := range keys {
			sub, declared := openapi.PropertySchema(raw, k)
			kp := ptr + "/" + escape(k)
			if declared && openapi.ReadOnly(sub) {
				p.add(RuleReadOnly, "/body"+safePointer(kp), "is read-only and must not be sent")
				continue
			}
			if !declared && sub == nil && object {
				p.add(RuleExtra, "/body"+safePointer(kp), "is not an allowed property")
				continue
			}
			s.walk(p, sub, t[k], kp, depth+1, typed)
		}
	case []any:
		items := openapi.ItemsSchema(raw)
		for i, e := range t {
			s.walk(p, items, e, ptr+"/"+strconv.Itoa(i), depth+1, typed)
		}
	default:
		if openapi.TypedSchema(raw) {
			*typed = append(*typed, "body:"+ptr)
		}
	}
}

func escape(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
}

// safeToken returns a parameter or property name for a pointer, or "*"
// when the name is long or holds characters that should not be reflected
// to the client (the problem document never echoes request data beyond
// plain identifiers).
func safeToken(name string) string {
	if name == "" || len(name) > 64 {
		return "*"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '[' || c == ']' || c == '~') {
			return "*"
		}
	}
	return name
}

// safePointer applies safeToken to every token of a JSON pointer.
func safePointer(ptr string) string {
	if ptr == "" {
		return ""
	}
	toks := strings.Split(ptr[1:], "/")
	for i, t := range toks {
		toks[i] = safeToken(t)
	}
	return "/" + strings.Join(toks, "/")
}

// location turns a field pointer into an event location: "/query/limit" →
// "query:limit", "/body/items/0" → "body:/items/0".
func location(ptr string) string {
	parts := strings.SplitN(strings.TrimPrefix(ptr, "/"), "/", 2)
	switch parts[0] {
	case "body":
		if len(parts) == 1 {
			return "body"
		}
		return "body:/" + parts[1]
	case "query", "path", "header", "cookie":
		if len(parts) == 1 {
			return parts[0]
		}
		return parts[0] + ":" + parts[1]
	}
	return ptr
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// Response checks a JSON response against the declared response schema when
// validate_responses is on.
func (s *Stage) Response(ctx context.Context, x *pipeline.Exchange, resp *http.Response) (*pipeline.Denial, error) {
	if !s.responses {
		return nil, nil
	}
	res := x.Match
	if res.Status != openapi.Found {
		return nil, nil
	}
	op := res.Operation
	code := strconv.Itoa(resp.StatusCode)
	rd := op.Responses[code]
	if rd == nil {
		rd = op.Responses[code[:1]+"XX"]
	}
	if rd == nil {
		rd = op.Responses["default"]
	}
	if rd == nil {
		return s.verdict(x, &pipeline.Denial{Status: http.StatusBadGateway, Reason: "the upstream response does not match the API description",
			Rules: []string{RuleResponse}, Location: "response", Detail: fmt.Sprintf("undeclared status %d", resp.StatusCode)}), nil
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil, nil
	}
	media := mediaFor(rd.Content, mt)
	if media == nil || media.Schema == nil || resp.Body == nil || resp.ContentLength > maxResponseBytes {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the upstream response: %w", err)
	}
	if len(data) > maxResponseBytes {
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), resp.Body))
		return nil, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	var errs []openapi.ValidationError
	if err := dec.Decode(&v); err != nil {
		errs = []openapi.ValidationError{{Reason: "is not valid JSON"}}
	} else {
		errs = media.Schema.Validate(v, s.maxErrors)
	}
	if len(errs) == 0 {
		return nil, nil
	}
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		parts = append(parts, "/response"+e.Pointer+" "+e.Reason)
	}
	return s.verdict(x, &pipeline.Denial{Status: http.StatusBadGateway, Reason: "the upstream response does not match the API description",
		Rules: []string{RuleResponse}, Location: "response", Detail: clip(strings.Join(parts, "; "), 1024), Severity: events.SeverityMedium}), nil
}
