package waf

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/libinjection-go"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/redact"
	"github.com/portcullis/portcullis/internal/store"
)

// ID is the stage id: the config key, log field, metric label and event
// stage.
const ID = "waf"

// Built-in rule ids (besides CRS's numeric ids).
const (
	RuleSQLi      = "libinjection-sqli"
	RuleXSS       = "libinjection-xss"
	RuleXXE       = "waf.xxe"
	RuleNoSQL     = "waf.nosql"
	RuleSSTI      = "waf.ssti"
	RuleCRLF      = "waf.crlf"
	RuleLDAP      = "waf.ldap"
	RuleXPath     = "waf.xpath"
	RuleCmd       = "waf.cmdi"
	RuleBodyParse = "waf.body-parse"
	// RuleInspectLimit: more text to run the CRS over than
	// Config.MaxInspectBytes (413).
	RuleInspectLimit = "waf.inspect-limit"
	// RuleCustom marks an interruption by a custom SecLang rule that
	// carried no id.
	RuleCustom = "waf.custom"
)

func init() {
	builtinRules[RuleLDAP], builtinRules[RuleXPath], builtinRules[RuleCmd] = true, true, true
}

// builtinScore is what a built-in detection adds to the anomaly score: as
// much as a CRS critical rule, so that one alone reaches the default
// threshold.
const builtinScore = 5

// maxExcerpt is the most bytes of a matched value put in an event.
const maxExcerpt = 64

// crsFiles are the request-side CRS files, in order. The response side is
// not loaded: response inspection belongs to the response stages.
var crsFiles = []string{
	"REQUEST-901-INITIALIZATION.conf",
	"REQUEST-905-COMMON-EXCEPTIONS.conf",
	"REQUEST-911-METHOD-ENFORCEMENT.conf",
	"REQUEST-913-SCANNER-DETECTION.conf",
	"REQUEST-920-PROTOCOL-ENFORCEMENT.conf",
	"REQUEST-921-PROTOCOL-ATTACK.conf",
	"REQUEST-922-MULTIPART-ATTACK.conf",
	"REQUEST-930-APPLICATION-ATTACK-LFI.conf",
	"REQUEST-931-APPLICATION-ATTACK-RFI.conf",
	"REQUEST-932-APPLICATION-ATTACK-RCE.conf",
	"REQUEST-933-APPLICATION-ATTACK-PHP.conf",
	"REQUEST-934-APPLICATION-ATTACK-GENERIC.conf",
	"REQUEST-941-APPLICATION-ATTACK-XSS.conf",
	"REQUEST-942-APPLICATION-ATTACK-SQLI.conf",
	"REQUEST-943-APPLICATION-ATTACK-SESSION-FIXATION.conf",
	"REQUEST-944-APPLICATION-ATTACK-JAVA.conf",
	"REQUEST-949-BLOCKING-EVALUATION.conf",
}

