package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/portcullis/portcullis/internal/units"
)

// Load reads the config file at path and returns it decoded, with defaults
// applied (see WithDefaults), relative file paths made absolute against the
// file's directory, secrets resolved, and validated. On failure the error
// is a Problems listing every problem in the file, or a wrapped I/O error
// when the file cannot be read.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for data already read from file. file names the data in
// problems and anchors relative paths (cert, key, openapi, file: secrets);
// "" means the working directory and no name.
//
// Parsing is strict: an unknown key, a value of the wrong type, an unset
// ${VAR}, a YAML syntax error and every validation problem is reported,
// all of them at once, each with its line and column. The error is then a
// Problems and the returned config is nil.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data, os.LookupEnv)
}

func parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	d := &decoder{file: file, data: data, lookup: lookup, src: newSource(file), anchors: map[string]ast.Node{}}
	c := &Config{File: file, Source: d.src}
	body, probs := d.parseYAML()
	if len(probs) > 0 {
		return nil, probs
	}
	d.src.set("", d.nodePos(body))
	if body != nil {
		d.collectAnchors(body, 0)
		d.decode(body, reflect.ValueOf(c).Elem(), "", Position{Line: 1, Column: 1})
		// A null document zeroes the whole struct, yaml:"-" fields too.
		c.File, c.Source = file, d.src
	}
	c.WithDefaults()
	c.absolutePaths()
	if !d.failedAt("admin.token") {
		if tok, err := c.ResolveSecret(c.Admin.Token); err != nil {
			d.problem("admin.token", d.src.Nearest("admin.token"), "admin.token: "+err.Error())
		} else {
			c.Admin.Token = tok
		}
	}
	if !d.failedAt("crowdsec.api_key") {
		if key, err := c.ResolveSecret(c.CrowdSec.APIKey); err != nil {
			d.problem("crowdsec.api_key", d.src.Nearest("crowdsec.api_key"), "crowdsec.api_key: "+err.Error())
		} else {
			c.CrowdSec.APIKey = key
		}
	}
	for _, p := range c.Validate() {
		if !d.failedAt(normPath(p.Path)) {
			d.probs = append(d.probs, p)
		}
	}
	if len(d.probs) > 0 {
		d.probs.sort()
		return nil, d.probs
	}
	return c, nil
}

// ResolveSecret returns value, or, when value is "file:PATH", the content
// of that file with trailing newlines trimmed. A relative PATH is relative
// to the config file's directory. Load resolves admin.token this way;
// stages with secrets of their own call it for theirs.
func (c *Config) ResolveSecret(value string) (string, error) {
	name, ok := strings.CutPrefix(value, "file:")
	if !ok {
		return value, nil
	}
	if name == "" {
		return "", errors.New(`empty file: reference (expected file:PATH)`)
	}
	b, err := os.ReadFile(c.Path(name))
	if err != nil {
		return "", fmt.Errorf("reading secret %s: %w", value, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", c.Path(name))
	}
	return s, nil
}

// Path returns p made absolute against the config file's directory. An
// absolute p, an empty p and any p of a config without a file are
// returned as they are, so calling Path on a loaded config's (already
// absolute) paths is harmless.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.File == "" {
		return p
	}
	dir := filepath.Dir(c.File)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Join(dir, p)
}

