package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/authz"
	"github.com/portcullis/portcullis/internal/stage/limits"
	"github.com/portcullis/portcullis/internal/store"
)

// testPrincipal stands in for the authn stage in this test only: it takes
// the principal from X-Test-Principal ("alice" or "admin"). It is put at the
// front of the route's chain.
type testPrincipal struct{}

func (testPrincipal) ID() string { return "test-principal" }

func (testPrincipal) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	switch x.Request.Header.Get("X-Test-Principal") {
	case "alice":
		x.Principal = &pipeline.Principal{ID: "alice", Kind: "apikey", Roles: []string{"user"}, Scopes: []string{"read"}}
	case "bob":
		x.Principal = &pipeline.Principal{ID: "bob", Kind: "apikey", Roles: []string{"user"}, Scopes: []string{"read"}}
	case "admin":
		x.Principal = &pipeline.Principal{ID: "admin", Kind: "apikey", Roles: []string{"admin"}, Scopes: []string{"read"}}
	}
	return nil, nil
}

type eventLog struct {
	mu  sync.Mutex
	all []events.Event
}

func (l *eventLog) Publish(e events.Event) bool {
	l.mu.Lock()
	l.all = append(l.all, e)
	l.mu.Unlock()
	return true
}

func (l *eventLog) withRule(rule string) []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []events.Event
	for _, e := range l.all {
		if slices.Contains(e.Rules, rule) {
			out = append(out, e)
		}
	}
	return out
}

// TestAuthzThroughGateway runs the demo API behind the real gateway with an
// authz block and checks BOLA, BFLA and enumeration end to end: statuses,
// problem bodies and the events naming the policy.
func TestAuthzThroughGateway(t *testing.T) {
	up := httptest.NewServer(demo.NewAPI(demo.APIOptions{}))
	defer up.Close()
	cfg := baseConfig(up.URL)
	config.BlockOf[limits.Config](cfg.Stages).MaxQueryParams = 0
	cfg.APIs[0].Stages.Set(&authz.Config{
		Scopes: []string{"read"},
		Operations: map[string]authz.Operation{
			"DELETE /pets/{id}": {Roles: []string{"admin"}},
			"GET /healthz":      {Anonymous: true},
		},
		Owners: []authz.Owner{
			{Operation: "GET /users/{id}", Param: "id"},
			{Operation: "GET /orders/{id}", ResponseField: "/owner"},
			{Operation: "POST /orders", BodyField: "/owner"},
		},
		Enumeration: &authz.Enumeration{Threshold: 3, Window: time.Minute, Operations: []string{"GET /pets/{id}"}},
	})
	cfg.WithDefaults()
	log := &eventLog{}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	g, err := New(cfg, Deps{Metrics: metrics.New(), Events: log, Store: store.NewMemory(func() time.Time { return now }),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	r := g.routes[0]
	r.chain = append(pipeline.Chain{{Stage: testPrincipal{}}}, r.chain...)
	gw := httptest.NewServer(g)
	defer gw.Close()

	send := func(who, method, path, body string) (*http.Response, []byte) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, gw.URL+path, rd)
		if who != "" {
			req.Header.Set("X-Test-Principal", who)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}
	tests := []struct {
		name, who, method, path, body string
		status                        int
		rule                          string // rule of the denial event
	}{
		{"anonymous", "", "GET", "/pets", "", 401, authz.RuleUnauthenticated},
		{"anonymous health", "", "GET", "/healthz", "", 200, ""},
		{"BOLA: alice reads bob", "alice", "GET", "/users/bob", "", 403, "authz.bola.owner-users-id"},
		{"alice reads alice", "alice", "GET", "/users/alice", "", 200, ""},
		{"admin reads bob", "admin", "GET", "/users/bob", "", 200, ""},
		{"BOLA: alice reads bob's order", "alice", "GET", "/orders/ord-1002", "", 403, "authz.bola.owner-orders-id-response-owner"},
		{"alice reads her order", "alice", "GET", "/orders/ord-1001", "", 200, ""},
		{"admin reads bob's order", "admin", "GET", "/orders/ord-1002", "", 200, ""},
		{"BOLA: alice orders for bob", "alice", "POST", "/orders", `{"owner":"bob","pet_id":1,"quantity":1}`, 403, "authz.bola.owner-orders-body-owner"},
		{"alice orders for herself", "alice", "POST", "/orders", `{"owner":"alice","pet_id":1,"quantity":1}`, 201, ""},
		{"BFLA: alice deletes a pet", "alice", "DELETE", "/pets/5", "", 403, authz.RuleRole},
		{"admin deletes a pet", "admin", "DELETE", "/pets/5", "", 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(tt.who, tt.method, tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tt.status)
			}
			if tt.rule == "" {
				return
			}
			var p pipeline.Problem
			if err := json.Unmarshal(body, &p); err != nil || p.Stage != "authz" || p.Status != tt.status {
				t.Fatalf("got problem %s (%v), want an authz problem with status %d", body, err, tt.status)
			}
			if strings.Contains(string(body), "bob") || strings.Contains(string(body), "ord-1002") {
				t.Fatalf("problem %s echoes the object", body)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("got no WWW-Authenticate on 401")
			}
			ev := log.withRule(tt.rule)
			if len(ev) == 0 || ev[len(ev)-1].Stage != "authz" || ev[len(ev)-1].Type != events.TypeDenial {
				t.Fatalf("got events %+v, want a denial event naming %s", ev, tt.rule)
			}
		})
	}

	t.Run("enumeration", func(t *testing.T) {
		for _, id := range []string{"1", "2", "3", "1"} {
			if resp, b := send("bob", "GET", "/pets/"+id, ""); resp.StatusCode != 200 {
				t.Fatalf("got %d %s, want 200", resp.StatusCode, b)
			}
		}
		if n := len(log.withRule(authz.RuleEnumeration)); n != 0 {
			t.Fatalf("got %d enumeration events under the threshold, want 0", n)
		}
		if resp, _ := send("bob", "GET", "/pets/4", ""); resp.StatusCode != 200 {
			t.Fatalf("got %d, want 200 (detection only)", resp.StatusCode)
		}
		ev := log.withRule(authz.RuleEnumeration)
		if len(ev) != 1 || ev[0].Type != events.TypeDetection || ev[0].Severity != events.SeverityHigh || ev[0].Principal != "bob" {
			t.Fatalf("got %+v, want one high detection event for bob", ev)
		}
	})
}
