package scan

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/openapi"
)

func labSpec(t testing.TB) *openapi.Spec {
	t.Helper()
	spec, err := openapi.Parse(demo.OpenAPIVulnerable(), "")
	if err != nil {
		t.Fatalf("parsing the lab description: %v", err)
	}
	return spec
}

func labConfig(target string) Config {
	return Config{
		Spec:   "openapi-vulnerable.yaml",
		Target: target,
		Identities: []Identity{
			{Name: "alice", Login: &Login{Operation: "login", Body: map[string]any{"username": "alice", "password": "alice-password"}}},
			{Name: "bob", Login: &Login{Operation: "POST /login", Body: map[string]any{"username": "bob", "password": "bob-password"}}},
		},
		AllowDestructive: true,
		Concurrency:      6,
	}
}

func scanHandler(t testing.TB, h http.Handler, cfg func(*Config)) *Report {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := labConfig(srv.URL)
	if cfg != nil {
		cfg(&c)
	}
	// A guard against a hung scan, not a budget: a loaded machine running
	// every package under -race takes 60 s and more for the full lab scan.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := Run(ctx, c, Options{Spec: labSpec(t)})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return rep
}

// plantedFlaws are the flaws of `portcullis demo --vulnerable`, by check id
// and operation.
var plantedFlaws = []struct{ check, op string }{
	{"functional.server-error", "GET /search"},
	{"functional.negative-accepted", "POST /notes"},
	{"functional.content-type", "GET /reports"},
	{"functional.schema", "GET /profile"},
	{"injection.sql.error", "GET /search"},
	{"injection.sql.boolean", "GET /search"},
	{"injection.sql.time", "GET /search"},
	{"injection.nosql", "POST /login"},
	{"injection.command", "GET /ping"},
	{"injection.ssti", "GET /greet"},
	{"injection.xss", "GET /greet"},
	{"injection.path-traversal", "GET /files"},
	{"injection.crlf", "GET /redirect"},
	{"authn.missing", "GET /reports"},
	{"authn.jwt.none", ""},
	{"authn.jwt.unsigned", ""},
	{"authn.jwt.expired", ""},
	{"authn.jwt.weak-secret", ""},
	{"authn.user-enumeration", "POST /login"},
	{"authn.login-rate-limit", "POST /login"},
	{"authz.bola", "GET /notes/{id}"},
	{"authz.bfla", "GET /admin/users"},
	{"authz.privilege-field", "PUT /profile"},
	{"property.mass-assignment", "POST /notes"},
	{"property.undeclared-fields", "GET /profile"},
	{"property.sensitive-data", "GET /profile"},
	{"resource.rate-limit", ""},
	{"resource.page-size", "GET /search"},
	{"resource.large-body", "POST /notes"},
	{"resource.redos", "GET /check-email"},
	{"misconfig.headers", ""},
	{"misconfig.cors", ""},
	{"misconfig.verbose-errors", "GET /search"},
	{"misconfig.inventory", "GET /debug/vars"},
	{"ssrf.canary", "GET /fetch"},
	// The classes a scan of a real API missed (issue 16).
	{"authn.user-enumeration", "POST /v2/login"},              // 200 answers, different messages
	{"authn.login-rate-limit", "POST /v2/login"},              // the login nobody configured
	{"authz.bola", "GET /lists/{name}"},                       // an object addressed by the name the scan created
	{"authz.bola", "GET /users/{username}"},                   // an account addressed by the identity's own name
	{"authz.foreign-write", "PUT /users/{username}/password"}, // judged by the new password working
	{"authz.bola-delete", "DELETE /notes/{id}"},               // judged by the owner's read
	{"authz.privilege-field", "POST /users"},                  // an admin member discovered from the answer schema
	{"resource.redos", "PUT /profile"},                        // a ReDoS in a PUT body member
	{"misconfig.tech-disclosure", ""},
}

// dangerousOps are the lab operations that destroy state wholesale: a scan
// must never send them, whatever their method (the lab's is a GET).
var dangerousOps = []string{"GET /admin/reset-db"}

