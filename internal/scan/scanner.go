package scan

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/redact"
)

// Options tune Run beyond the Config. The zero value is ready to use.
type Options struct {
	// Transport is the base transport (nil: a new http.Transport that
	// never follows proxies from the environment). Every request still
	// passes through the scan's Budget.
	Transport http.RoundTripper
	// Spec, when set, is used instead of loading Config.Spec.
	Spec *openapi.Spec
	// Progress, when set, is called when a group starts and ends. It must
	// be quick.
	Progress func(Progress)
	// Now is the clock of the report timestamps. Default time.Now.
	Now func() time.Time
	// OnRequest, when set, is called once for every request the budget
	// lets through (a progress bar counts them). It must be quick and safe
	// for concurrent use.
	OnRequest func()
}

// Progress is the state of a running scan.
type Progress struct {
	// Group is the group running ("plan" before the first group, "done"
	// at the end); Step counts groups done out of Steps.
	Group       string
	Step, Steps int
	// Requests is how many requests were sent so far; Findings how many
	// findings there are.
	Requests, Findings int
}

// maxBody is how much of a response the scanner reads.
const maxBody = 4 << 20

// scanner is one running scan.
type scanner struct {
	cfg    Config
	spec   *openapi.Spec
	base   *url.URL
	client *http.Client
	budget *Budget
	red    *redact.Redactor
	now    func() time.Time
	groups []string

	ids     []*identity
	self    map[int]map[string]any // identities' "who am I" objects (self.go)
	selfOp  *opState
	changes changeLog
	values  *valueStore
	ops     []*opState
	canary  *canary

	mu        sync.Mutex
	findings  []Finding
	seen      map[string]bool
	notes     []string
	perf      *Performance
	exhausted atomic.Bool
	slowLeft  atomic.Int32 // slow (time-based) confirmations left
}

// opState is one operation with its baseline request and answers.
type opState struct {
	op  *openapi.Operation
	req *request
	res *result // baseline answer with identity 1 (or none)
	// first is the plan's own answer, which res may replace later (a
	// raised privilege re-asks refused operations).
	first *result
	anon  *result // answer without credentials (secured GET operations)
}

func (o *opState) key() string { return o.op.Method + " " + o.op.Path }

// result is one answer (or transport error).
type result struct {
	status  int
	header  http.Header
	body    []byte
	dur     time.Duration
	reqText string
	curl    string
	err     error
}

func (r *result) ok() bool { return r != nil && r.err == nil && r.status/100 == 2 }

// reached reports whether the request got past validation to the
// operation's code: a 2xx or 3xx answer.
func (r *result) reached() bool {
	return r != nil && r.err == nil && (r.status/100 == 2 || r.status/100 == 3)
}

