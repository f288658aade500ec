package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/stage/authn"
)

// eventSink records events in memory.
type eventSink struct {
	mu  sync.Mutex
	evs []events.Event
}

func (s *eventSink) Name() string { return "test" }
func (s *eventSink) Close() error { return nil }
func (s *eventSink) Write(_ context.Context, b []events.Event) error {
	s.mu.Lock()
	s.evs = append(s.evs, b...)
	s.mu.Unlock()
	return nil
}

// initGateway writes a config with `portcullis init` for spec, checks it is
// what `check` accepts, and serves it on free loopback ports.
func initGateway(t *testing.T, spec string, o initOptions) (base string, cfgText string, sink *eventSink, srv *gateway.Server) {
	t.Helper()
	dir := t.TempDir()
	abs, err := filepath.Abs(spec)
	if err != nil {
		t.Fatal(err)
	}
	o.spec, o.out = abs, filepath.Join(dir, "portcullis.yaml")
	if o.listen == "" {
		o.listen = "127.0.0.1:8080"
	}
	if o.mode == "" {
		o.mode = "log"
	}
	var stderr bytes.Buffer
	if err := runInit(io.Discard, &stderr, o); err != nil {
		t.Fatalf("init: %v", err)
	}
	if !strings.Contains(stderr.String(), "wrote "+o.out) {
		t.Fatalf("init printed %q", stderr.String())
	}
	text, err := os.ReadFile(o.out)
	if err != nil {
		t.Fatal(err)
	}
	// `portcullis check` on the written file.
	cmd := newRoot()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"check", "-c", o.out})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("check refused the init config: %v\n%s\n%s", err, errOut.String(), text)
	}
	cfg, err := config.Load(o.out)
	if err != nil {
		t.Fatal(err)
	}
	cfg.WithDefaults()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink = &eventSink{}
	srv, err = gateway.NewServer(cfg, gateway.Options{
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
		AccessWriter:  io.Discard,
		Listeners:     []net.Listener{ln},
		AdminListener: adm,
		Sinks:         []events.Sink{sink},
	})
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, text)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return "http://" + ln.Addr().String(), string(text), sink, srv
}

// flushEvents drains the bus and returns every event published so far.
func flushEvents(t *testing.T, srv *gateway.Server, sink *eventSink) []events.Event {
	t.Helper()
	if err := srv.Bus().Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	return append([]events.Event(nil), sink.evs...)
}

type initCall struct {
	name, method, path, body string
	header                   [2]string
	want                     int
}

