// Package admin serves the admin plane: Prometheus metrics and health checks
// without authentication, and the admin API (status, events, reload) behind
// a bearer token. It listens on loopback by default (config admin.addr).
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/portcullis/portcullis/internal/decision"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// Options wire the admin plane to the running server.
type Options struct {
	// Token is the bearer token for /api/. Empty closes the admin API
	// (metrics and health stay open).
	Token string
	// Metrics is served on /metrics. Required.
	Metrics *metrics.Metrics
	// Store answers /api/v1/events; nil answers 404 there.
	Store *events.Store
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func() bool
	// Status returns the document served on /api/v1/status.
	Status func() any
	// Reload reloads the configuration (POST /api/v1/reload); nil answers 404.
	Reload func() error
	// Decisions lists, takes and revokes decisions (GET and POST
	// /api/v1/decisions, DELETE /api/v1/decisions/{key}; GET /api/v1/bans
	// and DELETE /api/v1/bans/{key} are the same for older clients); nil
	// answers 404 there.
	Decisions Decisions
}

// Decisions is the admin view of the decisions in force.
type Decisions interface {
	// List returns the active decisions.
	List(ctx context.Context) ([]store.Decision, error)
	// Add takes a decision (origin "admin").
	Add(ctx context.Context, r decision.Request) (store.Decision, error)
	// Remove revokes the decision on key ("ip:203.0.113.7") and reports
	// whether one was active.
	Remove(ctx context.Context, key string) (bool, error)
}

// DecisionView is a decision as the admin API shows it: with its key.
type DecisionView struct {
	Key string `json:"key"`
	store.Decision
}

