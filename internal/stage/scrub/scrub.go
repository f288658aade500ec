package scrub

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/redact"
)

// ID is the stage id: the config key, log field, metric label and event
// stage.
const ID = "scrub"

// Rule ids, one per kind of leak.
const (
	RuleStackTrace   = "scrub.stack-trace"
	RuleSQL          = "scrub.sql-error"
	RuleDebugPage    = "scrub.debug-page"
	RuleInternalPath = "scrub.internal-path"
	// RuleError: an error body replaced in mode "always" without a leak.
	RuleError = "scrub.error"
	// RuleUnchecked: an error body too large to inspect.
	RuleUnchecked = "scrub.unchecked"
)

// leak is one kind of internal detail an error page shows.
type leak struct {
	rule string
	re   *regexp.Regexp
}

// leaks are the signs of internals in an error body, for the runtimes and
// frameworks APIs are written in. Each expression needs a shape an
// ordinary error message does not have (a frame with a file and a line, a
// database's own error wording), so that a plain "internal error" problem
// passes.
var leaks = []leak{
	{RuleStackTrace, regexp.MustCompile(`goroutine \d+ \[[a-z ,0-9]+\]:|panic: |` + // Go
		`Traceback \(most recent call last\)|File "[^"\n]+", line \d+, in |` + // Python
		`Exception in thread "|\bat [\w$.]+\([\w$]+\.(?:java|kt|scala|groovy):\d+\)|Caused by: [\w.]+(?:Exception|Error)|` + // JVM
		`\bat [\w.<>]+\(.*\) in [^\n]+:line \d+|System\.[\w.]*Exception: |` + // .NET
		`\bat (?:async )?[\w.$<> ]+ \((?:file://)?/[^\n)]+\.(?:js|mjs|cjs|ts):\d+:\d+\)|\n\s+at [\w.$]+ \(node:[\w:/]+:\d+:\d+\)|` + // Node
		`Stack trace:\s*\n#0 |PHP (?:Fatal|Parse) error|\bin /[\w/.-]+\.php(?::| on line )\d+|` + // PHP
		`[\w/.-]+\.rb:\d+:in [` + "`" + `'][\w!?]+'|` + // Ruby
		`\.go:\d+ \+0x[0-9a-f]+|thread '[\w-]+' panicked at `)}, // Go frames, Rust
	{RuleSQL, regexp.MustCompile(`(?i)you have an error in your sql syntax|\bORA-\d{5}\b|\bPG::[A-Z]\w+|psql: error|ERROR:\s+syntax error at or near|` +
		`SQLSTATE\[\w+\]|sqlite3?[._:][\w.]*(?:error|exception)|\bnear "[^"]*": syntax error|unrecognized token: "|` +
		`unclosed quotation mark after the character string|incorrect syntax near|\bODBC (?:SQL Server )?Driver|` +
		`java\.sql\.SQLException|org\.hibernate\.|SequelizeDatabaseError|mysql_fetch|pg_query\(|` +
		`unterminated quoted string|quoted string not properly terminated|column "[^"]+" does not exist|relation "[^"]+" does not exist`)},
	{RuleDebugPage, regexp.MustCompile(`(?i)you're seeing this error because you have <code>debug = true</code>|` +
		`werkzeug debugger|whitelabel error page|action controller: exception caught|<title>[^<]*\(500 internal server error\)|` +
		`server error in '/' application|symfony\\component\\|whoops! there was an error|` +
		`<pre>(?:[\w]*Error|Exception)[^<]*\n\s+at |phpinfo\(\)|<b>(?:warning|fatal error)</b>:`)},
	{RuleInternalPath, regexp.MustCompile(`(?:/(?:home|root|usr/src|var/www|srv|opt|app|workspace|builds?)/[\w.-]+(?:/[\w.@+-]+)*\.(?:go|py|java|js|ts|rb|php|cs|kt|scala|rs|ex|exs)\b)|` +
		`[A-Za-z]:\\(?:Users|inetpub|Program Files|Windows|src|projects)\\[^\s"'<>]+`)},
}

