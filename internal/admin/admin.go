// Package admin serves the admin plane: Prometheus metrics and health
// checks without authentication; the admin API (status, events, live feed,
// access records, charts, bans, reload, audit) behind a bearer token or a
// dashboard session; and the dashboard itself (embedded assets, a strict
// CSP, token login into an HttpOnly session cookie, CSRF tokens). It
// listens on loopback by default (config admin.addr).
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/portcullis/portcullis/internal/access"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/decision"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// Options wire the admin plane to the running server.
type Options struct {
	// Token is the bearer token for /api/ and the dashboard's login. Empty
	// closes the admin API and the dashboard (metrics and health stay
	// open).
	Token string
	// Metrics is served on /metrics. Required.
	Metrics *metrics.Metrics
	// Events answers /api/v1/events and the dashboard's queries: the fleet
	// store, the node's SQLite store, or its recent-events ring. Nil
	// answers 404 there.
	Events events.Querier
	// Fleet reports that Events holds every node's events (PostgreSQL):
	// the live feed then follows the store instead of this node's bus.
	Fleet bool
	// Subscribe opens a live feed of this node's events (the bus). Nil
	// turns the live feed off unless Fleet is set.
	Subscribe func(buf int) (<-chan events.Event, func())
	// Access holds recent access records and the charts' counts. Nil
	// answers 404 there.
	Access *access.Ring
	// Audit records admin actions in the tamper-evident log. Nil: actions
	// are only published as events.
	Audit Auditor
	// Publisher receives admin actions as TypeAdmin events. Nil discards.
	Publisher events.Publisher
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func() bool
	// Status returns the document served on /api/v1/status.
	Status func() any
	// Reload reloads the configuration (POST /api/v1/reload); nil answers 404.
	Reload func() error
	// Decisions lists, takes, extends and revokes decisions (GET and POST
	// /api/v1/decisions, POST /api/v1/decisions/{key} to extend, DELETE
	// /api/v1/decisions/{key}; the /api/v1/bans routes are the same for
	// older clients); nil answers 404 there. Every change is audited.
	Decisions Decisions
	// SessionTTL is how long a dashboard login lasts. Zero means 8h.
	SessionTTL time.Duration
	// Profiling serves net/http/pprof's profiles under /debug/pprof/,
	// behind the same authentication as /api/.
	Profiling bool
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger logs logins and CSP reports. Nil discards.
	Logger *slog.Logger
	// Node names this node in the dashboard.
	Node string
}

// Auditor is what the admin plane needs of the audit log.
type Auditor interface {
	Admin(a audit.Action) (audit.Record, error)
}

