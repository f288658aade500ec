package detect

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/decision"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type recorder struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recorder) Publish(e events.Event) bool {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	return true
}

func (r *recorder) of(typ string) []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.Event
	for _, e := range r.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

var t0 = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

type harness struct {
	s   *Stage
	c   *clock
	rec *recorder
	st  store.Store
	n   int
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	c := &clock{t: t0}
	h := &harness{c: c, rec: &recorder{}, st: store.NewMemory(c.Now)}
	p := decision.Policy{Duration: time.Minute}.WithDefaults()
	s, err := New(cfg, Options{API: "shop", Store: h.st, Events: h.rec, Now: c.Now, Policy: &p, Described: true})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	return h
}

// ex is one exchange to observe.
type ex struct {
	ip, method, path string
	status           int
	principal        *pipeline.Principal
	claimed          string
	match            openapi.MatchStatus
	denials          []string // stages whose denial events the exchange has
	body             string
}

func (h *harness) observe(t *testing.T, e ex) string {
	t.Helper()
	h.n++
	if e.method == "" {
		e.method = "GET"
	}
	var r = httptest.NewRequest(e.method, "http://shop"+e.path, strings.NewReader(e.body))
	x := pipeline.NewExchange(r, fmt.Sprintf("req-%d", h.n), h.c.Now())
	x.API = "shop"
	x.ClientIP = netip.MustParseAddr(e.ip)
	x.Principal = e.principal
	x.Claimed = e.claimed
	x.Match = openapi.MatchResult{Status: e.match}
	if _, err := h.s.Request(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	o := pipeline.Observed{X: x, Status: e.status}
	for _, st := range e.denials {
		o.Events = append(o.Events, events.Event{Type: events.TypeDenial, Stage: st, API: "shop", ClientIP: e.ip})
	}
	if err := h.s.ObserveExchange(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return x.ID
}

func alice(ids ...string) *pipeline.Principal {
	id := "alice"
	if len(ids) > 0 {
		id = ids[0]
	}
	return &pipeline.Principal{ID: id, Kind: "apikey", Attributes: map[string]any{"key_id": "k-" + id}}
}

// detectorCases feed each detector with the i-th exchange that counts
// towards one key; every case has threshold 5 and window 1m.
var detectorCases = []struct {
	name   string
	cfg    Config
	key    string
	action string
	gen    func(i int) ex
}{
	{"recon", Config{Recon: &Recon{Rule: Rule{Threshold: 5, Window: time.Minute}}}, "ip:198.51.100.1", ActionBan,
		func(i int) ex {
			return ex{ip: "198.51.100.1", path: fmt.Sprintf("/admin%d", i), status: []int{404, 405, 401}[i%3]}
		}},
	{"undeclared", Config{Undeclared: &Rule{Threshold: 5, Window: time.Minute}}, "ip:198.51.100.1", ActionBan,
		func(i int) ex {
			return ex{ip: "198.51.100.1", path: fmt.Sprintf("/wp-admin/%d.php", i), status: 200, match: openapi.PathNotFound}
		}},
	{"sequence", Config{Sequence: &Sequence{Rule: Rule{Threshold: 5, Window: time.Minute, Action: ActionBan}}}, "ip:198.51.100.1", ActionBan,
		func(i int) ex {
			return ex{ip: "198.51.100.1", path: fmt.Sprintf("/orders/%d/items", 1000+i), status: 200}
		}},
	{"stuffing", Config{Stuffing: &Rule{Threshold: 5, Window: time.Minute}}, "ip:198.51.100.1", ActionBan,
		func(i int) ex {
			return ex{ip: "198.51.100.1", path: "/pets", status: 401, claimed: fmt.Sprintf("user%d", i), denials: []string{"authn"}}
		}},
	{"bruteforce", Config{BruteForce: &Rule{Threshold: 5, Window: time.Minute}}, "principal:alice", ActionAlert,
		func(i int) ex {
			return ex{ip: fmt.Sprintf("198.51.100.%d", 10+i), path: "/pets", status: 401, claimed: "alice", denials: []string{"authn"}}
		}},
	{"sharing", Config{Sharing: &Sharing{Rule: Rule{Threshold: 5, Window: time.Minute}}}, "principal:alice", ActionAlert,
		func(i int) ex {
			return ex{ip: fmt.Sprintf("198.51.100.%d", 10+i), path: "/pets", status: 200, principal: alice()}
		}},
	{"sharing by key", Config{Sharing: &Sharing{Rule: Rule{Threshold: 5, Window: time.Minute, Key: KeyAPIKey, Action: ActionBan}}}, "apikey:k-alice", ActionBan,
		func(i int) ex {
			return ex{ip: fmt.Sprintf("198.51.100.%d", 10+i), path: "/pets", status: 200, principal: alice()}
		}},
	{"stages", Config{Stages: &StagesRule{Rule: Rule{Threshold: 5, Window: time.Minute}}}, "ip:198.51.100.1", ActionBan,
		func(i int) ex {
			st := []string{"waf", "validate", "authz", "limits.request", "ipfilter", "limits.normalize"}[i%6]
			return ex{ip: "198.51.100.1", path: "/pets", status: 403, denials: []string{st}}
		}},
}

// TestDetectorsCrossTheThresholdExactly: the threshold-th exchange fires
// (one detection with its evidence; a decision when the action decides),
// the ones before do not, and the ones after do not fire again within the
// window.
func TestDetectorsCrossTheThresholdExactly(t *testing.T) {
	for _, tc := range detectorCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			var ids []string
			for i := 0; i < 4; i++ {
				ids = append(ids, h.observe(t, tc.gen(i)))
				h.c.Add(time.Second)
				if got := h.rec.of(events.TypeDetection); len(got) != 0 {
					t.Fatalf("exchange %d (below the threshold): got %+v", i+1, got)
				}
			}
			ids = append(ids, h.observe(t, tc.gen(4)))
			got := h.rec.of(events.TypeDetection)
			if len(got) != 1 {
				t.Fatalf("at the threshold: got %d detections, want 1", len(got))
			}
			e := got[0]
			a := e.Attrs
			wantStage := "detect." + strings.Fields(tc.name)[0]
			if e.Stage != wantStage || a["key"] != tc.key || a["count"] != int64(5) || a["threshold"] != 5 ||
				a["window_seconds"] != int64(60) || a["action"] != tc.action || e.RequestID != ids[4] {
				t.Fatalf("detection: got %+v, want %s on %s count 5 of 5 in 60s", e, wantStage, tc.key)
			}
			refs, _ := a["request_ids"].([]string)
			if !slices.Contains(refs, ids[4]) || !slices.Contains(refs, ids[0]) || len(refs) < 5 {
				t.Fatalf("evidence: got request ids %v, want the five exchanges' %v", refs, ids)
			}
			decs, _ := h.st.Decisions(context.Background())
			if tc.action == ActionBan {
				if len(decs) != 1 || decs[0].Key() != tc.key || decs[0].Type != store.TypeBan || decs[0].Origin != wantStage {
					t.Fatalf("decision: got %+v, want a ban on %s by %s", decs, tc.key, wantStage)
				}
				if d := h.rec.of(events.TypeDecision); len(d) != 1 || d[0].Attrs["detection_id"] != e.ID {
					t.Fatalf("decision event: got %+v, want one naming the detection", d)
				}
			} else if len(decs) != 0 {
				t.Fatalf("action %s: got decisions %+v, want none", tc.action, decs)
			}
			for i := 5; i < 9; i++ {
				h.observe(t, tc.gen(i))
			}
			if got := h.rec.of(events.TypeDetection); len(got) != 1 {
				t.Fatalf("past the threshold: got %d detections, want still 1 (one per window)", len(got))
			}
		})
	}
}

