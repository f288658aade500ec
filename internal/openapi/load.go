package openapi

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/index"
	"github.com/pb33f/libopenapi/orderedmap"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Load reads, resolves and compiles the OpenAPI 3.0 or 3.1 description in
// the file at path (YAML or JSON). `$ref`s may point within the file or to
// other files, relative to the file that holds the reference. Errors name
// the file and, where the problem has a position, the line.
func Load(path string) (*Spec, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	s, err := parse(data, abs)
	if err != nil {
		return nil, err
	}
	s.File = abs
	return s, nil
}

// Parse compiles a description held in memory. baseDir is the directory
// relative references to other files resolve against ("" means the current
// directory).
func Parse(data []byte, baseDir string) (*Spec, error) {
	if baseDir == "" {
		baseDir = "."
	}
	abs, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return parse(data, filepath.Join(abs, "openapi-in-memory.yaml"))
}

// loader holds one description while it is compiled. libopenapi parses the
// documents, resolves every $ref of the model and indexes the files; the
// loader maps its model onto ours, compiles the schemas and builds the
// match tree.
type loader struct {
	root     string // absolute path of the root document
	version  string
	v30      bool
	rolodex  *index.Rolodex
	indexes  map[string]*index.SpecIndex // absolute path → libopenapi's index of that file
	places   map[*yaml.Node]place        // node → file and JSON pointer
	docs     map[string]any              // absolute path → JSON value served to the compiler
	raw      *converter                  // builds Schema.Raw (refs resolved, shared memo)
	schemas  map[string]*Schema          // location → compiled schema
	compiler *jsonschema.Compiler
}

// yamlLine finds the position libopenapi's YAML parser reports ("at L4.C7").
var yamlLine = regexp.MustCompile(`\bat L(\d+)\.C\d+`)

func parse(data []byte, file string) (*Spec, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("openapi: %s: the document is empty", file)
	}
	cfg := &datamodel.DocumentConfiguration{
		// Relative $refs resolve against the root file's directory; the
		// rolodex opens files lazily, only those references name.
		BasePath:            filepath.Dir(file),
		SpecFilePath:        filepath.Base(file),
		AllowFileReferences: true,
		// Remote references stay off: a description must not make the
		// gateway fetch URLs at load.
		AllowRemoteReferences: false,
		Logger:                slog.New(slog.DiscardHandler),
	}
	doc, err := libopenapi.NewDocumentWithConfiguration(data, cfg)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "spec type not supported") {
			return nil, fmt.Errorf("openapi: %s: missing the `openapi` version field", file)
		}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("openapi: %s:%s: %s", file, m[1], strings.TrimPrefix(msg, "unable to parse specification: "))
		}
		return nil, fmt.Errorf("openapi: %s: %s", file, msg)
	}
	info := doc.GetSpecInfo()
	l := &loader{root: file, version: info.Version, indexes: map[string]*index.SpecIndex{},
		places: map[*yaml.Node]place{}, docs: map[string]any{}, schemas: map[string]*Schema{}}
	switch {
	case info.SpecFormat == datamodel.OAS2:
		return nil, fmt.Errorf("openapi: %s: Swagger 2.0 is not supported; convert it to OpenAPI 3", file)
	case strings.HasPrefix(l.version, "3.0"):
		l.v30 = true
	case strings.HasPrefix(l.version, "3.1"):
	case l.version == "":
		return nil, fmt.Errorf("openapi: %s: missing the `openapi` version field", file)
	default:
		return nil, fmt.Errorf("openapi: %s: unsupported OpenAPI version %q (want 3.0.x or 3.1.x)", file, l.version)
	}
	if info.RootNode == nil || len(info.RootNode.Content) == 0 || info.RootNode.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("openapi: %s: the document is not an object", file)
	}

	model, buildErr := doc.BuildV3Model()
	if model != nil {
		l.rolodex = model.Index.GetRolodex()
		l.addIndex(model.Index)
		if l.rolodex != nil {
			l.addIndex(l.rolodex.GetRootIndex())
			for _, idx := range l.rolodex.GetIndexes() {
				l.addIndex(idx)
			}
		}
	}
	if err := l.buildError(buildErr); err != nil {
		return nil, err
	}
	if model == nil {
		return nil, fmt.Errorf("openapi: %s: the description could not be built", file)
	}
	l.raw = &converter{fold: l.v30, v31: !l.v30, memo: map[*yaml.Node]map[string]any{}, resolve: l.resolveRef}

	c := jsonschema.NewCompiler()
	if l.v30 {
		c.DefaultDraft(jsonschema.Draft4)
	} else {
		c.DefaultDraft(jsonschema.Draft2020)
	}
	c.AssertFormat()
	for _, f := range extraFormats {
		c.RegisterFormat(f)
	}
	c.UseLoader(urlLoader{l})
	l.compiler = c

	s, err := l.build(&model.Model)
	// Everything the Spec keeps was converted to plain values; let go of
	// libopenapi's nodes and indexes now rather than when the GC finds them.
	for _, idx := range l.indexes {
		idx.Release()
	}
	l.rolodex.Release()
	doc.Release()
	return s, err
}

