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
	compiled map[*openapi.Schema]*jsonedit.Shape
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
	c := &compiler{open: s.open, memo: map[uintptr]*jsonedit.Shape{}}
	s.compiled = map[*openapi.Schema]*jsonedit.Shape{}
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
		root = (&compiler{open: s.open, memo: map[uintptr]*jsonedit.Shape{}}).node(media.Schema.Raw, 0)
	}
	// The walk and the pass are one allocation: an answer's check costs
	// two (this and Done's closure), whatever it finds.
	w := &walk{f: jsonedit.Filter{Shape: root, Undeclared: jsonedit.Keep, Limit: maxReported}}
	switch mode {
	case ModeFilter:
		w.f.Undeclared = jsonedit.Drop
	case ModeBlock:
		w.f.Undeclared = jsonedit.Stop
	}
	f := &w.f
	// The walk is shared with the next body stage (mask), if there is one:
	// one pass over the answer for both.
	w.pass = pipeline.JSONPass{Stage: ID, Body: body, Filter: f,
		Done: func(err error) (*pipeline.Denial, error) { return s.done(x, f, mode, media, body, err), nil }}
	return x.DeferJSON(resp, &w.pass)
}

// walk is one answer's walk and the pass that carries it.
type walk struct {
	f    jsonedit.Filter
	pass pipeline.JSONPass
}

// done judges the walk of an answer.
func (s *Stage) done(x *pipeline.Exchange, v *jsonedit.Filter, mode string, media *openapi.MediaType, body []byte, err error) *pipeline.Denial {
	switch {
	case errors.Is(err, jsonedit.ErrStopped) && v.Stopped:
		return s.breach(x, true, RuleUndeclaredProperty, "the upstream response does not match the API description",
			"undeclared property "+string(v.Reported[:v.First]))
	case errors.Is(err, jsonedit.ErrStopped):
		return nil // the stage walked alongside refuses the answer
	case err != nil:
		return s.breach(x, mode == ModeBlock, RuleMalformed, "the upstream response is not valid JSON", clip(err.Error(), 200))
	}
	if v.Count > 0 {
		what := "found"
		if mode == ModeFilter {
			what = "removed"
		}
		// "12 undeclared properties removed: /a/0/x, /a/1/x, …", built in
		// one allocation.
		var r strings.Builder
		r.Grow(40 + len(v.Reported))
		var num [20]byte
		r.Write(strconv.AppendInt(num[:0], int64(v.Count), 10))
		r.WriteString(" undeclared properties ")
		r.WriteString(what)
		r.WriteString(": ")
		r.Write(v.Reported)
		r.WriteString(more(v.Count, v.Named))
		x.AddFinding(pipeline.Finding{Stage: ID, Rules: ruleUndeclared, Location: "response:" + string(v.Reported[:v.First]),
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

// free is the node of an unconstrained value.
var free = &jsonedit.Shape{}

// compiler compiles raw schemas, each once (recursive schemas share
// their nodes).
type compiler struct {
	open bool
	memo map[uintptr]*jsonedit.Shape
}

func (c *compiler) node(m map[string]any, depth int) *jsonedit.Shape {
	if m == nil || depth > 64 {
		return free
	}
	key := reflect.ValueOf(m).Pointer()
	if n, ok := c.memo[key]; ok {
		return n
	}
	n := &jsonedit.Shape{Props: map[string]*jsonedit.Shape{}}
	c.memo[key] = n
	c.fill(n, m, depth, 0)
	n.Index()
	n.Closed = closed(m, c.open)
	if it := openapi.ItemsSchema(m); it != nil {
		n.Items = c.node(it, depth+1)
	}
	if ap, ok := m["additionalProperties"].(map[string]any); ok {
		n.Extra = c.node(ap, depth+1)
	}
	return n
}

// fill adds m's properties and those of its allOf/oneOf/anyOf members.
func (c *compiler) fill(n *jsonedit.Shape, m map[string]any, depth, level int) {
	if m == nil || level > 16 {
		return
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for name, p := range props {
			if _, seen := n.Props[name]; seen {
				continue
			}
			switch t := p.(type) {
			case map[string]any:
				n.Props[name] = c.node(t, depth+1)
			case bool:
				if t {
					n.Props[name] = free
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
