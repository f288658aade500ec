package scan

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// The checks of the injection group.
var (
	checkInjectionSqlError = define(CheckInfo{ID: "injection.sql.error", Group: "injection", OWASP: OWASPMisconfig, CWE: 89, Severity: SeverityHigh,
		Title:       "SQL injection (error-based)",
		Remediation: "Use parameterised queries; never build SQL from input; do not return database errors."})
	checkInjectionSqlBoolean = define(CheckInfo{ID: "injection.sql.boolean", Group: "injection", OWASP: OWASPMisconfig, CWE: 89, Severity: SeverityHigh,
		Title:       "SQL injection (boolean-based)",
		Remediation: "Use parameterised queries; never build SQL from input."})
	checkInjectionSqlTime = define(CheckInfo{ID: "injection.sql.time", Group: "injection", OWASP: OWASPMisconfig, CWE: 89, Severity: SeverityHigh,
		Title:       "SQL injection (time-based)",
		Remediation: "Use parameterised queries; never build SQL from input."})
	checkInjectionNosql = define(CheckInfo{ID: "injection.nosql", Group: "injection", OWASP: OWASPMisconfig, CWE: 943, Severity: SeverityHigh,
		Title:       "NoSQL operator injection",
		Remediation: "Accept only the declared scalar types; never pass objects from input into database queries."})
	checkInjectionCommand = define(CheckInfo{ID: "injection.command", Group: "injection", OWASP: OWASPMisconfig, CWE: 78, Severity: SeverityCritical,
		Title:       "OS command injection",
		Remediation: "Never run a shell with input; call programs with fixed argument lists and validate values against an allow list."})
	checkInjectionSsti = define(CheckInfo{ID: "injection.ssti", Group: "injection", OWASP: OWASPMisconfig, CWE: 1336, Severity: SeverityHigh,
		Title:       "Server-side template injection",
		Remediation: "Never compile templates from input; pass input to templates as data only."})
	checkInjectionXss = define(CheckInfo{ID: "injection.xss", Group: "injection", OWASP: OWASPMisconfig, CWE: 79, Severity: SeverityMedium,
		Title:       "Reflected cross-site scripting",
		Remediation: "Encode output for its context (HTML-escape), serve JSON as application/json with nosniff, and set a CSP."})
	checkInjectionPathTraversal = define(CheckInfo{ID: "injection.path-traversal", Group: "injection", OWASP: OWASPMisconfig, CWE: 22, Severity: SeverityHigh,
		Title:       "Path traversal",
		Remediation: "Resolve file names against a fixed directory and refuse '..', separators and absolute paths."})
	checkInjectionCrlf = define(CheckInfo{ID: "injection.crlf", Group: "injection", OWASP: OWASPMisconfig, CWE: 113, Severity: SeverityMedium,
		Title:       "CRLF injection into response headers",
		Remediation: "Refuse control characters in values that go into headers."})
)

var _ = runs("injection", runInjection)

// sqlErrors are database error messages that leak into answers.
var sqlErrors = regexp.MustCompile(`(?i)(you have an error in your sql syntax|sql syntax|syntax error at or near|near "[^"]*": syntax error|unterminated quoted string|unclosed quotation mark|quoted string not properly terminated|sqlstate\[|sqlite3?[._]\w*error|ora-\d{5}|pg::syntaxerror|pq: syntax error|mysql_fetch|sqlexception|odbc driver)`)

// passwdFile matches /etc/passwd content; winIni matches win.ini.
var (
	passwdFile = regexp.MustCompile(`root:[^:\n]*:0:0:`)
	winIni     = regexp.MustCompile(`(?i)\[(fonts|extensions)\]`)
)

// Markers. Computed results (63959, 79123) never appear in the payloads
// themselves, so a plain reflection does not count.
const (
	cmdMarker  = "pcx63959x"
	sstiResult = "79123"
	xssMarker  = "<pcx9k>"
)

func runInjection(ctx context.Context, s *scanner) {
	s.eachOp(ctx, func(ctx context.Context, o *opState) {
		if !o.res.reached() {
			s.commandBaseline(ctx, o)
		}
		if !o.res.reached() {
			return
		}
		for _, loc := range o.req.locations() {
			if !loc.stringy() || loc.in == "header" || !s.mayGarble(o, loc) {
				continue
			}
			s.injectLocation(ctx, o, loc)
			if s.exhausted.Load() || ctx.Err() != nil {
				return
			}
		}
	})
}

// probe sends the baseline with value at loc.
func (s *scanner) probe(ctx context.Context, o *opState, loc location, value any) *result {
	r := o.req.clone()
	r.set(loc, value)
	return s.send(ctx, r)
}

// blockedOr records a blocked finding when res is a gateway refusal and
// reports whether it was.
func (s *scanner) blockedOr(id *check, o *opState, loc location, res *result) bool {
	if gatewayRefusal(res) {
		s.reportBlocked(id, o, loc.String(), res)
		return true
	}
	return false
}

