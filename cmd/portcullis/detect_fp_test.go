package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/stage/detect"
	"github.com/portcullis/portcullis/internal/stage/ratelimit"
)

// collect is an event sink that keeps every event.
type collect struct {
	mu  sync.Mutex
	evs []events.Event
}

func (c *collect) Name() string { return "collect" }
func (c *collect) Write(_ context.Context, b []events.Event) error {
	c.mu.Lock()
	c.evs = append(c.evs, b...)
	c.mu.Unlock()
	return nil
}
func (c *collect) Close() error { return nil }

func (c *collect) of(typ string) []events.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []events.Event
	for _, e := range c.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

type fpClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fpClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fpClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// loginSpec is the demo API's description with a login operation, which
// the shop in front of the demo API answers (loginShop).
func loginSpec(t *testing.T, dir string) string {
	t.Helper()
	spec := string(demo.OpenAPI())
	login := `  /login:
    post:
      operationId: login
      security: []
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [username, password]
              properties:
                username: {type: string}
                password: {type: string}
      responses:
        "200": {description: Logged in.}
        "401": {description: Wrong user name or password.}
`
	// The demo description declares POST /login itself (the leaky login
	// of docs/response.md); loginShop answers it either way.
	if !strings.Contains(spec, "\n  /login:\n") {
		spec = strings.Replace(spec, "\npaths:\n", "\npaths:\n"+login, 1)
	}
	p := filepath.Join(dir, "openapi.yaml")
	if err := os.WriteFile(p, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loginShop is the demo API with POST /login: the password of user U is
// "right-U".
func loginShop() http.Handler {
	api := demo.NewAPI(demo.APIOptions{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/login" {
			api.ServeHTTP(w, r)
			return
		}
		var in struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/json")
		if in.Password != "right-"+in.Username {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"title":"wrong user name or password"}`)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
}

// fpGateway runs the demo shop behind a gateway with every detector at its
// default thresholds, on an injected clock, in process.
func fpGateway(t *testing.T) (*gateway.Server, *collect, *fpClock) {
	t.Helper()
	dir := t.TempDir()
	up := httptest.NewServer(loginShop())
	t.Cleanup(up.Close)
	an, _, err := demoAuthn(dir)
	if err != nil {
		t.Fatal(err)
	}
	an.RequiredPaths = []string{"/users/*", "/orders", "/orders/*"}
	cfg := &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Admin:     config.Admin{Disabled: true},
		Log:       config.Log{Access: "off"},
		Stages: config.Blocks{
			"bans": &ratelimit.BanConfig{},
			"detect": &detect.Config{
				Recon: &detect.Recon{}, Undeclared: &detect.Rule{}, Sequence: &detect.Sequence{},
				Stuffing: &detect.Rule{}, BruteForce: &detect.Rule{}, Sharing: &detect.Sharing{},
				Volume: &detect.Volume{}, Stages: &detect.StagesRule{},
				Logins: []detect.Login{{Operation: "POST /login", Account: "body:/username"}},
			},
		},
		APIs: []config.API{{Name: "demo", OpenAPI: loginSpec(t, dir), Upstream: config.Upstream{Targets: []string{up.URL}}}},
	}
	cfg.APIs[0].Stages.Set(an)
	cfg.APIs[0].Stages.Set(&ratelimit.Config{Limits: []ratelimit.Limit{
		{Name: "login", Key: []string{"ip"}, Operations: []string{"POST /login"}, Rate: 5, Per: time.Minute},
	}})
	cfg.WithDefaults()
	clk := &fpClock{t: time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)}
	sink := &collect{}
	srv, err := gateway.NewServer(cfg, gateway.Options{Logger: slog.New(slog.DiscardHandler), Now: clk.Now, Sinks: []events.Sink{sink}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, sink, clk
}

// call sends one request through the gateway from ip and returns the status.
func call(srv *gateway.Server, ip, method, path, body string, hdr ...string) int {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://shop"+path, rd)
	r.RemoteAddr = ip + ":40000"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	return w.Code
}

// TestDetectorsFalsePositiveBudget replays two simulated hours of ordinary
// traffic through every detector at its default thresholds and requires no
// detection at all: three users with API keys (alice also from her phone)
// and an anonymous visitor browse pets (listing order, a pet that does not
// exist), search, read their profile and orders, place orders, hit a few
// paths the API does not have (/favicon.ico, /robots.txt, a typo), one
// uses a revoked-looking wrong key once, and bob forgets his password
// (three failed logins, then the right one). Then a short credential
// stuffing run from one address (ten accounts) must fire detect.stuffing,
// which proves the same harness can see a detection.
func TestDetectorsFalsePositiveBudget(t *testing.T) {
	srv, sink, clk := fpGateway(t)
	key := func(u string) []string { return []string{"X-Api-Key", demoAPIKey(u)} }
	type visitor struct {
		ip, user string
	}
	visitors := []visitor{{"192.0.2.10", "alice"}, {"192.0.2.11", "bob"}, {"192.0.2.12", "admin"}, {"192.0.2.13", ""}, {"198.51.100.200", "alice"}}
	counts := map[int]int{}
	send := func(v visitor, method, path, body string) {
		var h []string
		if v.user != "" {
			h = key(v.user)
		}
		counts[call(srv, v.ip, method, path, body, h...)]++
		clk.Add(2 * time.Second)
	}
	for round := 0; round < 12; round++ { // every 10 simulated minutes
		for i, v := range visitors {
			send(v, "GET", "/pets", "")
			for _, id := range []int{1, 2, 3, 5} {
				send(v, "GET", fmt.Sprintf("/pets/%d", id), "")
			}
			send(v, "GET", "/pets?limit=2", "")
			send(v, "GET", "/search?q=dog", "")
			send(v, "GET", "/pets/42", "") // no such pet: the demo API's 404
			if round%3 == i%3 {
				send(v, "GET", "/favicon.ico", "")
				send(v, "GET", "/robots.txt", "")
				send(v, "GET", "/pet", "") // a typo
			}
			if v.user == "alice" || v.user == "bob" {
				send(v, "GET", "/users/"+v.user, "")
				send(v, "GET", "/orders", "")
				if v.user == "alice" {
					send(v, "GET", "/orders/ord-1001", "")
				}
				if round%4 == 0 {
					send(v, "POST", "/orders", fmt.Sprintf(`{"owner":%q,"pet_id":2,"quantity":1}`, v.user))
				}
			}
		}
		if round == 2 { // alice pastes an old, wrong key once
			counts[call(srv, "192.0.2.10", "GET", "/orders", "", "X-Api-Key", "pk_a11ce0000001_an-old-key-alice-forgot-about")]++
		}
		if round == 5 { // bob forgot his password
			for _, pw := range []string{"hunter2", "Hunter2", "hunter2!", "right-bob"} {
				counts[call(srv, "192.0.2.11", "POST", "/login", fmt.Sprintf(`{"username":"bob","password":%q}`, pw))]++
				clk.Add(5 * time.Second)
			}
		}
		clk.Add(10 * time.Minute)
	}
	t.Logf("ordinary traffic: answers %v", counts)
	if counts[404] < 40 || counts[401] < 4 || counts[200] < 400 {
		t.Fatalf("the replay is not what it claims: answers %v", counts)
	}
	ctx := context.Background()
	if decs, _ := srv.Shared().Decisions(ctx); len(decs) != 0 {
		t.Fatalf("ordinary traffic: got decisions %+v, want none", decs)
	}

	// The control: credential stuffing from one address.
	for i := 0; i < 10; i++ {
		call(srv, "203.0.113.50", "POST", "/login", fmt.Sprintf(`{"username":"user%d","password":"123456"}`, i))
		clk.Add(time.Second)
	}
	if got := call(srv, "203.0.113.50", "GET", "/pets", ""); got != 403 {
		t.Fatalf("after stuffing: got %d, want 403 (banned by detect.stuffing)", got)
	}
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	dets := sink.of(events.TypeDetection)
	var stages []string
	for _, e := range dets {
		stages = append(stages, e.Stage+" "+e.ClientIP)
	}
	if len(dets) != 1 || dets[0].Stage != "detect.stuffing" || dets[0].ClientIP != "203.0.113.50" {
		b, _ := json.Marshal(dets)
		t.Fatalf("got detections %v, want only the control's detect.stuffing:\n%s", stages, bytes.TrimSpace(b))
	}
}