// APITunedRules are the CRS rules removed unless Config.StrictCRS is set,
// with the reason. Each fires on benign free text that APIs carry (the
// project's true-negative set) and its attack is still caught by another
// CRS rule, libinjection or a built-in detector.
var APITunedRules = map[int]string{
	911100: "method allowlist (GET, HEAD, POST, OPTIONS): REST APIs use PUT, PATCH and DELETE; the API's description (validate) or the upstream decides which methods exist",
	920350: "a numeric Host (an IP address): internal callers, health checks and service meshes reach APIs by address; it scores 3 on every such request and says nothing about the request's content",
	920420: "the content-type allowlist: it refuses the standard +json types (JSON:API application/vnd.api+json, JSON Merge Patch, JSON Patch, problem+json), which the stage parses as JSON, and any body type an API declares beyond CRS's nine; it was also judged only when some other value made the CRS run, so the same body passed or not by its words; an API's description (validate) refuses undeclared content types with 415, and the stage inspects bodies of other types as text",
	920440: "restricted file extension: API path segments are ids and e-mail addresses (\".com\"), not files",
	921130: "\"HTTP/1.1\" in a value: response splitting needs a line break first, which waf.crlf requires",
	932140: "Windows FOR/IF: its IF branch matches \"if … ==\" in every code snippet (C, Go, JavaScript, Python); waf.cmdi's winFor/winIf keep the batch forms (IF EXIST, EQU/NEQ, item1==item2, FOR %a IN (…) DO)",
	932125: "a PowerShell alias (ft, sc, rp, h, iwr …) after a line break, '{' or ';': every Go, C or JavaScript snippet whose line starts with a short variable (\"ft := sf.Type\", \"sc.check()\"); waf.cmdi reads the same PowerShell list where a shell would run it",
	932235: "a Unix command word after ';' in prose (\"...; if it fails\"); waf.cmdi and 932230/932260 catch real chains",
	932260: "a Unix command name at the start of a value (\"grep -r TODO\"); code snippets in free text",
	932370: "a Windows command after a line break, '{' or a backtick: Markdown code spans and package paths (\"`cmd/compile/internal/ir`\"), Go and C lines that begin with a field access (\"sc.countError(\"); waf.cmdi reads the same cmd.exe commands where a shell would run them (corpora: cmdi-windows 100% without it)",
	932380: "932370's second Windows command list, same false positives (\"`cmd/compile/...`\", \"goto either\"); waf.cmdi covers the commands",
	934100: "Node.js keywords (\"for (let i...; console.log\"): code snippets in free text",
	941180: "Node-Validator's deny list: its \"<!--\" matches every Markdown document with an HTML comment of notes (\"<!--- TODO … -->\"); waf.js carries the list (domWords) and flags a comment opener only when it is left open or holds markup, SSI or ESI syntax (openComment)",
	941390: "a JavaScript method call (\"fetch(url).then(...)\"); XSS needs markup or a URL scheme that 941100-941380 and libinjection catch",
	942151: "an SQL function name followed by '(' in prose; 942100 (libinjection) and the other 942 rules catch injections",
}

// Options are what the gateway passes besides the config block.
type Options struct {
	// BaseDir resolves a relative CustomRules path. Default "": the
	// current directory.
	BaseDir string
	// API is the API's name; it namespaces the client budget's store keys.
	API string
	// Store keeps the client budgets (Config.ClientBudget). Nil uses a
	// private Memory store (this node only).
	Store store.Limiter
}

// Stage is the compiled waf stage of one API. The Coraza WAF (CRS parsed
// and compiled) is built once in New and shared by every request; each
// request gets its own short-lived transaction.
type Stage struct {
	cfg      Config
	waf      coraza.WAF
	removed  map[string]bool // built-in rule ids removed API-wide
	scoped   []scopedExclusion
	skip     []scopedExclusion // target-only exclusions: locations not inspected
	ignoreH  map[string]bool
	redactor *redact.Redactor
	scanners foldSet
	// feedAll gives Coraza every value, inert or not, and runs it on every
	// request: custom rules may match anything.
	feedAll bool
	lv      levers
	api     string
	budget  store.Limiter // nil: no client budget
	ua      *uaMemo       // nil: User-Agents read on every request
}

// levers are the speed measures of issue 17, each of which can be turned
// off (tests run the corpora with each off and compare). All are on in
// New.
type levers struct {
	// prose keeps natural-language values (see prose) away from Coraza.
	prose bool
	// rxPrefilter turns on Coraza's SecRxPreFilter: required literals and
	// minimum lengths checked before each @rx regular expression.
	rxPrefilter bool
	// re2 evaluates the CRS's @rx rules with RE2 (see re2.go).
	re2 bool
	// ownFirst skips Coraza when libinjection and the built-in detectors
	// already reach the threshold (the request is blocked either way).
	ownFirst bool
	// noUAMemo reads every User-Agent afresh (see uaMemo).
	noUAMemo bool
}

// allLevers is what New uses.
var allLevers = levers{prose: true, rxPrefilter: true, ownFirst: true, re2: true}

type scopedExclusion struct {
	rules     map[string]bool
	tags      []string
	operation string
	target    string
}

var _ pipeline.Stage = (*Stage)(nil)

// New compiles c into a stage. It parses the CRS and the custom rules, which
// takes a noticeable fraction of a second: call it at load, not per request.
func New(c Config, opts Options) (*Stage, error) {
	return newStage(c, opts, allLevers)
}

