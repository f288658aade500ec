package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/openapi"
)

// request is one request the scanner is about to send, built from an
// operation: every part can be replaced by a probe.
type request struct {
	op     *openapi.Operation
	method string
	path   map[string]string // path parameter values, unescaped
	query  []kv              // in order
	header http.Header
	// body is a JSON value (nil: no JSON body); raw, when set, is sent
	// instead with contentType.
	body        any
	raw         []byte
	contentType string
	// ident is the identity whose credentials go with it (0, 1), or -1.
	ident int
	// fresh are the body members of a creation that name the new object
	// (username, email, title…), with the value the plan gave them: each
	// send replaces a value still equal to it with a unique one, so that
	// no probe fails on "already exists" (a probe that put its own value
	// there keeps it).
	fresh map[string]string
}

type kv struct{ k, v string }

// clone returns a deep copy (the JSON body included) to mutate freely.
func (r *request) clone() *request {
	c := *r
	c.path = maps.Clone(r.path)
	c.query = slices.Clone(r.query)
	c.header = r.header.Clone()
	if c.header == nil {
		c.header = http.Header{}
	}
	c.body = deepCopy(r.body)
	c.fresh = maps.Clone(r.fresh)
	return &c
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// setQuery replaces (or adds) the query parameter name.
func (r *request) setQuery(name, value string) {
	for i := range r.query {
		if r.query[i].k == name {
			r.query[i].v = value
			return
		}
	}
	r.query = append(r.query, kv{name, value})
}

func (r *request) getQuery(name string) (string, bool) {
	for _, q := range r.query {
		if q.k == name {
			return q.v, true
		}
	}
	return "", false
}

// location is one place a value can be injected.
type location struct {
	in   string // "query", "path", "header", "body"
	name string // parameter name, or JSON pointer for body
	// schema is the value's raw schema (may be nil).
	schema map[string]any
}

func (l location) String() string {
	if l.in == "body" {
		return "body:" + l.name
	}
	return l.in + ":" + l.name
}

// get returns the current value at l as a string.
func (r *request) get(l location) string {
	switch l.in {
	case "query":
		v, _ := r.getQuery(l.name)
		return v
	case "path":
		return r.path[l.name]
	case "header":
		return r.header.Get(l.name)
	case "body":
		v, _ := pointerGet(r.body, l.name)
		switch x := v.(type) {
		case string:
			return x
		case nil:
			return ""
		default:
			b, _ := json.Marshal(x)
			return string(b)
		}
	}
	return ""
}

// set puts value (a string, or any JSON value for body locations) at l.
func (r *request) set(l location, value any) {
	s, isString := value.(string)
	if !isString {
		b, _ := json.Marshal(value)
		s = string(b)
	}
	switch l.in {
	case "query":
		r.setQuery(l.name, s)
	case "path":
		r.path[l.name] = s
	case "header":
		r.header.Set(l.name, s)
	case "body":
		r.body = pointerSet(r.body, l.name, value)
	}
}

// build turns the request into an *http.Request against base.
func (r *request) build(base *url.URL) (*http.Request, error) {
	p := r.op.Path
	for name, v := range r.path {
		p = strings.ReplaceAll(p, "{"+name+"}", url.PathEscape(v))
	}
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + p
	u.RawPath = ""
	if strings.Contains(p, "%") {
		u.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + p
		if dec, err := url.PathUnescape(u.RawPath); err == nil {
			u.Path = dec
		}
	}
	var q strings.Builder
	for i, e := range r.query {
		if i > 0 {
			q.WriteByte('&')
		}
		q.WriteString(url.QueryEscape(e.k))
		q.WriteByte('=')
		q.WriteString(url.QueryEscape(e.v))
	}
	u.RawQuery = q.String()
	body, ct, err := r.encodeBody()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(r.method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body == nil {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	for k, vs := range r.header {
		req.Header[k] = slices.Clone(vs)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "portcullis-scan")
	}
	return req, nil
}

// formType is the media type of form bodies.
const formType = "application/x-www-form-urlencoded"

// encodeBody returns the body as sent and its content type: raw as is, a
// JSON value as JSON, or as a form when contentType says so.
func (r *request) encodeBody() ([]byte, string, error) {
	ct := r.contentType
	switch {
	case r.raw != nil:
		return r.raw, ct, nil
	case r.body == nil:
		return nil, ct, nil
	case ct == formType:
		obj, _ := r.body.(map[string]any)
		v := url.Values{}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			switch x := obj[k].(type) {
			case []any:
				for _, e := range x {
					v.Add(k, scalarString(e))
				}
			case nil:
			default:
				v.Set(k, scalarString(x))
			}
		}
		return []byte(v.Encode()), ct, nil
	}
	body, err := json.Marshal(r.body)
	if err != nil {
		return nil, "", fmt.Errorf("encoding body: %w", err)
	}
	if ct == "" {
		ct = "application/json"
	}
	return body, ct, nil
}

// locations lists the places of r a probe can go: every query, path and
// declared header parameter, and every string-ish leaf of the JSON body.
func (r *request) locations() []location {
	var out []location
	for _, p := range r.op.Parameters {
		if p.In == "cookie" {
			continue
		}
		var sc map[string]any
		if p.Schema != nil {
			sc = p.Schema.Raw
		}
		if _, ok := r.path[p.Name]; p.In == "path" && !ok {
			continue
		}
		if _, ok := r.getQuery(p.Name); p.In == "query" && !ok {
			continue
		}
		out = append(out, location{in: p.In, name: p.Name, schema: sc})
	}
	if r.body != nil {
		var bodySchema map[string]any
		if r.op.RequestBody != nil {
			if mt := bodyMedia(r.op.RequestBody.Content); mt != nil && mt.Schema != nil {
				bodySchema = mt.Schema.Raw
			}
		}
		walkLeaves(r.body, bodySchema, "", 0, func(ptr string, v any, sc map[string]any) {
			out = append(out, location{in: "body", name: ptr, schema: sc})
		})
	}
	return out
}

// stringy reports whether a location holds free text (probes for
// injection go there; typed numbers are left alone).
func (l location) stringy() bool {
	t := openapi.SchemaTypes(l.schema)
	if t == nil {
		return true
	}
	if !slices.Contains(t, "string") {
		return false
	}
	if _, ok := l.schema["enum"]; ok {
		return false
	}
	switch f, _ := l.schema["format"].(string); f {
	case "date", "date-time", "uuid":
		return false
	}
	return true
}

func walkLeaves(v any, sc map[string]any, ptr string, depth int, f func(string, any, map[string]any)) {
	if depth > 8 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			sub, _ := openapi.PropertySchema(sc, k)
			walkLeaves(x[k], sub, ptr+"/"+escapePointer(k), depth+1, f)
		}
	case []any:
		if len(x) > 0 {
			walkLeaves(x[0], openapi.ItemsSchema(sc), ptr+"/0", depth+1, f)
		}
	default:
		f(ptr, v, sc)
	}
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func splitPointer(p string) []string {
	if p == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// unwrap returns the object a JSON value carries, and its JSON pointer in
// the value: an object itself (""), or the object inside envelopes
// ({"user": {…}} → "/user", {"data": {…}}), objects whose one member is an
// object, up to two deep. Many APIs wrap every body and answer so
// (RealWorld's {"article": …}, JSON:API's {"data": …}); their members
// are the inner object's.
func unwrap(v any) (map[string]any, string) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, ""
	}
	ptr := ""
	for range 2 {
		if len(obj) != 1 {
			break
		}
		var name string
		var inner map[string]any
		for k, e := range obj {
			name, inner = k, nil
			inner, _ = e.(map[string]any)
		}
		if inner == nil {
			break
		}
		obj, ptr = inner, ptr+"/"+escapePointer(name)
	}
	return obj, ptr
}

