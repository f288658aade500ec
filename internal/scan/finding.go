// Package scan is `portcullis scan`: it reads an OpenAPI description, plans
// valid requests for every operation, attacks a live API with functional,
// injection, authentication, authorization, property-level, resource,
// misconfiguration, SSRF and performance checks, and reports findings.
package scan

import "time"

// Severity of a finding, lowest first.
type Severity string

// Severities.
const (
	SeverityInfo     Severity = "info"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Rank orders severities (info 0 … critical 4; unknown -1).
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 0
	case SeverityLow:
		return 1
	case SeverityMedium:
		return 2
	case SeverityHigh:
		return 3
	case SeverityCritical:
		return 4
	}
	return -1
}

// Confidence of a finding.
type Confidence string

// Confidences.
const (
	ConfidenceTentative Confidence = "tentative"
	ConfidenceFirm      Confidence = "firm"
	ConfidenceCertain   Confidence = "certain"
)

// Finding is one problem the scanner found. Every report format carries the
// same findings.
type Finding struct {
	// CheckID identifies the check ("injection.sql.error", "authz.bola").
	CheckID string `json:"check_id"`
	// Group is the check group ("functional", "injection", "authentication",
	// "authorization", "property", "resource", "misconfiguration", "ssrf",
	// "performance").
	Group string `json:"group"`
	// Title is a one-line summary.
	Title string `json:"title"`
	// OWASP is the OWASP API Security Top 10 2023 category ("API1:2023").
	OWASP string `json:"owasp"`
	// CWE is the Common Weakness Enumeration entry ("CWE-89"), when one
	// fits.
	CWE string `json:"cwe,omitempty"`
	// Severity and Confidence.
	Severity   Severity   `json:"severity"`
	Confidence Confidence `json:"confidence"`
	// Operation is "METHOD /path/template"; OperationID the spec's
	// operationId when present.
	Operation   string `json:"operation,omitempty"`
	OperationID string `json:"operation_id,omitempty"`
	// Location is where the probe went ("query:q", "body:/name", "header:X").
	Location string `json:"location,omitempty"`
	// Evidence holds request and response excerpts (secrets redacted).
	Evidence Evidence `json:"evidence"`
	// Remediation is one line on how to fix it.
	Remediation string `json:"remediation"`
	// Blocked is true when a security gateway refused the probe (403/400
	// problem from Portcullis, say): the flaw may exist upstream but the
	// attack did not get through.
	Blocked bool `json:"blocked,omitempty"`
}

// Evidence is what proves a finding.
type Evidence struct {
	Request  string `json:"request"`
	Response string `json:"response"`
	// Detail explains the reasoning (timings, differences, matched text).
	Detail string `json:"detail,omitempty"`
	// Curl is a command line that sends the request again. The
	// identities' credentials are shell variables (PC_ALICE_AUTHORIZATION
	// for alice's Authorization header), never their values.
	Curl string `json:"curl,omitempty"`
}

// Report is the result of one scan.
type Report struct {
	// Target is the base URL scanned; Spec the description's path or URL.
	Target string `json:"target"`
	Spec   string `json:"spec"`
	// Started and Finished bound the scan.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Requests is how many requests the scanner sent.
	Requests int `json:"requests"`
	// Operations lists every operation scanned ("GET /pets/{id}").
	Operations []string `json:"operations"`
	// Groups lists the check groups that ran.
	Groups []string `json:"groups"`
	// Findings, sorted by severity (highest first), then check id.
	Findings []Finding `json:"findings"`
	// Performance holds the load test result when it ran.
	Performance *Performance `json:"performance,omitempty"`
	// Changes lists what the scan changed on the target: the writes that
	// succeeded, by operation (objects created, updated, deleted).
	Changes []Change `json:"changes"`
	// Notes are remarks on how the scan went (budget ran out, checks that
	// could not run and why).
	Notes []string `json:"notes,omitempty"`
}

// Performance is the load-test result.
type Performance struct {
	Rate      float64       `json:"rate"`
	Duration  time.Duration `json:"duration"`
	Requests  uint64        `json:"requests"`
	P50       time.Duration `json:"p50"`
	P90       time.Duration `json:"p90"`
	P99       time.Duration `json:"p99"`
	ErrorRate float64       `json:"error_rate"`
	Passed    bool          `json:"passed"`
}
