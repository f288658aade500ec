package mask

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/dlp"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/jsonedit"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// ID is the stage id: the config key, log field, metric label and event
// stage.
const ID = "mask"

// Rule ids: "mask.<kind>" for each detected kind ("mask.card",
// "mask.password-hash"), and these.
const (
	// RuleField: a member named by a field rule.
	RuleField = "mask.field"
	// RuleUnchecked: an answer too large to buffer, or in an encoding the
	// gateway cannot decode.
	RuleUnchecked = "mask.unchecked"
)

// RuleOf returns the rule id of a detected kind.
func RuleOf(k dlp.Kind) string { return "mask." + k.String() }

// action is a compiled action; a higher one wins when several apply.
type action uint8

const (
	off action = iota
	logOnly
	maskIt
	dropIt
	blockIt
)

func parseAction(s string, def action) action {
	switch s {
	case ActionMask:
		return maskIt
	case ActionDrop:
		return dropIt
	case ActionBlock:
		return blockIt
	case ActionLog:
		return logOnly
	case ActionOff:
		return off
	}
	return def
}

func (a action) mode() string {
	switch a {
	case maskIt:
		return "mask"
	case dropIt:
		return "drop"
	case blockIt:
		return "block"
	}
	return "log"
}

type fieldRule struct {
	name string // as configured, for events
	act  action
	glob []string // the name split on '*' (nil for an exact name)
}

// policy is what applies to one operation's answers.
type policy struct {
	kinds [16]action // by dlp.Kind
	set   dlp.Set    // kinds looked for
	exact map[string]*fieldRule
	globs []*fieldRule
	// gate rules out, from their first, second and last characters, the
	// member names no exact rule covers (all pass when there are globs):
	// most names are ruled out before any normalizing.
	gate jsonedit.NameGate
}

// Stage masks sensitive values in answers. It is read-only after New and
// safe for concurrent use.
type Stage struct {
	def        *policy
	ops        map[string]*policy // operation key → its policy
	off        map[string]bool
	repl       []byte // Replacement as a JSON string
	replText   string
	cardDigits int
	max        int64
	blockUnchk bool
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
)

// Module registers the stage: the API's mask block.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "mask",
	New: func(_ *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		return New(*c)
	}}

// New compiles the block.
func New(c Config) (*Stage, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	s := &Stage{ops: map[string]*policy{}, off: map[string]bool{}, replText: c.Replacement,
		cardDigits: c.CardDigits, max: int64(c.MaxBodyBytes), blockUnchk: c.Unchecked == "block"}
	if s.replText == "" {
		s.replText = "****"
	}
	s.repl = jsonedit.AppendQuoted(nil, s.replText)
	if s.cardDigits == 0 {
		s.cardDigits = 4
	} else if s.cardDigits < 0 {
		s.cardDigits = 0
	}
	if s.max == 0 {
		s.max = DefaultMaxBodyBytes
	}
	def := parseAction(c.Action, maskIt)
	var fields []Field
	if c.DefaultFields == nil || *c.DefaultFields {
		for _, n := range DefaultFields {
			fields = append(fields, Field{Name: n, Action: ActionDrop})
		}
	}
	fields = append(fields, c.Fields...)
	build := func(op string) *policy {
		p := &policy{exact: map[string]*fieldRule{}}
		for _, k := range dlp.Kinds() {
			p.kinds[k] = def
		}
		apply := func(kinds map[string]string) {
			for name, a := range kinds {
				k, _ := dlp.ParseKind(name)
				p.kinds[k] = parseAction(a, def)
			}
		}
		apply(c.Kinds)
		if op != "" {
			for k, o := range c.Operations {
				if opKey(k) == op {
					apply(o.Kinds)
				}
			}
		}
		for _, k := range dlp.Kinds() {
			if p.kinds[k] != off {
				p.set |= dlp.SetOf(k)
			}
		}
		for _, f := range fields {
			if len(f.Operations) > 0 && !containsOp(f.Operations, op) {
				continue
			}
			r := &fieldRule{name: f.Name, act: parseAction(f.Action, maskIt)}
			n := normalize(f.Name)
			if strings.Contains(n, "*") {
				r.glob = strings.Split(n, "*")
				p.globs = append(p.globs, r)
				p.gate.All = true
			} else {
				p.exact[n] = r
				p.gate.Add(n)
			}
		}
		return p
	}
	s.def = build("")
	named := map[string]bool{}
	for k, o := range c.Operations {
		named[opKey(k)] = true
		if o.Off {
			s.off[opKey(k)] = true
		}
	}
	for _, f := range c.Fields {
		for _, op := range f.Operations {
			named[opKey(op)] = true
		}
	}
	for op := range named {
		s.ops[op] = build(op)
	}
	return s, nil
}