// Stage replaces error answers that leak internals. It is read-only
// after New and safe for concurrent use.
type Stage struct {
	always, logOnly, client bool
	max                     int64
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
)

// Module registers the stage: the API's scrub block.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "scrub",
	New: func(_ *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		return New(*c)
	}}

// New builds the stage.
func New(c Config) (*Stage, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	s := &Stage{always: c.Mode == "always", logOnly: c.Mode == "log", client: c.ClientErrors, max: int64(c.MaxBodyBytes)}
	if s.max == 0 {
		s.max = DefaultMaxBodyBytes
	}
	return s, nil
}

// ID returns "scrub".
func (s *Stage) ID() string { return ID }

// Request does nothing: scrubbing is about answers.
func (s *Stage) Request(context.Context, *pipeline.Exchange) (*pipeline.Denial, error) {
	return nil, nil
}

// Find returns the rules of the leaks in body and the offset of the
// first one (-1 when there is none).
func Find(body []byte) (rules []string, first int) {
	first = -1
	for _, l := range leaks {
		if loc := l.re.FindIndex(body); loc != nil {
			rules = append(rules, l.rule)
			if first < 0 || loc[0] < first {
				first = loc[0]
			}
		}
	}
	return rules, first
}

// Response replaces an error answer that leaks internals with a generic
// problem: the status is kept (and Retry-After), the body is the
// gateway's.
func (s *Stage) Response(_ context.Context, x *pipeline.Exchange, resp *http.Response) (*pipeline.Denial, error) {
	server := resp.StatusCode >= 500 && resp.StatusCode <= 599
	if !server && !(s.client && resp.StatusCode >= 400 && resp.StatusCode <= 499) {
		return nil, nil
	}
	d := &pipeline.Denial{Status: resp.StatusCode, Reason: "the upstream service failed to answer this request", Location: "response",
		Severity: events.SeverityMedium}
	if !server {
		d.Reason = "the request could not be processed"
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" && len(ra) < 64 {
		d.Headers = http.Header{"Retry-After": {ra}}
	}
	body, st, err := x.ResponseBody(resp, s.max)
	if err != nil {
		return nil, err
	}
	if st != pipeline.BodyRead {
		detail := fmt.Sprintf("%s error answer (status %d) not inspected (limit %d bytes)", st, resp.StatusCode, s.max)
		if s.always && server {
			d.Rules, d.Detail = []string{RuleUnchecked}, detail
			return d, nil
		}
		x.AddFinding(pipeline.Finding{Stage: ID, Rules: []string{RuleUnchecked}, Location: "response", Reason: detail, Mode: "log", Severity: events.SeverityInfo})
		return nil, nil
	}
	rules, first := Find(body)
	if len(rules) == 0 {
		if s.always && server && len(body) > 0 {
			d.Rules, d.Severity = []string{RuleError}, events.SeverityLow
			d.Detail = fmt.Sprintf("status %d body replaced", resp.StatusCode)
			d.Excerpt = excerpt(body, 0)
			return d, nil
		}
		return nil, nil
	}
	d.Rules = rules
	d.Detail = fmt.Sprintf("status %d answer showed internals", resp.StatusCode)
	d.Excerpt = excerpt(body, first)
	if s.logOnly {
		x.AddFinding(pipeline.Finding{Stage: ID, Rules: rules, Location: "response", Excerpt: d.Excerpt, Reason: d.Detail, Mode: "log", Severity: d.Severity})
		return nil, nil
	}
	return d, nil
}

// excerpt is a short piece of the body around a leak for the event, with
// secrets masked (the gateway escapes and caps it when it builds the
// event).
func excerpt(body []byte, at int) string {
	start := max(0, at-24)
	end := min(len(body), start+160)
	return redact.Values(string(body[start:end]))
}
