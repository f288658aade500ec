package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Load reads, resolves and compiles the OpenAPI 3.0 or 3.1 description in
// the file at path (YAML or JSON). `$ref`s may point within the file or to
// other files, relative to the file that holds the reference. Errors name
// the file and, for syntax errors, the line.
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

// loader holds the documents of one description while it is compiled.
type loader struct {
	root     string // absolute path of the root document
	version  string
	v30      bool
	docs     map[string]any            // absolute path → decoded document
	memo     map[string]map[string]any // "path#pointer" → inlined raw schema
	schemas  map[string]*Schema        // location → compiled schema
	compiler *jsonschema.Compiler
}

func parse(data []byte, file string) (*Spec, error) {
	l := &loader{root: file, docs: map[string]any{}, memo: map[string]map[string]any{}, schemas: map[string]*Schema{}}
	doc, err := decodeDocument(data, file)
	if err != nil {
		return nil, err
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi: %s: the document is not an object", file)
	}
	l.version, _ = root["openapi"].(string)
	switch {
	case strings.HasPrefix(l.version, "3.0"):
		l.v30 = true
	case strings.HasPrefix(l.version, "3.1"):
	case l.version == "":
		if _, ok := root["swagger"]; ok {
			return nil, fmt.Errorf("openapi: %s: Swagger 2.0 is not supported; convert it to OpenAPI 3", file)
		}
		return nil, fmt.Errorf("openapi: %s: missing the `openapi` version field", file)
	default:
		return nil, fmt.Errorf("openapi: %s: unsupported OpenAPI version %q (want 3.0.x or 3.1.x)", file, l.version)
	}
	if l.v30 {
		foldNullable(root)
	}
	l.docs[file] = root

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

	s, err := l.build(root)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// decodeDocument turns YAML or JSON into a JSON value whose numbers are
// json.Number.
func decodeDocument(data []byte, file string) (any, error) {
	js := data
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		var err error
		js, err = yaml.YAMLToJSON(data)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s: %s", file, firstLine(err.Error()))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(js[:min(int(se.Offset), len(js))], []byte("\n"))
			return nil, fmt.Errorf("openapi: %s:%d: %v", file, line, err)
		}
		return nil, fmt.Errorf("openapi: %s: %v", file, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("openapi: %s: data after the document", file)
	}
	return v, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		// goccy/go-yaml puts "[line:col] message" first, then the source.
		return s[:i]
	}
	return s
}

// foldNullable rewrites OpenAPI 3.0 `nullable: true` into JSON Schema:
// the null type (and null in an enum) is added.
func foldNullable(v any) {
	switch t := v.(type) {
	case map[string]any:
		if b, ok := t["nullable"].(bool); ok && b {
			switch ty := t["type"].(type) {
			case string:
				t["type"] = []any{ty, "null"}
			case []any:
				t["type"] = append(ty, "null")
			}
			if e, ok := t["enum"].([]any); ok {
				t["enum"] = append(e, nil)
			}
			delete(t, "nullable")
		}
		for k, x := range t {
			switch k {
			case "example", "examples", "default", "enum", "const":
				continue
			}
			foldNullable(x)
		}
	case []any:
		for _, x := range t {
			foldNullable(x)
		}
	}
}