// addIndex records a file libopenapi indexed: its path and the pointer of
// every node.
func (l *loader) addIndex(idx *index.SpecIndex) {
	if idx == nil {
		return
	}
	path := idx.GetSpecAbsolutePath()
	if path == "" || strings.Contains(path, "://") {
		return
	}
	if _, ok := l.indexes[path]; ok {
		return
	}
	l.indexes[path] = idx
	if root := idx.GetRootNode(); root != nil {
		mapPlaces(l.places, path, root)
	}
}

// buildError turns libopenapi's model errors into one error naming the
// file, line and JSON pointer of the first problem. Circular references
// among schemas are not errors here (recursive schemas are legal JSON
// Schema; Schema.Raw shares them as cycles); other circular references are.
func (l *loader) buildError(err error) error {
	if err == nil {
		return nil
	}
	var first error
	for _, e := range unwrapAll(err) {
		var re *index.ResolvingError
		if errors.As(e, &re) {
			if re.CircularReference != nil && schemaLoop(re.CircularReference) {
				continue
			}
			first = l.errorAt(re.Node, e.Error())
			break
		}
		var ie *index.IndexingError
		if errors.As(e, &ie) {
			msg := ie.Error()
			if ref, ok := refOf(ie.Node); ok {
				msg = fmt.Sprintf("$ref %q: %s", ref, msg)
			}
			first = l.errorAt(ie.Node, msg)
			break
		}
		first = fmt.Errorf("openapi: %s: %s", l.root, firstLine(e.Error()))
		break
	}
	return first
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	return []error{err}
}

// schemaLoop reports whether every reference of a circular chain points
// at a schema.
func schemaLoop(c *index.CircularReferenceResult) bool {
	refs := c.Journey
	if len(refs) == 0 && c.LoopPoint != nil {
		refs = []*index.Reference{c.LoopPoint}
	}
	if len(refs) == 0 {
		return false
	}
	for _, r := range refs {
		d := r.FullDefinition
		if d == "" {
			d = r.Definition
		}
		_, frag, _ := strings.Cut(d, "#")
		if !strings.Contains(frag, "/schemas/") && !strings.Contains(frag, "/$defs/") &&
			!strings.Contains(frag, "/definitions/") && !strings.Contains(frag, "/schema") {
			return false
		}
	}
	return true
}

// errorAt formats an error at a node: "openapi: FILE:LINE: #POINTER: msg".
func (l *loader) errorAt(n *yaml.Node, msg string) error {
	return fmt.Errorf("openapi: %s: %s", l.where(n), firstLine(msg))
}