// Decisions is the admin view of the decisions in force.
type Decisions interface {
	// List returns the active decisions.
	List(ctx context.Context) ([]store.Decision, error)
	// Add takes a decision (origin "admin").
	Add(ctx context.Context, r decision.Request) (store.Decision, error)
	// Extend makes the active decision on key end at until and returns
	// it; decision.ErrNotActive when there is none.
	Extend(ctx context.Context, key string, until time.Time) (store.Decision, error)
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

// server is the admin plane's state.
type server struct {
	o        Options
	now      func() time.Time
	log      *slog.Logger
	sessions *sessions
	logins   *loginLimiter

	mu      sync.Mutex
	actions []actionEntry // recent admin actions, newest last
	csp     uint64        // CSP violation reports received
}

// actionEntry is one admin action as the dashboard lists it.
type actionEntry struct {
	Time   time.Time    `json:"time"`
	Seq    uint64       `json:"seq,omitempty"` // audit record number, when audited
	Hash   string       `json:"hash,omitempty"`
	Action audit.Action `json:"action"`
}

const maxActions = 200

// Handler returns the admin plane's handler. Every answer carries an
// X-Request-Id; every error is an RFC 9457 problem (the same shape as the
// gateway's denials) with that id, so that an operator's report and the
// admin log line can be matched.
func Handler(o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Publisher == nil {
		o.Publisher = events.Discard
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 8 * time.Hour
	}
	s := &server{o: o, now: o.Now, log: o.Logger, sessions: newSessions(o.SessionTTL, o.Now),
		logins: &loginLimiter{now: o.Now, m: map[string]*loginWindow{}}}
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
	s.dashboard(mux)

	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/status", s.status)
	api.HandleFunc("GET /api/v1/events", s.events)
	api.HandleFunc("GET /api/v1/stream", s.stream)
	api.HandleFunc("GET /api/v1/requests/{id}", s.request)
	api.HandleFunc("GET /api/v1/access", s.accessList)
	api.HandleFunc("GET /api/v1/timeline", s.timeline)
	api.HandleFunc("GET /api/v1/top", s.top)
	api.HandleFunc("GET /api/v1/audit", s.auditList)
	api.HandleFunc("POST /api/v1/reload", s.reload)
	for _, base := range []string{"/api/v1/decisions", "/api/v1/bans"} {
		api.HandleFunc("GET "+base, s.decisions)
		api.HandleFunc("POST "+base, s.addDecision)
		api.HandleFunc("DELETE "+base+"/{key...}", s.removeDecision)
		api.HandleFunc("POST "+base+"/{key...}", s.extendDecision)
	}
	mux.Handle("/api/", s.authenticate(api))
	if o.Profiling {
		prof := http.NewServeMux()
		prof.HandleFunc("GET /debug/pprof/", pprof.Index) // the named profiles: heap, allocs, goroutine, block, mutex, threadcreate
		prof.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		prof.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		prof.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		prof.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		prof.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		// Security: a profile shows the program's code paths and a
		// goroutine dump its stacks; behind the admin token like the API.
		mux.Handle("/debug/pprof/", s.authenticate(prof))
	}
	return withRequestID(securityHeaders(mux))
}

// securityHeaders sets what every admin answer carries: no framing, no
// sniffing, no referrer to other origins, and a CSP that allows nothing but the plane's own
// scripts, styles and API (HTML pages set theirs too).
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		// same-origin, not no-referrer: under no-referrer a browser sends
		// "Origin: null" with the plane's own form posts and fetches,
		// which the CSRF origin check must refuse. Nothing is sent to
		// other origins either way.
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		h.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy: only the plane's own files; no inline script or
// style (the pages have none), no eval, no frames, no plugins; forms only
// post back to the plane; violations are reported to the plane, which logs
// and counts them.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; " +
	"report-uri /ui/csp-report"

type ctxKey struct{}

// actor names who made an admin request, for the audit log.
func actor(r *http.Request) string {
	if a, ok := r.Context().Value(ctxKey{}).(string); ok {
		return a
	}
	return ""
}

// authenticate guards h with either "Authorization: Bearer <token>" or a
// dashboard session cookie; a cookie-authenticated state change must carry
// the session's CSRF token and come from the plane's own origin.
func (s *server) authenticate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.o.Token == "" {
			writeError(w, http.StatusForbidden, "the admin API is closed: set admin.token")
			return
		}
		if got, ok := bearer(r); ok {
			if !tokenEqual(got, s.o.Token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin"`)
				writeError(w, http.StatusUnauthorized, "a valid admin bearer token is required")
				return
			}
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "admin-token")))
			return
		}
		ss := s.sessions.get(r)
		if ss == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin"`)
			writeError(w, http.StatusUnauthorized, "a valid admin bearer token or dashboard session is required")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// Security: a cookie is sent by the browser whoever asks; the
			// CSRF token is only known to the plane's own pages.
			if !tokenEqual(r.Header.Get(csrfHeader), ss.csrf) || !sameOrigin(r) {
				writeError(w, http.StatusForbidden, "missing or wrong CSRF token")
				return
			}
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "session:"+ss.id)))
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	// Any Authorization header means the caller chose the token: one that
	// is not "Bearer <token>" compares as empty and is refused.
	v, _ := cutPrefixFold(h, "Bearer ")
	return v, true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && equalFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func remoteIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// record audits an admin action and publishes it as an event. It returns
