package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/openapi"
)

// Exchange is the one object per request that stages share. The gateway
// creates it, stages write to it, and logging, metrics and events read it.
//
// Stages of one request run one after another, so most fields need no
// locking; the few that response stages and sinks may touch concurrently
// (findings, failures) are guarded.
type Exchange struct {
	// ID is the request id, also sent upstream as X-Request-Id and written
	// into every event and the access record.
	ID string
	// Start is when the gateway received the request.
	Start time.Time
	// TraceID is the W3C trace id of the request's span when tracing is on
	// and the request is sampled, else "". It goes into the access record
	// and every event.
	TraceID string
	// Traceparent is the W3C traceparent the upstream gets for a request
	// that tracing is on for but does not record (a new trace the sampler
	// left out: flags 00), "" otherwise (tracing off, the request
	// recorded, or an incoming trace continued: the span context in the
	// request's context is injected then).
	Traceparent string
	// Request is the client's request. Stages may read it; only the gateway
	// rewrites it for the upstream.
	Request *http.Request
	// Peer is the address of the TCP peer (the last hop).
	Peer netip.Addr
	// ClientIP is the client address: the peer, or the address taken from
	// X-Forwarded-For / Forwarded when the peer is a trusted proxy.
	ClientIP netip.Addr
	// TrustedPeer reports whether Peer is a configured trusted proxy, whose
	// X-Forwarded-* and X-Request-Id headers may be believed and extended.
	TrustedPeer bool
	// API is the name of the matched API ("" before routing or when none
	// matched).
	API string
	// Match is the API's operation matcher's answer for this request (see
	// Build.Operations): the operation, its path parameters, or why none
	// matched (404/405 with Allow). Its Status is openapi.Unmatched when
	// the API declares no operations. The gateway sets it before the chain
	// runs; stages only read it.
	Match openapi.MatchResult
	// Operation is Match.Operation's key ("GET /pets/{id}"), "" when no
	// operation matched.
	Operation string
	// PathParams are Match.Params: the percent-decoded path parameters of
	// the matched operation.
	PathParams map[string]string
	// Proven lists the request values proven by their declared type (an
	// integer, enum, uuid, date or boolean from the description). The
	// validate stage fills it; signature stages (waf) skip those values.
	// The registry puts validate before waf (TestRegistryOrder), and a
	// value is only proven when validation passed in block mode.
	Proven Locations
	// Principal is the authenticated caller; nil means anonymous.
	Principal *Principal
	// Claimed is the account the request claims to act for before (or
	// without) proof: the key id of a presented API key, the login name
	// of a login request. authn and detect set it; detectors read it to
	// count failed authentications per account. "" when none.
	Claimed string
	// BodyLimit is the most bytes Body will read; zero or less means
	// unlimited. The gateway sets it from the route's limits before any
	// stage runs.
	BodyLimit int64

	body     []byte
	bodyRead bool
	bodyErr  error
	resp     *respBody // the upstream response body, read once (ResponseBody)
	json     *JSONPass // a body stage's walk of the answer, waiting to be shared (DeferJSON)

	// ResponseHeader holds headers a stage wants on the response to the
	// client, whether the exchange is proxied or denied (RateLimit,
	// RateLimit-Policy). Nil until a stage adds one; use AddResponseHeader.
	ResponseHeader http.Header
	// UpstreamHeader holds the headers the gateway's stages set for the
	// upstream (authn's principal headers). The proxy removes every client
	// header with the same HeaderKey (any case, '_' for '-') before it sets
	// these, so a client can never add to or spell around them. Nil until a
	// stage sets one; use SetUpstreamHeader.
	UpstreamHeader http.Header
	// Upgrade is a stage's permission to switch this exchange to another
	// protocol (a WebSocket), with the limits the tunnel must keep. Nil
	// means no switch is allowed: the proxy refuses a WebSocket handshake
	// and ignores any other Upgrade.
	Upgrade *Upgrade

	mu       sync.Mutex
	buffers  []*[]byte  // Buffer's, recycled by Finish
	bufs     [2]*[]byte // buffers' first backing array (a body read and its rewrite)
	findings []Finding
	failures []Failure
	done     []func()
}

// Locations is a set of request locations: "query:NAME", "path:NAME",
// "header:NAME" (lower case), "cookie:NAME" and "body:/json/pointer". The
// zero value is an empty set. It is not safe for concurrent writes (the
// stages of one request run one after another).
type Locations struct {
	set map[string]struct{}
}

// Add adds loc to the set.
func (l *Locations) Add(loc string) {
	if l.set == nil {
		l.set = make(map[string]struct{})
	}
	l.set[loc] = struct{}{}
}

// Has reports whether loc is in the set.
func (l *Locations) Has(loc string) bool {
	_, ok := l.set[loc]
	return ok
}

// Len is the number of locations in the set.
func (l *Locations) Len() int { return len(l.set) }