func TestScanVulnerableDemoFindsEveryPlantedFlaw(t *testing.T) {
	t.Parallel()
	c := &counter{methods: map[string]int{}, paths: map[string]int{}, next: demo.NewAPI(demo.APIOptions{Vulnerable: true})}
	rep := scanHandler(t, c, nil)
	c.mu.Lock()
	for _, op := range dangerousOps {
		m, p, _ := strings.Cut(op, " ")
		if n := c.paths[m+" "+p]; n > 0 {
			t.Errorf("the scan sent %s %d times, want never (it looks destructive)", op, n)
		}
	}
	c.mu.Unlock()
	notSent := false
	for _, n := range rep.Notes {
		if strings.Contains(n, "stopped working") {
			t.Errorf("an identity stopped working during the scan: %s", n)
		}
		if strings.Contains(n, "looks destructive") && strings.Contains(n, "GET /admin/reset-db") {
			notSent = true
		}
	}
	if !notSent {
		t.Errorf("the notes do not say that GET /admin/reset-db was not sent: %q", rep.Notes)
	}
	found := map[string]map[string]bool{}
	for _, f := range rep.Findings {
		if found[f.CheckID] == nil {
			found[f.CheckID] = map[string]bool{}
		}
		found[f.CheckID][f.Operation] = true
		if f.Evidence.Request == "" && f.CheckID != "misconfig.plain-http" {
			t.Errorf("%s on %s has no request evidence", f.CheckID, f.Operation)
		}
		if f.OWASP == "" || f.Remediation == "" || f.Severity.Rank() < 0 || f.Confidence == "" {
			t.Errorf("%s lacks OWASP, remediation, severity or confidence: %+v", f.CheckID, f)
		}
	}
	checkOptionalAuth(t, rep)
	for _, f := range rep.Findings {
		if f.CheckID == "authn.missing" && f.Operation == "GET /reports" && !strings.Contains(f.Evidence.Detail, "a wrong credential got 200") {
			t.Errorf("authn.missing on GET /reports: got detail %q, want the wrong credential's 200 in it", f.Evidence.Detail)
		}
	}
	for _, p := range plantedFlaws {
		t.Run(p.check+" "+p.op, func(t *testing.T) {
			ops, ok := found[p.check]
			if !ok {
				t.Fatalf("got no %s finding, want one", p.check)
			}
			if p.op != "" && !ops[p.op] {
				t.Errorf("got %s on %v, want it on %s", p.check, keys(ops), p.op)
			}
		})
	}
	t.Logf("%d findings, %d requests, %s", len(rep.Findings), rep.Requests, rep.Finished.Sub(rep.Started))
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkOptionalAuth checks the lab's GET /announcements, which answers
// anyone and refuses a wrong token although its description requires
// one (optional authentication, as FastAPI describes it): no
// authn.missing finding, and a note that names it.
func checkOptionalAuth(t *testing.T, rep *Report) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.CheckID == "authn.missing" && f.Operation == "GET /announcements" {
			t.Errorf("authn.missing on GET /announcements, whose authentication is optional: %s", f.Evidence.Detail)
		}
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "authentication is optional") && strings.Contains(n, "GET /announcements") {
			if strings.Contains(n, "GET /reports") {
				t.Errorf("the optional-authentication note names GET /reports, which ignores credentials: %s", n)
			}
			return
		}
	}
	t.Errorf("no note says that GET /announcements has optional authentication: %q", rep.Notes)
}

func TestScanFixedLabReportsNothing(t *testing.T) {
	t.Parallel()
	rep := scanHandler(t, demo.NewAPI(demo.APIOptions{Lab: true}), nil)
	checkOptionalAuth(t, rep)
	for _, f := range rep.Findings {
		t.Errorf("false positive %s on %s at %s: %s\n%s\n%s", f.CheckID, f.Operation, f.Location, f.Evidence.Detail, f.Evidence.Request, f.Evidence.Response)
	}
	if rep.Requests < 100 {
		t.Errorf("got %d requests, want a real scan (>= 100)", rep.Requests)
	}
}

// counter counts the requests reaching the target, with their times and
// methods.
type counter struct {
	mu      sync.Mutex
	times   []time.Time
	methods map[string]int
	paths   map[string]int // "METHOD /path", when not nil
	next    http.Handler
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.times = append(c.times, time.Now())
	c.methods[r.Method]++
	if c.paths != nil {
		c.paths[r.Method+" "+r.URL.Path]++
	}
	c.mu.Unlock()
	c.next.ServeHTTP(w, r)
}

func TestBudgetsAreHonouredAtTheTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		rate              float64
		max               int
		allowDestructive  bool
		wantNoDestructive bool
	}{
		{name: "max requests, not destructive", max: 150, wantNoDestructive: true},
		{name: "rate and max", rate: 40, max: 120, allowDestructive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &counter{methods: map[string]int{}, next: demo.NewAPI(demo.APIOptions{Lab: true})}
			rep := scanHandler(t, c, func(cfg *Config) {
				cfg.Rate, cfg.MaxRequests, cfg.AllowDestructive = tt.rate, tt.max, tt.allowDestructive
				cfg.Checks = []string{"all", "performance"}
				cfg.Performance.Duration = time.Second
			})
			c.mu.Lock()
			defer c.mu.Unlock()
			if got := len(c.times); got > tt.max {
				t.Errorf("the target got %d requests, want at most %d", got, tt.max)
			}
			if rep.Requests > tt.max {
				t.Errorf("the report counts %d requests, want at most %d", rep.Requests, tt.max)
			}
			if tt.rate > 0 {
				for i := range c.times {
					n := 0
					for j := i; j < len(c.times) && c.times[j].Sub(c.times[i]) < time.Second; j++ {
						n++
					}
					if float64(n) > tt.rate {
						t.Fatalf("the target got %d requests within one second, want at most %v", n, tt.rate)
					}
				}
			}
			if tt.wantNoDestructive {
				for _, m := range []string{http.MethodDelete, http.MethodPut, http.MethodPatch} {
					if c.methods[m] > 0 {
						t.Errorf("got %d %s requests without allow_destructive, want 0", c.methods[m], m)
					}
				}
			}
		})
	}
}