// json decodes the body (numbers as json.Number); nil when not JSON.
func (r *result) json() any {
	if r == nil || len(r.body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return v
}

func (r *result) contentType() string {
	if r == nil {
		return ""
	}
	ct := r.header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// LoadSpec loads an OpenAPI description from a file path or an http(s)
// URL.
func LoadSpec(ctx context.Context, location string, client *http.Client) (*openapi.Spec, error) {
	if !isURL(location) {
		return openapi.Load(location)
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching spec: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching spec: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching spec: %s answered %d", location, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("fetching spec: %w", err)
	}
	return openapi.Parse(data, "")
}

// Run scans cfg.Target as cfg says and returns the report. It returns an
// error only when the scan cannot start (bad config, spec not loadable,
// login failed); findings are in the report. A spent budget ends the scan
// early with a note in the report.
func Run(ctx context.Context, cfg Config, opts Options) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &scanner{cfg: cfg, red: redact.New(nil, nil), values: newValueStore(), seen: map[string]bool{}, now: opts.Now, self: map[int]map[string]any{}}
	if s.now == nil {
		s.now = time.Now
	}
	s.slowLeft.Store(12)
	s.groups, _ = SelectGroups(cfg.Checks)
	var err error
	if s.base, err = url.Parse(cfg.Target); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	s.budget = NewBudget(cfg.Rate, cfg.MaxRequests)
	tr := opts.Transport
	if tr == nil {
		tr = &http.Transport{
			// Never through a proxy from the environment: the scanner talks
			// to the target the user gave, and only to it.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 64,
			// Scanning a test server with a self-signed certificate is the
			// common case; the TLS check reports certificate problems.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		}
	}
	s.client = &http.Client{
		Transport: s.budget.Transport(tr),
		Timeout:   cfg.Timeout,
		// Never follow redirects: a redirect may point anywhere, and the
		// scanner only talks to the target it was given.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s.spec = opts.Spec
	if s.spec == nil {
		if s.spec, err = LoadSpec(ctx, cfg.Spec, &http.Client{Timeout: 30 * time.Second}); err != nil {
			return nil, fmt.Errorf("loading spec: %w", err)
		}
	}
	rep := &Report{Target: cfg.Target, Spec: cfg.Spec, Started: s.now().UTC(), Groups: s.groups}
	if opts.OnRequest != nil {
		s.budget.onAcquire = opts.OnRequest
	}
	progress := func(g string, step int) {
		if opts.Progress != nil {
			s.mu.Lock()
			n := len(s.findings)
			s.mu.Unlock()
			opts.Progress(Progress{Group: g, Step: step, Steps: len(s.groups) + 1, Requests: s.budget.Sent(), Findings: n})
		}
	}
	progress("plan", 0)
	if err := s.login(ctx); err != nil {
		return nil, err
	}
	if slices.Contains(s.groups, "ssrf") {
		if s.canary, err = startCanary(cfg.Canary); err != nil {
			return nil, fmt.Errorf("ssrf canary: %w", err)
		}
		defer s.canary.close()
	}
	s.plan(ctx)
	s.pickHealthChecks(ctx)
	for i, g := range s.groups {
		if ctx.Err() != nil {
			break
		}
		s.checkIdentities(ctx, g)
		progress(g, i)
		if need := identitiesNeeded[g]; need > 0 && len(s.ids) > 0 && !s.identitiesUp(min(need, len(s.ids))) {
			s.note("the %s checks did not run: an identity they need is down (see above)", g)
			continue
		}
		groupRunners[g](ctx, s)
	}
	s.cleanup(ctx)
	progress("done", len(s.groups)+1)

	for _, op := range s.spec.Operations() {
		rep.Operations = append(rep.Operations, op.Method+" "+op.Path)
	}
	rep.Finished = s.now().UTC()
	rep.Requests = s.budget.Sent()
	s.mu.Lock()
	rep.Findings = slices.Clone(s.findings)
	rep.Notes = slices.Clone(s.notes)
	rep.Changes = s.changes.list()
	rep.Performance = perfResult(s)
	s.mu.Unlock()
	if s.exhausted.Load() {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the request budget (%d) ran out: some checks did not finish", cfg.MaxRequests))
	}
	if ctx.Err() != nil {
		rep.Notes = append(rep.Notes, "the scan was interrupted: "+ctx.Err().Error())
	}
	sortFindings(rep.Findings)
	return rep, nil
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if a, b := fs[i].Severity.Rank(), fs[j].Severity.Rank(); a != b {
			return a > b
		}
		if fs[i].CheckID != fs[j].CheckID {
			return fs[i].CheckID < fs[j].CheckID
		}
		return fs[i].Operation < fs[j].Operation
	})
}

// Failed reports whether any finding that was not blocked reaches sev
// (the --fail-on rule). An empty sev never fails.
func (r *Report) Failed(sev Severity) bool {
	if sev == "" {
		return false
	}
	for _, f := range r.Findings {
		if !f.Blocked && f.Severity.Rank() >= sev.Rank() {
			return true
		}
	}
	return false
}

// note adds a line to the report's notes.
func (s *scanner) note(format string, args ...any) {
	s.mu.Lock()
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *scanner) enabled(group string) bool { return slices.Contains(s.groups, group) }

// allowed reports whether op may be sent at all (skipReason says why
// not): selected by Include and Exclude, not destructive-looking unless
// allowed, and not a write on existing objects without AllowDestructive.
func (s *scanner) allowed(op *openapi.Operation) bool { return s.skipReason(op) == "" }

// send sends r and reads the answer. Transport errors (the budget's
// included) are in result.err.
func (s *scanner) send(ctx context.Context, r *request) *result {
	res := &result{}
	if s.exhausted.Load() {
		res.err = ErrBudget
		return res
	}
	if len(r.fresh) > 0 {
		r = r.clone()
		r.refresh()
	}
	hr, err := r.build(s.base)
	if err != nil {
		res.err = err
		return res
	}
	if r.method == http.MethodDelete && !s.cfg.AllowDestructive {
		// The last line of defence of the destructive rule.
		res.err = errors.New("DELETE needs --allow-destructive")
		return res
	}
	if r.op != nil && r.op.Path != "" && s.spec != nil {
		if _, bad := dangerous(r.op); bad && !anyMatches(s.cfg.AllowDangerous, r.op) {
			// And of the destructive-looking rule, whoever built the request.
			res.err = errors.New(r.op.Method + " " + r.op.Path + " looks destructive and is not in allow_dangerous")
			return res
		}
	}
	if r.ident >= 0 && r.ident < len(s.ids) {
		for k, vs := range s.ids[r.ident].header() {
			if hr.Header.Get(k) == "" {
				hr.Header[k] = vs
			}
		}
	}
	res.reqText = s.describeRequest(hr, r)
	res.curl = s.curlLine(hr, r)
	hr = hr.WithContext(ctx)
	start := time.Now()
	resp, err := s.client.Do(hr)
	if err != nil && connectionLost(err) && hr.GetBody != nil {
		// A server that resets a kept-alive connection after an error
		// answer (uvicorn after a 500) loses the next request sent on it,
		// unanswered: send it once more on a new connection. Go's own retry
		// covers only idempotent methods; a reset before any answer means
		// the request was not read.
		if body, gerr := hr.GetBody(); gerr == nil {
			hr.Body = body
			start = time.Now()
			resp, err = s.client.Do(hr)
		}
	}
	if err != nil {
		if errors.Is(err, ErrBudget) {
			s.exhausted.Store(true)
		}
		res.err = err
		res.dur = time.Since(start)
		return res
	}
	res.body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	res.dur = time.Since(start)
	res.status = resp.StatusCode
	res.header = resp.Header
	if err != nil {
		res.err = err
	}
	if res.status/100 == 2 && r.op != nil && (r.ident >= 0 || r.method != http.MethodPost || s.loginOpOf(r.op) == nil) {
		s.changes.record(r.op, r, res, hr.URL.Path)
	}
	s.passive(r, res)
	return res
}

// connectionLost reports a transport error that means the connection
// broke before an answer arrived (reset, closed, EOF), not a timeout or a
// refusal by the budget.
func connectionLost(err error) bool {
	if errors.Is(err, ErrBudget) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "server closed idle connection") || strings.Contains(msg, "broken pipe")
}

