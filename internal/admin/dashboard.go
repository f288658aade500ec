package admin

import (
	"embed"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/audit"
)

// ui holds the dashboard: two HTML templates, one script, one stylesheet
// and an icon. Nothing is fetched from anywhere else at run time (no CDN,
// no framework): the CSP would refuse it anyway.
//
//go:embed ui
var ui embed.FS

var pages = template.Must(template.ParseFS(ui, "ui/*.html"))

// assets serves ui/assets with long caching (the file names do not change
// within a binary, and a new binary is a new process; revalidation is
// cheap).
func assets() http.Handler {
	sub, _ := fs.Sub(ui, "ui/assets")
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}

// maxCSPReport bounds a CSP report body.
const maxCSPReport = 16 << 10

func (s *server) dashboard(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	mux.Handle("GET /ui/assets/", http.StripPrefix("/ui/assets/", assets()))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/assets/icon.svg", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		ss := s.sessions.get(r)
		if ss == nil {
			http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
			return
		}
		page(w, "index.html", map[string]any{"CSRF": ss.csrf, "Node": s.o.Node, "Session": ss.id})
	})
	mux.HandleFunc("GET /ui/login", func(w http.ResponseWriter, r *http.Request) {
		page(w, "login.html", map[string]any{"Closed": s.o.Token == "", "Failed": r.URL.Query().Has("failed")})
	})
	mux.HandleFunc("POST /ui/login", s.login)
	mux.HandleFunc("POST /ui/logout", func(w http.ResponseWriter, r *http.Request) {
		ss := s.sessions.get(r)
		if ss != nil && tokenEqual(r.PostFormValue("csrf"), ss.csrf) && sameOrigin(r) {
			s.sessions.end(r)
			clearSessionCookie(w, r)
		}
		http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /ui/csp-report", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, maxCSPReport))
		s.mu.Lock()
		s.csp++
		s.mu.Unlock()
		s.log.Warn("dashboard CSP violation reported", "report", string(b))
		w.WriteHeader(http.StatusNoContent)
	})
}

// login checks the admin token posted by the login form and starts a
// session. The token never goes into a URL or the page.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	remote := remoteIP(r)
	if s.o.Token == "" {
		http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
		return
	}
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin login refused")
		return
	}
	if !s.logins.allowed(remote) {
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "too many failed logins from this address; wait a minute")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8192)
	token := strings.TrimSpace(r.PostFormValue("token"))
	if !tokenEqual(token, s.o.Token) {
		s.logins.fail(remote)
		_ = s.record(r, audit.Action{Action: "login.failed", Result: "wrong token"})
		http.Redirect(w, r, "/ui/login?failed", http.StatusSeeOther)
		return
	}
	v, ss := s.sessions.create(remote)
	setSessionCookie(w, r, v, s.o.SessionTTL)
	r = r.WithContext(withActor(r, "session:"+ss.id))
	_ = s.record(r, audit.Action{Action: "login", Result: "ok"})
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

func page(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
	}
}