func opKey(k string) string {
	m, p, err := openapi.ParseOperationKey(k)
	if err != nil {
		return k
	}
	return m + " " + p
}

func containsOp(ops []string, op string) bool {
	for _, o := range ops {
		if opKey(o) == op {
			return true
		}
	}
	return false
}

// ID returns "mask".
func (s *Stage) ID() string { return ID }

// Request does nothing: masking is about answers.
func (s *Stage) Request(context.Context, *pipeline.Exchange) (*pipeline.Denial, error) {
	return nil, nil
}

// Response masks, removes or refuses the sensitive values of the answer.
func (s *Stage) Response(_ context.Context, x *pipeline.Exchange, resp *http.Response) (*pipeline.Denial, error) {
	if x.Request.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		return nil, nil
	}
	if s.off[x.Operation] {
		return nil, nil
	}
	p := s.def
	if op, ok := s.ops[x.Operation]; ok {
		p = op
	}
	mt := pipeline.MediaType(pipeline.HeaderValue(resp.Header, "Content-Type"))
	jsonBody := mt == "application/json" || strings.HasSuffix(mt, "+json")
	if !jsonBody && !textual(mt) {
		return nil, nil
	}
	body, st, err := x.ResponseBody(resp, s.max)
	if err != nil {
		return nil, err
	}
	if st != pipeline.BodyRead {
		d := &pipeline.Denial{Status: http.StatusBadGateway, Reason: "the upstream response could not be inspected for sensitive data",
			Rules: []string{RuleUnchecked}, Location: "response", Severity: events.SeverityInfo,
			Detail: fmt.Sprintf("%s answer not inspected (limit %d bytes)", st, s.max)}
		if s.blockUnchk {
			return d, nil
		}
		x.AddFinding(pipeline.Finding{Stage: ID, Rules: d.Rules, Location: d.Location, Reason: d.Detail, Mode: "log", Severity: d.Severity})
		return nil, nil
	}
	if len(body) == 0 {
		return nil, nil
	}
	v := newVisitor(s, p)
	defer v.release()
	var out []byte
	var changed bool
	if jsonBody {
		if pass := x.TakeJSON(resp); pass != nil {
			// An earlier body stage (contract) walks with us: one pass over
			// the answer, its side first (what it drops we never see). Its
			// verdict comes first too.
			f := pass.Filter
			f.Inspector, f.Gate, f.MinScalar = v, &p.gate, dlp.MinLength
			out, changed, err = f.Run(body, x.Buffer(len(body)))
			f.Inspector = nil
			if d, derr := pass.Done(err); d != nil || derr != nil {
				if d != nil && d.Stage == "" {
					d.Stage = pass.Stage
				}
				return d, derr
			}
		} else {
			v.walk = jsonedit.Filter{Inspector: v, Gate: &p.gate, MinScalar: dlp.MinLength}
			out, changed, err = v.walk.Run(body, x.Buffer(len(body)))
			v.walk.Inspector = nil
		}
		if err != nil && !errors.Is(err, jsonedit.ErrStopped) {
			// Not JSON after all: inspect it as text.
			v.reset(s, p)
			out, changed, err = v.text(body)
		}
	} else {
		out, changed, err = v.text(body)
	}
	if errors.Is(err, jsonedit.ErrStopped) || v.blocked {
		v.report(x, true)
		return &pipeline.Denial{Status: http.StatusBadGateway, Reason: "the upstream response was withheld: it carried sensitive data",
			Rules: v.rules(), Location: v.first(), Severity: events.SeverityHigh,
			Detail: v.summary()}, nil
	}
	if err != nil {
		return nil, err
	}
	if changed {
		x.SetResponseBody(resp, out)
	}
	v.report(x, false)
	return nil, nil
}