// absolutePaths makes every file path in c absolute against the config
// file's directory, so that what Validate checked is what the gateway
// opens, whatever its working directory.
func (c *Config) absolutePaths() {
	for i := range c.Listeners {
		if t := c.Listeners[i].TLS; t != nil {
			t.Cert, t.Key, t.ClientCA = c.Path(t.Cert), c.Path(t.Key), c.Path(t.ClientCA)
		}
	}
	switch c.Log.Access {
	case "stdout", "stderr", "off", "":
	default:
		c.Log.Access = c.Path(c.Log.Access)
	}
	c.Events.JSONL, c.Events.SQLite = c.Path(c.Events.JSONL), c.Path(c.Events.SQLite)
	c.Events.Audit.File, c.Events.Audit.SigningKey = c.Path(c.Events.Audit.File), c.Path(c.Events.Audit.SigningKey)
	if pg := c.Events.Postgres; pg != nil {
		pg.Spool = c.Path(pg.Spool)
	}
	for i := range c.APIs {
		a := &c.APIs[i]
		a.OpenAPI = c.Path(a.OpenAPI)
		if t := a.Upstream.TLS; t != nil {
			t.CA, t.Cert, t.Key = c.Path(t.CA), c.Path(t.Cert), c.Path(t.Key)
		}
		for _, b := range a.Stages {
			if r, ok := b.(pathResolver); ok {
				r.ResolvePaths(c.Path)
			}
		}
	}
	for _, b := range c.Stages {
		if r, ok := b.(pathResolver); ok {
			r.ResolvePaths(c.Path)
		}
	}
}

// pathResolver is implemented by stage blocks that hold file paths: the
// loader makes them absolute against the config file's directory.
type pathResolver interface {
	ResolvePaths(abs func(string) string)
}

// decoder walks the YAML AST against the Go types, decoding into them and
// collecting every problem with its position.
type decoder struct {
	file    string
	data    []byte
	lookup  func(string) (string, bool)
	src     *Source
	anchors map[string]ast.Node
	probs   Problems
	failed  map[string]bool
	depth   int
}

// maxDepth bounds alias expansion (the config types themselves are only a
// few levels deep).
const maxDepth = 64

func (d *decoder) problem(path string, pos Position, msg string) {
	if pos.Line <= 0 {
		pos = Position{Line: 1, Column: 1}
	}
	pos.Column = max(pos.Column, 1)
	d.probs = append(d.probs, &Problem{File: d.file, Line: pos.Line, Column: pos.Column, Path: dollar(path), Message: msg})
	if d.failed == nil {
		d.failed = map[string]bool{}
	}
	d.failed[path] = true
}