func (c initCall) do(t *testing.T, base string) (int, []byte) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.header[0] != "" {
		req.Header.Set(c.header[0], c.header[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func newKeyIn(t *testing.T, dir string, scopes ...string) string {
	t.Helper()
	kf, err := authn.LoadKeyFile(filepath.Join(dir, "keys.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	secret, k, err := authn.NewKey("tester", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k.Scopes = scopes
	kf.Keys = append(kf.Keys, k)
	if err := kf.Save(filepath.Join(dir, "keys.yaml")); err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestInitDemo: the config init writes from the demo's description serves
// the demo API as the API itself answers, enforces the description's
// security, and in log mode records what block mode refuses.
func TestInitDemo(t *testing.T) {
	up := httptest.NewServer(demo.NewAPI(demo.APIOptions{}))
	defer up.Close()
	for _, mode := range []string{"log", "block"} {
		t.Run(mode, func(t *testing.T) {
			base, text, sink, srv := initGateway(t, "../../internal/demo/openapi.yaml", initOptions{upstream: up.URL, mode: mode})
			for _, want := range []string{"apikey: {header: X-Api-Key, file: keys.yaml}", "optional: true", "openapi_scopes: true", "mode: " + mode} {
				if !strings.Contains(text, want) {
					t.Errorf("config lacks %q:\n%s", want, text)
				}
			}
			key := newKeyIn(t, filepath.Dir(srv.Gateway().Config().File))
			// The keys file is re-read when it changes; the gateway checks
			// every 2s, so reload to see the new key now.
			if err := srv.Reload(); err != nil {
				t.Fatal(err)
			}
			injected, undeclared := 200, 404 // log mode: recorded, let through
			if mode == "block" {
				injected, undeclared = 403, 404
			}
			calls := []initCall{
				{name: "public health check", method: "GET", path: "/healthz", want: 200},
				{name: "public search", method: "GET", path: "/search?q=Rex", want: 200},
				{name: "secured list without a key", method: "GET", path: "/pets", want: 401},
				{name: "secured list with a key", method: "GET", path: "/pets", header: [2]string{"X-Api-Key", key}, want: 200},
				{name: "secured read with a key", method: "GET", path: "/pets/1", header: [2]string{"X-Api-Key", key}, want: 200},
				{name: "create with a key", method: "POST", path: "/pets", body: `{"name":"Rex","tag":"dog"}`, header: [2]string{"X-Api-Key", key}, want: 201},
				{name: "wrong key", method: "GET", path: "/pets", header: [2]string{"X-Api-Key", "pk_nothere_xxxxxxxxxxxxxxxxxxxxxxxx"}, want: 401},
				{name: "SQL injection in free text", method: "GET", path: "/search?q=" + urlQuery("Rex' UNION SELECT password FROM users--"), want: injected},
				{name: "undeclared path", method: "GET", path: "/nothing-here", want: undeclared},
			}
			for _, c := range calls {
				got, body := c.do(t, base)
				if got != c.want {
					t.Errorf("%s: %s %s: got %d, want %d (%s)", c.name, c.method, c.path, got, c.want, body)
				}
			}
			// What the gateway passes, it passes unchanged: the same answer
			// as the demo API gives directly.
			direct, _ := http.Get(up.URL + "/pets/1")
			db, _ := io.ReadAll(direct.Body)
			direct.Body.Close()
			_, gb := initCall{method: "GET", path: "/pets/1", header: [2]string{"X-Api-Key", key}}.do(t, base)
			if !bytes.Equal(db, gb) {
				t.Errorf("GET /pets/1 through the gateway = %s, directly = %s", gb, db)
			}
			evs := flushEvents(t, srv, sink)
			want := events.TypeDetection
			if mode == "block" {
				want = events.TypeDenial
			}
			var waf, validate bool
			for _, e := range evs {
				if e.Type == want && strings.HasPrefix(e.Stage, "waf") {
					waf = true
				}
				if e.Type == want && strings.HasPrefix(e.Stage, "validate") {
					validate = true
				}
			}
			if !waf || !validate {
				t.Errorf("want %s events from waf (%v) and validate (%v); got %+v", want, waf, validate, evs)
			}
		})
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "%20", "'", "%27", "-", "%2D")
	return r.Replace(s)
}

// recorder is an upstream that answers 200 and remembers what reached it.
type recorder struct {
	mu    sync.Mutex
	paths []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.paths = append(r.paths, req.Method+" "+req.URL.RequestURI())
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{}`)
}

func (r *recorder) reached(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.paths {
		if p == s {
			return true
		}
	}
	return false
}

// TestInitPetstore: the Swagger Petstore description (third party, see
// testdata/README.md): its server base path, its api_key scheme, public
// operations, and its GET /user/login throttled.
func TestInitPetstore(t *testing.T) {
	rec := &recorder{}
	up := httptest.NewServer(rec)
	defer up.Close()
	base, text, _, srv := initGateway(t, "testdata/specs/petstore3.yaml", initOptions{upstream: up.URL})
	for _, want := range []string{"apikey: {header: api_key, file: keys.yaml}", `"GET /user/login"`, "# - https://petstore3.swagger.io"} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %q:\n%s", want, text)
		}
	}
	key := newKeyIn(t, filepath.Dir(srv.Gateway().Config().File))
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	calls := []initCall{
		{name: "read without the api_key", method: "GET", path: "/api/v3/pet/1", want: 401},
		{name: "read with the api_key", method: "GET", path: "/api/v3/pet/1", header: [2]string{"api_key", key}, want: 200},
		{name: "public login", method: "GET", path: "/api/v3/user/login?username=alice&password=secret", want: 200},
	}
	for _, c := range calls {
		if got, body := c.do(t, base); got != c.want {
			t.Errorf("%s: got %d, want %d (%s)", c.name, got, c.want, body)
		}
	}
	if !rec.reached("GET /api/v3/pet/1") {
		t.Errorf("the upstream never got GET /api/v3/pet/1: %v", rec.paths)
	}
	// The login limit: 10 a minute per client, the 11th (and 12th) 429.
	login := initCall{method: "GET", path: "/api/v3/user/login?username=alice&password=guess"}
	statuses := map[int]int{}
	for range 11 {
		got, _ := login.do(t, base)
		statuses[got]++
	}
	if statuses[200] != 9 || statuses[429] != 2 { // one login above already counted
		t.Errorf("12 logins: %v, want 10 x 200 then 429", statuses)
	}
}

// TestInitCrAPI: OWASP crAPI's description (third party): bearer JWTs
// checked against a JWKS, many login-like operations throttled.
func TestInitCrAPI(t *testing.T) {
	rec := &recorder{}
	up := httptest.NewServer(rec)
	defer up.Close()

	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	_ = sk.Set(jwk.KeyIDKey, "k1")
	_ = sk.Set(jwk.AlgorithmKey, jwa.RS256())
	pk, err := sk.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	_ = set.AddKey(pk)
	jwks, _ := json.Marshal(set)
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	defer idp.Close()
	t.Setenv("JWT_ISSUER", "https://idp.test")
	t.Setenv("JWT_JWKS_URL", idp.URL+"/jwks.json")

	base, text, _, _ := initGateway(t, "testdata/specs/crapi.json", initOptions{upstream: up.URL})
	for _, want := range []string{"- jwt:", `"POST /identity/api/auth/login"`, `"POST /identity/api/auth/signup"`, "# - http://localhost:8888"} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %q:\n%s", want, text)
		}
	}
	tok, err := jwt.NewBuilder().Issuer("https://idp.test").Subject("alice").Expiration(time.Now().Add(time.Hour)).Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), sk))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := jwt.NewBuilder().Issuer("https://elsewhere.test").Subject("mallory").Expiration(time.Now().Add(time.Hour)).Build()
	wrongIssuer, _ := jwt.Sign(other, jwt.WithKey(jwa.RS256(), sk))
	calls := []initCall{
		{name: "dashboard without a token", method: "GET", path: "/identity/api/v2/user/dashboard", want: 401},
		{name: "dashboard with a token of another issuer", method: "GET", path: "/identity/api/v2/user/dashboard",
			header: [2]string{"Authorization", "Bearer " + string(wrongIssuer)}, want: 401},
		{name: "dashboard with a valid token", method: "GET", path: "/identity/api/v2/user/dashboard",
			header: [2]string{"Authorization", "Bearer " + string(signed)}, want: 200},
		{name: "public login", method: "POST", path: "/identity/api/auth/login", body: `{"email":"a@example.com","password":"x"}`, want: 200},
	}
	for _, c := range calls {
		if got, body := c.do(t, base); got != c.want {
			t.Errorf("%s: got %d, want %d (%s)", c.name, got, c.want, body)
		}
	}
	if !rec.reached("GET /identity/api/v2/user/dashboard") || !rec.reached("POST /identity/api/auth/login") {
		t.Errorf("upstream got %v", rec.paths)
	}
	statuses := map[int]int{}
	for range 10 {
		got, _ := initCall{method: "POST", path: "/identity/api/auth/login", body: `{"email":"a@example.com","password":"y"}`}.do(t, base)
		statuses[got]++
	}
	if statuses[200] != 9 || statuses[429] != 1 {
		t.Errorf("11 logins: %v, want 10 x 200 then 429", statuses)
	}
}

// TestInitRefusesToOverwrite: an existing file needs --force.
func TestInitRefusesToOverwrite(t *testing.T) {
	out := filepath.Join(t.TempDir(), "portcullis.yaml")
	if err := os.WriteFile(out, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := runInit(io.Discard, io.Discard, initOptions{spec: "../../internal/demo/openapi.yaml", out: out, listen: "127.0.0.1:8080", mode: "log"})
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("got %v, want a refusal naming --force", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep me" {
		t.Fatalf("file overwritten: %q", b)
	}
}
