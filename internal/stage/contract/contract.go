package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/jsonedit"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// ID is the stage id: the config key, log field, metric label and event
// stage.
const ID = "contract"

// Rule ids of the stage's findings and denials.
const (
	// RuleUndeclaredProperty: the answer has a property its schema does
	// not declare.
	RuleUndeclaredProperty = "contract.undeclared-property"
	// RuleSchema: a value does not match its schema (block and log modes).
	RuleSchema = "contract.schema"
	// RuleUndeclaredStatus: the operation declares no response for the
	// status code (nor its class, nor default).
	RuleUndeclaredStatus = "contract.undeclared-status"
	// RuleUndeclaredContentType: the declared response has no such content
	// type, or declares no content and the answer has a body.
	RuleUndeclaredContentType = "contract.undeclared-content-type"
	// RuleMalformed: a JSON answer that is not JSON.
	RuleMalformed = "contract.malformed"
	// RuleUnchecked: a JSON answer too large to buffer, or in an encoding
	// the gateway cannot decode.
	RuleUnchecked = "contract.unchecked"
)

// maxReported bounds the pointers named in one finding.
const maxReported = 5

// Stage checks answers against the API's description. It is read-only
// after New and safe for concurrent use.
type Stage struct {
	mode       string
	open       bool
	blockUndec bool
	blockUnchk bool
	max        int64
	ops        map[string]string // operation key → mode
	// compiled are the response schemas compiled for the walk (Compile);
	// a schema missing here is compiled per answer.
	compiled map[*openapi.Schema]*cnode
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
)

// Module registers the stage: the API's contract block, which needs the
// API's description.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "contract",
	New: func(b *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		if b.Spec == nil {
			return nil, errors.New("apis[].contract requires apis[].openapi (the API's OpenAPI description)")
		}
		s, err := New(*c)
		if err != nil {
			return nil, err
		}
		s.Compile(b.Spec)
		return s, nil
	}}

// New builds the stage.
func New(c Config) (*Stage, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	s := &Stage{mode: c.Mode, open: c.OpenObjects, blockUndec: c.Undeclared == "block",
		blockUnchk: c.Unchecked == "block", max: int64(c.MaxBodyBytes), ops: map[string]string{}}
	if s.mode == "" {
		s.mode = ModeFilter
	}
	if s.max == 0 {
		s.max = DefaultMaxBodyBytes
	}
	for k, o := range c.Operations {
		method, path, _ := openapi.ParseOperationKey(k)
		if o.Mode != "" {
			s.ops[method+" "+path] = o.Mode
		}
	}
	return s, nil
}

// Compile prepares every JSON response schema of spec for the walk, once
// at load: property lookups become one map access and whether an object
// is closed is decided here, not per member of every answer.
func (s *Stage) Compile(spec *openapi.Spec) {
	c := &compiler{open: s.open, memo: map[uintptr]*cnode{}}
	s.compiled = map[*openapi.Schema]*cnode{}
	for _, op := range spec.Operations() {
		for _, rd := range op.Responses {
			for mt, m := range rd.Content {
				if m.Schema != nil && isJSON(mt) {
					s.compiled[m.Schema] = c.node(m.Schema.Raw, 0)
				}
			}
		}
	}
}

// ID returns "contract".
func (s *Stage) ID() string { return ID }

// Request does nothing: the contract is about answers.
func (s *Stage) Request(context.Context, *pipeline.Exchange) (*pipeline.Denial, error) {
	return nil, nil
}