// objectOf is the object v carries (see unwrap), or nil.
func objectOf(v any) map[string]any {
	obj, _ := unwrap(v)
	return obj
}

// object returns the object of r's JSON body (see unwrap) and its JSON
// pointer in the body, or nil.
func (r *request) object() (map[string]any, string) { return unwrap(r.body) }

// schemaAt returns the schema of the member at ptr in a value of schema
// sc (nil when it does not say).
func schemaAt(sc map[string]any, ptr string) map[string]any {
	for _, t := range splitPointer(ptr) {
		sc, _ = openapi.PropertySchema(sc, t)
	}
	return sc
}

// pointerGet resolves a JSON pointer in a decoded JSON value.
func pointerGet(v any, ptr string) (any, bool) {
	for _, t := range splitPointer(ptr) {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[t]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// pointerSet sets the value at ptr (creating objects on the way) and
// returns the new root.
func pointerSet(root any, ptr string, value any) any {
	parts := splitPointer(ptr)
	if len(parts) == 0 {
		return value
	}
	var set func(v any, parts []string) any
	set = func(v any, parts []string) any {
		if len(parts) == 0 {
			return value
		}
		switch x := v.(type) {
		case []any:
			if i, err := strconv.Atoi(parts[0]); err == nil && i >= 0 && i < len(x) {
				x[i] = set(x[i], parts[1:])
				return x
			}
		case map[string]any:
			x[parts[0]] = set(x[parts[0]], parts[1:])
			return x
		}
		m := map[string]any{parts[0]: set(nil, parts[1:])}
		return m
	}
	return set(root, parts)
}

// bodyMedia returns the JSON media type of a request body, else its form
// media type, or nil.
func bodyMedia(content map[string]*openapi.MediaType) *openapi.MediaType {
	if mt := jsonMedia(content); mt != nil {
		return mt
	}
	return content[formType]
}

// jsonMedia returns the JSON media type of content (application/json or
// any +json type), or nil.
func jsonMedia(content map[string]*openapi.MediaType) *openapi.MediaType {
	if mt, ok := content["application/json"]; ok {
		return mt
	}
	for _, k := range slices.Sorted(maps.Keys(content)) {
		if strings.HasSuffix(k, "+json") || strings.HasPrefix(k, "application/json") {
			return content[k]
		}
	}
	return nil
}

// --- values from schemas ---

// exampleOf returns a value valid for the raw schema: its example,
// default, const or first enum value, or one generated from its type and
// constraints.
func exampleOf(sc map[string]any) any { return genValue(sc, 0) }

func genValue(sc map[string]any, depth int) any {
	if sc == nil {
		return "pcscan"
	}
	if depth > 6 {
		return nil
	}
	for _, k := range []string{"example", "default", "const"} {
		if v, ok := sc[k]; ok {
			return deepCopy(v)
		}
	}
	if ex, ok := sc["examples"].([]any); ok && len(ex) > 0 {
		return deepCopy(ex[0])
	}
	if e, ok := sc["enum"].([]any); ok && len(e) > 0 {
		return deepCopy(e[0])
	}
	if all, ok := sc["allOf"].([]any); ok && len(all) > 0 {
		merged := map[string]any{}
		props := map[string]any{}
		var req []any
		for _, a := range all {
			sub, _ := a.(map[string]any)
			for k, v := range sub {
				switch k {
				case "properties":
					if p, ok := v.(map[string]any); ok {
						maps.Copy(props, p)
					}
				case "required":
					if r, ok := v.([]any); ok {
						req = append(req, r...)
					}
				default:
					merged[k] = v
				}
			}
		}
		for k, v := range sc {
			if k != "allOf" {
				merged[k] = v
			}
		}
		if len(props) > 0 {
			merged["properties"] = props
		}
		if len(req) > 0 {
			merged["required"] = req
		}
		delete(merged, "allOf")
		return genValue(merged, depth+1)
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := sc[k].([]any); ok && len(alts) > 0 {
			sub, _ := alts[0].(map[string]any)
			return genValue(sub, depth+1)
		}
	}
	types := openapi.SchemaTypes(sc)
	t := ""
	for _, x := range types {
		if x != "null" {
			t = x
			break
		}
	}
	switch t {
	case "object", "":
		if t == "" && sc["properties"] == nil {
			return "pcscan"
		}
		obj := map[string]any{}
		props, _ := sc["properties"].(map[string]any)
		for name, p := range props {
			ps, _ := p.(map[string]any)
			if openapi.ReadOnly(ps) {
				continue
			}
			obj[name] = genValue(ps, depth+1)
		}
		return obj
	case "array":
		n := 1
		if m, ok := num(sc["minItems"]); ok && m > 1 {
			n = int(m)
		}
		out := make([]any, 0, n)
		for range n {
			out = append(out, genValue(openapi.ItemsSchema(sc), depth+1))
		}
		return out
	case "integer", "number":
		v := 1.0
		if m, ok := num(sc["minimum"]); ok {
			v = m
		}
		if m, ok := num(sc["exclusiveMinimum"]); ok {
			v = m + 1
		}
		if m, ok := num(sc["maximum"]); ok && v > m {
			v = m
		}
		if t == "integer" {
			return int64(v)
		}
		return v
	case "boolean":
		return true
	case "null":
		return nil
	}
	return genString(sc)
}

func genString(sc map[string]any) string {
	var s string
	switch f, _ := sc["format"].(string); f {
	case "email":
		s = "pcscan@example.com"
	case "date-time":
		s = "2024-01-02T03:04:05Z"
	case "date":
		s = "2024-01-02"
	case "uuid":
		s = "6f1c2a52-8d7e-4c3b-9a0e-2b9f3e4d5c6a"
	case "uri", "url":
		s = "https://example.com/pcscan"
	case "ipv4":
		s = "192.0.2.1"
	default:
		s = "pcscan"
	}
	fit := func(s string) string {
		if m, ok := num(sc["maxLength"]); ok && len(s) > int(m) {
			s = s[:int(m)]
		}
		if m, ok := num(sc["minLength"]); ok {
			for len(s) < int(m) {
				s += "x"
			}
		}
		return s
	}
	s = fit(s)
	if pat, ok := sc["pattern"].(string); ok {
		if re, err := regexp.Compile(pat); err == nil && !re.MatchString(s) {
			for _, c := range []string{"pcscan", "abc", "ABC", "a", "ab", "x1", "Pcscan", "PCSCAN", "pcscan1", "1", "123", "a-b", "a.txt", "/pcscan"} {
				if c = fit(c); re.MatchString(c) {
					s = c
					break
				}
			}
		}
	}
	return s
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// --- chaining created resources ---

// valueStore remembers values seen in responses so that later requests
// use real ids: the objects created under a collection path ("/notes" →
// {"id": 7}), values by field name ("note_id"), and values OpenAPI links
// bound to an operation's parameters.
type valueStore struct {
	mu      sync.Mutex
	created map[string][]map[string]any // collection path → objects, newest last
	fields  map[string]any              // field name → last value seen
	linked  map[string]map[string]any   // operationId → parameter → value
	seen    map[string][]string         // member name → distinct values, any depth
}

func newValueStore() *valueStore {
	return &valueStore{created: map[string][]map[string]any{}, fields: map[string]any{}, linked: map[string]map[string]any{}, seen: map[string][]string{}}
}

// observe records a 2xx JSON answer of op.
func (s *valueStore) observe(op *openapi.Operation, status int, body any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if obj := objectOf(body); obj != nil {
		if op.Method == http.MethodPost && status/100 == 2 {
			s.created[op.Path] = append(s.created[op.Path], obj)
		}
		for k, v := range obj {
			if isScalar(v) {
				s.fields[k] = v
			}
		}
	}
	s.collect(body, 0)
	if arr, ok := listOf(body); ok && len(arr) > 0 {
		if obj, ok := arr[0].(map[string]any); ok {
			if _, seen := s.created[op.Path]; !seen && op.Method == http.MethodGet {
				s.created["list:"+op.Path] = []map[string]any{obj}
			}
		}
	}
	if r, ok := op.Responses[strconv.Itoa(status)]; ok {
		for _, l := range r.Links {
			if l.OperationID == "" {
				continue
			}
			if s.linked[l.OperationID] == nil {
				s.linked[l.OperationID] = map[string]any{}
			}
			for name, expr := range l.Parameters {
				if v, ok := evalRuntime(expr, body); ok {
					s.linked[l.OperationID][strings.TrimPrefix(strings.TrimPrefix(name, "path."), "query.")] = v
				}
			}
		}
	}
}

// listOf returns the list an answer carries: the answer itself, or the
// one member of an object that is a list of objects ({"articles": […],
// "articlesCount": 2}).
func listOf(body any) ([]any, bool) {
	if arr, ok := body.([]any); ok {
		return arr, true
	}
	obj, ok := body.(map[string]any)
	if !ok {
		return nil, false
	}
	var found []any
	n := 0
	for _, v := range obj {
		if arr, ok := v.([]any); ok && len(arr) > 0 {
			if _, isObj := arr[0].(map[string]any); isObj {
				found = arr
				n++
			}
		}
	}
	return found, n == 1
}

// seenCap bounds the distinct values kept per member name.
const seenCap = 24

// collect records the distinct scalar values of every member, at any
// depth of an answer (the author names in a list of articles), so that
// reads can be asked for the objects an API points at.
func (s *valueStore) collect(v any, depth int) {
	if depth > 6 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if isScalar(e) {
				if str := scalarString(e); str != "" && len(s.seen[k]) < seenCap && !slices.Contains(s.seen[k], str) {
					s.seen[k] = append(s.seen[k], str)
				}
				continue
			}
			s.collect(e, depth+1)
		}
	case []any:
		for i, e := range x {
			if i >= 20 {
				break
			}
			s.collect(e, depth+1)
		}
	}
}

// seenValues returns the distinct values seen for a member name.
func (s *valueStore) seenValues(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen[name])
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, float64, json.Number, bool, int64:
		return true
	}
	return false
}