var secretJSON = regexp.MustCompile(`(?i)("(?:[a-z_]*token|password|passwd|secret|api_?key|password_hash|hash)"\s*:\s*)"[^"]*"`)
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)

// redactText masks secrets in a body excerpt: JSON members named like
// secrets and anything shaped like a JWT.
func redactText(s string) string {
	s = secretJSON.ReplaceAllString(s, `${1}"`+redact.Mask+`"`)
	return jwtLike.ReplaceAllString(s, redact.Mask)
}

func (s *scanner) describeRequest(hr *http.Request, r *request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\n", hr.Method, s.red.URL(hr.URL))
	keys := make([]string, 0, len(hr.Header))
	for k := range hr.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "User-Agent" {
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", k, redact.Excerpt(s.red.Header(k, hr.Header.Get(k)), 200))
	}
	body, _, _ := r.encodeBody()
	if len(body) > 0 {
		b.WriteString("\n")
		b.WriteString(redactText(redact.Excerpt(string(body), 500)))
	}
	return b.String()
}

func (s *scanner) describeResponse(res *result) string {
	if res == nil {
		return ""
	}
	if res.err != nil {
		return "error: " + res.err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\n", res.status, http.StatusText(res.status))
	for _, k := range []string{"Content-Type", "Location", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Set-Cookie", "X-Pc-Crlf"} {
		if v := res.header.Get(k); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, redact.Excerpt(s.red.Header(k, v), 200))
		}
	}
	if len(res.body) > 0 {
		b.WriteString("\n")
		b.WriteString(redactText(redact.Excerpt(string(res.body), 600)))
	}
	return b.String()
}