func (s *scanner) injectLocation(ctx context.Context, o *opState, loc location) {
	base := o.req.get(loc)
	baseBody := o.res.body
	L := loc.String()

	// SQL, error based.
	for _, p := range []string{"'", `"`} {
		res := s.probe(ctx, o, loc, base+p)
		if s.blockedOr(checkInjectionSqlError, o, loc, res) {
			continue
		}
		if res.err == nil {
			if m := sqlErrors.Find(res.body); m != nil && !sqlErrors.Match(baseBody) {
				s.report(checkInjectionSqlError, o, L, ConfidenceFirm, s.evidence(res, fmt.Sprintf("a %s quote produced a database error (%q)", p, m)))
				break
			}
		}
	}

	// SQL, boolean based: a true condition answers like the baseline, a
	// false one differently, both stable.
	t1 := s.probe(ctx, o, loc, base+"' AND 'pc'='pc")
	f1 := s.probe(ctx, o, loc, base+"' AND 'pc'='px")
	if s.blockedOr(checkInjectionSqlBoolean, o, loc, t1) || s.blockedOr(checkInjectionSqlBoolean, o, loc, f1) {
		// refused
	} else if t1.ok() && f1.err == nil && sameAnswer(t1, o.res) && !sameAnswer(t1, f1) {
		t2 := s.probe(ctx, o, loc, base+"' AND 'pc'='pc")
		f2 := s.probe(ctx, o, loc, base+"' AND 'pc'='px")
		if sameAnswer(t1, t2) && sameAnswer(f1, f2) && !sameAnswer(t2, f2) {
			s.report(checkInjectionSqlBoolean, o, L, ConfidenceFirm, s.evidence(f2,
				fmt.Sprintf("a true condition answered like the baseline (%d bytes) and a false one differently (%d bytes), twice", len(t2.body), len(f2.body))))
		}
	}

	// SQL, time based.
	for _, form := range []string{"' AND SLEEP(%d)-- ", "'; SELECT pg_sleep(%d)-- "} {
		var last *result
		ok, res, detail := s.timeBased(func(d time.Duration) *result {
			last = s.probe(ctx, o, loc, base+fmt.Sprintf(form, int(d.Seconds())))
			return last
		}, true)
		if s.blockedOr(checkInjectionSqlTime, o, loc, last) {
			break
		}
		if ok {
			s.report(checkInjectionSqlTime, o, L, ConfidenceFirm, s.evidence(res, detail))
			break
		}
	}

	// NoSQL operators, in JSON bodies: an operator object must not get
	// further than a wrong plain value.
	if loc.in == "body" {
		wrong := s.probe(ctx, o, loc, "pcscan-no-such-value")
		for _, op := range []map[string]any{{"$ne": "pcscan-no-such-value"}, {"$gt": ""}} {
			res := s.probe(ctx, o, loc, op)
			if s.blockedOr(checkInjectionNosql, o, loc, res) {
				break
			}
			if res.ok() && wrong.err == nil && !wrong.ok() {
				s.report(checkInjectionNosql, o, L, ConfidenceFirm, s.evidence(res,
					fmt.Sprintf("a wrong value got %d; the operator object got %d", wrong.status, res.status)))
				break
			}
		}
	}

	// OS command, echo based then time based, after the value a command
	// member accepts.
	cmdBase := s.commandBase(ctx, o, loc, base)
	for _, p := range []string{";echo pcx$((9137*7))x", "$(echo pcx$((9137*7))x)", "|echo pcx$((9137*7))x"} {
		res := s.probe(ctx, o, loc, cmdBase+p)
		if s.blockedOr(checkInjectionCommand, o, loc, res) {
			break
		}
		if res.err == nil && bytes.Contains(res.body, []byte(cmdMarker)) && !bytes.Contains(baseBody, []byte(cmdMarker)) {
			s.report(checkInjectionCommand, o, L, ConfidenceCertain, s.evidence(res, "the shell evaluated $((9137*7)) and echoed "+cmdMarker))
			break
		}
	}
	if !s.hasFindingAt(checkInjectionCommand, o, L) {
		var last *result
		ok, res, detail := s.timeBased(func(d time.Duration) *result {
			last = s.probe(ctx, o, loc, cmdBase+fmt.Sprintf(";sleep %d", int(d.Seconds())))
			return last
		}, true)
		if !s.blockedOr(checkInjectionCommand, o, loc, last) && ok {
			s.report(checkInjectionCommand, o, L, ConfidenceFirm, s.evidence(res, detail))
		}
	}

	// Server-side templates.
	for _, p := range []string{"{{7193*11}}", "${7193*11}", "<%= 7193*11 %>"} {
		res := s.probe(ctx, o, loc, base+p)
		if s.blockedOr(checkInjectionSsti, o, loc, res) {
			break
		}
		if res.err == nil && bytes.Contains(res.body, []byte(sstiResult)) && !bytes.Contains(baseBody, []byte(sstiResult)) {
			s.report(checkInjectionSsti, o, L, ConfidenceCertain, s.evidence(res, "the template engine evaluated 7193*11 to "+sstiResult))
			break
		}
	}

	// Reflected XSS: the marker comes back unescaped in an HTML answer.
	res := s.probe(ctx, o, loc, base+xssMarker+`"'`)
	if !s.blockedOr(checkInjectionXss, o, loc, res) && res.err == nil && bytes.Contains(res.body, []byte(xssMarker)) {
		if ct := res.contentType(); ct == "" || ct == "text/html" || ct == "application/xhtml+xml" {
			if where, ok := xssContext(res.body); ok {
				s.report(checkInjectionXss, o, L, ConfidenceFirm, s.evidence(res, "the probe "+xssMarker+`"' came back unescaped in `+ct+" where a browser runs it: "+where))
			}
		}
	}

	// Path traversal.
	for _, p := range []string{"../../../../../../../../etc/passwd", "....//....//....//....//etc/passwd", "/etc/passwd", `..\..\..\..\..\windows\win.ini`} {
		res := s.probe(ctx, o, loc, p)
		if s.blockedOr(checkInjectionPathTraversal, o, loc, res) {
			break
		}
		if res.err == nil && (passwdFile.Match(res.body) && !passwdFile.Match(baseBody) || winIni.Match(res.body) && !winIni.Match(baseBody)) {
			s.report(checkInjectionPathTraversal, o, L, ConfidenceCertain, s.evidence(res, "a system file's content came back"))
			break
		}
	}

	// CRLF into headers (query and path only: a body value rarely reaches
	// a header).
	if loc.in == "query" || loc.in == "path" {
		res := s.probe(ctx, o, loc, base+"\r\nX-Pc-Crlf: injected")
		if !s.blockedOr(checkInjectionCrlf, o, loc, res) && res.err == nil && res.header.Get("X-Pc-Crlf") == "injected" {
			s.report(checkInjectionCrlf, o, L, ConfidenceCertain, s.evidence(res, "the injected header X-Pc-Crlf came back"))
		}
	}
}