// AddDecision is the body of POST /api/v1/decisions.
type AddDecision struct {
	Scope string `json:"scope"`
	Value string `json:"value"`
	Type  string `json:"type,omitempty"`
	// Duration is a Go duration ("4h"); empty uses bans.duration,
	// escalated for repeat offenders.
	Duration string `json:"duration,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Origin names who asks ("cli" from portcullis decisions); default
	// "admin".
	Origin string `json:"origin,omitempty"`
}

// Handler returns the admin plane's handler. Every answer carries an
// X-Request-Id; every error is an RFC 9457 problem (the same shape as the
// gateway's denials) with that id, so that an operator's report and the
// admin log line can be matched.
func Handler(o Options) http.Handler {
	return withRequestID(handler(o))
}

func handler(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if o.Ready != nil && !o.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})

	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		if o.Status == nil {
			writeJSON(w, http.StatusOK, map[string]string{})
			return
		}
		writeJSON(w, http.StatusOK, o.Status())
	})
	api.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		if o.Store == nil {
			writeError(w, http.StatusNotFound, "no event store is configured (events.sqlite)")
			return
		}
		f, err := eventFilter(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		evs, err := o.Store.Query(r.Context(), f)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "querying events failed")
			return
		}
		if evs == nil {
			evs = []events.Event{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"events": evs})
	})
	api.HandleFunc("POST /api/v1/reload", func(w http.ResponseWriter, r *http.Request) {
		if o.Reload == nil {
			writeError(w, http.StatusNotFound, "reload is not available")
			return
		}
		if err := o.Reload(); err != nil {
			writeError(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
	})
	list := func(w http.ResponseWriter, r *http.Request) {
		if o.Decisions == nil {
			writeError(w, http.StatusNotFound, "decisions are not available")
			return
		}
		ds, err := o.Decisions.List(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "listing decisions failed: the store is unavailable")
			return
		}
		views := make([]DecisionView, 0, len(ds))
		for _, d := range ds {
			views = append(views, DecisionView{Key: d.Key(), Decision: d})
		}
		writeJSON(w, http.StatusOK, map[string]any{"decisions": views, "bans": views})
	}
	api.HandleFunc("GET /api/v1/decisions", list)
	api.HandleFunc("GET /api/v1/bans", list)
	api.HandleFunc("POST /api/v1/decisions", func(w http.ResponseWriter, r *http.Request) {
		if o.Decisions == nil {
			writeError(w, http.StatusNotFound, "decisions are not available")
			return
		}
		var in AddDecision
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			writeError(w, http.StatusBadRequest, "the body must be a JSON object with scope, value, type, duration, reason: "+err.Error())
			return
		}
		req := decision.Request{Scope: in.Scope, Value: in.Value, Type: in.Type, Reason: in.Reason, Origin: in.Origin}
		if req.Type == "" {
			req.Type = store.TypeBan
		}
		if req.Origin == "" {
			req.Origin = "admin"
		}
		if req.Reason == "" {
			req.Reason = "taken by an operator"
		}
		if in.Duration != "" {
			d, err := time.ParseDuration(in.Duration)
			if err != nil || d <= 0 {
				writeError(w, http.StatusBadRequest, "duration must be a positive Go duration such as 90s, 4h")
				return
			}
			req.Duration, req.Fixed = d, true
		}
		if _, err := decision.Validate(req.Scope, req.Value, req.Type); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		d, err := o.Decisions.Add(r.Context(), req)
		switch {
		case errors.Is(err, decision.ErrExempt):
			writeError(w, http.StatusConflict, err.Error())
			return
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "taking the decision failed: the store is unavailable")
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"decision": DecisionView{Key: d.Key(), Decision: d}})
	})
	remove := func(w http.ResponseWriter, r *http.Request) {
		if o.Decisions == nil {
			writeError(w, http.StatusNotFound, "decisions are not available")
			return
		}
		key := r.PathValue("key")
		active, err := o.Decisions.Remove(r.Context(), key)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "removing the decision failed: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "removed", "key": key, "was_active": active})
	}
	api.HandleFunc("DELETE /api/v1/decisions/{key...}", remove)
	api.HandleFunc("DELETE /api/v1/bans/{key...}", remove)
	mux.Handle("/api/", requireToken(o.Token, api))
	return mux
}

// requireToken guards h with "Authorization: Bearer <token>".
//
// Security: the comparison is constant-time over SHA-256 digests, so neither
// the token's content nor its length leaks through timing.
func requireToken(token string, h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			writeError(w, http.StatusForbidden, "the admin API is closed: set admin.token")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin"`)
			writeError(w, http.StatusUnauthorized, "a valid admin bearer token is required")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func eventFilter(r *http.Request) (events.Filter, error) {
	q := r.URL.Query()
	f := events.Filter{
		Type:      q.Get("type"),
		Stage:     q.Get("stage"),
		ClientIP:  q.Get("client_ip"),
		API:       q.Get("api"),
		RequestID: q.Get("request_id"),
		Before:    q.Get("before"),
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, errBadParam("limit", "a positive integer")
		}
		f.Limit = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, errBadParam("since", "an RFC 3339 time")
		}
		f.Since = t
	}
	return f, nil
}

type paramError struct{ name, want string }

func (e paramError) Error() string { return "query parameter " + e.name + " must be " + e.want }

func errBadParam(name, want string) error { return paramError{name, want} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// withRequestID gives every admin request an id, in the X-Request-Id
// answer header and in problems. The client's own X-Request-Id is not
// used: the admin plane has no trusted proxies.
func withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", uuid.NewString())
		h.ServeHTTP(w, r)
	})
}

// problemType is the type URI of an admin problem: the gateway's
// vocabulary (pipeline.ProblemTypeBase plus the status text as a slug).
func problemType(status int) string {
	s := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(http.StatusText(status)))
	if s == "" {
		s = strconv.Itoa(status)
	}
	return pipeline.ProblemTypeBase + s
}

// writeError answers with an RFC 9457 problem. Unlike the gateway's
// denials, detail is not shortened: the admin API is authenticated and a
// failed reload's detail is the list of config problems.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(pipeline.Problem{
		Type:      problemType(status),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    msg,
		RequestID: w.Header().Get("X-Request-Id"),
	})
}