// evidence builds the evidence of a finding from the answer that proves it.
func (s *scanner) evidence(res *result, detail string) Evidence {
	e := Evidence{Detail: detail}
	if res != nil {
		e.Request = res.reqText
		e.Response = s.describeResponse(res)
		e.Curl = res.curl
	}
	return e
}

// report records a finding of check id on operation o at loc (either may
// be empty). The same check, operation and location are reported once.
func (s *scanner) report(id *check, o *opState, loc string, conf Confidence, ev Evidence) {
	s.reportKey(id, o, loc, conf, ev, false, "")
}

// reportBlocked records a finding whose probe a security gateway refused.
func (s *scanner) reportBlocked(id *check, o *opState, loc string, res *result) {
	s.reportKey(id, o, loc, ConfidenceTentative, s.evidence(res, "the probe was refused by a security gateway (stage "+gatewayStage(res)+"); the flaw may exist behind it"), true, "")
}

func (s *scanner) reportKey(c *check, o *opState, loc string, conf Confidence, ev Evidence, blocked bool, dedup string) {
	id := c.ID
	f := Finding{
		CheckID: id, Group: c.Group, Title: c.Title, OWASP: c.OWASP, CWE: c.CWEID(), Severity: c.Severity,
		Confidence: conf, Location: loc, Evidence: ev, Remediation: c.Remediation, Blocked: blocked,
	}
	if o != nil {
		f.Operation = o.key()
		f.OperationID = o.op.ID
	}
	if blocked {
		f.Severity = SeverityInfo
	}
	if dedup == "" {
		dedup = id + "|" + f.Operation + "|" + loc
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[dedup] {
		return
	}
	if !blocked {
		// A real finding replaces a blocked one for the same place.
		for i := range s.findings {
			if s.findings[i].Blocked && s.findings[i].CheckID == id && s.findings[i].Operation == f.Operation && s.findings[i].Location == loc {
				s.findings = slices.Delete(s.findings, i, i+1)
				break
			}
		}
	} else if s.seen[dedup+"|real"] {
		return
	}
	s.seen[dedup] = true
	if !blocked {
		s.seen[dedup+"|real"] = true
	}
	s.findings = append(s.findings, f)
}

// hasFinding reports whether a (non-blocked) finding of id exists.
func (s *scanner) hasFinding(c *check) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.findings {
		if f.CheckID == c.ID && !f.Blocked {
			return true
		}
	}
	return false
}

// gatewayRefusal reports whether res is a security gateway's refusal: a
// 4xx RFC 9457 problem document naming the stage that refused it (what
// Portcullis answers).
func gatewayRefusal(res *result) bool {
	return gatewayStage(res) != ""
}

func gatewayStage(res *result) string {
	if res == nil || res.err != nil || res.status < 400 || res.status > 499 || res.contentType() != "application/problem+json" {
		return ""
	}
	var p struct {
		Stage string `json:"stage"`
	}
	if json.Unmarshal(res.body, &p) != nil {
		return ""
	}
	return p.Stage
}