func newStage(c Config, opts Options, lv levers) (*Stage, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	c = c.withDefaults()
	s := &Stage{cfg: c, removed: map[string]bool{}, ignoreH: map[string]bool{}, redactor: redact.New(nil, nil), lv: lv}
	if !lv.noUAMemo {
		s.ua = &uaMemo{}
	}
	for _, h := range ignoredHeaders {
		s.ignoreH[h] = true
	}
	for _, h := range c.IgnoreHeaders {
		s.ignoreH[strings.ToLower(h)] = true
	}
	var d strings.Builder
	// The request body is never handed to Coraza: the stage parses it once
	// (JSON, XML, form, multipart), decodes every value and feeds the values
	// as ARGS. That is faster than Coraza's own body processors and lets
	// typed values (proven by the OpenAPI description) be left out.
	if lv.rxPrefilter {
		// Experimental in Coraza 3.8: a necessary-condition check, so it can
		// only skip regular expressions that cannot match (the corpora test
		// compares detection with and without it).
		d.WriteString("SecRxPreFilter On\n")
	}
	d.WriteString("SecRuleEngine On\nSecRequestBodyAccess Off\nSecResponseBodyAccess Off\nSecAuditEngine Off\n")
	d.WriteString("Include @crs-setup.conf.example\n")
	fmt.Fprintf(&d, "SecAction \"id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d\"\n", c.ParanoiaLevel)
	fmt.Fprintf(&d, "SecAction \"id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=4\"\n", c.AnomalyThreshold)
	for _, f := range crsFiles {
		d.WriteString("Include @owasp_crs/" + f + "\n")
	}
	// The stage scores matched rules itself (so that per-operation and
	// per-parameter exclusions apply), so CRS's own blocking rules go.
	d.WriteString("SecRuleRemoveById 949110 949111\n")
	if !c.StrictCRS {
		for id := range APITunedRules {
			fmt.Fprintf(&d, "SecRuleRemoveById %d\n", id)
		}
	}
	for _, e := range c.Exclusions {
		if e.Operation != "" || e.Target != "" {
			ex := scopedExclusion{rules: map[string]bool{}, tags: e.Tags, operation: e.Operation, target: e.Target}
			for _, id := range e.ruleIDs() {
				ex.rules[id] = true
			}
			if len(ex.rules) == 0 && len(ex.tags) == 0 {
				s.skip = append(s.skip, ex)
			} else {
				s.scoped = append(s.scoped, ex)
			}
			continue
		}
		for _, id := range e.ruleIDs() {
			if builtinRules[id] {
				s.removed[id] = true
				continue
			}
			d.WriteString("SecRuleRemoveById " + id + "\n")
		}
		for _, t := range e.Tags {
			d.WriteString("SecRuleRemoveByTag " + strconv.Quote(t) + "\n")
			for r, tags := range builtinTags {
				for _, bt := range tags {
					if strings.EqualFold(bt, t) {
						s.removed[r] = true
					}
				}
			}
		}
	}
	if c.CustomRules != "" {
		p := c.CustomRules
		if !filepath.IsAbs(p) && opts.BaseDir != "" {
			p = filepath.Join(opts.BaseDir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading custom_rules: %w", err)
		}
		d.Write(b)
		d.WriteString("\n")
	}
	root := crsFS
	if lv.re2 {
		root = re2FS{crsFS}
	}
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(root).WithDirectives(d.String()))
	if err != nil {
		return nil, fmt.Errorf("compiling rules: %w", err)
	}
	s.waf = w
	s.feedAll = c.CustomRules != ""
	if !s.feedAll {
		lowByteReadings() // once a process (~5 ms), not on the first request in another script
	}
	s.scanners = newFoldSet(scannerNames())
	if c.ClientBudget.on() {
		s.api, s.budget = opts.API, opts.Store
		if s.budget == nil {
			s.budget = store.NewMemory(nil)
		}
	}
	return s, nil
}

// ID implements pipeline.Stage.
func (s *Stage) ID() string { return ID }

