package pipeline

import (
	"net/http"

	"github.com/portcullis/portcullis/internal/jsonedit"
)

// JSONPass is a response stage's walk of a JSON answer, handed to a later
// body stage so that the two share one pass over the document instead of
// walking it twice. The stage that defers it (DeferJSON) decides nothing
// until Done; the stage that takes it (TakeJSON) adds its own side to the
// pass's walk (jsonedit.Filter's Inspector: what the contract drops it
// never sees), runs it, sets the rewritten body, and returns Done's
// denial as the deferring stage's. A pass nobody takes is walked alone after the
// last response stage (Chain.RunResponse).
type JSONPass struct {
	// Stage is the id of the stage that deferred the pass (a denial from
	// Done is that stage's).
	Stage string
	// Body is the answer body the pass is for, as ResponseBody returned
	// it (a pass walked alone walks the body as it is by then).
	Body []byte
	// Filter is the walk, with the deferring stage's side set (its
	// Shape); the stage that takes the pass may set its Inspector.
	Filter *jsonedit.Filter
	// Done is called once after the walk with its error (nil, a
	// *jsonedit.SyntaxError, or jsonedit.ErrStopped when this or the other
	// visitor stopped): the stage records its findings and may refuse the
	// answer. It must not set the body: whoever walked does.
	Done func(walkErr error) (*Denial, error)
}

// DeferJSON hands the walk of resp's JSON body to a later body stage. A
// pass deferred earlier for the same answer and not taken yet is walked
// first, alone.
func (x *Exchange) DeferJSON(resp *http.Response, p *JSONPass) (*Denial, error) {
	var d *Denial
	var err error
	if old := x.TakeJSON(resp); old != nil {
		d, err = x.runJSON(resp, old)
	}
	x.json = p
	return d, err
}

// TakeJSON returns the pass deferred for resp's body, if any, and removes
// it: the caller now owes it a walk and a call of Done.
func (x *Exchange) TakeJSON(resp *http.Response) *JSONPass {
	p := x.json
	x.json = nil
	if p == nil || x.resp == nil || x.resp.resp != resp {
		return nil
	}
	return p
}

// runJSON walks a pass alone and finishes it. It walks the body as it is
// now: a stage that replaced it after the pass was deferred is not undone.
func (x *Exchange) runJSON(resp *http.Response, p *JSONPass) (*Denial, error) {
	body := p.Body
	if rb := x.resp; rb != nil && rb.resp == resp && rb.state == BodyRead {
		body = rb.decoded
	}
	out, changed, err := p.Filter.Run(body, x.Buffer(len(body)))
	d, derr := p.Done(err)
	if d == nil && derr == nil && changed {
		x.SetResponseBody(resp, out)
	}
	if d != nil && d.Stage == "" {
		d.Stage = p.Stage
	}
	return d, derr
}