// textual reports whether a media type is text masking can read.
func textual(mt string) bool {
	return strings.HasPrefix(mt, "text/") || mt == "application/xml" || strings.HasSuffix(mt, "+xml") ||
		mt == "application/x-www-form-urlencoded" || mt == "application/javascript" || mt == "application/yaml"
}

// record is what the answer's events say about one rule.
type record struct {
	rule  string
	act   action
	count int
	where []string
	what  string // the field rule's name
}

// visitor is the masking side of an answer's walk (a jsonedit.Inspector:
// the walk's tag is the field rule covering a value, whose whole content
// is masked or logged).
type visitor struct {
	s       *Stage
	p       *policy
	recs    []record
	blocked bool
	norm    []byte
	dec     []byte
	buf     [8]dlp.Match
	walk    jsonedit.Filter // the walk when mask walks alone
}

var _ jsonedit.Inspector = (*visitor)(nil)

// visitors recycles the visitors (and their buffers) of finished answers.
var visitors = sync.Pool{New: func() any { return new(visitor) }}

func newVisitor(s *Stage, p *policy) *visitor {
	v := visitors.Get().(*visitor)
	v.reset(s, p)
	return v
}

// reset readies v for an answer, keeping its buffers.
func (v *visitor) reset(s *Stage, p *policy) {
	recs, norm, dec := v.recs[:0], v.norm[:0], v.dec[:0]
	v.s, v.p, v.recs, v.blocked, v.norm, v.dec = s, p, recs, false, norm, dec
}

// release gives v back once the answer's findings are recorded (they
// hold none of its memory).
func (v *visitor) release() {
	v.reset(nil, nil)
	visitors.Put(v)
}

func (v *visitor) note(rule string, act action, where, what string) {
	for i := range v.recs {
		if v.recs[i].rule == rule && v.recs[i].act == act && v.recs[i].what == what {
			v.recs[i].count++
			if len(v.recs[i].where) < 10 {
				v.recs[i].where = append(v.recs[i].where, where)
			}
			return
		}
	}
	v.recs = append(v.recs, record{rule: rule, act: act, count: 1, where: []string{where}, what: what})
}

// fieldRule returns the rule for a member name (one the policy's gate
// let through), or nil.
func (v *visitor) fieldRule(name []byte) *fieldRule {
	v.norm = appendNormalized(v.norm[:0], name)
	if r, ok := v.p.exact[string(v.norm)]; ok {
		return r
	}
	for _, r := range v.p.globs {
		if glob(r.glob, string(v.norm)) {
			return r
		}
	}
	return nil
}