// where names a node's position: "/srv/api.yaml:12: #/paths/~1a/get".
func (l *loader) where(n *yaml.Node) string {
	p, ok := l.places[n]
	if !ok {
		if n != nil && n.Line > 0 {
			return fmt.Sprintf("%s:%d", l.root, n.Line)
		}
		return l.root
	}
	if n.Line > 0 {
		return fmt.Sprintf("%s:%d: #%s", p.file, n.Line, p.ptr)
	}
	return fmt.Sprintf("%s: #%s", p.file, p.ptr)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// resolveRef finds the target of a $ref written at node at, through the
// libopenapi index of the file that holds it.
func (l *loader) resolveRef(at *yaml.Node, ref string) (*yaml.Node, bool) {
	p, ok := l.places[at]
	if !ok {
		return nil, false
	}
	idx := l.indexes[p.file]
	if idx == nil {
		return nil, false
	}
	full := ref
	if strings.HasPrefix(ref, "#") {
		full = p.file + ref
	}
	r, _ := idx.SearchIndexForReference(full)
	if r == nil && full != ref {
		r, _ = idx.SearchIndexForReference(ref)
	}
	if r == nil || r.Node == nil {
		return nil, false
	}
	n := r.Node
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if _, known := l.places[n]; !known && r.Index != nil {
		l.addIndex(r.Index)
	}
	return n, true
}

// doc returns the JSON value of the file at an absolute path, as the
// schema compiler sees it (3.0: nullable folded), from libopenapi's index
// of the file, opening it through the rolodex when no model reference
// reached it.
func (l *loader) doc(path string) (any, error) {
	if d, ok := l.docs[path]; ok {
		return d, nil
	}
	idx := l.indexes[path]
	var root *yaml.Node
	if idx != nil {
		root = idx.GetRootNode()
	} else if l.rolodex != nil {
		f, err := l.rolodex.Open(path)
		if err != nil {
			return nil, err
		}
		if root, err = f.GetContentAsYAMLNode(); err != nil {
			return nil, err
		}
		if fi := f.GetIndex(); fi != nil {
			l.addIndex(fi)
		} else {
			mapPlaces(l.places, path, root)
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%s: not part of the description", path)
	}
	c := &converter{fold: l.v30}
	d := c.value(root, true, 0)
	l.docs[path] = d
	return d, nil
}

// urlLoader serves the schema compiler the documents of the description.
type urlLoader struct{ l *loader }

func (u urlLoader) Load(s string) (any, error) {
	p, err := urlToPath(s)
	if err != nil {
		return nil, err
	}
	return u.l.doc(p)
}

func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

func urlToPath(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "file" {
		return "", fmt.Errorf("only file references are supported, not %q", s)
	}
	return filepath.FromSlash(u.Path), nil
}

// schema compiles the schema libopenapi holds in proxy once. It is
// compiled at its position in its file, so the compiler resolves its $refs
// with JSON Schema's rules ($id, $anchor, $dynamicRef in 3.1).
func (l *loader) schema(proxy *base.SchemaProxy) (*Schema, error) {
	if proxy == nil || proxy.GoLow() == nil {
		return nil, nil
	}
	low := proxy.GoLow()
	n := low.GetValueNode()
	// For `schema: {$ref: X}` libopenapi hands over the target X, which
	// lets every use of X share one compiled schema. A $ref with sibling
	// keywords (3.1: they apply too) is compiled where it is written.
	if rn := low.GetReferenceNode(); low.IsReference() && rn != nil && rn.Kind == yaml.MappingNode && len(rn.Content) > 2 {
		if _, ok := l.places[rn]; ok {
			n = rn
		}
	}
	if n == nil {
		return nil, nil
	}
	p, ok := l.places[n]
	if !ok {
		if idx := low.GetIndex(); idx != nil {
			l.addIndex(idx)
			p, ok = l.places[n]
		}
		if !ok {
			return nil, l.errorAt(n, "schema: not found in the indexed documents")
		}
	}
	loc := fileURL(p.file) + "#" + (&url.URL{Fragment: p.ptr}).EscapedFragment()
	if s, ok := l.schemas[loc]; ok {
		return s, nil
	}
	compiled, err := l.compiler.Compile(loc)
	if err != nil {
		return nil, l.errorAt(n, "schema: "+firstLine(err.Error()))
	}
	raw := l.raw.shared(n, 0)
	s := &Schema{Raw: raw, Location: loc, v: compiled, q: quickOf(raw)}
	l.schemas[loc] = s
	return s, nil
}

// build maps libopenapi's model onto a Spec.
func (l *loader) build(doc *v3.Document) (*Spec, error) {
	s := &Spec{Version: l.version, SecuritySchemes: map[string]*SecurityScheme{}, byID: map[string]*Operation{}, tree: &node{}}
	if doc.Info != nil {
		s.Title, s.APIVersion = doc.Info.Title, doc.Info.Version
	}
	s.Servers = servers(doc.Servers)
	seen := map[string]bool{}
	for _, sv := range s.Servers {
		if !seen[sv.BasePath] {
			seen[sv.BasePath] = true
			s.bases = append(s.bases, sv.BasePath)
		}
	}
	if len(s.bases) == 0 {
		s.bases = []string{""}
	}
	sort.SliceStable(s.bases, func(i, j int) bool { return len(s.bases[i]) > len(s.bases[j]) })

	var err error
	if low := doc.GoLow(); low != nil && !low.Security.IsEmpty() {
		if s.Security, err = security(data(low.Security.ValueNode)); err != nil {
			return nil, l.errorAt(low.Security.ValueNode, err.Error())
		}
	}
	if doc.Components != nil {
		for name, ss := range pairs(doc.Components.SecuritySchemes) {
			s.SecuritySchemes[name] = securityScheme(ss)
		}
	}

	var templates []string
	items := map[string]*v3.PathItem{}
	if doc.Paths != nil {
		for p, item := range pairs(doc.Paths.PathItems) {
			if strings.HasPrefix(p, "/") {
				templates = append(templates, p)
				items[p] = item
			}
		}
	}
	sort.Strings(templates)
	for _, tmpl := range templates {
		pi := items[tmpl]
		lf, err := s.tree.add(tmpl)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s: #/paths: %w", l.root, err)
		}
		common, err := l.parameters(pi.Parameters)
		if err != nil {
			return nil, err
		}
		for _, m := range []struct {
			method string
			op     *v3.Operation
		}{{"GET", pi.Get}, {"PUT", pi.Put}, {"POST", pi.Post}, {"DELETE", pi.Delete}, {"OPTIONS", pi.Options}, {"HEAD", pi.Head}, {"PATCH", pi.Patch}, {"TRACE", pi.Trace}} {
			if m.op == nil {
				continue
			}
			op, err := l.operation(s, m.method, tmpl, m.op, common)
			if err != nil {
				return nil, err
			}
			lf.ops[op.Method] = op
			lf.allow = append(lf.allow, op.Method)
			s.ops = append(s.ops, op)
			if op.ID != "" {
				if prev, dup := s.byID[op.ID]; dup {
					return nil, l.errorAt(m.op.GoLow().RootNode, fmt.Sprintf("operationId %q is also used by %s", op.ID, prev.Key()))
				}
				s.byID[op.ID] = op
			}
		}
		if _, ok := lf.ops["GET"]; ok {
			if _, ok := lf.ops["HEAD"]; !ok {
				lf.allow = append(lf.allow, "HEAD")
			}
		}
	}
	sortOperations(s.ops)
	return s, nil
}

// pairs iterates an ordered map that may be nil.
func pairs[V any](m *orderedmap.Map[string, V]) func(func(string, V) bool) {
	return func(yield func(string, V) bool) {
		if m == nil {
			return
		}
		for k, v := range m.FromOldest() {
			if !yield(k, v) {
				return
			}
		}
	}
}

func servers(list []*v3.Server) []Server {
	var out []Server
	for _, x := range list {
		if x == nil {
			continue
		}
		raw := x.URL
		for name, v := range pairs(x.Variables) {
			if v != nil {
				raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
			}
		}
		sv := Server{URL: raw, Description: x.Description}
		p := raw
		if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
			p = u.Path
		} else if i := strings.IndexAny(p, "?#"); i >= 0 {
			p = p[:i]
		}
		if p != "" && !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		sv.BasePath = trimSlash(p)
		out = append(out, sv)
	}
	return out
}