// loginOf returns identity 1's login when op is its login operation.
func (s *scanner) loginOf(op *openapi.Operation) *Login {
	if len(s.cfg.Identities) == 0 || s.cfg.Identities[0].Login == nil {
		return nil
	}
	l := s.cfg.Identities[0].Login
	if s.findOperation(l.Operation) != op || l.Body == nil {
		return nil
	}
	return l
}

// findOperation finds an operation by operationId or "METHOD /path".
func (s *scanner) findOperation(name string) *openapi.Operation {
	if op := s.spec.OperationByID(name); op != nil {
		return op
	}
	m, p, ok := strings.Cut(name, " ")
	if !ok {
		return nil
	}
	for _, op := range s.spec.Operations() {
		if strings.EqualFold(op.Method, m) && op.Path == strings.TrimSpace(p) {
			return op
		}
	}
	return nil
}

// plan builds and sends the baseline request of every operation that may
// be sent, creations first so that their ids feed the others, and asks
// secured read operations again without credentials to learn which really
// need them. DELETE operations wait for cleanup.
func (s *scanner) plan(ctx context.Context) {
	phase := func(op *openapi.Operation) int {
		switch {
		case op.Method == http.MethodPost && !strings.Contains(op.Path, "{"):
			return 0
		case op.Method == http.MethodGet || op.Method == http.MethodHead:
			return 1
		case op.Method == http.MethodDelete:
			return 3
		}
		return 2
	}
	ops := slices.Clone(s.spec.Operations())
	sort.SliceStable(ops, func(i, j int) bool { return phase(ops[i]) < phase(ops[j]) })
	skipped := map[string][]string{}
	for _, op := range ops {
		if why := s.skipReason(op); why != "" {
			skipped[why] = append(skipped[why], op.Method+" "+op.Path)
			continue
		}
		if op.Method == http.MethodDelete {
			continue
		}
		o := &opState{op: op, req: s.baseline(op)}
		if len(s.ids) == 0 {
			o.req.ident = -1
		}
		if l := s.loginOf(op); l != nil {
			// The login operation's baseline is a real login, so that its
			// probes reach the code behind the credential check.
			o.req.ident = -1
			o.req.body = deepCopy(map[string]any(l.Body))
		}
		o.res = s.send(ctx, o.req)
		o.first = o.res
		if o.res.ok() {
			s.values.observe(op, o.res.status, o.res.json())
			s.learnSelf(o)
		}
		if op.Method == http.MethodGet && !op.Public() && len(s.ids) > 0 {
			anon := o.req.clone()
			anon.ident = -1
			o.anon = s.send(ctx, anon)
		}
		s.ops = append(s.ops, o)
	}
	for _, why := range slices.Sorted(maps.Keys(skipped)) {
		s.note("not sent (%s): %s", why, strings.Join(skipped[why], ", "))
	}
}

// cleanup sends the DELETE operations last (with AllowDestructive) and
// checks their answers like any baseline.
func (s *scanner) cleanup(ctx context.Context) {
	if !s.cfg.AllowDestructive {
		return
	}
	for _, op := range s.spec.Operations() {
		if op.Method != http.MethodDelete || !s.allowed(op) {
			continue
		}
		o := &opState{op: op, req: s.baseline(op)}
		if len(s.ids) == 0 {
			o.req.ident = -1
		}
		o.res = s.send(ctx, o.req)
		if s.enabled("functional") {
			s.conformance(o, o.res, "baseline")
		}
		if s.enabled("authorization") && len(s.ids) > 0 && o.req.ident == 0 && o.res.ok() && !s.hasFindingAt(checkAuthzBfla, o, "identity:1") {
			s.siblingRefused(o)
		}
	}
}

