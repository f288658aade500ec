package uniform

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// ID is the stage id: the config key, log field, metric label and event
// stage.
const ID = "uniform"

// Rule is the rule id of the findings: an answer was made uniform.
const Rule = "uniform.answer"

// Sleeper waits d or until ctx is done. The stage pads answers with it;
// tests give a fake one.
type Sleeper func(ctx context.Context, d time.Duration) error

// Sleep is the real Sleeper.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type op struct {
	kind     string
	status   int
	message  string
	statuses map[int]bool
	min      time.Duration
	failure  *Failure
}

// Stage makes marked operations' answers uniform. It is read-only after
// New and safe for concurrent use.
type Stage struct {
	ops   map[string]*op
	now   func() time.Time
	sleep Sleeper
}

var (
	_ pipeline.Stage         = (*Stage)(nil)
	_ pipeline.ResponseStage = (*Stage)(nil)
)

// Module registers the stage: the API's uniform block.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "uniform",
	New: func(b *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		return New(*c, b.Now, Sleep)
	}}

// New builds the stage with a clock and a sleeper.
func New(c Config, now func() time.Time, sleep Sleeper) (*Stage, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	s := &Stage{ops: map[string]*op{}, now: now, sleep: sleep}
	for k, o := range c.Operations {
		d := defaults[o.Kind]
		compiled := &op{kind: o.Kind, status: o.Status, message: o.Message, statuses: map[int]bool{}, min: o.MinDuration, failure: o.Failure}
		if compiled.status == 0 {
			compiled.status = d.status
		}
		if compiled.message == "" {
			compiled.message = d.message
		}
		sts := o.Statuses
		if len(sts) == 0 {
			sts = d.statuses
		}
		for _, st := range sts {
			compiled.statuses[st] = true
		}
		if compiled.min == 0 {
			compiled.min = c.MinDuration
		}
		method, path, _ := openapi.ParseOperationKey(k)
		s.ops[method+" "+path] = compiled
	}
	return s, nil
}

// ID returns "uniform".
func (s *Stage) ID() string { return ID }

// Request does nothing: the answers are what is made uniform.
func (s *Stage) Request(context.Context, *pipeline.Exchange) (*pipeline.Denial, error) {
	return nil, nil
}

// Response replaces a marked operation's telling answer with the uniform
// one, and pads every answer of the operation to its minimum duration.
func (s *Stage) Response(ctx context.Context, x *pipeline.Exchange, resp *http.Response) (*pipeline.Denial, error) {
	o := s.ops[x.Operation]
	if o == nil {
		return nil, nil
	}
	if o.min > 0 {
		if wait := o.min - s.now().Sub(x.Start); wait > 0 {
			if err := s.sleep(ctx, wait); err != nil {
				return nil, nil // the client went away; the proxy records it
			}
		}
	}
	if !o.statuses[resp.StatusCode] && !o.failed(x, resp) {
		return nil, nil
	}
	x.AddFinding(pipeline.Finding{Stage: ID, Rules: []string{Rule}, Location: "response",
		Reason: fmt.Sprintf("%s answer made uniform (upstream status %d, answered %d)", o.kind, resp.StatusCode, o.status),
		Mode:   "rewrite", Severity: events.SeverityInfo})
	return &pipeline.Denial{Status: o.status, Reason: o.message, Reply: s.reply(o, x.ID)}, nil
}

// reply is the uniform answer: a problem document for an error status,
// a small JSON document otherwise; the same bytes for every account but
// the request id.
func (s *Stage) reply(o *op, requestID string) *pipeline.Reply {
	h := http.Header{"Cache-Control": {"no-store"}, "X-Content-Type-Options": {"nosniff"}}
	var body []byte
	if f := o.failure; f != nil && o.status < 300 {
		// The API's own shape for a failure (see Failure.MessagePointer).
		doc := map[string]any{}
		var v any = f.Equals
		if json.Unmarshal([]byte(f.Equals), &v) != nil {
			v = f.Equals
		}
		setMember(doc, f.Pointer, v)
		mp := f.MessagePointer
		if mp == "" {
			mp = "/message"
		}
		setMember(doc, mp, o.message)
		body, _ = json.Marshal(doc)
		h.Set("Content-Type", "application/json")
	} else if o.status >= 400 {
		p := pipeline.NewProblem(&pipeline.Denial{Status: o.status, Reason: o.message}, requestID)
		body, _ = json.Marshal(p)
		h.Set("Content-Type", "application/problem+json")
	} else {
		body, _ = json.Marshal(map[string]any{"status": o.status, "detail": o.message, "request_id": requestID})
		h.Set("Content-Type", "application/json")
	}
	return &pipeline.Reply{Status: o.status, Header: h, Body: body}
}

// maxAnswer is the most of a 2xx login answer read to look for the
// failure member: login answers are a token and a few fields.
const maxAnswer = 64 << 10

// failed reports whether a 2xx answer is a failed login by o's failure
// member. An answer that is not JSON, too large or without the member is
// a success.
func (o *op) failed(x *pipeline.Exchange, resp *http.Response) bool {
	if o.failure == nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false
	}
	body, st, err := x.ResponseBody(resp, maxAnswer)
	if err != nil || st != pipeline.BodyRead {
		return false
	}
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	v, ok := member(doc, o.failure.Pointer)
	if !ok {
		return false
	}
	if s, ok := v.(string); ok {
		return s == o.failure.Equals
	}
	b, err := json.Marshal(v)
	return err == nil && string(b) == o.failure.Equals
}

// member is the value at JSON pointer p (RFC 6901) in doc.
func member(doc any, p string) (any, bool) {
	for _, tok := range strings.Split(p, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch d := doc.(type) {
		case map[string]any:
			v, ok := d[tok]
			if !ok {
				return nil, false
			}
			doc = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(d) {
				return nil, false
			}
			doc = d[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

// setMember sets the member at JSON pointer p of doc to v, making the
// objects on the way (array indexes become object keys: the answer is
// made, not edited).
func setMember(doc map[string]any, p string, v any) {
	toks := strings.Split(p, "/")[1:]
	for i, tok := range toks {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if i == len(toks)-1 {
			doc[tok] = v
			return
		}
		next, ok := doc[tok].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[tok] = next
		}
		doc = next
	}
}