// Response checks the upstream's answer against the matched operation's
// declared response.
func (s *Stage) Response(_ context.Context, x *pipeline.Exchange, resp *http.Response) (*pipeline.Denial, error) {
	if x.Match.Status != openapi.Found || x.Request.Method == http.MethodHead {
		return nil, nil
	}
	mode := s.mode
	if m, ok := s.ops[x.Operation]; ok {
		mode = m
	}
	if mode == ModeOff {
		return nil, nil
	}
	op := x.Match.Operation
	code := strconv.Itoa(resp.StatusCode)
	rd := op.Responses[code]
	if rd == nil && len(code) == 3 {
		rd = op.Responses[code[:1]+"XX"]
	}
	if rd == nil {
		rd = op.Responses["default"]
	}
	if rd == nil {
		return s.breach(x, s.blockUndec, RuleUndeclaredStatus, "the upstream answered a status code the API description does not declare",
			fmt.Sprintf("status %d is not declared for %s", resp.StatusCode, x.Operation)), nil
	}
	if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		return nil, nil
	}
	ct := pipeline.HeaderValue(resp.Header, "Content-Type")
	mt := pipeline.MediaType(ct)
	if len(rd.Content) == 0 {
		if ct == "" && resp.ContentLength == 0 {
			return nil, nil
		}
		body, st, err := x.ResponseBody(resp, s.max)
		if err != nil {
			return nil, err
		}
		if st == pipeline.BodyRead && len(body) == 0 {
			return nil, nil
		}
		return s.breach(x, s.blockUndec, RuleUndeclaredContentType, "the upstream answered with content the API description does not declare",
			fmt.Sprintf("status %d of %s declares no content; got %s", resp.StatusCode, x.Operation, safeType(ct))), nil
	}
	media := mediaFor(rd.Content, mt)
	if mt == "" || media == nil {
		return s.breach(x, s.blockUndec, RuleUndeclaredContentType, "the upstream answered a content type the API description does not declare",
			fmt.Sprintf("status %d of %s: content type %s is not declared", resp.StatusCode, x.Operation, safeType(ct))), nil
	}
	if !isJSON(mt) || media.Schema == nil {
		return nil, nil
	}
	body, st, err := x.ResponseBody(resp, s.max)
	if err != nil {
		return nil, err
	}
	if st != pipeline.BodyRead {
		// Not buffered: the answer passes (or is refused) unchecked, and
		// that is counted, never silent.
		d := &pipeline.Denial{Status: http.StatusBadGateway, Reason: "the upstream response could not be checked against the API description",
			Rules: []string{RuleUnchecked}, Location: "response", Severity: events.SeverityInfo,
			Detail: fmt.Sprintf("%s answer of %s not checked (limit %d bytes)", st, x.Operation, s.max)}
		if s.blockUnchk {
			return d, nil
		}
		x.AddFinding(pipeline.Finding{Stage: ID, Rules: d.Rules, Location: d.Location, Reason: d.Detail, Mode: "log", Severity: d.Severity})
		return nil, nil
	}
	if len(body) == 0 {
		return nil, nil
	}
	root := s.compiled[media.Schema]
	if root == nil {
		root = (&compiler{open: s.open, memo: map[uintptr]*cnode{}}).node(media.Schema.Raw, 0)
	}
	// The visitor and the pass are one allocation: an answer's check costs
	// two (this and Done's closure), whatever it finds.
	w := &walk{v: visitor{filter: mode == ModeFilter, stop: mode == ModeBlock}}
	v := &w.v
	v.reported = v.rbuf[:0]
	// The walk is shared with the next body stage (mask), if there is one:
	// one pass over the answer for both.
	w.pass = pipeline.JSONPass{Stage: ID, Body: body, Visitor: v, Root: jsonedit.Ctx{Ref: root}, NoScalars: true,
		Done: func(err error) (*pipeline.Denial, error) { return s.done(x, v, mode, media, body, err), nil }}
	return x.DeferJSON(resp, &w.pass)
}

// walk is one answer's visitor and the pass that carries it.
type walk struct {
	v    visitor
	pass pipeline.JSONPass
}

// done judges the walk of an answer.
func (s *Stage) done(x *pipeline.Exchange, v *visitor, mode string, media *openapi.MediaType, body []byte, err error) *pipeline.Denial {
	switch {
	case errors.Is(err, jsonedit.ErrStopped) && v.stopped:
		return s.breach(x, true, RuleUndeclaredProperty, "the upstream response does not match the API description",
			"undeclared property "+string(v.reported[:v.first]))
	case errors.Is(err, jsonedit.ErrStopped):
		return nil // the stage walked alongside refuses the answer
	case err != nil:
		return s.breach(x, mode == ModeBlock, RuleMalformed, "the upstream response is not valid JSON", clip(err.Error(), 200))
	}
	if v.count > 0 {
		what := "found"
		if v.filter {
			what = "removed"
		}
		// "12 undeclared properties removed: /a/0/x, /a/1/x, …", built in
		// one allocation.
		var r strings.Builder
		r.Grow(40 + len(v.reported))
		var num [20]byte
		r.Write(strconv.AppendInt(num[:0], int64(v.count), 10))
		r.WriteString(" undeclared properties ")
		r.WriteString(what)
		r.WriteString(": ")
		r.Write(v.reported)
		r.WriteString(more(v.count, v.named))
		x.AddFinding(pipeline.Finding{Stage: ID, Rules: ruleUndeclared, Location: "response:" + string(v.reported[:v.first]),
			Reason: r.String(), Mode: modeName(mode), Severity: events.SeverityMedium})
	}
	if mode == ModeFilter {
		return nil
	}
	// Block and log modes also hold the values to their schema.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil // the walker accepted it; cannot happen
	}
	errs := media.Schema.Validate(doc, maxReported)
	if len(errs) == 0 {
		return nil
	}
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		parts = append(parts, e.Pointer+" "+e.Reason)
	}
	return s.breach(x, mode == ModeBlock, RuleSchema, "the upstream response does not match the API description", clip(strings.Join(parts, "; "), 1024))
}