// eachOp runs f for every planned operation with the configured
// concurrency, stopping when the budget or the context is spent.
func (s *scanner) eachOp(ctx context.Context, f func(context.Context, *opState)) {
	groups := make([][]*opState, len(s.ops))
	for i, o := range s.ops {
		groups[i] = []*opState{o}
	}
	s.eachGroup(ctx, groups, f)
}

// eachPath is eachOp for probes that change the target's state: the
// operations of one path (one object, such as PUT and PATCH /notes/{id})
// run one after the other in plan order, so that one operation's write
// never lands between another's write and its read-back.
func (s *scanner) eachPath(ctx context.Context, f func(context.Context, *opState)) {
	s.eachKey(ctx, func(o *opState) string { return o.op.Path }, f)
}

// eachKey is eachPath with the grouping given by key: the operations with
// the same key run one after the other.
func (s *scanner) eachKey(ctx context.Context, key func(*opState) string, f func(context.Context, *opState)) {
	var groups [][]*opState
	at := map[string]int{}
	for _, o := range s.ops {
		k := key(o)
		i, ok := at[k]
		if !ok {
			i = len(groups)
			at[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], o)
	}
	s.eachGroup(ctx, groups, f)
}

// eachGroup runs the groups concurrently (at most the configured
// concurrency at a time) and the operations of a group in order, stopping
// when the budget or the context is spent.
func (s *scanner) eachGroup(ctx context.Context, groups [][]*opState, f func(context.Context, *opState)) {
	stop := func() bool { return ctx.Err() != nil || s.exhausted.Load() }
	sem := make(chan struct{}, max(1, s.cfg.Concurrency))
	var wg sync.WaitGroup
	for _, g := range groups {
		if stop() {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, o := range g {
				if stop() {
					return
				}
				f(ctx, o)
			}
		}()
	}
	wg.Wait()
}

// timeBased decides whether probe(d) makes the target wait d: the probe
// must be at least 80% of d slower than the control probe(0), twice, with
// a fresh control each time. It costs one request when the first probe is
// fast, four when slow. The number of slow confirmations per scan is
// bounded so that a target that is slow everywhere cannot stretch the scan.
//
// With scales, the second probe asks for twice the delay and must take
// twice as long: a payload that really sleeps sleeps longer when asked, a
// target that was merely busy (a single worker behind other slow
// requests) does not, and that coincidence once cost a false "OS command
// injection" on a real API.
func (s *scanner) timeBased(probe func(d time.Duration) *result, scales bool) (bool, *result, string) {
	d := s.cfg.TimeDelay
	need := time.Duration(float64(d) * 0.8)
	p1 := probe(d)
	if p1.err != nil || p1.dur < need || gatewayRefusal(p1) {
		return false, p1, ""
	}
	if s.slowLeft.Add(-1) < 0 {
		s.note("time-based probes were capped: the target answered slowly too often")
		return false, p1, ""
	}
	c1 := probe(0)
	if c1.err != nil || p1.dur-c1.dur < need {
		return false, p1, ""
	}
	d2, need2 := d, need
	if scales {
		d2, need2 = 2*d, 2*need
	}
	p2 := probe(d2)
	c2 := probe(0)
	if p2.err != nil || c2.err != nil || p2.dur-c2.dur < need2 {
		return false, p1, ""
	}
	if scales && p2.dur-c2.dur < p1.dur-c1.dur+(d2-d)/2 {
		// The delay did not grow with what was asked: a target that hung
		// once (14 s for a 2 s ask, then 3.4 s for 4 s on a loaded
		// machine) is not a sleep that ran.
		return false, p1, ""
	}
	detail := fmt.Sprintf("asked for a %s delay, then %s: answers took %s and %s; controls took %s and %s",
		d, d2, p1.dur.Round(time.Millisecond), p2.dur.Round(time.Millisecond), c1.dur.Round(time.Millisecond), c2.dur.Round(time.Millisecond))
	return true, p2, detail
}