// doc returns the decoded document at an absolute path, loading it once.
func (l *loader) doc(path string) (any, error) {
	if d, ok := l.docs[path]; ok {
		return d, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := decodeDocument(data, path)
	if err != nil {
		return nil, err
	}
	if l.v30 {
		foldNullable(d)
	}
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

// resolve follows $ref (and chains of them) from the object v found in
// file, returning the target's file, pointer and value.
func (l *loader) resolve(file, ptr string, v any) (string, string, any, error) {
	for i := 0; i < 32; i++ {
		m, ok := v.(map[string]any)
		if !ok {
			return file, ptr, v, nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return file, ptr, v, nil
		}
		f, p, t, err := l.lookup(file, ref)
		if err != nil {
			return "", "", nil, fmt.Errorf("%s#%s: $ref %q: %w", file, ptr, ref, err)
		}
		file, ptr, v = f, p, t
	}
	return "", "", nil, fmt.Errorf("%s#%s: $ref chain too long or circular", file, ptr)
}

// lookup finds a reference relative to file.
func (l *loader) lookup(file, ref string) (string, string, any, error) {
	target, frag, _ := strings.Cut(ref, "#")
	path := file
	if target != "" {
		if strings.Contains(target, "://") {
			p, err := urlToPath(target)
			if err != nil {
				return "", "", nil, err
			}
			path = p
		} else {
			t, err := url.PathUnescape(target)
			if err != nil {
				return "", "", nil, err
			}
			path = filepath.Join(filepath.Dir(file), filepath.FromSlash(t))
		}
	}
	d, err := l.doc(path)
	if err != nil {
		return "", "", nil, err
	}
	frag, err = url.PathUnescape(frag)
	if err != nil {
		return "", "", nil, err
	}
	v, err := walkPointer(d, frag)
	if err != nil {
		return "", "", nil, err
	}
	return path, frag, v, nil
}

func walkPointer(v any, ptr string) (any, error) {
	if ptr == "" {
		return v, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("unsupported fragment %q (want a JSON pointer)", ptr)
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := v.(type) {
		case map[string]any:
			x, ok := t[tok]
			if !ok {
				return nil, fmt.Errorf("%q not found", ptr)
			}
			v = x
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(t) {
				return nil, fmt.Errorf("%q not found", ptr)
			}
			v = t[i]
		default:
			return nil, fmt.Errorf("%q not found", ptr)
		}
	}
	return v, nil
}

// schema compiles the schema at file#ptr (value v) once.
func (l *loader) schema(file, ptr string, v any) (*Schema, error) {
	if v == nil {
		return nil, nil
	}
	loc := fileURL(file) + "#" + (&url.URL{Fragment: ptr}).EscapedFragment()
	if s, ok := l.schemas[loc]; ok {
		return s, nil
	}
	if _, err := l.doc(file); err != nil {
		return nil, err
	}
	compiled, err := l.compiler.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("%s#%s: schema: %s", file, ptr, firstLine(err.Error()))
	}
	raw, _ := l.inline(file, v, 0).(map[string]any)
	if raw == nil {
		raw = map[string]any{}
		if b, ok := v.(bool); ok && !b {
			raw["not"] = map[string]any{}
		}
	}
	s := &Schema{Raw: raw, Location: loc, v: compiled}
	l.schemas[loc] = s
	return s, nil
}

// inline returns v with every $ref replaced by the (shared) inlined target.
func (l *loader) inline(file string, v any, depth int) any {
	if depth > 512 {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		if ref, ok := t["$ref"].(string); ok {
			tf, tp, target, err := l.lookup(file, ref)
			if err != nil {
				return t
			}
			key := tf + "#" + tp
			res, ok := l.memo[key]
			if !ok {
				res = map[string]any{}
				l.memo[key] = res
				switch tt := target.(type) {
				case map[string]any:
					if filled, ok := l.inline(tf, tt, depth+1).(map[string]any); ok {
						for k, x := range filled {
							res[k] = x
						}
					}
				case bool:
					if !tt {
						res["not"] = map[string]any{}
					}
				}
			}
			if !l.v30 && len(t) > 1 {
				out := map[string]any{"allOf": []any{res}}
				for k, x := range t {
					if k != "$ref" {
						out[k] = l.inline(file, x, depth+1)
					}
				}
				return out
			}
			return res
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			switch k {
			case "example", "examples", "default", "enum", "const":
				out[k] = x
			default:
				out[k] = l.inline(file, x, depth+1)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = l.inline(file, x, depth+1)
		}
		return out
	}
	return v
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// build walks the root document into a Spec.
func (l *loader) build(root map[string]any) (*Spec, error) {
	file := l.root
	s := &Spec{Version: l.version, SecuritySchemes: map[string]*SecurityScheme{}, byID: map[string]*Operation{}, tree: &node{}}
	if info, ok := root["info"].(map[string]any); ok {
		s.Title, _ = info["title"].(string)
		s.APIVersion, _ = info["version"].(string)
	}
	s.Servers = servers(root["servers"])
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
	if s.Security, err = security(root["security"]); err != nil {
		return nil, fmt.Errorf("openapi: %s#/security: %w", file, err)
	}
	if comps, ok := root["components"].(map[string]any); ok {
		if ss, ok := comps["securitySchemes"].(map[string]any); ok {
			for name, v := range ss {
				_, _, v, err := l.resolve(file, "/components/securitySchemes/"+escapeToken(name), v)
				if err != nil {
					return nil, fmt.Errorf("openapi: %w", err)
				}
				s.SecuritySchemes[name] = securityScheme(v)
			}
		}
	}

	paths, _ := root["paths"].(map[string]any)
	templates := make([]string, 0, len(paths))
	for p := range paths {
		if strings.HasPrefix(p, "/") {
			templates = append(templates, p)
		}
	}
	sort.Strings(templates)
	for _, tmpl := range templates {
		pf, pp, item, err := l.resolve(file, "/paths/"+escapeToken(tmpl), paths[tmpl])
		if err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		pi, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("openapi: %s#%s: a path item must be an object", pf, pp)
		}
		lf, err := s.tree.add(tmpl)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s#/paths: %w", file, err)
		}
		common, err := l.parameters(pf, pp+"/parameters", pi["parameters"])
		if err != nil {
			return nil, err
		}
		for _, m := range httpMethods {
			raw, ok := pi[m].(map[string]any)
			if !ok {
				continue
			}
			op, err := l.operation(s, pf, pp+"/"+m, strings.ToUpper(m), tmpl, raw, common)
			if err != nil {
				return nil, err
			}
			lf.ops[op.Method] = op
			lf.allow = append(lf.allow, op.Method)
			s.ops = append(s.ops, op)
			if op.ID != "" {
				if prev, dup := s.byID[op.ID]; dup {
					return nil, fmt.Errorf("openapi: %s#%s: operationId %q is also used by %s", pf, pp+"/"+m, op.ID, prev.Key())
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

func servers(v any) []Server {
	list, _ := v.([]any)
	var out []Server
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			continue
		}
		raw, _ := m["url"].(string)
		if vars, ok := m["variables"].(map[string]any); ok {
			for name, vv := range vars {
				if vm, ok := vv.(map[string]any); ok {
					def, _ := vm["default"].(string)
					raw = strings.ReplaceAll(raw, "{"+name+"}", def)
				}
			}
		}
		sv := Server{URL: raw}
		sv.Description, _ = m["description"].(string)
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

func securityScheme(v any) *SecurityScheme {
	m, _ := v.(map[string]any)
	str := func(k string) string { s, _ := m[k].(string); return s }
	ss := &SecurityScheme{
		Type: str("type"), Description: str("description"), Name: str("name"), In: str("in"),
		Scheme: strings.ToLower(str("scheme")), BearerFormat: str("bearerFormat"),
		OpenIDConnectURL: str("openIdConnectUrl"),
	}
	if flows, ok := m["flows"].(map[string]any); ok {
		ss.Flows = map[string]*OAuthFlow{}
		for name, f := range flows {
			fm, _ := f.(map[string]any)
			fs := func(k string) string { s, _ := fm[k].(string); return s }
			of := &OAuthFlow{AuthorizationURL: fs("authorizationUrl"), TokenURL: fs("tokenUrl"), RefreshURL: fs("refreshUrl"), Scopes: map[string]string{}}
			if sc, ok := fm["scopes"].(map[string]any); ok {
				for k, d := range sc {
					of.Scopes[k], _ = d.(string)
				}
			}
			ss.Flows[name] = of
		}
	}
	return ss
}

func (l *loader) parameters(file, ptr string, v any) ([]*Parameter, error) {
	list, _ := v.([]any)
	out := make([]*Parameter, 0, len(list))
	for i, x := range list {
		pf, pp, pv, err := l.resolve(file, ptr+"/"+strconv.Itoa(i), x)
		if err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		m, ok := pv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("openapi: %s#%s: a parameter must be an object", pf, pp)
		}
		p := &Parameter{}
		p.Name, _ = m["name"].(string)
		p.In, _ = m["in"].(string)
		if p.Name == "" {
			return nil, fmt.Errorf("openapi: %s#%s: parameter without a name", pf, pp)
		}
		switch p.In {
		case "query", "header", "cookie":
		case "path":
			p.Required = true
		default:
			return nil, fmt.Errorf("openapi: %s#%s: parameter %q: `in` must be query, path, header or cookie", pf, pp, p.Name)
		}
		if b, ok := m["required"].(bool); ok && b {
			p.Required = true
		}
		p.Deprecated, _ = m["deprecated"].(bool)
		p.AllowEmptyValue, _ = m["allowEmptyValue"].(bool)
		p.Style, _ = m["style"].(string)
		if p.Style == "" {
			if p.In == "query" || p.In == "cookie" {
				p.Style = "form"
			} else {
				p.Style = "simple"
			}
		}
		if e, ok := m["explode"].(bool); ok {
			p.Explode = e
		} else {
			p.Explode = p.Style == "form"
		}
		if sv, ok := m["schema"]; ok {
			if p.Schema, err = l.schema(pf, pp+"/schema", sv); err != nil {
				return nil, fmt.Errorf("openapi: %w", err)
			}
		} else if content, ok := m["content"].(map[string]any); ok {
			for _, ct := range sortedKeys(content) {
				mt, _ := content[ct].(map[string]any)
				p.ContentType = ct
				if sv, ok := mt["schema"]; ok {
					if p.Schema, err = l.schema(pf, pp+"/content/"+escapeToken(ct)+"/schema", sv); err != nil {
						return nil, fmt.Errorf("openapi: %w", err)
					}
				}
				break
			}
		}
		p.Example = m["example"]
		p.Examples = l.examples(pf, m["examples"])
		if p.Example == nil && p.Schema != nil {
			p.Example = schemaExample(p.Schema.Raw)
		}
		out = append(out, p)
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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

func (l *loader) examples(file string, v any) map[string]any {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for name, x := range m {
		_, _, ex, err := l.resolve(file, "", x)
		if err != nil {
			continue
		}
		if em, ok := ex.(map[string]any); ok {
			out[name] = em["value"]
		}
	}
	return out
}

func (l *loader) content(file, ptr string, v any) (map[string]*MediaType, error) {
	cm, _ := v.(map[string]any)
	if cm == nil {
		return nil, nil
	}
	out := make(map[string]*MediaType, len(cm))
	for ct, x := range cm {
		mp := ptr + "/" + escapeToken(ct)
		m, _ := x.(map[string]any)
		mt := &MediaType{}
		if sv, ok := m["schema"]; ok {
			var err error
			if mt.Schema, err = l.schema(file, mp+"/schema", sv); err != nil {
				return nil, fmt.Errorf("openapi: %w", err)
			}
		}
		mt.Examples = l.examples(file, m["examples"])
		mt.Example = m["example"]
		if mt.Example == nil {
			for _, k := range sortedKeys(mt.Examples) {
				mt.Example = mt.Examples[k]
				break
			}
		}
		if mt.Example == nil && mt.Schema != nil {
			mt.Example = schemaExample(mt.Schema.Raw)
		}
		out[strings.ToLower(ct)] = mt
	}
	return out, nil
}

func (l *loader) operation(s *Spec, file, ptr, method, tmpl string, m map[string]any, common []*Parameter) (*Operation, error) {
	op := &Operation{Method: method, Path: tmpl, Responses: map[string]*Response{}}
	op.ID, _ = m["operationId"].(string)
	op.Summary, _ = m["summary"].(string)
	op.Description, _ = m["description"].(string)
	op.Deprecated, _ = m["deprecated"].(bool)
	if tags, ok := m["tags"].([]any); ok {
		for _, t := range tags {
			if ts, ok := t.(string); ok {
				op.Tags = append(op.Tags, ts)
			}
		}
	}
	for k, v := range m {
		if strings.HasPrefix(k, "x-") {
			if op.Extensions == nil {
				op.Extensions = map[string]any{}
			}
			op.Extensions[k] = v
		}
	}
	own, err := l.parameters(file, ptr+"/parameters", m["parameters"])
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
			return nil, fmt.Errorf("openapi: %s#%s: path parameter %q is not declared", file, ptr, name)
		}
	}

	if rb, ok := m["requestBody"]; ok {
		bf, bp, bv, err := l.resolve(file, ptr+"/requestBody", rb)
		if err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		bm, _ := bv.(map[string]any)
		body := &RequestBody{}
		body.Required, _ = bm["required"].(bool)
		if body.Content, err = l.content(bf, bp+"/content", bm["content"]); err != nil {
			return nil, err
		}
		op.RequestBody = body
	}

	if rs, ok := m["responses"].(map[string]any); ok {
		for code, rv := range rs {
			if strings.HasPrefix(code, "x-") {
				continue
			}
			rf, rp, r, err := l.resolve(file, ptr+"/responses/"+escapeToken(code), rv)
			if err != nil {
				return nil, fmt.Errorf("openapi: %w", err)
			}
			rm, _ := r.(map[string]any)
			resp := &Response{}
			resp.Description, _ = rm["description"].(string)
			if resp.Content, err = l.content(rf, rp+"/content", rm["content"]); err != nil {
				return nil, err
			}
			if hs, ok := rm["headers"].(map[string]any); ok {
				resp.Headers = map[string]*Schema{}
				for name, hv := range hs {
					hf, hp, h, err := l.resolve(rf, rp+"/headers/"+escapeToken(name), hv)
					if err != nil {
						return nil, fmt.Errorf("openapi: %w", err)
					}
					hm, _ := h.(map[string]any)
					var sch *Schema
					if sv, ok := hm["schema"]; ok {
						if sch, err = l.schema(hf, hp+"/schema", sv); err != nil {
							return nil, fmt.Errorf("openapi: %w", err)
						}
					}
					resp.Headers[name] = sch
				}
			}
			if ls, ok := rm["links"].(map[string]any); ok {
				resp.Links = map[string]*Link{}
				for name, lv := range ls {
					_, _, lk, err := l.resolve(rf, rp+"/links/"+escapeToken(name), lv)
					if err != nil {
						return nil, fmt.Errorf("openapi: %w", err)
					}
					lm, _ := lk.(map[string]any)
					link := &Link{RequestBody: lm["requestBody"]}
					link.OperationID, _ = lm["operationId"].(string)
					link.OperationRef, _ = lm["operationRef"].(string)
					link.Description, _ = lm["description"].(string)
					link.Parameters, _ = lm["parameters"].(map[string]any)
					resp.Links[name] = link
				}
			}
			op.Responses[code] = resp
		}
	}

	if sv, ok := m["security"]; ok {
		if op.Security, err = security(sv); err != nil {
			return nil, fmt.Errorf("openapi: %s#%s/security: %w", file, ptr, err)
		}
		if op.Security == nil {
			op.Security = []SecurityRequirement{}
		}
	} else {
		op.Security = s.Security
	}
	return op, nil
}