// breach refuses the answer (block) or records it as a finding.
func (s *Stage) breach(x *pipeline.Exchange, block bool, rule, reason, detail string) *pipeline.Denial {
	d := &pipeline.Denial{Status: http.StatusBadGateway, Reason: reason, Rules: []string{rule}, Location: "response",
		Detail: detail, Severity: events.SeverityMedium}
	if block {
		return d
	}
	x.AddFinding(pipeline.Finding{Stage: ID, Rules: d.Rules, Location: d.Location, Reason: clip(detail, 512), Mode: "log", Severity: d.Severity})
	return nil
}

// ruleUndeclared is the rules of an undeclared-property finding (shared:
// findings are read, never changed).
var ruleUndeclared = []string{RuleUndeclaredProperty}

// more marks a list of pointers that names only some of them.
func more(count, named int) string {
	if count > named {
		return ", …"
	}
	return ""
}

func modeName(m string) string {
	if m == ModeFilter {
		return "filter"
	}
	return "log"
}

// nodeOf is the compiled schema of the value a walker's context is at
// (nil: unconstrained); the context's depth is the value's.
func nodeOf(c jsonedit.Ctx) *cnode {
	n, _ := c.Ref.(*cnode)
	return n
}

// cnode is a schema compiled for the walk.
type cnode struct {
	props map[string]*cnode // declared properties, allOf/oneOf/anyOf members' included
	list  []prop            // the same, as a list
	// slots is an open-addressing table of list's indexes (+1; 0 is an
	// empty slot) by nameHash, at least twice as long as list: a lookup
	// is one hash of three bytes and, nearly always, one comparison.
	slots  []uint16
	extra  *cnode // the schema of undeclared members' values (additionalProperties)
	items  *cnode
	closed bool // an undeclared member breaks the contract
}

type prop struct {
	name string
	n    *cnode
}

// lookup returns the declared property name.
func (n *cnode) lookup(name []byte) (*cnode, bool) {
	if n.slots == nil {
		if len(n.props) == 0 {
			return nil, false
		}
		sub, ok := n.props[string(name)]
		return sub, ok
	}
	mask := uint(len(n.slots) - 1)
	for h := nameHash(name) & mask; ; h = (h + 1) & mask {
		i := n.slots[h]
		if i == 0 {
			return nil, false
		}
		if p := &n.list[i-1]; p.name == string(name) {
			return p.n, true
		}
	}
}

// nameHash hashes a property name by its length and its first and last
// bytes: the declared names of one object rarely share all three.
func nameHash[T ~string | ~[]byte](s T) uint {
	if len(s) == 0 {
		return 0
	}
	return uint(len(s))*0x9e37 ^ uint(s[0])*0x1f3 ^ uint(s[len(s)-1])*0x2b
}

// index builds n's list and slots from its props.
func (n *cnode) index() {
	if len(n.props) == 0 || len(n.props) > 1<<14 {
		return // no property, or so many that the map is as good
	}
	n.list = make([]prop, 0, len(n.props))
	for k, v := range n.props {
		n.list = append(n.list, prop{k, v})
	}
	size := 8
	for size < 2*len(n.list) {
		size *= 2
	}
	n.slots = make([]uint16, size)
	mask := uint(size - 1)
	for i, p := range n.list {
		h := nameHash(p.name) & mask
		for n.slots[h] != 0 {
			h = (h + 1) & mask
		}
		n.slots[h] = uint16(i + 1)
	}
}

// free is the node of an unconstrained value.
var free = &cnode{}

// compiler compiles raw schemas, each once (recursive schemas share
// their nodes).
type compiler struct {
	open bool
	memo map[uintptr]*cnode
}

func (c *compiler) node(m map[string]any, depth int) *cnode {
	if m == nil || depth > 64 {
		return free
	}
	key := reflect.ValueOf(m).Pointer()
	if n, ok := c.memo[key]; ok {
		return n
	}
	n := &cnode{props: map[string]*cnode{}}
	c.memo[key] = n
	c.fill(n, m, depth, 0)
	n.index()
	n.closed = closed(m, c.open)
	if it := openapi.ItemsSchema(m); it != nil {
		n.items = c.node(it, depth+1)
	}
	if ap, ok := m["additionalProperties"].(map[string]any); ok {
		n.extra = c.node(ap, depth+1)
	}
	return n
}