// an error when the audit log could not take it: the action then must not
// be reported as done without its record.
func (s *server) record(r *http.Request, a audit.Action) error {
	a.Actor, a.Remote = actor(r), remoteIP(r)
	if a.Actor == "" {
		a.Actor = "anonymous"
	}
	entry := actionEntry{Time: s.now().UTC(), Action: a}
	if s.o.Audit != nil {
		rec, err := s.o.Audit.Admin(a)
		if err != nil {
			s.log.Error("admin action not audited", "action", a.Action, "err", err)
			return err
		}
		entry.Seq, entry.Hash = rec.Seq, rec.Hash
	}
	s.mu.Lock()
	s.actions = append(s.actions, entry)
	if len(s.actions) > maxActions {
		s.actions = s.actions[len(s.actions)-maxActions:]
	}
	s.mu.Unlock()
	attrs := map[string]any{"action": a.Action, "actor": a.Actor, "result": a.Result}
	if a.Target != "" {
		attrs["target"] = a.Target
	}
	for k, v := range a.Details {
		attrs[k] = v
	}
	s.o.Publisher.Publish(events.Event{Type: events.TypeAdmin, Severity: events.SeverityInfo, Stage: "admin",
		Rules: []string{"admin." + a.Action}, ClientIP: a.Remote, Principal: a.Actor, Reason: a.Action + " " + a.Target + ": " + a.Result,
		Attrs: attrs})
	return nil
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	doc := map[string]any{}
	if s.o.Status != nil {
		if m, ok := s.o.Status().(map[string]any); ok {
			doc = m
		} else {
			writeJSON(w, http.StatusOK, s.o.Status())
			return
		}
	}
	doc["node"] = s.o.Node
	doc["fleet"] = s.o.Fleet
	s.mu.Lock()
	doc["csp_reports"] = s.csp
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, doc)
}

func (s *server) events(w http.ResponseWriter, r *http.Request) {
	if s.o.Events == nil {
		writeError(w, http.StatusNotFound, "no event store is configured (events.sqlite or events.postgres)")
		return
	}
	f, err := eventFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	evs, err := s.o.Events.Query(r.Context(), f)
	if errors.Is(err, events.ErrCursorNotFound) {
		writeError(w, http.StatusBadRequest, "query parameter before names no stored event")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "querying events failed")
		return
	}
	if evs == nil {
		evs = []events.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
}

// request is the drill-down of one request id: its access record (this
// node's ring) and every event of it.
func (s *server) request(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	doc := map[string]any{"request_id": id, "access": nil, "events": []events.Event{}}
	if s.o.Access != nil {
		if rec, ok := s.o.Access.Get(id); ok {
			doc["access"] = rec
		}
	}
	if s.o.Events != nil {
		evs, err := s.o.Events.Query(r.Context(), events.Filter{RequestID: id, Limit: events.MaxQueryLimit})
		if err != nil {
			writeError(w, http.StatusInternalServerError, "querying events failed")
			return
		}
		doc["events"] = evs
	}
	writeJSON(w, http.StatusOK, doc)
}

func (s *server) accessList(w http.ResponseWriter, r *http.Request) {
	if s.o.Access == nil {
		writeError(w, http.StatusNotFound, "no access records are kept")
		return
	}
	q := r.URL.Query()
	n, err := limitParam(q.Get("limit"), 100, 1000)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	client, decision := q.Get("client_ip"), q.Get("decision")
	recs := s.o.Access.Recent(n, func(rec *access.Record) bool {
		return (client == "" || rec.ClientIP == client) && (decision == "" || rec.Decision == decision)
	})
	writeJSON(w, http.StatusOK, map[string]any{"access": recs})
}