// glob matches s against parts (a pattern split on '*').
func glob(parts []string, s string) bool {
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

// Member applies the field rules to a member the policy's gate lets
// through, outside any value a rule covers.
func (v *visitor) Member(p *jsonedit.Pointer, d int, name []byte) (any, jsonedit.Action) {
	r := v.fieldRule(name)
	if r == nil {
		return nil, jsonedit.Keep
	}
	v.note(RuleField, r.act, p.String(d), r.name)
	switch r.act {
	case blockIt:
		v.blocked = true
		return nil, jsonedit.Stop
	case dropIt:
		return nil, jsonedit.Drop
	}
	return r, jsonedit.Keep
}

// Scalar masks, removes or refuses a value a field rule covers or one
// long enough to hold a sensitive value (the walk's gates).
func (v *visitor) Scalar(p *jsonedit.Pointer, d int, tag any, k jsonedit.Kind, raw []byte) ([]byte, jsonedit.Action) {
	rule, _ := tag.(*fieldRule)
	return v.scalar(p, d, rule, k, raw)
}

func (v *visitor) scalar(ptr *jsonedit.Pointer, d int, rule *fieldRule, k jsonedit.Kind, raw []byte) ([]byte, jsonedit.Action) {
	if rule != nil {
		if rule.act == maskIt && (k == jsonedit.String || k == jsonedit.Number) {
			return v.s.repl, jsonedit.Replace
		}
		return nil, jsonedit.Keep
	}
	if len(raw) < dlp.MinLength {
		return nil, jsonedit.Keep // too short to be any sensitive value (a string's quotes aside, decoding only shortens)
	}
	var text []byte
	switch k {
	case jsonedit.String:
		if len(raw)-2 < dlp.MinLength {
			return nil, jsonedit.Keep
		}
		text = raw[1 : len(raw)-1]
		if bytes.IndexByte(text, '\\') >= 0 {
			v.dec = jsonedit.AppendUnquoted(v.dec[:0], text)
			text = v.dec
		}
	case jsonedit.Number:
		text = raw
	default:
		return nil, jsonedit.Keep
	}
	if len(text) < dlp.MinLength {
		return nil, jsonedit.Keep // too short to be any sensitive value
	}
	ms := dlp.Find(text, v.p.set, v.buf[:0])
	if len(ms) == 0 {
		return nil, jsonedit.Keep
	}
	where := ptr.String(d)
	if where == "" {
		where = "/"
	}
	top := off
	for _, m := range ms {
		a := v.p.kinds[m.Kind]
		v.note(RuleOf(m.Kind), a, where, "")
		top = max(top, a)
	}
	switch top {
	case blockIt:
		v.blocked = true
		return nil, jsonedit.Stop
	case dropIt:
		return nil, jsonedit.Drop
	case maskIt:
		return jsonedit.AppendQuoted(nil, v.masked(string(text), ms)), jsonedit.Replace
	}
	return nil, jsonedit.Keep
}

// masked returns text with the matches whose action is mask replaced.
func (v *visitor) masked(text string, ms []dlp.Match) string {
	return dlp.Replace(text, ms, func(m dlp.Match, val string) string {
		switch {
		case v.p.kinds[m.Kind] != maskIt:
			return val
		case m.Kind == dlp.Card:
			return dlp.MaskDigits(val, v.s.cardDigits)
		}
		return v.s.replText
	})
}

// text masks a body that is not JSON.
func (v *visitor) text(body []byte) ([]byte, bool, error) {
	ms := dlp.Find(body, v.p.set, nil)
	if len(ms) == 0 {
		return body, false, nil
	}
	for _, m := range ms {
		a := v.p.kinds[m.Kind]
		if a == dropIt {
			a = maskIt // text has no member to drop: the value is masked
		}
		v.note(RuleOf(m.Kind), a, "offset "+strconv.Itoa(m.Start), "")
		if a == blockIt {
			v.blocked = true
		}
	}
	if v.blocked {
		return nil, false, nil
	}
	saved := v.p
	p := *saved
	for k, a := range p.kinds {
		if a == dropIt {
			p.kinds[k] = maskIt
		}
	}
	v.p = &p
	out := v.masked(string(body), ms)
	v.p = saved
	return []byte(out), out != string(body), nil
}

// report adds one finding per rule and action (counted, with where the
// values were, never what they were).
func (v *visitor) report(x *pipeline.Exchange, blocked bool) {
	if blocked {
		return // the denial is the event
	}
	for _, r := range v.recs {
		sev := events.SeverityMedium
		if r.rule == RuleOf(dlp.PrivateKey) || r.rule == RuleOf(dlp.PasswordHash) || r.rule == RuleOf(dlp.AWS) {
			sev = events.SeverityHigh
		}
		x.AddFinding(pipeline.Finding{Stage: ID, Rules: []string{r.rule}, Location: "response:" + r.where[0],
			Reason: r.reason(), Mode: r.act.mode(), Severity: sev})
	}
}

func (r record) reason() string {
	verb := map[action]string{maskIt: "masked", dropIt: "removed", logOnly: "found", blockIt: "refused"}[r.act]
	what := strings.TrimPrefix(r.rule, "mask.") + " value"
	if r.rule == RuleField {
		what = "value of field " + r.what
	}
	if r.count != 1 {
		what += "s"
	}
	return fmt.Sprintf("%d %s %s at %s", r.count, what, verb, strings.Join(r.where, ", "))
}

func (v *visitor) rules() []string {
	var out []string
	for _, r := range v.recs {
		if !containsStr(out, r.rule) {
			out = append(out, r.rule)
		}
	}
	return out
}

func (v *visitor) first() string {
	if len(v.recs) == 0 {
		return "response"
	}
	return "response:" + v.recs[0].where[0]
}

func (v *visitor) summary() string {
	parts := make([]string, len(v.recs))
	for i, r := range v.recs {
		parts[i] = r.reason()
	}
	return strings.Join(parts, "; ")
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