// Principal is an authenticated identity. Once on an exchange it is
// read-only: its slices and Attributes may be shared with other exchanges
// (an API key's principal is built once per key).
type Principal struct {
	ID         string         `json:"id"`
	Kind       string         `json:"kind"` // "apikey", "jwt", "introspection", "mtls", "signature"
	Scopes     []string       `json:"scopes,omitempty"`
	Roles      []string       `json:"roles,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Finding is a detection that did not (or not yet) deny the exchange, such as
// a WAF rule in detect mode. Every finding becomes a security event.
type Finding struct {
	Stage    string   `json:"stage"`
	Rules    []string `json:"rules,omitempty"`
	Location string   `json:"location,omitempty"`
	Excerpt  string   `json:"excerpt,omitempty"` // already redacted
	Score    int      `json:"score,omitempty"`
	Mode     string   `json:"mode,omitempty"` // "detect" or "block"
	Reason   string   `json:"reason,omitempty"`
	Severity string   `json:"severity,omitempty"`
}

// Failure is a technical failure of a stage (not a denial).
type Failure struct {
	Stage string
	Err   error
}

// ErrBodyTooLarge is returned by Body when the request body exceeds
// BodyLimit. It wraps *http.MaxBytesError.
var ErrBodyTooLarge = errors.New("request body too large")

// NewExchange returns an exchange for r with the given id and start time.
func NewExchange(r *http.Request, id string, start time.Time) *Exchange {
	return &Exchange{ID: id, Start: start, Request: r}
}

// Body reads the request body once, under BodyLimit, and returns the same
// bytes to every caller. After a successful read the request's Body is
// replaced by a reader over those bytes so that the proxy sends exactly what
// the stages inspected.
func (x *Exchange) Body() ([]byte, error) {
	if x.bodyRead {
		return x.body, x.bodyErr
	}
	x.bodyRead = true
	r := x.Request
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	var rd io.Reader = r.Body
	if x.BodyLimit > 0 {
		if r.ContentLength > x.BodyLimit {
			x.bodyErr = ErrBodyTooLarge
			return nil, x.bodyErr
		}
		rd = io.LimitReader(r.Body, x.BodyLimit+1)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		x.bodyErr = err
		return nil, err
	}
	if x.BodyLimit > 0 && int64(len(b)) > x.BodyLimit {
		x.bodyErr = ErrBodyTooLarge
		return nil, x.bodyErr
	}
	x.body = b
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}

// ReplaceBody makes b the body every later stage and the upstream see, in
// place of what was read (a body re-encoded from what was checked). What
// is left unread of the client's body is discarded.
func (x *Exchange) ReplaceBody(b []byte) {
	x.bodyRead, x.body, x.bodyErr = true, b, nil
	r := x.Request
	if r.Body != nil {
		_ = r.Body.Close()
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.Header.Set("Content-Length", strconv.Itoa(len(b)))
	r.TransferEncoding = nil
}

// BodyRead reports whether Body has been called.
func (x *Exchange) BodyRead() bool { return x.bodyRead }

// AddFinding records a detection.
func (x *Exchange) AddFinding(f Finding) {
	x.mu.Lock()
	x.findings = append(x.findings, f)
	x.mu.Unlock()
}

// Findings returns a copy of the recorded findings.
func (x *Exchange) Findings() []Finding {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Finding(nil), x.findings...)
}

// AddFailure records a technical failure of a stage. Nothing is recorded
// once the client has gone away (ClientGone): a store call or a token check
// cancelled with the request failed because of the client, and a flood of
// cancelled requests must not read as a flood of failures.
func (x *Exchange) AddFailure(stage string, err error) {
	if x.Request != nil && ClientGone(x.Request.Context()) {
		return
	}
	x.mu.Lock()
	x.failures = append(x.failures, Failure{Stage: stage, Err: err})
	x.mu.Unlock()
}

// Failures returns a copy of the recorded technical failures.
func (x *Exchange) Failures() []Failure {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Failure(nil), x.failures...)
}

// SetUpstreamHeader sets a header for the upstream (see UpstreamHeader).
func (x *Exchange) SetUpstreamHeader(key, value string) {
	if x.UpstreamHeader == nil {
		x.UpstreamHeader = make(http.Header, 4)
	}
	x.UpstreamHeader[http.CanonicalHeaderKey(key)] = []string{value}
}

// AddResponseHeader adds a header to the client's response.
func (x *Exchange) AddResponseHeader(key, value string) {
	if x.ResponseHeader == nil {
		x.ResponseHeader = make(http.Header, 2)
	}
	x.ResponseHeader.Add(key, value)
}

// OnDone registers f to run when the exchange is finished (the response is
// written or the request denied): releasing a concurrency slot, recording a
// latency. Functions run in reverse order of registration.
func (x *Exchange) OnDone(f func()) {
	x.mu.Lock()
	x.done = append(x.done, f)
	x.mu.Unlock()
}

// Finish runs the functions registered with OnDone and recycles the
// exchange's body buffers (Buffer). The gateway calls it once per
// exchange, after the answer was written.
func (x *Exchange) Finish() {
	x.mu.Lock()
	done := x.done
	x.done = nil
	x.mu.Unlock()
	for i := len(done) - 1; i >= 0; i-- {
		done[i]()
	}
	x.mu.Lock()
	x.releaseBuffers()
	x.mu.Unlock()
}

type exchangeKey struct{}

// WithExchange returns a context carrying x.
func WithExchange(ctx context.Context, x *Exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, x)
}

// FromContext returns the exchange carried by ctx, or nil.
func FromContext(ctx context.Context) *Exchange {
	x, _ := ctx.Value(exchangeKey{}).(*Exchange)
	return x
}