func (s *server) timeline(w http.ResponseWriter, r *http.Request) {
	if s.o.Access == nil {
		writeError(w, http.StatusNotFound, "no access records are kept")
		return
	}
	minutes, err := limitParam(r.URL.Query().Get("minutes"), 30, 60)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := s.now()
	writeJSON(w, http.StatusOK, s.o.Access.Timeline(now.Add(-time.Duration(minutes)*time.Minute), now))
}

// topEntry is one line of a top list.
type topEntry struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

func (s *server) top(w http.ResponseWriter, r *http.Request) {
	if s.o.Events == nil {
		writeError(w, http.StatusNotFound, "no event store is configured")
		return
	}
	since := s.now().Add(-time.Hour)
	if v := r.URL.Query().Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, "query parameter since must be a positive duration (e.g. 1h)")
			return
		}
		since = s.now().Add(-d)
	}
	doc := map[string]any{"since": since.UTC()}
	for _, f := range []struct{ name, field string }{{"rules", "rule"}, {"clients", "client_ip"}, {"principals", "principal"}, {"stages", "stage"}, {"apis", "api"}} {
		counts, err := s.o.Events.CountBy(r.Context(), f.field, since)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "counting events failed")
			return
		}
		list := make([]topEntry, 0, len(counts))
		for k, n := range counts {
			if k != "" {
				list = append(list, topEntry{k, n})
			}
		}
		sort.Slice(list, func(i, j int) bool {
			if list[i].Count != list[j].Count {
				return list[i].Count > list[j].Count
			}
			return list[i].Key < list[j].Key
		})
		doc[f.name] = list[:min(len(list), 10)]
	}
	writeJSON(w, http.StatusOK, doc)
}

func (s *server) auditList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]actionEntry, 0, len(s.actions))
	for i := len(s.actions) - 1; i >= 0; i-- {
		out = append(out, s.actions[i])
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"actions": out, "audited": s.o.Audit != nil})
}