// evalRuntime evaluates the "$response.body#/ptr" runtime expressions of
// links (other expressions are taken as constants).
func evalRuntime(expr any, body any) (any, bool) {
	s, ok := expr.(string)
	if !ok {
		return expr, true
	}
	if p, ok := strings.CutPrefix(s, "$response.body#"); ok {
		return pointerGet(body, p)
	}
	if strings.HasPrefix(s, "$") {
		return nil, false
	}
	return s, true
}

// lookup finds a value for path parameter name of op: a linked value, the
// id of an object created in the parent collection, a field of that
// name, or <resource>_id naming.
func (s *valueStore) lookup(op *openapi.Operation, name string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op.ID != "" {
		if v, ok := s.linked[op.ID][name]; ok {
			return v, true
		}
	}
	if i := strings.Index(op.Path, "{"+name+"}"); i > 0 {
		coll := strings.TrimSuffix(op.Path[:i], "/")
		for _, key := range []string{coll, "list:" + coll} {
			if objs := s.created[key]; len(objs) > 0 {
				obj := objs[len(objs)-1]
				res := singular(lastSegment(coll))
				short := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(name), strings.ToLower(res)), "_")
				for _, f := range []string{name, short, "id", res + "_id"} {
					if v, ok := obj[f]; ok && isScalar(v) {
						return v, true
					}
				}
			}
		}
	}
	if v, ok := s.fields[name]; ok && name != "id" {
		return v, true
	}
	if res, ok := strings.CutSuffix(name, "_id"); ok {
		for key, objs := range s.created {
			if singular(lastSegment(strings.TrimPrefix(key, "list:"))) == res && len(objs) > 0 {
				if v, ok := objs[len(objs)-1]["id"]; ok {
					return v, true
				}
			}
		}
	}
	return nil, false
}