// Close releases the WAF.
func (s *Stage) Close() error {
	if c, ok := s.waf.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// hit is one detection at one location.
type hit struct {
	rule  string
	tags  []string
	loc   string
	score int
}

// Verdict is the outcome of inspecting one request, for tests and tools.
type Verdict struct {
	// Score is the inbound anomaly score after exclusions.
	Score int
	// Rules are the rule ids that matched, sorted, without duplicates.
	Rules []string
	// Location is where the first (highest scoring) match was found.
	Location string
	// Excerpt is a redacted excerpt of the value at Location.
	Excerpt string
	// Blocked is true when Score reached the threshold (or a rule denied).
	Blocked bool
	// ParseError is true when the body could not be parsed as its content
	// type claims.
	ParseError bool
	budget     bool
	// overBudget: the client's inspection budget is spent (the CRS did
	// not run); retryAfter is when it admits this request's cost, charged.
	overBudget bool
	retryAfter time.Duration
	charged    int64
}

// Request implements pipeline.Stage.
func (s *Stage) Request(ctx context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	v, err := s.inspect(ctx, x)
	if err != nil {
		return nil, err
	}
	if v.overBudget {
		if s.cfg.Mode == ModeDetect {
			x.AddFinding(pipeline.Finding{Stage: ID, Rules: []string{RuleClientBudget}, Mode: ModeDetect,
				Reason: "the client's inspection budget is spent", Severity: "low"})
		} else {
			return s.budgetDenial(v), nil
		}
	}
	if v.budget {
		return &pipeline.Denial{
			Status:   http.StatusRequestEntityTooLarge,
			Reason:   "the request carries more text than the web application firewall inspects",
			Stage:    ID,
			Rules:    []string{RuleInspectLimit},
			Location: v.Location,
			Detail:   "more than " + strconv.Itoa(s.cfg.maxInspect()) + " bytes of text to inspect",
			Severity: "low",
		}, nil
	}
	if v.ParseError {
		return &pipeline.Denial{
			Status:   http.StatusBadRequest,
			Reason:   "the request body could not be parsed as its content type says",
			Stage:    ID,
			Rules:    []string{RuleBodyParse},
			Location: v.Location,
			Excerpt:  v.Excerpt,
			Severity: "low",
		}, nil
	}
	// Matches under the threshold are not events: CRS scores notices and
	// warnings (a numeric Host, a missing header) that only count together.
	if !v.Blocked {
		return nil, nil
	}
	if s.cfg.Mode == ModeDetect {
		x.AddFinding(pipeline.Finding{
			Stage: ID, Rules: v.Rules, Location: v.Location, Excerpt: v.Excerpt,
			Score: v.Score, Mode: ModeDetect, Reason: "injection signature matched", Severity: severity(v.Score),
		})
		return nil, nil
	}
	return &pipeline.Denial{
		Status:   s.cfg.Status,
		Reason:   "the request was blocked by the web application firewall",
		Stage:    ID,
		Rules:    v.Rules,
		Location: v.Location,
		Excerpt:  v.Excerpt,
		Score:    v.Score,
		Severity: severity(v.Score),
	}, nil
}

func severity(score int) string {
	switch {
	case score >= 10:
		return "high"
	case score >= 5:
		return "medium"
	default:
		return "low"
	}
}

// Inspect inspects x's request and returns the verdict without acting on
// it. Request calls it; tests and the payload table use it directly.
func (s *Stage) Inspect(x *pipeline.Exchange) (Verdict, error) {
	return s.inspect(context.Background(), x)
}

func (s *Stage) inspect(ctx context.Context, x *pipeline.Exchange) (Verdict, error) {
	in := inspection{s: s, x: x}
	if err := in.collect(); err != nil {
		return Verdict{}, err
	}
	if in.parseErr != "" {
		return Verdict{ParseError: true, Location: in.parseLoc, Excerpt: in.parseErr}, nil
	}
	if in.budgetExceeded {
		return Verdict{Blocked: true, Rules: []string{RuleInspectLimit}, Location: in.budgetLoc, Score: in.s.cfg.AnomalyThreshold, budget: true}, nil
	}
	over := Verdict{}
	if (in.needCoraza || s.feedAll) && !(s.lv.ownFirst && in.ownScore() >= s.cfg.AnomalyThreshold) {
		if retry, ok := in.charge(ctx); !ok {
			over = Verdict{overBudget: true, retryAfter: retry, charged: in.charged}
			if s.cfg.Mode != ModeDetect {
				// Refused before the CRS runs: what it would cost is what
				// the budget protects.
				return over, nil
			}
		}
		if err := in.runCoraza(); err != nil {
			return Verdict{}, err
		}
	}
	v := in.verdict()
	v.overBudget, v.retryAfter, v.charged = over.overBudget, over.retryAfter, over.charged
	return v, nil
}

// verdict applies scoped exclusions and sums the score.
func (in *inspection) verdict() Verdict {
	var v Verdict
	seen := map[string]bool{}
	best := -1
	for _, h := range in.hits {
		if in.s.removed[h.rule] || in.excluded(h) {
			continue
		}
		v.Score += h.score
		if !seen[h.rule] {
			seen[h.rule] = true
			v.Rules = append(v.Rules, h.rule)
		}
		if h.score > best && h.loc != "" {
			best = h.score
			v.Location = h.loc
		}
	}
	if in.denied {
		v.Blocked = true
		if !seen[in.deniedBy] {
			v.Rules = append(v.Rules, in.deniedBy)
		}
	}
	sort.Strings(v.Rules)
	if v.Score >= in.s.cfg.AnomalyThreshold && len(v.Rules) > 0 {
		v.Blocked = true
	}
	if v.Location != "" {
		v.Excerpt = in.excerpt(v.Location)
	}
	return v
}

// excerpt returns a redacted excerpt of the raw value at loc. Values in
// secret places (cookies, credential headers, token-like query names) are
// never copied.
func (in *inspection) excerpt(loc string) string {
	kind, name, _ := strings.Cut(loc, ":")
	switch kind {
	case "cookie":
		return redact.Mask
	case "header":
		if in.s.redactor.SecretHeader(name) {
			return redact.Mask
		}
	case "query":
		if in.s.redactor.Query(name+"=x") != name+"=x" {
			return redact.Mask
		}
	}
	// Redacted before it is cut: a credential cut short is too short to
	// be recognised.
	return in.s.redactor.Safe(in.rawValue(loc), maxExcerpt)
}

// excluded reports whether a scoped exclusion removes h.
func (in *inspection) excluded(h hit) bool {
	for _, e := range in.s.scoped {
		if !in.opMatches(e.operation) || !targetMatches(e.target, h.loc) {
			continue
		}
		if e.rules[h.rule] {
			return true
		}
		for _, t := range e.tags {
			for _, ht := range h.tags {
				if strings.EqualFold(t, ht) {
					return true
				}
			}
		}
	}
	return false
}

// skipped reports whether a target-only exclusion removes loc from
// inspection.
func (in *inspection) skipped(loc string) bool {
	for _, e := range in.s.skip {
		if in.opMatches(e.operation) && targetMatches(e.target, loc) {
			return true
		}
	}
	return false
}

func (in *inspection) opMatches(op string) bool {
	if op == "" {
		return true
	}
	// The gateway's operation matcher declares every exclusion's
	// "METHOD /path" (OperationKeys), so the exchange names the operation.
	x := in.x
	if x.Operation != "" && x.Operation == op {
		return true
	}
	return x.Match.Operation != nil && x.Match.Operation.ID != "" && x.Match.Operation.ID == op
}

func targetMatches(target, loc string) bool {
	if target == "" {
		return true
	}
	if target == loc {
		return true
	}
	if strings.HasPrefix(target, "header:") && strings.EqualFold(target, loc) {
		return true
	}
	if strings.Contains(target, "*") {
		ok, _ := path.Match(target, loc)
		return ok
	}
	return false
}

// libinjectionCheck runs libinjection's tokenizers on v.
//
// The XSS tokenizer only runs when v has what an XSS needs: markup (<, >),
// an attribute (=), a template string (`) or a script or data URL
// (gateScheme); free text without them costs it a full HTML5 parse for
// nothing.
func (in *inspection) libinjectionCheck(loc, v string, g gate, cs *charset) {
	if !in.s.cfg.libinjection() || plainWord(v) {
		return
	}
	if ok, fp := libinjection.IsSQLi(v); ok && !weakSQLi(v, fp) && !goCommand(v, fp) && !keywordProse(v, fp) {
		in.hits = append(in.hits, hit{rule: RuleSQLi, loc: loc, score: builtinScore, tags: []string{"attack-sqli"}})
	}
	if (cs.any("<>=`") || g&gateScheme != 0) && libinjection.IsXSS(v) && !plainStyleSheet(v) {
		in.hits = append(in.hits, hit{rule: RuleXSS, loc: loc, score: builtinScore, tags: []string{"attack-xss"}})
	}
}

// crsScore maps a CRS severity to its anomaly score contribution (the
// values of CRS's tx.critical_anomaly_score and friends).
func crsScore(sev types.RuleSeverity) int {
	switch sev {
	case types.RuleSeverityEmergency, types.RuleSeverityAlert, types.RuleSeverityCritical:
		return 5
	case types.RuleSeverityError:
		return 4
	case types.RuleSeverityWarning:
		return 3
	case types.RuleSeverityNotice:
		return 2
	}
	return 0
}