// TestDetectorsStayBelowTheThreshold: threshold-1 exchanges in each window,
// the window sliding on, never fire.
func TestDetectorsStayBelowTheThreshold(t *testing.T) {
	for _, tc := range detectorCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			for round := 0; round < 3; round++ {
				for i := 0; i < 4; i++ {
					h.observe(t, tc.gen(round*4+i))
					h.c.Add(time.Second)
				}
				h.c.Add(time.Minute) // the window slides past them
			}
			if got := h.rec.of(events.TypeDetection); len(got) != 0 {
				t.Fatalf("got %d detections, want none: %+v", len(got), got)
			}
			if decs, _ := h.st.Decisions(context.Background()); len(decs) != 0 {
				t.Fatalf("got decisions %+v, want none", decs)
			}
		})
	}
}

// TestDetectorsIgnoreWhatDoesNotCount: exchanges that look like the
// detector's but are not (other statuses, declared paths, gaps in ids, one
// account, one client) never fire, however many.
func TestDetectorsIgnoreWhatDoesNotCount(t *testing.T) {
	all := Config{
		Recon: &Recon{Rule: Rule{Threshold: 5}, Statuses: []int{404, 405}}, Undeclared: &Rule{Threshold: 5}, Sequence: &Sequence{Rule: Rule{Threshold: 5}},
		Stuffing: &Rule{Threshold: 5}, BruteForce: &Rule{Threshold: 5}, Sharing: &Sharing{Rule: Rule{Threshold: 5}},
		Stages: &StagesRule{Rule: Rule{Threshold: 5}},
	}
	h := newHarness(t, all)
	for i := 0; i < 30; i++ {
		h.observe(t, ex{ip: "198.51.100.1", path: fmt.Sprintf("/pets/%d", 1000+3*i), status: []int{200, 400, 403, 500}[i%4], match: openapi.Found})
		h.observe(t, ex{ip: "198.51.100.2", path: "/login", status: 401, claimed: "bob", denials: []string{"authn"}}) // one account, one client
		h.observe(t, ex{ip: "198.51.100.3", path: "/pets", status: 200, principal: alice("carol")})                   // one client
		h.observe(t, ex{ip: "198.51.100.4", path: "/pets", status: 400, denials: []string{"validate"}})               // one stage
		h.observe(t, ex{ip: "198.51.100.5", path: "/pets", status: 429, denials: []string{"ratelimit.ip"}})           // not a counted stage
	}
	if got := h.rec.of(events.TypeDetection); len(got) != 0 {
		t.Fatalf("got %d detections, want none: %+v", len(got), got[0])
	}
}