// commandMember names parameters and members that hold a shell command.
var commandMember = regexp.MustCompile(`(?i)^(cmd|command|commands|exec|execute|shell|run|script|program|process)$`)

// harmlessCommands are read-only commands a command member is tried with.
var harmlessCommands = []string{"id", "uptime", "date", "whoami", "hostname", "pwd"}

// commandBaseline makes a refused baseline whose body or query has a
// command member (see commandBase) the first harmless command the API
// accepts, so that the probes start from a request that gets through.
func (s *scanner) commandBaseline(ctx context.Context, o *opState) {
	if o.res == nil || o.res.err != nil || o.res.status != http.StatusBadRequest && o.res.status != http.StatusUnprocessableEntity {
		return
	}
	for _, loc := range o.req.locations() {
		if !loc.stringy() || !commandMember.MatchString(lastSegment(loc.name)) {
			continue
		}
		for _, c := range harmlessCommands {
			r := o.req.clone()
			r.set(loc, c)
			if res := s.send(ctx, r); res.reached() {
				o.req, o.res = r, res
				return
			}
		}
	}
}

// commandBase returns the value command injection payloads follow at loc:
// for a member named like a command whose made-up value was refused, the
// first harmless command (id, uptime, date…) the API accepts, since an
// API that runs commands often allows only a few and refuses the rest
// before any shell sees them; else base.
func (s *scanner) commandBase(ctx context.Context, o *opState, loc location, base string) string {
	parts := splitPointer(loc.name)
	name := loc.name
	if loc.in == "body" && len(parts) > 0 {
		name = parts[len(parts)-1]
	}
	if !commandMember.MatchString(name) || o.res.ok() && base != "" {
		return base
	}
	for _, c := range harmlessCommands {
		if res := s.probe(ctx, o, loc, c); res.ok() {
			return c
		}
	}
	return base
}

// hasFindingAt reports whether a real finding of id exists at o and loc.
func (s *scanner) hasFindingAt(id *check, o *opState, loc string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[id.ID+"|"+o.key()+"|"+loc+"|real"]
}

// sameAnswer compares two answers: same status and the same body once
// volatile members (request ids, timestamps) are removed.
func sameAnswer(a, b *result) bool {
	if a == nil || b == nil || a.err != nil || b.err != nil || a.status != b.status {
		return false
	}
	return normalise(a) == normalise(b)
}

var volatile = regexp.MustCompile(`(?i)"(request_?id|instance|trace_?id|timestamp|time|date|nonce)"\s*:\s*("[^"]*"|[0-9.]+)`)

func normalise(r *result) string {
	return volatile.ReplaceAllString(string(r.body), "")
}
