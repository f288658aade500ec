package pipeline

// Decision is what became of an exchange, as the access record, the
// requests metric and the events name it.
type Decision string

// The decisions.
const (
	// Allow: every stage let the exchange through and the upstream's answer
	// reached the client.
	Allow Decision = "allow"
	// Deny: a stage refused the request, or a response stage refused the
	// upstream's answer.
	Deny Decision = "deny"
	// Malformed: the listener found the request head malformed and the
	// gateway refused it before routing.
	Malformed Decision = "malformed"
	// Error: the upstream could not be reached, failed or timed out, or
	// the client went away before it answered.
	Error Decision = "error"
	// Answer: a stage answered in the upstream's place with a Reply (a
	// CORS preflight, a CSP report, a uniform authentication answer). It
	// is not a refusal: no denial event, not counted as blocked.
	Answer Decision = "answer"
)

// Outcome is the one verdict on an exchange, whether it came from the chain
// or from the upstream: the gateway renders it, and builds the access
// record, the metrics and the events from it.
type Outcome struct {
	// Decision is what became of the exchange.
	Decision Decision
	// Denial is the refusal, nil when the exchange was allowed. For Error it
	// is the proxy's denial (502, 503, 504, or the unsent 499 of a client
	// that went away).
	Denial *Denial
	// Target is the upstream target the request was sent to ("" when it was
	// not sent).
	Target string
	// Written reports that the answer (or, for a client that went away, its
	// recorded status) has already been written to the client.
	Written bool
	// Tunnel is set when the exchange switched protocols (101): what went
	// through the tunnel until it closed. The access record then says 101.
	Tunnel *Tunnel
}
