// Package events defines the security event shared by the gateway, the
// scanner and every sink, and the in-process bus that carries events to
// sinks (JSONL file, SQLite store, metrics, live feeds) without ever blocking
// the request path.
package events

import (
	"time"
)

// Event types. The vocabulary is shared by the gateway and the scanner.
const (
	// TypeDenial: a stage refused a request.
	TypeDenial = "denial"
	// TypeDetection: a stage detected an attack but let the request through
	// (detect/log mode).
	TypeDetection = "detection"
	// TypeMalformed: the request could not be parsed as HTTP at all and was
	// refused before routing.
	TypeMalformed = "malformed"
	// TypeStageFailure: a stage could not decide (technical failure).
	TypeStageFailure = "stage.failure"
	// TypeTLSHandshake: a TLS handshake failed (old protocol, no client
	// certificate, bad certificate).
	TypeTLSHandshake = "tls.handshake_failed"
	// TypeUpstream: an upstream target changed health or a circuit opened.
	TypeUpstream = "upstream"
	// TypeConfigReload: a configuration reload succeeded or failed.
	TypeConfigReload = "config.reload"
	// TypeDecision: a decision (a ban or a throttle on an address, network,
	// principal or API key) was taken or revoked, by the auto-ban, a
	// detector, an operator or CrowdSec. Attrs "action" is "add" or
	// "delete" and Attrs "decision" holds the decision.
	TypeDecision = "decision"
	// TypeStore: the shared store changed state (Redis became unreachable
	// and the node fell back to local state, or Redis came back).
	TypeStore = "store"
	// TypeAdmin: an operator acted through the admin plane (a ban lifted
	// or extended, a reload, a login). The audit log records these
	// directly; the bus carries them to the other sinks and the live feed.
	TypeAdmin = "admin"
	// TypeAlert: an alert rule fired (the alert itself, as sent).
	TypeAlert = "alert"
)

// Severities, lowest first.
const (
	SeverityInfo     = "info"
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Event is one security-relevant fact. Secrets never appear in an event:
// whoever builds one redacts excerpts first.
type Event struct {
	// ID is unique per event (a UUID); the bus fills it in when empty.
	ID string `json:"id"`
	// Time is when the event happened; the bus fills it in when zero.
	Time time.Time `json:"time"`
	// Type is one of the Type* constants.
	Type string `json:"type"`
	// Severity is one of the Severity* constants.
	Severity string `json:"severity"`
	// RequestID ties the event to the access record and the upstream request.
	RequestID string `json:"request_id,omitempty"`
	// ClientIP is the resolved client address.
	ClientIP string `json:"client_ip,omitempty"`
	// API is the matched API's name.
	API string `json:"api,omitempty"`
	// Method and Path of the request (path without the query string).
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// Stage is the stage id that produced the event.
	Stage string `json:"stage,omitempty"`
	// Rules are rule ids.
	Rules []string `json:"rules,omitempty"`
	// Status is the HTTP status answered, when the event is a denial.
	Status int `json:"status,omitempty"`
	// Reason is a short human-readable explanation.
	Reason string `json:"reason,omitempty"`
	// Location is where in the request the problem was found.
	Location string `json:"location,omitempty"`
	// Excerpt is a short, redacted piece of the offending input.
	Excerpt string `json:"excerpt,omitempty"`
	// Score is an anomaly score, when the stage computes one.
	Score int `json:"score,omitempty"`
	// Mode is "block", "detect" or "log".
	Mode string `json:"mode,omitempty"`
	// Principal is the authenticated caller's id, when known.
	Principal string `json:"principal,omitempty"`
	// TraceID is the W3C trace id of the request's trace, when tracing is
	// on and the request was sampled.
	TraceID string `json:"trace_id,omitempty"`
	// Node names the gateway node that produced the event (events.node);
	// sinks shared by a fleet (PostgreSQL) fill it in.
	Node string `json:"node,omitempty"`
	// Attrs holds extra, type-specific fields.
	Attrs map[string]any `json:"attrs,omitempty"`
}

// Publisher accepts events. Publish never blocks; it returns false when the
// event could not be queued (and the loss has been counted).
type Publisher interface {
	Publish(e Event) bool
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(Event) bool

// Publish calls f(e).
func (f PublisherFunc) Publish(e Event) bool { return f(e) }

// Discard is a Publisher that drops everything (for tests and tools).
var Discard Publisher = PublisherFunc(func(Event) bool { return true })

// severityOrder lists the severities, lowest first.
var severityOrder = []string{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// SeverityRank returns the position of s in the order info < low < medium
// < high < critical, or -1 for an unknown severity.
func SeverityRank(s string) int {
	for i, v := range severityOrder {
		if v == s {
			return i
		}
	}
	return -1
}

// severitiesFrom returns min and every higher severity; nil when min is
// empty or unknown (no filter).
func severitiesFrom(min string) []string {
	i := SeverityRank(min)
	if i < 0 {
		return nil
	}
	return severityOrder[i:]
}