// security converts a `security` list as written. It works on the plain
// value rather than libopenapi's SecurityRequirement so that `security: []`
// (public) and an absent `security` (inherit) stay apart, and `{}` stays an
// empty requirement.
func security(v any) ([]SecurityRequirement, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("security must be a list")
	}
	out := make([]SecurityRequirement, 0, len(list))
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, errors.New("a security requirement must be an object")
		}
		req := SecurityRequirement{}
		for name, scopes := range m {
			ss := []string{}
			if sl, ok := scopes.([]any); ok {
				for _, sc := range sl {
					if str, ok := sc.(string); ok {
						ss = append(ss, str)
					}
				}
			}
			req[name] = ss
		}
		out = append(out, req)
	}
	return out, nil
}

func securityScheme(h *v3.SecurityScheme) *SecurityScheme {
	if h == nil {
		return &SecurityScheme{}
	}
	ss := &SecurityScheme{
		Type: h.Type, Description: h.Description, Name: h.Name, In: h.In,
		Scheme: strings.ToLower(h.Scheme), BearerFormat: h.BearerFormat,
		OpenIDConnectURL: h.OpenIdConnectUrl,
	}
	if f := h.Flows; f != nil {
		ss.Flows = map[string]*OAuthFlow{}
		for name, flow := range map[string]*v3.OAuthFlow{"implicit": f.Implicit, "password": f.Password,
			"clientCredentials": f.ClientCredentials, "authorizationCode": f.AuthorizationCode, "device": f.Device} {
			if flow == nil {
				continue
			}
			of := &OAuthFlow{AuthorizationURL: flow.AuthorizationUrl, TokenURL: flow.TokenUrl, RefreshURL: flow.RefreshUrl, Scopes: map[string]string{}}
			for k, d := range pairs(flow.Scopes) {
				of.Scopes[k] = d
			}
			ss.Flows[name] = of
		}
	}
	return ss
}

