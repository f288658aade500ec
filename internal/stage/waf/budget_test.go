package waf

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/redistest"
	"github.com/redis/go-redis/v9"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// filterText is n bytes of benign filter expressions: not prose, not
// inert, not junk, so all of it goes to the CRS and none of it matches.
func filterText(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "status:eq:active%d;sort=-created_at,limit=%d ", i, i%50)
	}
	return b.String()
}

// budgetStage is a stage with cfg's client budget over a memory store on
// the test clock.
func budgetStage(t *testing.T, cfg ClientBudget, mode string) (*Stage, *clock) {
	t.Helper()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s, err := New(Config{Mode: mode, ClientBudget: cfg}, Options{API: "api", Store: store.NewMemory(c.now)})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func from(r *http.Request, ip string, principal string) *pipeline.Exchange {
	x := exchange(r)
	x.ClientIP = netip.MustParseAddr(ip)
	if principal != "" {
		x.Principal = &pipeline.Principal{ID: principal}
	}
	return x
}

// expensive is a request that gives the CRS about 10 KiB and passes it.
func expensive() *http.Request { return jsonRequest(`{"filter":"` + filterText(10<<10) + `"}`) }

// cheap is an ordinary request that reaches the CRS.
func cheap() *http.Request {
	return jsonRequest(`{"filter":"status:eq:active;sort=-created_at,limit=20"}`)
}

func TestClientBudgetChargesExpensiveRequests(t *testing.T) {
	// 20 KiB per second, bursts of 40 KiB, 2 KiB free: a 10 KiB request
	// costs 9 KiB, so four pass at once and the fifth waits.
	s, clk := budgetStage(t, ClientBudget{Rate: 20, Burst: 40}, "")
	ctx := context.Background()
	passed := 0
	var refused *pipeline.Denial
	for i := 0; i < 10 && refused == nil; i++ {
		d, err := s.Request(ctx, from(expensive(), "198.51.100.7", ""))
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			passed++
			continue
		}
		refused = d
	}
	if passed != 4 || refused == nil {
		t.Fatalf("%d expensive requests passed before a refusal (%v), want 4 (40 KiB burst / 9 KiB each)", passed, refused)
	}
	if refused.Status != http.StatusTooManyRequests || len(refused.Rules) != 1 || refused.Rules[0] != RuleClientBudget {
		t.Fatalf("refusal %d %v, want 429 %s", refused.Status, refused.Rules, RuleClientBudget)
	}
	if ra := refused.Headers.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q, want the seconds until 9 KiB are back", ra)
	}
	if !strings.Contains(refused.Detail, "9 KiB") {
		t.Errorf("detail %q does not say what the request costs", refused.Detail)
	}

	// Ordinary requests of the same client cost nothing: still served.
	for i := 0; i < 50; i++ {
		if d, err := s.Request(ctx, from(cheap(), "198.51.100.7", "")); err != nil || d != nil {
			t.Fatalf("cheap request %d of the spent client: %v %v, want it served", i, d, err)
		}
	}
	// Another client has its own budget; so has an IPv6 client's
	// neighbour outside its /64, while one inside shares it.
	if d, _ := s.Request(ctx, from(expensive(), "198.51.100.8", "")); d != nil {
		t.Fatalf("another client refused: %+v", d)
	}
	for i := 0; i < 4; i++ {
		if d, _ := s.Request(ctx, from(expensive(), "2001:db8:1:2::1", "")); d != nil {
			t.Fatalf("v6 client refused at %d: %+v", i, d)
		}
	}
	if d, _ := s.Request(ctx, from(expensive(), "2001:db8:1:2::ffff", "")); d == nil || d.Status != http.StatusTooManyRequests {
		t.Fatalf("same /64 got %+v, want 429 (one client owns the /64)", d)
	}
	if d, _ := s.Request(ctx, from(expensive(), "2001:db8:1:3::1", "")); d != nil {
		t.Fatalf("another /64 refused: %+v", d)
	}

	// Time refills the budget at Rate: one second buys 20 KiB, two
	// requests of 9 KiB.
	clk.add(time.Second)
	passed = 0
	for i := 0; i < 5; i++ {
		if d, _ := s.Request(ctx, from(expensive(), "198.51.100.7", "")); d == nil {
			passed++
		}
	}
	if passed != 2 {
		t.Fatalf("after one second %d passed, want 2", passed)
	}
}

func TestClientBudgetKeysByPrincipal(t *testing.T) {
	s, _ := budgetStage(t, ClientBudget{Rate: 9, Burst: 9}, "")
	ctx := context.Background()
	// Two principals behind one address: each has its budget.
	for _, p := range []string{"alice", "bob"} {
		if d, _ := s.Request(ctx, from(expensive(), "203.0.113.1", p)); d != nil {
			t.Fatalf("%s's first request refused: %+v", p, d)
		}
	}
	if d, _ := s.Request(ctx, from(expensive(), "203.0.113.9", "alice")); d == nil {
		t.Fatal("alice from another address got a fresh budget; the principal is the client")
	}
}