// fill adds m's properties and those of its allOf/oneOf/anyOf members.
func (c *compiler) fill(n *cnode, m map[string]any, depth, level int) {
	if m == nil || level > 16 {
		return
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for name, p := range props {
			if _, seen := n.props[name]; seen {
				continue
			}
			switch t := p.(type) {
			case map[string]any:
				n.props[name] = c.node(t, depth+1)
			case bool:
				if t {
					n.props[name] = free
				}
			}
		}
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		if alts, ok := m[k].([]any); ok {
			for _, a := range alts {
				if sub, ok := a.(map[string]any); ok {
					c.fill(n, sub, depth, level+1)
				}
			}
		}
	}
}

// visitor removes (filter), stops at (block) or notes (log) members their
// object's schema does not declare.
type visitor struct {
	filter, stop bool
	stopped      bool // the walk stopped at an undeclared member (block)

	ptr jsonedit.Pointer
	// reported holds the pointers of the first maxReported undeclared
	// members, joined by ", " (the first one is reported[:first]), in
	// rbuf while they fit: nothing is allocated per member.
	reported []byte
	first    int
	named    int
	count    int
	rbuf     [192]byte
}

func (v *visitor) Member(parent jsonedit.Ctx, name []byte) (jsonedit.Ctx, jsonedit.Action) {
	p := nodeOf(parent)
	if p == nil || p == free {
		return jsonedit.Ctx{Depth: parent.Depth + 1}, jsonedit.Keep
	}
	v.ptr.Name(parent.Depth, name)
	if sub, ok := p.lookup(name); ok {
		return jsonedit.Ctx{Ref: sub, Depth: parent.Depth + 1}, jsonedit.Keep
	}
	if p.extra != nil || !p.closed {
		return jsonedit.Ctx{Ref: p.extra, Depth: parent.Depth + 1}, jsonedit.Keep
	}
	v.count++
	if v.named < maxReported {
		if v.named > 0 {
			v.reported = append(v.reported, ", "...)
		}
		v.reported = v.ptr.Append(v.reported, parent.Depth)
		if v.named == 0 {
			v.first = len(v.reported)
		}
		v.named++
	}
	switch {
	case v.stop:
		v.stopped = true
		return jsonedit.Ctx{}, jsonedit.Stop
	case v.filter:
		return jsonedit.Ctx{}, jsonedit.Drop
	}
	return jsonedit.Ctx{Depth: parent.Depth + 1}, jsonedit.Keep
}

func (v *visitor) Element(parent jsonedit.Ctx, i int) (jsonedit.Ctx, jsonedit.Action) {
	p := nodeOf(parent)
	if p == nil || p == free {
		return jsonedit.Ctx{Depth: parent.Depth + 1}, jsonedit.Keep
	}
	v.ptr.Index(parent.Depth, i)
	return jsonedit.Ctx{Ref: p.items, Depth: parent.Depth + 1}, jsonedit.Keep
}

func (v *visitor) Scalar(jsonedit.Ctx, jsonedit.Kind, []byte) ([]byte, jsonedit.Action) {
	return nil, jsonedit.Keep
}

// closed reports whether an object schema's undeclared properties break
// the contract: it says additionalProperties: false (or
// unevaluatedProperties: false), or it declares properties and is silent
// about others (unless open_objects). A schema with patternProperties is
// left open: which names it allows takes its regular expressions.
func closed(m map[string]any, open bool) bool {
	if has(m, "patternProperties", 0) {
		return false
	}
	if b, ok := flag(m, "additionalProperties", 0); ok {
		return !b
	}
	if b, ok := flag(m, "unevaluatedProperties", 0); ok {
		return !b
	}
	return !open && has(m, "properties", 0)
}

// has reports whether m or one of its allOf/oneOf/anyOf members has key.
func has(m map[string]any, key string, depth int) bool {
	if m == nil || depth > 16 {
		return false
	}
	if _, ok := m[key]; ok {
		return true
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		if alts, ok := m[k].([]any); ok {
			for _, a := range alts {
				if sub, ok := a.(map[string]any); ok && has(sub, key, depth+1) {
					return true
				}
			}
		}
	}
	return false
}

// flag returns a boolean keyword of m or its allOf members (a schema
// there counts as true: it allows more properties).
func flag(m map[string]any, key string, depth int) (bool, bool) {
	if m == nil || depth > 16 {
		return false, false
	}
	switch t := m[key].(type) {
	case bool:
		return t, true
	case map[string]any:
		return true, true
	}
	if alts, ok := m["allOf"].([]any); ok {
		for _, a := range alts {
			if sub, ok := a.(map[string]any); ok {
				if b, ok := flag(sub, key, depth+1); ok {
					return b, true
				}
			}
		}
	}
	return false, false
}

func isJSON(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// mediaFor picks the declared media type for a content type: exact, then
// "type/*", then "*/*".
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

// safeType returns a content type for an event: the media type, capped.
func safeType(ct string) string {
	if ct == "" {
		return "no content type"
	}
	return clip(ct, 100)
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