func (l *loader) parameters(list []*v3.Parameter) ([]*Parameter, error) {
	out := make([]*Parameter, 0, len(list))
	for _, h := range list {
		if h == nil {
			continue
		}
		at := h.GoLow().RootNode
		p := &Parameter{Name: h.Name, In: h.In, Deprecated: h.Deprecated, AllowEmptyValue: h.AllowEmptyValue, Style: h.Style}
		if p.Name == "" {
			return nil, l.errorAt(at, "parameter without a name")
		}
		switch p.In {
		case "query", "header", "cookie":
		case "path":
			p.Required = true
		default:
			return nil, l.errorAt(at, fmt.Sprintf("parameter %q: `in` must be query, path, header or cookie", p.Name))
		}
		if h.Required != nil && *h.Required {
			p.Required = true
		}
		if p.Style == "" {
			if p.In == "query" || p.In == "cookie" {
				p.Style = "form"
			} else {
				p.Style = "simple"
			}
		}
		if h.Explode != nil {
			p.Explode = *h.Explode
		} else {
			p.Explode = p.Style == "form"
		}
		var err error
		if h.Schema != nil {
			if p.Schema, err = l.schema(h.Schema); err != nil {
				return nil, err
			}
		} else if h.Content != nil {
			var types []string
			for ct := range pairs(h.Content) {
				types = append(types, ct)
			}
			sort.Strings(types)
			if len(types) > 0 {
				p.ContentType = types[0]
				if mt := h.Content.GetOrZero(types[0]); mt != nil && mt.Schema != nil {
					if p.Schema, err = l.schema(mt.Schema); err != nil {
						return nil, err
					}
				}
			}
		}
		if h.Example != nil {
			p.Example = data(h.Example)
		}
		p.Examples = examples(h.Examples)
		if p.Example == nil && p.Schema != nil {
			p.Example = schemaExample(p.Schema.Raw)
		}
		out = append(out, p)
	}
	return out, nil
}

func schemaExample(raw map[string]any) any {
	if raw == nil {
		return nil
	}
	if e, ok := raw["example"]; ok {
		return e
	}
	if e, ok := raw["examples"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	if d, ok := raw["default"]; ok {
		return d
	}
	if all, ok := raw["allOf"].([]any); ok {
		for _, a := range all {
			if sub, ok := a.(map[string]any); ok {
				if e := schemaExample(sub); e != nil {
					return e
				}
			}
		}
	}
	return nil
}

func examples(m *orderedmap.Map[string, *base.Example]) map[string]any {
	if m == nil || m.Len() == 0 {
		return nil
	}
	out := make(map[string]any, m.Len())
	for name, ex := range pairs(m) {
		if ex != nil {
			out[name] = data(ex.Value)
		}
	}
	return out
}

func (l *loader) content(m *orderedmap.Map[string, *v3.MediaType]) (map[string]*MediaType, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]*MediaType, m.Len())
	for ct, h := range pairs(m) {
		mt := &MediaType{}
		if h != nil {
			var err error
			if mt.Schema, err = l.schema(h.Schema); err != nil {
				return nil, err
			}
			mt.Examples = examples(h.Examples)
			if h.Example != nil {
				mt.Example = data(h.Example)
			}
		}
		if mt.Example == nil {
			keys := make([]string, 0, len(mt.Examples))
			for k := range mt.Examples {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if len(keys) > 0 {
				mt.Example = mt.Examples[keys[0]]
			}
		}
		if mt.Example == nil && mt.Schema != nil {
			mt.Example = schemaExample(mt.Schema.Raw)
		}
		out[strings.ToLower(ct)] = mt
	}
	return out, nil
}