// TestSharingTiers: a tier's threshold replaces the default.
func TestSharingTiers(t *testing.T) {
	h := newHarness(t, Config{Sharing: &Sharing{Rule: Rule{Threshold: 3}, Tiers: map[string]int{"team": 6}}})
	p := &pipeline.Principal{ID: "ops", Kind: "jwt", Attributes: map[string]any{"tier": "team"}}
	for i := 0; i < 5; i++ {
		h.observe(t, ex{ip: fmt.Sprintf("192.0.2.%d", i+1), path: "/pets", status: 200, principal: p})
	}
	if got := h.rec.of(events.TypeDetection); len(got) != 0 {
		t.Fatalf("5 clients on a tier allowing 6: got %+v", got)
	}
	h.observe(t, ex{ip: "192.0.2.99", path: "/pets", status: 200, principal: p})
	if got := h.rec.of(events.TypeDetection); len(got) != 1 || got[0].Attrs["threshold"] != 6 {
		t.Fatalf("6th client: got %+v, want one detection at threshold 6", got)
	}
}

// TestLoginsFeedStuffing: failed logins (and throttled ones) count with
// the account read from the body; a successful one does not.
func TestLoginsFeedStuffing(t *testing.T) {
	h := newHarness(t, Config{Stuffing: &Rule{Threshold: 3, Window: time.Minute},
		Logins: []Login{{Operation: "POST /login", Account: "body:/user/name"}, {Operation: "POST /token", Account: "form:username"}}})
	login := func(path, body string, status int) {
		h.observe(t, ex{ip: "203.0.113.9", method: "POST", path: path, body: body, status: status})
	}
	login("/login", `{"user":{"name":"Alice"}}`, 200) // succeeded: not counted
	login("/login", `{"user":{"name":"bob"}}`, 401)
	login("/token", `username=carol&password=x`, 403)
	if got := h.rec.of(events.TypeDetection); len(got) != 0 {
		t.Fatalf("two failed accounts: got %+v", got)
	}
	login("/login", `{"user":{"name":"Dave"}}`, 429) // login throttling counts
	got := h.rec.of(events.TypeDetection)
	if len(got) != 1 || got[0].Stage != "detect.stuffing" || got[0].Attrs["count"] != int64(3) {
		t.Fatalf("third failed account: got %+v, want one stuffing detection", got)
	}
}