// failedAt reports whether decoding failed at path or at one of its
// ancestors, so that validation does not pile a second problem on the same
// value.
func (d *decoder) failedAt(path string) bool {
	for p := path; ; p = parentPath(p) {
		if d.failed[p] && p != "" {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// parseYAML parses the data into one document body.
func (d *decoder) parseYAML() (body ast.Node, probs Problems) {
	defer func() {
		// The parser has panicked on hostile input in the past; a config
		// loader must answer with a problem, not crash the gateway.
		if r := recover(); r != nil {
			body, probs = nil, Problems{{File: d.file, Line: 1, Column: 1, Path: "$", Message: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	f, err := parser.ParseBytes(d.data, 0)
	if err != nil {
		p := &Problem{File: d.file, Line: 1, Column: 1, Path: "$", Message: "invalid YAML: " + err.Error()}
		var se *yaml.SyntaxError
		if errors.As(err, &se) {
			p.Message = "invalid YAML: " + se.Message
			if se.Token != nil && se.Token.Position != nil && se.Token.Position.Line > 0 {
				p.Line, p.Column = se.Token.Position.Line, max(se.Token.Position.Column, 1)
			}
		}
		return nil, Problems{p}
	}
	var bodies []ast.Node
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			bodies = append(bodies, doc.Body)
		}
	}
	if len(bodies) > 1 {
		pos := d.nodePos(bodies[1])
		return nil, Problems{{File: d.file, Line: pos.Line, Column: pos.Column, Path: "$", Message: "a second YAML document: a config file holds exactly one (remove the extra ---)"}}
	}
	if len(bodies) == 1 {
		return bodies[0], nil
	}
	return nil, nil
}

func tokenPos(tk *token.Token) Position {
	if tk == nil || tk.Position == nil {
		return Position{}
	}
	return Position{Line: tk.Position.Line, Column: tk.Position.Column}
}

// nodePos is where a node starts in the file. For a mapping that is its
// first key (the mapping's own token is the first ':').
func (d *decoder) nodePos(n ast.Node) Position {
	switch x := n.(type) {
	case nil:
		return Position{Line: 1, Column: 1}
	case *ast.MappingNode:
		if len(x.Values) > 0 && x.Start != nil && x.Start.Type != token.MappingStartType {
			return d.nodePos(x.Values[0])
		}
	case *ast.MappingValueNode:
		return d.nodePos(x.Key)
	case *ast.TagNode:
		return tokenPos(x.Start)
	}
	return tokenPos(n.GetToken())
}

func (d *decoder) collectAnchors(n ast.Node, depth int) {
	if n == nil || depth > 1000 {
		return
	}
	switch x := n.(type) {
	case *ast.AnchorNode:
		if x.Name != nil {
			d.anchors[x.Name.GetToken().Value] = x.Value
		}
		d.collectAnchors(x.Value, depth+1)
	case *ast.MappingNode:
		for _, v := range x.Values {
			d.collectAnchors(v, depth+1)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(x.Value, depth+1)
	case *ast.SequenceNode:
		for _, v := range x.Values {
			d.collectAnchors(v, depth+1)
		}
	case *ast.TagNode:
		d.collectAnchors(x.Value, depth+1)
	}
}

// resolve unwraps anchors, aliases and tags. tag is the last explicit tag
// seen ("!!str"), ok is false after a problem.
func (d *decoder) resolve(n ast.Node, path string) (out ast.Node, tag string, ok bool) {
	for i := 0; ; i++ {
		if i > maxDepth {
			d.problem(path, d.nodePos(n), fmt.Sprintf("%s: aliases nest too deep", where(path)))
			return nil, "", false
		}
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
		case *ast.TagNode:
			tag = x.Start.Value
			n = x.Value
		case *ast.AliasNode:
			name := ""
			if x.Value != nil {
				name = x.Value.GetToken().Value
			}
			target, found := d.anchors[name]
			if !found {
				d.problem(path, d.nodePos(n), fmt.Sprintf("%s: unknown alias *%s (expected an &%s anchor earlier in the file)", where(path), name, name))
				return nil, "", false
			}
			n = target
		default:
			return n, tag, true
		}
	}
}

// scalar is a resolved scalar value.
type scalar struct {
	kind     string // "string", "int", "float", "bool", "null"
	text     string // the value as text (after ${} expansion for strings)
	num      any    // int64 or uint64 for "int"
	expanded bool   // text came from a ${} expansion: convert by target type
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	bytesType    = reflect.TypeFor[units.Bytes]()
	textUnmType  = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decode decodes n into v. path is v's YAML path, pos where v was written.
func (d *decoder) decode(n ast.Node, v reflect.Value, path string, pos Position) {
	if d.depth > maxDepth {
		d.problem(path, pos, fmt.Sprintf("%s: nested too deep", where(path)))
		return
	}
	d.depth++
	defer func() { d.depth-- }()

	n, tag, ok := d.resolve(n, path)
	if !ok {
		return
	}
	if _, isNull := n.(*ast.NullNode); isNull || n == nil {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path, pos)
		return
	}
	if wantsScalar(t) {
		if j := rejoinColon(n); j != nil {
			n = j
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		if t != durationType && !reflect.PointerTo(t).Implements(textUnmType) {
			m, isMap := n.(*ast.MappingNode)
			if !isMap {
				d.mismatch(n, path, pos, "a mapping", "a mapping with keys: "+strings.Join(keysOf(t), ", "))
				return
			}
			d.decodeStruct(m, v, path)
			return
		}
	case reflect.Slice:
		seq, isSeq := n.(*ast.SequenceNode)
		if !isSeq {
			d.mismatch(n, path, pos, "a list", kindName(t))
			return
		}
		s := reflect.MakeSlice(t, len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			p := indexPath(path, i)
			ep := d.valuePos(e)
			d.src.set(p, ep)
			d.decode(e, s.Index(i), p, ep)
		}
		v.Set(s)
		return
	case reflect.Map:
		m, isMap := n.(*ast.MappingNode)
		if !isMap || t.Key().Kind() != reflect.String {
			d.mismatch(n, path, pos, "a mapping", "a mapping of names to "+strings.TrimPrefix(kindName(t.Elem()), "a "))
			return
		}
		d.decodeMap(m, v, path)
		return
	}
	d.decodeScalar(n, tag, v, path, pos)
}

// wantsScalar reports whether values of type t are written as scalars.
func wantsScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		return t == durationType || reflect.PointerTo(t).Implements(textUnmType)
	case reflect.Slice, reflect.Map, reflect.Pointer:
		return false
	}
	return true
}

// rejoinColon undoes a misreading of the YAML parser: inside a flow
// sequence that is itself inside a flow mapping (`upstream: {targets:
// [http://127.0.0.1:9000]}`), it reads a plain scalar with an unspaced colon
// as a one-pair mapping ("http://127.0.0.1": 9000), although YAML makes it
// one scalar (a colon ends a key only when a space or flow indicator
// follows). When n is such a pair, key and value plain and written with
// nothing between them but the colon, rejoinColon returns the scalar the
// file holds; otherwise nil.
func rejoinColon(n ast.Node) ast.Node {
	m, ok := n.(*ast.MappingNode)
	if !ok || len(m.Values) != 1 {
		return nil
	}
	kv := m.Values[0]
	kt, vt := kv.Key.GetToken(), kv.Value.GetToken()
	if kt == nil || vt == nil || kt.Position == nil || vt.Position == nil {
		return nil
	}
	if kt.Type != token.StringType || (vt.Type != token.StringType && vt.Type != token.IntegerType && vt.Type != token.FloatType) {
		return nil // quoted or non-plain parts are not a misread scalar
	}
	if _, isMap := kv.Value.(*ast.MappingNode); isMap || vt.Position.Line != kt.Position.Line ||
		vt.Position.Column != kt.Position.Column+utf8.RuneCountInString(kt.Value)+1 {
		return nil
	}
	return &ast.StringNode{BaseNode: &ast.BaseNode{}, Token: kt, Value: kt.Value + ":" + vt.Value}
}

// valuePos is where a value is reported: a scalar at itself, a collection
// or an empty value at the key or dash that introduces it (given by the
// caller through keyPos when there is one).
func (d *decoder) valuePos(n ast.Node) Position {
	return d.nodePos(n)
}

func isScalarNode(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.SequenceNode, *ast.NullNode, nil:
		return false
	}
	return true
}

// entryPos is where a mapping entry's value is reported: at the value when
// it is a scalar on the key's line, else at the key.
func (d *decoder) entryPos(kv *ast.MappingValueNode) Position {
	kp := d.nodePos(kv.Key)
	if isScalarNode(kv.Value) {
		if vp := d.nodePos(kv.Value); vp.Line > 0 {
			return vp
		}
	}
	return kp
}

func keyText(n ast.Node) (string, bool) {
	switch k := n.(type) {
	case *ast.StringNode:
		return k.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return k.GetToken().Value, true
	case *ast.MappingKeyNode:
		return keyText(k.Value)
	}
	return "", false
}

// structField is one YAML key of a struct: a Go field, or one stage block
// of an inline Blocks field (see blocks.go).
type structField struct {
	name  string
	index []int
	// typ is the field's type; for a stage block, a pointer to the
	// block's config type.
	typ reflect.Type
	// goName is the Go field name ("" for a stage block).
	goName string
	// optional is false for fields without omitempty (required keys).
	optional bool
	// block is the registry key of a stage block ("" for a Go field).
	block string
	// owner is the embedded struct that declares the field, nil when the
	// field is the struct's own (its description is the owner's).
	owner reflect.Type
}

// descKey is the descriptions key of f in struct t: "config.API.Name", or
// the block type's own key ("authn.Config") for a stage block.
func (f structField) descKey(t reflect.Type) string {
	if f.block != "" {
		return typeKey(f.typ.Elem())
	}
	if f.owner != nil {
		t = f.owner
	}
	return typeKey(t) + "." + f.goName
}

// get returns f's value in v (a struct of the type fieldsOf was given):
// the field, or for a stage block the block's pointer (a nil pointer of
// the block's type when the block is absent).
func (f structField) get(v reflect.Value) reflect.Value {
	fv := v.FieldByIndex(f.index)
	if f.block == "" {
		return fv
	}
	if e := fv.MapIndex(reflect.ValueOf(f.block)); e.IsValid() && !e.IsNil() {
		return e.Elem()
	}
	return reflect.Zero(f.typ)
}

// fieldsOf lists a struct's YAML keys in declaration order, following
// `yaml:",inline"` embedded structs and expanding an inline Blocks field
// into one key per stage block of its scope.
func fieldsOf(t reflect.Type) []structField {
	var out []structField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Type == blocksType {
			for _, b := range blockFields(f.Tag.Get("blocks")) {
				out = append(out, structField{name: b.key, index: []int{i}, typ: reflect.PointerTo(b.typ), optional: true, block: b.key})
			}
			continue
		}
		if f.Anonymous && strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for _, sub := range fieldsOf(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				if sub.owner == nil {
					sub.owner = f.Type
				}
				out = append(out, sub)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, structField{name: name, index: []int{i}, typ: f.Type, goName: f.Name,
			optional: strings.Contains(opts, "omitempty")})
	}
	return out
}

func keysOf(t reflect.Type) []string {
	fs := fieldsOf(t)
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

func (d *decoder) decodeStruct(m *ast.MappingNode, v reflect.Value, path string) {
	t := v.Type()
	fields := fieldsOf(t)
	byName := make(map[string]structField, len(fields))
	for _, f := range fields {
		byName[f.name] = f
	}
	explicit := map[string]bool{}
	for _, kv := range m.Values {
		if k, ok := keyText(kv.Key); ok {
			explicit[k] = true
		}
	}
	// Merge keys (<<: *base) first, so that explicit keys override them.
	for _, kv := range m.Values {
		if _, isMerge := kv.Key.(*ast.MergeKeyNode); isMerge {
			d.merge(kv, v, path, explicit)
		}
	}
	for _, kv := range m.Values {
		if _, isMerge := kv.Key.(*ast.MergeKeyNode); isMerge {
			continue
		}
		d.decodeEntry(kv, v, path, byName, t, nil)
	}
}

func (d *decoder) decodeEntry(kv *ast.MappingValueNode, v reflect.Value, path string, byName map[string]structField, t reflect.Type, skip map[string]bool) {
	kp := d.nodePos(kv.Key)
	k, ok := keyText(kv.Key)
	if !ok {
		d.problem(path, kp, fmt.Sprintf("%s: a key must be a plain name (expected one of: %s)", where(path), strings.Join(keysOf(t), ", ")))
		return
	}
	if skip[k] {
		return
	}
	f, known := byName[k]
	if !known {
		msg := fmt.Sprintf("unknown key %q in %s", k, where(path))
		if s := suggest(k, keysOf(t)); s != "" {
			msg += fmt.Sprintf(", did you mean %q?", s)
		}
		msg += fmt.Sprintf(" (expected one of: %s)", strings.Join(keysOf(t), ", "))
		d.problem(childPath(path, k), kp, msg)
		return
	}
	p := childPath(path, k)
	pos := d.entryPos(kv)
	d.src.set(p, pos)
	if f.block != "" {
		d.decodeBlock(kv.Value, v.FieldByIndex(f.index), f, p, pos)
		return
	}
	d.decode(kv.Value, v.FieldByIndex(f.index), p, pos)
}

// decodeBlock decodes a stage block into a fresh value of its config type
// and stores it in the Blocks map m under its key. A null block is absent.
func (d *decoder) decodeBlock(n ast.Node, m reflect.Value, f structField, path string, pos Position) {
	if r, _, ok := d.resolve(n, path); ok {
		if _, isNull := r.(*ast.NullNode); isNull || r == nil {
			if !m.IsNil() {
				m.SetMapIndex(reflect.ValueOf(f.block), reflect.Value{})
			}
			return
		}
	}
	if m.IsNil() {
		m.Set(reflect.MakeMap(m.Type()))
	}
	ptr := reflect.New(f.typ.Elem())
	if old := m.MapIndex(reflect.ValueOf(f.block)); old.IsValid() && !old.IsNil() {
		ptr = old.Elem() // merged into by an earlier key (<<: *base)
	}
	d.decode(n, ptr.Elem(), path, pos)
	m.SetMapIndex(reflect.ValueOf(f.block), reflect.ValueOf(ptr.Interface()))
}

// merge decodes the mapping(s) a merge key points at into v, skipping keys
// the mapping sets itself.
func (d *decoder) merge(kv *ast.MappingValueNode, v reflect.Value, path string, explicit map[string]bool) {
	n, _, ok := d.resolve(kv.Value, path)
	if !ok {
		return
	}
	var maps []*ast.MappingNode
	switch x := n.(type) {
	case *ast.MappingNode:
		maps = append(maps, x)
	case *ast.SequenceNode:
		for _, e := range x.Values {
			if e, _, ok := d.resolve(e, path); ok {
				if m, isMap := e.(*ast.MappingNode); isMap {
					maps = append(maps, m)
					continue
				}
			}
			d.problem(path, d.nodePos(kv.Key), fmt.Sprintf("%s: << must merge a mapping or a list of mappings", where(path)))
			return
		}
	default:
		d.problem(path, d.nodePos(kv.Key), fmt.Sprintf("%s: << must merge a mapping or a list of mappings", where(path)))
		return
	}
	t := v.Type()
	for _, m := range maps {
		if t.Kind() == reflect.Map {
			d.decodeMapEntries(m, v, path, explicit)
			continue
		}
		byName := map[string]structField{}
		for _, f := range fieldsOf(t) {
			byName[f.name] = f
		}
		for _, e := range m.Values {
			if _, isMerge := e.Key.(*ast.MergeKeyNode); isMerge {
				continue // nested merges are not followed
			}
			d.decodeEntry(e, v, path, byName, t, explicit)
		}
	}
}

func (d *decoder) decodeMap(m *ast.MappingNode, v reflect.Value, path string) {
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	explicit := map[string]bool{}
	for _, kv := range m.Values {
		if k, ok := keyText(kv.Key); ok {
			explicit[k] = true
		}
	}
	for _, kv := range m.Values {
		if _, isMerge := kv.Key.(*ast.MergeKeyNode); isMerge {
			d.merge(kv, v, path, explicit)
		}
	}
	d.decodeMapEntries(m, v, path, nil)
}

func (d *decoder) decodeMapEntries(m *ast.MappingNode, v reflect.Value, path string, skip map[string]bool) {
	t := v.Type()
	for _, kv := range m.Values {
		if _, isMerge := kv.Key.(*ast.MergeKeyNode); isMerge {
			continue
		}
		k, ok := keyText(kv.Key)
		if !ok {
			d.problem(path, d.nodePos(kv.Key), fmt.Sprintf("%s: a key must be a plain name", where(path)))
			continue
		}
		if skip[k] {
			continue
		}
		p := childPath(path, k)
		pos := d.entryPos(kv)
		d.src.set(p, pos)
		e := reflect.New(t.Elem()).Elem()
		d.decode(kv.Value, e, p, pos)
		v.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
	}
}

// scalarOf reads a scalar node, expanding ${VAR} in strings.
func (d *decoder) scalarOf(n ast.Node, tag, path string, pos Position) (scalar, bool) {
	var s scalar
	switch x := n.(type) {
	case *ast.StringNode:
		s = scalar{kind: "string", text: x.Value}
	case *ast.LiteralNode:
		s = scalar{kind: "string"}
		if x.Value != nil {
			s.text = x.Value.Value
		}
	case *ast.IntegerNode:
		s = scalar{kind: "int", text: x.GetToken().Value, num: x.Value}
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		s = scalar{kind: "float", text: x.GetToken().Value}
	case *ast.BoolNode:
		s = scalar{kind: "bool", text: x.GetToken().Value}
	default:
		return s, false
	}
	if tag == "!!str" {
		s.kind, s.num = "string", nil
	}
	if s.kind == "string" {
		out, changed, errs := expandEnv(s.text, d.lookup)
		for _, e := range errs {
			d.problem(path, d.locate(n, s.text, e), where(path)+": "+e.Msg)
		}
		if len(errs) > 0 {
			return s, false
		}
		s.text, s.expanded = out, changed
	}
	return s, true
}

// locate finds the position of an env reference in the file: the
// scalar's position advanced to the reference's text when it can be found
// there (it always can for plain and quoted one-line scalars).
func (d *decoder) locate(n ast.Node, value string, e envError) Position {
	pos := d.nodePos(n)
	start := lineOffset(d.data, pos.Line)
	if start < 0 {
		return pos
	}
	// Skip to the scalar's column.
	off := start
	for c := 1; c < pos.Column && off < len(d.data) && d.data[off] != '\n'; c++ {
		_, size := utf8.DecodeRune(d.data[off:])
		off += size
	}
	nth := strings.Count(value[:e.Offset], e.Ref)
	rest := d.data[off:]
	at := -1
	for i, base := 0, 0; i <= nth; i++ {
		j := bytes.Index(rest[base:], []byte(e.Ref))
		if j < 0 {
			return pos
		}
		at = base + j
		base = at + len(e.Ref)
	}
	return offsetPos(d.data, off+at)
}

// lineOffset is the byte offset where 1-based line starts, or -1.
func lineOffset(data []byte, line int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	return off
}

// offsetPos converts a byte offset to a 1-based line and column (in
// characters, as the YAML parser counts them).
func offsetPos(data []byte, off int) Position {
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	ls := bytes.LastIndexByte(data[:off], '\n') + 1
	return Position{Line: line, Column: 1 + utf8.RuneCount(data[ls:off])}
}

func (d *decoder) decodeScalar(n ast.Node, tag string, v reflect.Value, path string, pos Position) {
	t := v.Type()
	switch n.(type) {
	case *ast.StringNode, *ast.LiteralNode, *ast.IntegerNode, *ast.FloatNode,
		*ast.InfinityNode, *ast.NanNode, *ast.BoolNode:
	default:
		d.mismatch(n, path, pos, kindName(t), hintFor(t))
		return
	}
	s, ok := d.scalarOf(n, tag, path, pos)
	if !ok {
		return
	}
	quoted := fmt.Sprintf("%q", s.text)
	if s.kind != "string" {
		quoted = s.text
	}
	fail := func(format string, args ...any) {
		d.problem(path, pos, where(path)+": "+fmt.Sprintf(format, args...))
	}
	switch {
	case t == durationType:
		if s.kind == "int" && isZero(s) {
			v.SetInt(0)
			return
		}
		if s.kind != "string" {
			fail("%s is not a duration (expected a string with a unit, e.g. \"5s\", \"250ms\", \"1h30m\")", quoted)
			return
		}
		dur, err := time.ParseDuration(strings.TrimSpace(s.text))
		if err != nil {
			fail("%s is not a duration (expected e.g. \"5s\", \"250ms\", \"1h30m\")", quoted)
			return
		}
		v.SetInt(int64(dur))
		return
	case reflect.PointerTo(t).Implements(textUnmType) && (s.kind == "string" || !isNumberKind(t.Kind())):
		if s.kind == "bool" || s.kind == "null" {
			fail("%s is not %s", quoted, kindName(t))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s.text)); err != nil {
			if t == bytesType {
				fail("%s is not a size (expected bytes such as 65536, or a number with a unit: \"64KiB\", \"1MiB\", \"1MB\")", quoted)
				return
			}
			fail("%s is not %s: %v", quoted, kindName(t), err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		if s.kind == "bool" || s.expanded {
			b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(s.text)))
			if err == nil {
				v.SetBool(b)
				return
			}
		}
		fail("%s is not a boolean (expected true or false)", quoted)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		switch {
		case s.kind == "int":
			switch x := s.num.(type) {
			case int64:
				i = x
			case uint64:
				if x > math.MaxInt64 {
					fail("%s is too large (expected at most %d)", quoted, int64(math.MaxInt64))
					return
				}
				i = int64(x)
			}
		case s.expanded:
			var err error
			if i, err = strconv.ParseInt(strings.TrimSpace(s.text), 0, 64); err != nil {
				fail("%s is not an integer (expected a whole number such as 4096)", quoted)
				return
			}
		default:
			fail("%s is not an integer (expected a whole number such as 4096)", quoted)
			return
		}
		if v.OverflowInt(i) {
			fail("%s is out of range for this field", quoted)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		var err error
		switch {
		case s.kind == "int" || s.expanded:
			u, err = strconv.ParseUint(strings.ReplaceAll(strings.TrimSpace(s.text), "_", ""), 0, 64)
		default:
			err = errors.New("not a number")
		}
		if err != nil {
			fail("%s is not a non-negative integer (expected a whole number such as 4096)", quoted)
			return
		}
		if v.OverflowUint(u) {
			fail("%s is out of range for this field", quoted)
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		if s.kind == "int" || s.kind == "float" || s.expanded {
			txt := strings.TrimSpace(s.text)
			switch strings.ToLower(txt) {
			case ".inf", "+.inf", ".nan", "-.inf":
				fail("%s is not a finite number", quoted)
				return
			}
			if f, err := strconv.ParseFloat(strings.ReplaceAll(txt, "_", ""), 64); err == nil {
				v.SetFloat(f)
				return
			}
		}
		fail("%s is not a number (expected e.g. 0.5)", quoted)
	case reflect.String:
		if s.kind == "bool" {
			fail("%s is a boolean, not a string (expected text; quote it to mean the word: \"%s\")", quoted, s.text)
			return
		}
		// Numbers are taken as written: `min_version: 1.3` means "1.3".
		v.SetString(s.text)
	case reflect.Interface:
		v.Set(reflect.ValueOf(s.text))
	default:
		fail("%s cannot be decoded into %s", quoted, t)
	}
}

func isNumberKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func isZero(s scalar) bool {
	switch x := s.num.(type) {
	case int64:
		return x == 0
	case uint64:
		return x == 0
	}
	return false
}

// mismatch reports a value of the wrong shape: "PATH: FOUND is not WHAT
// (expected HINT)".
func (d *decoder) mismatch(n ast.Node, path string, pos Position, what, hint string) {
	d.problem(path, pos, fmt.Sprintf("%s: %s is not %s (expected %s)", where(path), describe(n), what, hint))
}

// hintFor says what a scalar of type t looks like.
func hintFor(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration such as "5s", "250ms", "1h30m"`
	case t == bytesType:
		return `a size such as 65536, "64KiB", "1MiB"`
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a single value of text"
	case reflect.Float32, reflect.Float64:
		return "a number such as 0.5"
	}
	if isNumberKind(t.Kind()) {
		return "a whole number such as 4096"
	}
	return kindName(t)
}

// describe says what a node is, for messages: `"text"`, `42`, `a list`.
func describe(n ast.Node) string {
	switch x := n.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return strconv.Quote(x.Value)
	case *ast.LiteralNode:
		return "a block of text"
	case nil:
		return "nothing"
	}
	return n.GetToken().Value
}

// kindName names a Go type for messages.
func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration"
	case t == bytesType:
		return "a size"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return kindName(t.Elem())
	case reflect.Struct:
		return "a mapping"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(kindName(t.Elem()), "a "), "an ") + "s"

	case reflect.Map:
		return "a mapping"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	if isNumberKind(t.Kind()) {
		return "an integer"
	}
	return t.String()
}

// suggest returns the key closest to k when it is close enough to be a
// typo.
func suggest(k string, keys []string) string {
	best, bestD := "", 3
	for _, c := range keys {
		if dd := editDistance(strings.ToLower(k), c); dd < bestD {
			best, bestD = c, dd
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