func (l *loader) operation(s *Spec, method, tmpl string, h *v3.Operation, common []*Parameter) (*Operation, error) {
	low := h.GoLow()
	op := &Operation{Method: method, Path: tmpl, Responses: map[string]*Response{},
		ID: h.OperationId, Summary: h.Summary, Description: h.Description, Tags: h.Tags}
	op.key = method + " " + tmpl
	if h.Deprecated != nil {
		op.Deprecated = *h.Deprecated
	}
	for k, v := range pairs(h.Extensions) {
		if op.Extensions == nil {
			op.Extensions = map[string]any{}
		}
		op.Extensions[k] = data(v)
	}
	own, err := l.parameters(h.Parameters)
	if err != nil {
		return nil, err
	}
	for _, p := range common {
		overridden := false
		for _, o := range own {
			if o.Name == p.Name && o.In == p.In {
				overridden = true
				break
			}
		}
		if !overridden {
			op.Parameters = append(op.Parameters, p)
		}
	}
	op.Parameters = append(op.Parameters, own...)
	for _, name := range paramRe.FindAllString(tmpl, -1) {
		name = name[1 : len(name)-1]
		if op.Parameter(name, "path") == nil {
			return nil, l.errorAt(low.RootNode, fmt.Sprintf("path parameter %q is not declared", name))
		}
	}

	if rb := h.RequestBody; rb != nil {
		body := &RequestBody{}
		if rb.Required != nil {
			body.Required = *rb.Required
		}
		if body.Content, err = l.content(rb.Content); err != nil {
			return nil, err
		}
		op.RequestBody = body
	}

	if rs := h.Responses; rs != nil {
		for code, r := range pairs(rs.Codes) {
			if op.Responses[code], err = l.response(r); err != nil {
				return nil, err
			}
		}
		if rs.Default != nil {
			if op.Responses["default"], err = l.response(rs.Default); err != nil {
				return nil, err
			}
		}
	}

	if !low.Security.IsEmpty() {
		if op.Security, err = security(data(low.Security.ValueNode)); err != nil {
			return nil, l.errorAt(low.Security.ValueNode, err.Error())
		}
		if op.Security == nil {
			op.Security = []SecurityRequirement{}
		}
	} else {
		op.Security = s.Security
	}
	return op, nil
}

func (l *loader) response(h *v3.Response) (*Response, error) {
	resp := &Response{}
	if h == nil {
		return resp, nil
	}
	resp.Description = h.Description
	var err error
	if resp.Content, err = l.content(h.Content); err != nil {
		return nil, err
	}
	if h.Headers != nil {
		resp.Headers = map[string]*Schema{}
		for name, hd := range pairs(h.Headers) {
			var sch *Schema
			if hd != nil {
				if sch, err = l.schema(hd.Schema); err != nil {
					return nil, err
				}
			}
			resp.Headers[name] = sch
		}
	}
	if h.Links != nil {
		resp.Links = map[string]*Link{}
		for name, lk := range pairs(h.Links) {
			link := &Link{}
			if lk != nil {
				link.OperationID, link.OperationRef, link.Description = lk.OperationId, lk.OperationRef, lk.Description
				// The values as written (a runtime expression or any JSON
				// value); libopenapi's high-level Link keeps only strings.
				if ll := lk.GoLow(); ll != nil {
					if !ll.Parameters.IsEmpty() {
						link.Parameters, _ = data(ll.Parameters.ValueNode).(map[string]any)
					}
					if !ll.RequestBody.IsEmpty() {
						link.RequestBody = data(ll.RequestBody.ValueNode)
					}
				}
			}
			resp.Links[name] = link
		}
	}
	return resp, nil
}