// TestVolumeAgainstBaseline: after its warmup at about 10 requests a
// bucket, a principal's bucket fires on the request that passes both the
// floor and factor × baseline, and a bucket that stays under it does not.
func TestVolumeAgainstBaseline(t *testing.T) {
	cfg := Config{Volume: &Volume{Bucket: time.Minute, Alpha: 0.5, Factor: 3, Floor: 20, Warmup: 3}}
	for _, tc := range []struct {
		name  string
		burst int
		fire  bool
	}{{"crosses", 31, true}, {"below", 30, false}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			h.c.t = t0.Truncate(time.Minute)
			for b := 0; b < 4; b++ { // four buckets of 10: baseline exactly 10
				for i := 0; i < 10; i++ {
					h.observe(t, ex{ip: "198.51.100.1", path: "/pets", status: 200, principal: alice()})
				}
				h.c.Add(time.Minute)
			}
			var last string
			for i := 0; i < tc.burst; i++ {
				last = h.observe(t, ex{ip: "198.51.100.1", path: "/pets", status: 200, principal: alice()})
				if i < 30 && len(h.rec.of(events.TypeDetection)) != 0 {
					t.Fatalf("request %d of the bucket: fired below 3x the baseline", i+1)
				}
			}
			got := h.rec.of(events.TypeDetection)
			if !tc.fire {
				if len(got) != 0 {
					t.Fatalf("got %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Attrs["count"] != int64(31) || got[0].Attrs["threshold"] != 31 || got[0].Attrs["baseline"] != 10.0 || got[0].RequestID != last {
				t.Fatalf("got %+v, want one detection at 31 of 31 on a baseline of 10", got)
			}
			decs, _ := h.st.Decisions(context.Background())
			if len(decs) != 1 || decs[0].Key() != "principal:alice" || decs[0].Type != store.TypeThrottle {
				t.Fatalf("decision: got %+v, want a throttle on principal:alice", decs)
			}
		})
	}
}

func TestNumericShape(t *testing.T) {
	for _, tc := range []struct {
		path, shape string
		id          int64
		ok          bool
	}{
		{"/orders/1001", "/orders/{n}", 1001, true},
		{"/orders/1001/items", "/orders/{n}/items", 1001, true},
		{"/a/1/b/2", "/a/1/b/{n}", 2, true},
		{"/pets", "", 0, false},
		{"/v2/pets/abc", "", 0, false},
		{"/x/1234567890123456", "", 0, false},
	} {
		shape, id, ok := numericShape(tc.path)
		if shape != tc.shape || id != tc.id || ok != tc.ok {
			t.Errorf("%s: got %q %d %v, want %q %d %v", tc.path, shape, id, ok, tc.shape, tc.id, tc.ok)
		}
	}
}

func TestConfigProblems(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Recon: &Recon{Rule: Rule{Key: "account"}}}, `recon.key: "account" is not one of ip, principal, apikey`},
		{Config{Stuffing: &Rule{Action: "nuke"}}, `stuffing.action: "nuke" is not one of log, alert, throttle, ban`},
		{Config{Volume: &Volume{Alpha: 2}}, `volume.alpha: 2 is not between 0 and 1`},
		{Config{Logins: []Login{{Operation: "POST /login", Account: "body:user"}}}, `logins[0].account: a body location is a JSON pointer: body:/username`},
	} {
		errs := tc.cfg.Validate()
		if len(errs) == 0 || errs[0].Error() != tc.want {
			t.Errorf("got %v, want %s", errs, tc.want)
		}
	}
	if _, err := New(Config{Recon: &Recon{}}, Options{}); err == nil || !strings.Contains(err.Error(), "needs a bans block") {
		t.Fatalf("ban without a bans block: got %v", err)
	}
}