func TestClientBudgetDetectModeAndOff(t *testing.T) {
	ctx := context.Background()
	s, _ := budgetStage(t, ClientBudget{Rate: 9, Burst: 9}, ModeDetect)
	_, _ = s.Request(ctx, from(expensive(), "203.0.113.1", ""))
	x := from(expensive(), "203.0.113.1", "")
	if d, err := s.Request(ctx, x); d != nil || err != nil {
		t.Fatalf("detect mode refused: %+v %v", d, err)
	}
	if f := x.Findings(); len(f) != 1 || f[0].Rules[0] != RuleClientBudget {
		t.Fatalf("detect mode findings %+v, want one %s", f, RuleClientBudget)
	}

	off, _ := budgetStage(t, ClientBudget{Rate: -1}, "")
	for i := 0; i < 20; i++ {
		if d, _ := off.Request(ctx, from(expensive(), "203.0.113.1", "")); d != nil {
			t.Fatalf("budget off, request %d refused: %+v", i, d)
		}
	}
}

func TestClientBudgetValidate(t *testing.T) {
	for _, tc := range []struct {
		b    ClientBudget
		want string
	}{
		{ClientBudget{Rate: -2}, "client_budget.rate"},
		{ClientBudget{Per: -time.Second}, "client_budget.per"},
		{ClientBudget{Burst: -1}, "client_budget.burst"},
		{ClientBudget{FreeBytes: -1}, "client_budget.free_bytes"},
	} {
		errs := Config{ClientBudget: tc.b}.Validate()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
			t.Errorf("%+v: %v, want one error at %s", tc.b, errs, tc.want)
		}
	}
	if errs := (Config{ClientBudget: ClientBudget{Rate: -1}}).Validate(); len(errs) != 0 {
		t.Errorf("rate -1 (off): %v", errs)
	}
}

// BenchmarkClientBudget is what the stage costs for a request that gives
// the CRS about 10 KiB, inspected and then refused once the client's
// budget is spent, beside an ordinary request: the refusal skips the CRS,
// so a flood past its budget costs the gateway little.
func BenchmarkClientBudget(b *testing.B) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s, err := New(Config{ClientBudget: ClientBudget{Rate: 1, Burst: 1}}, Options{API: "api", Store: store.NewMemory(c.now)})
	if err != nil {
		b.Fatal(err)
	}
	body := `{"filter":"` + filterText(10<<10) + `"}`
	run := func(b *testing.B, body string, budget bool) {
		b.ReportAllocs()
		for b.Loop() {
			r := jsonRequest(body)
			x := exchange(r)
			x.ClientIP = netip.MustParseAddr("198.51.100.7")
			st := sharedStage(b)
			if budget {
				st = s
			}
			if _, err := st.Request(ctx, x); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("normal", func(b *testing.B) { run(b, `{"filter":"status:eq:active;sort=-created_at,limit=20"}`, false) })
	b.Run("expensive-inspected", func(b *testing.B) { run(b, body, false) })
	b.Run("expensive-refused", func(b *testing.B) { run(b, body, true) })
}

// TestClientBudgetStoreDownFailsOpenAndSays: with the budget's store gone
// (a real redis-server, stopped) an expensive request is still inspected
// in full — an attack in it is refused by the CRS — and the budget's
// failure is recorded on the exchange (a stage.failure event), not lost.
func TestClientBudgetStoreDownFailsOpenAndSays(t *testing.T) {
	srv := redistest.Start(t)
	st := store.NewRedis(redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond}), "down:", nil)
	t.Cleanup(func() { _ = st.Close() })
	s, err := New(Config{ClientBudget: ClientBudget{Rate: 20, Burst: 40}}, Options{API: "api", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	ctx := context.Background()
	x := from(expensive(), "198.51.100.7", "")
	if d, err := s.Request(ctx, x); err != nil || d != nil {
		t.Fatalf("benign expensive request with the store down: got %+v, %v, want it inspected and passed", d, err)
	}
	if f := x.Failures(); len(f) != 1 || f[0].Stage != ID || !strings.Contains(f[0].Err.Error(), "client budget") {
		t.Fatalf("failures: %+v, want one client budget failure of the waf stage", f)
	}
	attack := from(jsonRequest(`{"filter":"`+filterText(10<<10)+`","q":"1' UNION SELECT password FROM users--"}`), "198.51.100.7", "")
	d, err := s.Request(ctx, attack)
	if err != nil || d == nil || d.Status != http.StatusForbidden {
		t.Fatalf("attack with the store down: got %+v, %v, want 403 from the inspection", d, err)
	}
}
