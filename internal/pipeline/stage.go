// Package pipeline holds the contract between the gateway and its stages: the
// exchange every stage reads and writes, the Stage interfaces, typed denials,
// and the one renderer that turns a denial into an RFC 9457 problem response.
//
// A stage decides; the gateway answers. Stages never write to the client:
// they return a *Denial (a decision) or an error (a technical failure), and
// the gateway does the rest.
package pipeline

import (
	"context"
	"net/http"
)

// Stage is one request-side step of a route's chain.
//
// Request returns (nil, nil) to let the exchange continue, a non-nil *Denial
// to refuse it, or a non-nil error when the stage could not decide (a store
// or identity provider is unreachable). What an error means — fail open or
// fail closed — is the chain's decision (see Step.FailOpen), never the stage's.
type Stage interface {
	// ID is the dotted lowercase stage id ("ipfilter", "limits", "authn.jwt").
	// The same string is the config key, the log field, the metric label and
	// the event's stage.
	ID() string
	Request(ctx context.Context, x *Exchange) (*Denial, error)
}

// ResponseStage is an optional interface for stages that also inspect or
// rewrite the upstream response before it reaches the client (field
// filtering, masking, headers). It runs inside ReverseProxy.ModifyResponse.
// A non-nil *Denial replaces the response with a rendered problem.
type ResponseStage interface {
	Stage
	Response(ctx context.Context, x *Exchange, resp *http.Response) (*Denial, error)
}

// Closer is implemented by stages that hold resources (goroutines, files,
// connections). The gateway calls Close when a reload retires the chain.
type Closer interface {
	Close() error
}

// Step is a stage placed in a chain, with the chain's decision about what a
// technical failure of that stage means.
type Step struct {
	Stage Stage
	// FailOpen lets the exchange continue when the stage returns an error.
	// Zero (false) fails closed: the error becomes a 503 denial. Failing
	// closed is the default because a security control that silently turns
	// itself off under load is worse than a brief outage.
	FailOpen bool
}

// Chain is the compiled, ordered list of steps of one route. It is built
// once at load and shared, read-only, by every request on that route.
type Chain []Step

// Run runs every step in order until one denies. It returns the denial (or
// nil) and records technical failures on the exchange.
func (c Chain) Run(ctx context.Context, x *Exchange) *Denial {
	for _, s := range c {
		d, err := s.Stage.Request(ctx, x)
		if err != nil && ClientGone(ctx) {
			// The stage failed because the client went away (a Redis call
			// or an identity provider's answer cancelled with the request):
			// the client's doing, not a failure of the stage.
			return ClientClosed(s.Stage.ID())
		}
		if err != nil {
			x.AddFailure(s.Stage.ID(), err)
			if s.FailOpen {
				continue
			}
			return &Denial{
				Status: http.StatusServiceUnavailable,
				Reason: "a security control is temporarily unavailable",
				Stage:  s.Stage.ID(),
				Rules:  []string{"stage-failure"},
				Detail: err.Error(),
			}
		}
		if d != nil {
			if d.Stage == "" {
				d.Stage = s.Stage.ID()
			}
			return d
		}
	}
	return nil
}

// RunResponse runs the response side of every step that implements
// ResponseStage, in reverse order (the stage nearest the upstream first).
func (c Chain) RunResponse(ctx context.Context, x *Exchange, resp *http.Response) *Denial {
	defer x.TakeJSON(resp) // an answer refused before its pass was walked needs none
	for i := len(c) - 1; i >= 0; i-- {
		rs, ok := c[i].Stage.(ResponseStage)
		if !ok {
			continue
		}
		d, err := rs.Response(ctx, x, resp)
		if d, stop := c.judge(ctx, x, rs.ID(), c[i].FailOpen, d, err); stop {
			return d
		}
	}
	// A JSON pass no later stage took is walked alone.
	if p := x.TakeJSON(resp); p != nil {
		failOpen := false
		for _, e := range c {
			if e.Stage.ID() == p.Stage {
				failOpen = e.FailOpen
			}
		}
		d, err := x.runJSON(resp, p)
		if d, stop := c.judge(ctx, x, p.Stage, failOpen, d, err); stop {
			return d
		}
	}
	return nil
}

// judge turns a response stage's outcome into the chain's: a denial, a
// failure (502 unless the stage fails open; a quiet 499 when the client
// went away) or nothing (stop false).
func (c Chain) judge(ctx context.Context, x *Exchange, id string, failOpen bool, d *Denial, err error) (*Denial, bool) {
	if err != nil && ClientGone(ctx) {
		return ClientClosed(id), true
	}
	if err != nil {
		x.AddFailure(id, err)
		if failOpen {
			return nil, false
		}
		return &Denial{
			Status: http.StatusBadGateway,
			Reason: "the upstream response could not be checked",
			Stage:  id,
			Rules:  []string{"stage-failure"},
			Detail: err.Error(),
		}, true
	}
	if d != nil {
		if d.Stage == "" {
			d.Stage = id
		}
		return d, true
	}
	return nil, false
}

// Close closes every stage of the chain that implements Closer.
func (c Chain) Close() error {
	var first error
	for _, s := range c {
		if cl, ok := s.Stage.(Closer); ok {
			if err := cl.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
