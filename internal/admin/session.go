package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// sessionCookie names the dashboard's session cookie.
const sessionCookie = "portcullis_session"

// csrfHeader carries the session's CSRF token on every state-changing
// request the dashboard makes.
const csrfHeader = "X-CSRF-Token"

// maxSessions bounds the live sessions; the oldest is dropped past it.
const maxSessions = 1000

// session is one dashboard login. Only a SHA-256 of the cookie value is
// kept, so a memory dump does not hand out live sessions.
type session struct {
	id      string // short, for the audit log: first 8 chars of the hash
	csrf    string
	expires time.Time
	remote  string
}

// sessions holds the live dashboard sessions in memory (they do not
// survive a restart: the operator logs in again).
type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	m   map[[32]byte]*session
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, m: map[[32]byte]*session{}}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session and returns the cookie value.
func (s *sessions) create(remote string) (string, *session) {
	v := randomToken()
	h := sha256.Sum256([]byte(v))
	ss := &session{id: base64.RawURLEncoding.EncodeToString(h[:6]), csrf: randomToken(), expires: s.now().Add(s.ttl), remote: remote}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, x := range s.m {
		if now.After(x.expires) {
			delete(s.m, k)
		}
	}
	if len(s.m) >= maxSessions {
		var oldest [32]byte
		var at time.Time
		for k, x := range s.m {
			if at.IsZero() || x.expires.Before(at) {
				oldest, at = k, x.expires
			}
		}
		delete(s.m, oldest)
	}
	s.m[h] = ss
	return v, ss
}

// get returns the live session of r's cookie, or nil.
func (s *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	h := sha256.Sum256([]byte(c.Value))
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[h]
	if ss == nil {
		return nil
	}
	if s.now().After(ss.expires) {
		delete(s.m, h)
		return nil
	}
	return ss
}

func (s *sessions) end(r *http.Request) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return
	}
	h := sha256.Sum256([]byte(c.Value))
	s.mu.Lock()
	delete(s.m, h)
	s.mu.Unlock()
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:  sessionCookie,
		Value: value,
		Path:  "/",
		// Security: HttpOnly keeps the cookie from scripts (an XSS cannot
		// steal the session), SameSite=Strict keeps other sites from
		// sending it (first line of CSRF defence; the CSRF token is the
		// second). Secure whenever the admin listener itself is TLS.
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil,
		MaxAge:   int(ttl / time.Second),
	})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
}

// sameOrigin reports whether a state-changing request comes from the admin
// plane's own pages: an Origin (or, without one, a Referer) naming another
// host is refused. Browsers always send Origin on cross-origin POSTs.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Referer")
	}
	if o == "" {
		return true // not a browser (curl with a session cookie)
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// tokenEqual compares secrets in constant time over their SHA-256, so
// neither content nor length leaks through timing.
func tokenEqual(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// loginLimiter slows down token guessing: after 10 failures from one
// address within a minute, that address is refused until the minute ends.
type loginLimiter struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*loginWindow
}

type loginWindow struct {
	start    time.Time
	failures int
}

const (
	loginFailures = 10
	loginWindowD  = time.Minute
)

func (l *loginLimiter) allowed(remote string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.m[remote]
	return w == nil || l.now().Sub(w.start) >= loginWindowD || w.failures < loginFailures
}

func (l *loginLimiter) fail(remote string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.m) > 10000 {
		for k, w := range l.m {
			if now.Sub(w.start) >= loginWindowD {
				delete(l.m, k)
			}
		}
	}
	w := l.m[remote]
	if w == nil || now.Sub(w.start) >= loginWindowD {
		w = &loginWindow{start: now}
		l.m[remote] = w
	}
	w.failures++
}