// field returns the last value seen for a member name.
func (s *valueStore) field(name string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.fields[name]
	return v, ok
}

// linkedValue returns the value an OpenAPI link bound to parameter name of
// op.
func (s *valueStore) linkedValue(op *openapi.Operation, name string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op.ID == "" {
		return nil, false
	}
	v, ok := s.linked[op.ID][name]
	return v, ok
}

func lastSegment(p string) string {
	p = strings.TrimSuffix(p, "/")
	return p[strings.LastIndex(p, "/")+1:]
}

func singular(s string) string {
	switch {
	case strings.HasSuffix(s, "ies"):
		return strings.TrimSuffix(s, "ies") + "y"
	case strings.HasSuffix(s, "ses"):
		return strings.TrimSuffix(s, "es")
	case strings.HasSuffix(s, "s"):
		return strings.TrimSuffix(s, "s")
	}
	return s
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// baseline builds the valid request of op from its schemas and examples
// and the values seen so far.
func (s *scanner) baseline(op *openapi.Operation) *request {
	r := &request{op: op, method: op.Method, path: map[string]string{}, header: http.Header{}, ident: 0}
	for _, p := range op.Parameters {
		var sc map[string]any
		if p.Schema != nil {
			sc = p.Schema.Raw
		}
		var v any
		switch {
		case p.In == "path":
			if x, ok := s.values.lookup(op, p.Name); ok {
				v = x
			} else if p.Example != nil {
				v = p.Example
			} else {
				v = exampleOf(sc)
			}
			r.path[p.Name] = scalarString(v)
		case p.In == "query":
			if x, ok := s.values.linkedValue(op, p.Name); ok {
				v = x
			} else if p.Example != nil {
				v = p.Example
			} else if p.Required || sc != nil {
				v = exampleOf(sc)
			}
			if v != nil {
				r.query = append(r.query, kv{p.Name, scalarString(v)})
			}
		case p.In == "header":
			if p.Required {
				if p.Example != nil {
					v = p.Example
				} else {
					v = exampleOf(sc)
				}
				r.header.Set(p.Name, scalarString(v))
			}
		}
	}
	if rb := op.RequestBody; rb != nil {
		if mt := jsonMedia(rb.Content); mt != nil {
			switch {
			case mt.Example != nil:
				r.body = deepCopy(mt.Example)
			case mt.Schema != nil:
				r.body = exampleOf(mt.Schema.Raw)
				if _, isStr := r.body.(string); isStr && openapi.SchemaTypes(mt.Schema.Raw) == nil {
					// A body schema that says nothing (a generated
					// description's {}): a JSON API takes an object.
					r.body = map[string]any{}
				}
			default:
				r.body = map[string]any{}
			}
		} else if mt := rb.Content[formType]; mt != nil {
			// A form (an OAuth2 password grant, say): generated like a JSON
			// object and sent form-encoded.
			r.contentType = formType
			if mt.Schema != nil {
				r.body = exampleOf(mt.Schema.Raw)
			} else {
				r.body = map[string]any{}
			}
		} else if rb.Required {
			for ct := range rb.Content {
				r.raw = []byte("pcscan")
				r.contentType = ct
				break
			}
		}
	}
	s.fillURLs(r)
	if op.Method == http.MethodPost && !strings.Contains(op.Path, "{") && s.loginOpOf(op) == nil {
		s.markFresh(r)
	} else {
		s.fillOwn(r)
	}
	return r
}

// naming are the body members that usually must be unique in a creation.
var naming = regexp.MustCompile(`(?i)^(user_?name|login|e?-?mail(_?address)?|name|full_?name|first_?name|last_?name|title|slug|handle|nick(name)?|display_?name|phone(_?number)?|mobile|code|sku|isbn|label|key)$`)

// markFresh records the naming members of a creation body (see
// request.fresh).
func (s *scanner) markFresh(r *request) {
	obj, at := r.object()
	for k, v := range obj {
		if str, ok := v.(string); ok && naming.MatchString(k) {
			if r.fresh == nil {
				r.fresh = map[string]string{}
			}
			r.fresh[at+"/"+escapePointer(k)] = str
		}
	}
}

// refresh replaces the fresh members still holding their planned value
// with unique ones (see request.fresh).
func (r *request) refresh() {
	if len(r.fresh) == 0 {
		return
	}
	sc := map[string]any(nil)
	if r.op.RequestBody != nil {
		if mt := bodyMedia(r.op.RequestBody.Content); mt != nil && mt.Schema != nil {
			sc = mt.Schema.Raw
		}
	}
	r.body = deepCopy(r.body)
	for ptr, planned := range r.fresh {
		cur, ok := pointerGet(r.body, ptr)
		if s, isStr := cur.(string); !ok || !isStr || s != planned {
			continue
		}
		r.body = pointerSet(r.body, ptr, uniqueValue(planned, schemaAt(sc, ptr)))
	}
}

// uniqueValue returns a value like v that no earlier request used: a
// random tag added to it (before the @ of an address, over the last
// digits of a number), within the schema's length and pattern when it
// can be.
func uniqueValue(v string, sc map[string]any) string {
	tag := randomTag()
	var out string
	switch {
	case strings.Count(v, "@") == 1:
		local, domain, _ := strings.Cut(v, "@")
		out = local + "." + tag + "@" + domain
	case len(v) >= 6 && strings.Trim(v, "0123456789()+- ") == "":
		digits := fmt.Sprint(time.Now().UnixNano())
		b := []byte(v)
		for i, k := len(b)-1, len(digits)-1; i >= 0 && k >= 0 && len(b)-i <= 6; i-- {
			if b[i] >= '0' && b[i] <= '9' {
				b[i] = digits[k]
				k--
			}
		}
		out = string(b)
	default:
		out = v + "-" + tag
	}
	if m, ok := num(sc["maxLength"]); ok && len(out) > int(m) {
		if int(m) <= len(tag) {
			out = tag[:int(m)]
		} else {
			out = v[:int(m)-len(tag)] + tag
		}
	}
	if pat, ok := sc["pattern"].(string); ok {
		if re, err := regexp.Compile(pat); err == nil && !re.MatchString(out) {
			for _, alt := range []string{v + tag, tag, strings.ToUpper(v + tag)} {
				if re.MatchString(alt) {
					return alt
				}
			}
			return v
		}
	}
	return out
}

var tagCounter atomic.Uint64

// randomTag is 6 lowercase letters and digits, never the same twice in a
// process.
func randomTag() string {
	n := tagCounter.Add(1)*7919 + uint64(time.Now().UnixNano()%1000003)
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	b[0] = 'p'
	for i := 1; i < 6; i++ {
		b[i] = alpha[n%36]
		n /= 36
	}
	return string(b)
}

// urlMember names body members that hold a URL the server may fetch.
var urlMember = regexp.MustCompile(`(?i)(url|uri|link|href|website|homepage|callback|webhook|endpoint|avatar|image|img|icon|logo|picture|photo)$`)

// fillURLs gives URL-like body members that the schema left as plain
// strings a URL to fetch: the scanner's own canary (on loopback, serving
// a tiny image) when it runs, so that an API that downloads the URL
// succeeds without the scan sending it anywhere else.
func (s *scanner) fillURLs(r *request) {
	obj, _ := r.object()
	for k, v := range obj {
		str, isStr := v.(string)
		if !isStr || !urlMember.MatchString(k) || strings.HasPrefix(str, "http://") || strings.HasPrefix(str, "https://") {
			continue
		}
		if s.canary != nil {
			obj[k] = s.canary.base + "/pcscan.png"
		} else {
			obj[k] = "https://example.com/pcscan.png"
		}
	}
}
