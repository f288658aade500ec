package pipeline

import (
	"context"
	"errors"
)

// StatusClientClosedRequest is the status recorded for an exchange whose
// client went away before it was answered (nginx's 499). It is never sent.
const StatusClientClosedRequest = 499

// RuleClientClosed is the rule of the denial ClientClosed returns.
const RuleClientClosed = "client-closed"

// ClientGone reports whether ctx, a request's context, ended because the
// client went away: an HTTP/1 connection closed, an HTTP/2 stream reset
// (rapid reset sends thousands), or the handler returning. A deadline is
// not the client's doing and does not count.
func ClientGone(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

// ClientClosed is the denial of an exchange abandoned by its client while
// stage ran: status 499, quiet (no security event, no failure). The access
// record keeps it; the gateway records it as an error, like a client that
// left while the upstream answered.
func ClientClosed(stage string) *Denial {
	return &Denial{
		Status: StatusClientClosedRequest,
		Reason: "client closed request",
		Stage:  stage,
		Rules:  []string{RuleClientClosed},
		Detail: "the client went away before the answer",
		Quiet:  true,
	}
}
