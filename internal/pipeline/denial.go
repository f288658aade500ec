package pipeline

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Denial is a stage's decision to refuse an exchange. It is data, not an
// error: a block is the gateway working as intended.
type Denial struct {
	// Status is the HTTP status to answer with (4xx or 5xx).
	Status int
	// Reason is a short, safe, human-readable sentence for the client. It must
	// never contain request data or internals.
	Reason string
	// Stage is the denying stage's id; Chain.Run fills it in when empty.
	Stage string
	// Rules are the ids of the rules that fired ("limits.body-size",
	// "crs-942100").
	Rules []string
	// Detail is for logs and events only (never sent to the client). Secrets
	// must already be redacted by the stage.
	Detail string
	// Excerpt is a short, redacted piece of the offending input, for the
	// security event only (never sent to the client).
	Excerpt string
	// Score is the anomaly score that led to the denial, when the stage
	// computes one.
	Score int
	// Location names where in the request the problem was found
	// ("query:q", "header:user-agent", "body:/items/0/name", "path").
	Location string
	// Headers are added to the problem response (Retry-After,
	// WWW-Authenticate, Allow).
	Headers http.Header
	// Errors lists field-level problems (validation). The renderer caps their
	// number and size.
	Errors []FieldError
	// Severity of the security event this denial produces: "info", "low",
	// "medium", "high" or "critical". Empty means "medium".
	Severity string
	// Quiet marks denials that are not security events (an unknown route is
	// a 404, not an attack). Access records still carry them.
	Quiet bool
	// Reply, when set, is the answer itself: the gateway writes it instead
	// of a problem and the outcome is Answer, not Deny (no denial event,
	// not counted as blocked). A stage that answers a request in the
	// upstream's place returns it: a CORS preflight, a CSP report, a
	// uniform answer of a login. Status, Reason and Stage still name the
	// answer in the access record.
	Reply *Reply
}

// Reply is a complete answer a stage gives in the upstream's place. The
// gateway writes its headers (after the exchange's ResponseHeader, with
// Content-Length set from Body), its status and its body, as they are.
type Reply struct {
	// Status is the status code (any: 204 for a preflight, 401 for a
	// uniform login failure).
	Status int
	// Header holds the answer's own headers (Content-Type for a body).
	Header http.Header
	// Body is written as is; nil writes none.
	Body []byte
}

// WriteReply writes r to w. The stage built r; nothing of the request is
// added here.
func WriteReply(w http.ResponseWriter, r *Reply) {
	h := w.Header()
	for k, vs := range r.Header {
		h[k] = vs
	}
	if r.Status == http.StatusNoContent || r.Status == http.StatusNotModified || r.Status < 200 {
		h.Del("Content-Length") // RFC 9110: these never have content
		w.WriteHeader(r.Status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(r.Body)))
	w.WriteHeader(r.Status)
	if len(r.Body) > 0 {
		_, _ = w.Write(r.Body)
	}
}

// Clone returns a deep copy of d (nil for nil), for a stage that keeps a
// denial to answer several requests with: Chain.Run and the gateway fill
// in and read a denial per exchange.
func (d *Denial) Clone() *Denial {
	if d == nil {
		return nil
	}
	c := *d
	c.Rules = slices.Clone(d.Rules)
	c.Headers = d.Headers.Clone()
	c.Errors = slices.Clone(d.Errors)
	if d.Reply != nil {
		r := *d.Reply
		r.Header = d.Reply.Header.Clone()
		c.Reply = &r
	}
	return &c
}

// FieldError is one problem with one part of the request, addressed by a
// JSON pointer ("/query/limit", "/body/items/0/name").
type FieldError struct {
	Pointer string `json:"pointer"`
	Reason  string `json:"reason"`
}

// Problem is the RFC 9457 problem details document Portcullis answers with.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Stage     string       `json:"stage,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// Limits on what a problem body may carry, so that an error response can
// never be used to amplify or reflect a large payload.
const (
	maxProblemErrors    = 20
	maxProblemReasonLen = 200
)

// ProblemTypeBase prefixes every problem type URI.
const ProblemTypeBase = "https://portcullis.dev/problems/"

// NewProblem builds the client-facing problem for a denial. It only uses the
// safe fields of the denial (status, reason, stage, capped errors).
func NewProblem(d *Denial, requestID string) Problem {
	status := d.Status
	if status < 400 || status > 599 {
		status = http.StatusForbidden
	}
	p := Problem{
		Type:      ProblemTypeBase + slug(status),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    truncate(d.Reason, maxProblemReasonLen),
		RequestID: requestID,
		Stage:     d.Stage,
	}
	if n := len(d.Errors); n > 0 {
		if n > maxProblemErrors {
			n = maxProblemErrors
		}
		p.Errors = make([]FieldError, n)
		for i := 0; i < n; i++ {
			p.Errors[i] = FieldError{
				Pointer: truncate(d.Errors[i].Pointer, maxProblemReasonLen),
				Reason:  truncate(d.Errors[i].Reason, maxProblemReasonLen),
			}
		}
	}
	return p
}

// WriteProblem renders a denial as application/problem+json. It is the only
// place in Portcullis that turns a decision into a response body.
func WriteProblem(w http.ResponseWriter, d *Denial, requestID string) {
	p := NewProblem(d, requestID)
	body, err := json.Marshal(p)
	if err != nil { // cannot happen with these field types; keep a safe answer anyway
		body = []byte(`{"title":"Internal Server Error","status":500}`)
	}
	h := w.Header()
	for k, vs := range d.Headers {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

func slug(status int) string {
	s := strings.ToLower(http.StatusText(status))
	if s == "" {
		return strconv.Itoa(status)
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