func (s *server) reload(w http.ResponseWriter, r *http.Request) {
	if s.o.Reload == nil {
		writeError(w, http.StatusNotFound, "reload is not available")
		return
	}
	err := s.o.Reload()
	a := audit.Action{Action: "config.reload", Result: "ok"}
	if err != nil {
		a.Result = err.Error()
	}
	if aerr := s.record(r, a); aerr != nil && err == nil {
		writeError(w, http.StatusInternalServerError, "reloaded, but the audit log could not record it")
		return
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
}

func (s *server) decisions(w http.ResponseWriter, r *http.Request) {
	if s.o.Decisions == nil {
		writeError(w, http.StatusNotFound, "decisions are not available")
		return
	}
	ds, err := s.o.Decisions.List(r.Context())
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

func (s *server) addDecision(w http.ResponseWriter, r *http.Request) {
	if s.o.Decisions == nil {
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
	d, err := s.o.Decisions.Add(r.Context(), req)
	a := audit.Action{Action: "decision.add", Target: store.DecisionKey(req.Scope, req.Value), Result: "ok",
		Details: map[string]any{"type": req.Type, "origin": req.Origin, "reason": req.Reason}}
	switch {
	case errors.Is(err, decision.ErrExempt):
		a.Result = "exempt"
	case err != nil:
		a.Result = "store unavailable"
	default:
		a.Details["until"] = d.Until.UTC()
	}
	if aerr := s.record(r, a); aerr != nil && err == nil {
		writeError(w, http.StatusInternalServerError, "the decision was taken, but the audit log could not record it")
		return
	}
	switch {
	case errors.Is(err, decision.ErrExempt):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "taking the decision failed: the store is unavailable")
	default:
		writeJSON(w, http.StatusCreated, map[string]any{"decision": DecisionView{Key: d.Key(), Decision: d}})
	}
}

func (s *server) removeDecision(w http.ResponseWriter, r *http.Request) {
	if s.o.Decisions == nil {
		writeError(w, http.StatusNotFound, "decisions are not available")
		return
	}
	key := r.PathValue("key")
	active, err := s.o.Decisions.Remove(r.Context(), key)
	a := audit.Action{Action: "ban.lift", Target: key, Result: "ok", Details: map[string]any{"was_active": active}}
	if err != nil {
		a.Result = err.Error()
	}
	if aerr := s.record(r, a); aerr != nil && err == nil {
		writeError(w, http.StatusInternalServerError, "the decision was revoked, but the audit log could not record it")
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "removing the decision failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "removed", "key": key, "was_active": active})
}

// maxExtend bounds one extension, so that a typo cannot ban for centuries.
const maxExtend = 30 * 24 * time.Hour

// extendDecision is POST /api/v1/decisions/{key} {"extend": "1h"}: the
// decision ends that long after its current end (or after now, when that
// is later).
func (s *server) extendDecision(w http.ResponseWriter, r *http.Request) {
	if s.o.Decisions == nil {
		writeError(w, http.StatusNotFound, "decisions are not available")
		return
	}
	key := r.PathValue("key")
	var body struct {
		Extend string `json:"extend"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, `expected a JSON body {"extend": "1h"}`)
		return
	}
	d, err := time.ParseDuration(body.Extend)
	if err != nil || d <= 0 || d > maxExtend {
		writeError(w, http.StatusBadRequest, "extend must be a positive duration of at most 720h")
		return
	}
	ds, err := s.o.Decisions.List(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the store is unavailable")
		return
	}
	from := s.now()
	found := false
	for _, dec := range ds {
		if dec.Key() == key {
			found = true
			if dec.Until.After(from) {
				from = dec.Until
			}
		}
	}
	if !found {
		writeError(w, http.StatusNotFound, "no active decision on "+key)
		return
	}
	until := from.Add(d).UTC().Truncate(time.Second)
	dec, err := s.o.Decisions.Extend(r.Context(), key, until)
	a := audit.Action{Action: "ban.extend", Target: key, Result: "ok", Details: map[string]any{"until": until, "extend": d.String()}}
	switch {
	case errors.Is(err, decision.ErrNotActive):
		a.Result = "not active"
	case err != nil:
		a.Result = "store unavailable"
	}
	if aerr := s.record(r, a); aerr != nil && err == nil {
		writeError(w, http.StatusInternalServerError, "the decision was extended, but the audit log could not record it")
		return
	}
	switch {
	case errors.Is(err, decision.ErrNotActive):
		writeError(w, http.StatusNotFound, "no active decision on "+key)
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "extending the decision failed: the store is unavailable")
	default:
		writeJSON(w, http.StatusOK, map[string]any{"status": "extended", "key": key, "until": dec.Until.UTC(), "decision": DecisionView{Key: dec.Key(), Decision: dec}})
	}
}

func limitParam(v string, def, max int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errBadParam("limit", "a positive integer")
	}
	return min(n, max), nil
}

func eventFilter(r *http.Request) (events.Filter, error) {
	q := r.URL.Query()
	f := events.Filter{
		Type:      q.Get("type"),
		Stage:     q.Get("stage"),
		ClientIP:  q.Get("client_ip"),
		API:       q.Get("api"),
		RequestID: q.Get("request_id"),
		Principal: q.Get("principal"),
		Rule:      q.Get("rule"),
		Severity:  q.Get("severity"),
		Node:      q.Get("node"),
		Before:    q.Get("before"),
	}
	if f.Severity != "" && events.SeverityRank(f.Severity) < 0 {
		return f, errBadParam("severity", "one of info, low, medium, high, critical")
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

func withActor(r *http.Request, a string) context.Context {
	return context.WithValue(r.Context(), ctxKey{}, a)
}
