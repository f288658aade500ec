package scan

import (
	"context"
	"time"
)

// prober is what a check may do with a running scan: send requests built
// from the plan, record findings and notes, and read the plan. Checks
// written against it (runSSRF, the misconfiguration headers) cannot reach
// into the scanner's state: its budget, identities' credentials, the
// findings of other checks.
type prober interface {
	// eachOp runs f for every planned operation, concurrently as
	// configured, until the budget or ctx is spent.
	eachOp(ctx context.Context, f func(context.Context, *opState))
	// operations are the planned operations with their baseline answers.
	operations() []*opState
	// send sends one request; probe sends o's baseline with value at loc.
	send(ctx context.Context, r *request) *result
	probe(ctx context.Context, o *opState, loc location, value any) *result
	// report and reportBlocked record a finding (once per check,
	// operation and location); evidence builds its evidence from an answer.
	report(c *check, o *opState, loc string, conf Confidence, ev Evidence)
	reportBlocked(c *check, o *opState, loc string, res *result)
	evidence(res *result, detail string) Evidence
	note(format string, args ...any)
	// canaryURL returns a fresh URL of the scanner's SSRF canary and a
	// channel closed when the target fetches it; ok is false when the
	// canary does not run.
	canaryURL() (url string, fetched <-chan struct{}, ok bool)
	// httpsTarget reports whether the target is served over HTTPS.
	httpsTarget() bool
	// timeBased runs a calibrated time-based confirmation (see scanner).
	timeBased(probe func(d time.Duration) *result, scales bool) (bool, *result, string)
}

var _ prober = (*scanner)(nil)

func (s *scanner) operations() []*opState { return s.ops }

func (s *scanner) canaryURL() (string, <-chan struct{}, bool) {
	if s.canary == nil {
		return "", nil, false
	}
	u, ch := s.canary.url()
	return u, ch, true
}

func (s *scanner) httpsTarget() bool { return s.base.Scheme == "https" }
