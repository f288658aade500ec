package scan

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/gateway"
)

// protectExample is the gateway config that protects the lab.
const protectExample = "../../examples/protect-vulnerable-demo.yaml"

// gatewayGroups are the check groups whose findings the gateway must
// block: injection, authentication and authorization (BOLA, BFLA,
// privilege fields).
var gatewayGroups = []string{"injection", "authentication", "authorization"}

// gap is a planted flaw the gateway's stages cannot block, with the reason.
// Through the gateway it may still be found, or be absent for a reason
// that is not a block (a throttle that happened to be spent).
type gap struct{ check, op, why string }

// expectedGaps are the flaws of gatewayGroups that remain, or may remain,
// through the gateway. Keep the reasons in step with docs/scan.md.
var expectedGaps = []gap{
	{"authn.jwt.weak-secret", "", "the gateway verifies the lab's tokens with the lab's own key, so a token forged with that common-word key is valid to it too; only a strong key (or an identity provider's asymmetric keys) closes it"},
	{"authz.bola-delete", "DELETE /notes/{id}", "the gateway's owner rules read the owner from the answer, and a delete answers 204 with no body: the note is gone before anything could be checked; ownership of a delete needs the upstream (or an owner in the path)"},
	{"authn.user-enumeration", "POST /login", "the flaw is in the answers (404 for an unknown user, 401 for a wrong password), which no stage rewrites; the login rate limit only slows it down (the scanner's comparison is absent when earlier probes spent the limit)"},
	{"authn.user-enumeration", "POST /v2/login", "the same flaw in 200 answers (\"no account with this user name\" against \"the password is wrong\"): no stage rewrites answers; the login limit only slows it down"},
}

// fixedByGateway are planted flaws that are absent through the gateway
// because the gateway supplies what the check looks for, rather than
// because a probe was refused. Every other planted flaw of gatewayGroups
// must be reported blocked, so that a gateway refusing everything (even
// the scanner's valid baseline requests) cannot pass this test.
var fixedByGateway = []gap{
	{"authn.login-rate-limit", "POST /login", "the gateway's login limit answers 429 with RateLimit headers"},
	{"authn.login-rate-limit", "POST /v2/login", "the same login limit covers the second login operation"},
}

// partialBlocks are findings reported as blocked whose probe still had an
// effect upstream; the test only logs them.
var partialBlocks = []gap{
	{"authz.bola", "PUT /notes/{id}", "the owner rule reads the owner from the response, so the gateway refuses to show another user's note but the lab has already written it; ownership of a write needs the upstream (or an owner in the path or body)"},
}

// opLess are checks reported on whichever operation the scanner picked to
// prove them (the JWT checks use a secured GET that answers identity 1),
// which differs once the gateway refuses identity 1 somewhere. They are
// compared by check id alone.
func opLess(check string) bool { return strings.HasPrefix(check, "authn.jwt.") }

var stageOf = regexp.MustCompile(`\(stage ([a-z.]+)\)`)

// outcome summarises the findings of check on op ("" for any operation):
// "found" when any is real, "blocked (stages)" when every one was refused
// by the gateway, "absent" when there is none.
func outcome(fs []Finding, check, op string) string {
	var stages []string
	for _, f := range fs {
		if f.CheckID != check || op != "" && f.Operation != op {
			continue
		}
		if !f.Blocked {
			return "found"
		}
		if m := stageOf.FindStringSubmatch(f.Evidence.Detail); m != nil && !slices.Contains(stages, m[1]) {
			stages = append(stages, m[1])
		}
	}
	if len(stages) > 0 {
		sort.Strings(stages)
		return "blocked (" + strings.Join(stages, ", ") + ")"
	}
	return "absent"
}

// startProtectedLab runs a fresh vulnerable lab behind a gateway.Server
// built from examples/protect-vulnerable-demo.yaml, with the upstream
// given through LAB_UPSTREAM as a user would, and returns the gateway's
// base URL.
func startProtectedLab(t *testing.T) string {
	t.Helper()
	up := httptest.NewServer(demo.NewAPI(demo.APIOptions{Vulnerable: true}))
	t.Cleanup(up.Close)
	t.Setenv("LAB_UPSTREAM", up.URL)
	cfg, err := config.Load(protectExample)
	if err != nil {
		t.Fatalf("loading %s: %v", protectExample, err)
	}
	if got := cfg.APIs[0].Upstream.Targets[0]; got != up.URL {
		t.Fatalf("upstream: got %q, want %q from LAB_UPSTREAM", got, up.URL)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.NewServer(cfg, gateway.Options{
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
		AccessWriter:  io.Discard,
		Listeners:     []net.Listener{ln},
		AdminListener: adm,
	})
	if err != nil {
		t.Fatalf("building the gateway: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("starting the gateway: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return "http://" + ln.Addr().String()
}

// comparison is one line of the table: a check on an operation, in the
// direct scan and through the gateway.
type comparison struct {
	check, op       string
	direct, through string
}

// compare builds the table rows: every check and operation either scan
// reported for real, and a count of the other refusals by stage (probes on
// operations where the direct scan found nothing, refused all the same).
func compare(before, after *Report) ([]comparison, map[string]int) {
	seen := map[string]bool{}
	var rows []comparison
	refused := map[string]int{}
	for _, rep := range []*Report{before, after} {
		for _, f := range rep.Findings {
			op := f.Operation
			if opLess(f.CheckID) {
				op = ""
			}
			k := f.CheckID + " " + op
			if seen[k] {
				continue
			}
			seen[k] = true
			c := comparison{check: f.CheckID, op: op, direct: outcome(before.Findings, f.CheckID, op), through: outcome(after.Findings, f.CheckID, op)}
			if c.direct != "found" && c.through != "found" {
				if stages, ok := strings.CutPrefix(c.through, "blocked ("); ok {
					for _, s := range strings.Split(strings.TrimSuffix(stages, ")"), ", ") {
						refused[s]++
					}
				}
				continue
			}
			rows = append(rows, c)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		gi, gj := slices.Index(Groups, catalog[rows[i].check].Group), slices.Index(Groups, catalog[rows[j].check].Group)
		if gi != gj {
			return gi < gj
		}
		if rows[i].check != rows[j].check {
			return rows[i].check < rows[j].check
		}
		return rows[i].op < rows[j].op
	})
	return rows, refused
}

// markdown renders the rows as the table docs/scan.md shows.
func markdown(rows []comparison, refused map[string]int) string {
	var b strings.Builder
	b.WriteString("| check id | operation | direct | through gateway |\n| --- | --- | --- | --- |\n")
	for _, r := range rows {
		op := r.op
		if op == "" {
			op = "(a secured GET)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.check, op, r.direct, r.through)
	}
	stages := make([]string, 0, len(refused))
	for s := range refused {
		stages = append(stages, s)
	}
	sort.Strings(stages)
	var parts []string
	for _, s := range stages {
		parts = append(parts, fmt.Sprintf("%s %d", s, refused[s]))
	}
	fmt.Fprintf(&b, "\nChecks on operations where the direct scan found nothing, blocked through the gateway (check × operation, by stage): %s.\n", strings.Join(parts, ", "))
	return b.String()
}

func findGap(list []gap, check, op string) (gap, bool) {
	for _, g := range list {
		if g.check == check && (g.op == "" || g.op == op) {
			return g, true
		}
	}
	return gap{}, false
}

// TestScanThroughGateway is the acceptance test of "scanning the demo
// through the gateway with its protections on reports the injection, auth
// and BOLA flaws as blocked". It scans a vulnerable lab directly and
// another one through a gateway.Server built from
// examples/protect-vulnerable-demo.yaml, with the same identities, and
// checks that the direct scan finds the planted flaws of gatewayGroups and
// that through the gateway each is blocked or absent, apart from
// expectedGaps. It logs the comparison table shown in docs/scan.md.
//
// Time-based SQL runs (time_delay 1s): the lab's sleep costs about 4 s of
// the direct scan, which runs alongside the other.
func TestScanThroughGateway(t *testing.T) {
	direct := httptest.NewServer(demo.NewAPI(demo.APIOptions{Vulnerable: true}))
	t.Cleanup(direct.Close)
	gw := startProtectedLab(t)

	scan := func(target string) (*Report, error) {
		c := labConfig(target)
		c.Checks = gatewayGroups
		c.TimeDelay = time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		return Run(ctx, c, Options{Spec: labSpec(t)})
	}
	var (
		wg                  sync.WaitGroup
		before, after       *Report
		errBefore, errAfter error
	)
	start := time.Now()
	wg.Add(2)
	go func() { defer wg.Done(); before, errBefore = scan(direct.URL) }()
	go func() { defer wg.Done(); after, errAfter = scan(gw) }()
	wg.Wait()
	if errBefore != nil {
		t.Fatalf("direct scan: %v", errBefore)
	}
	if errAfter != nil {
		t.Fatalf("scan through the gateway: %v", errAfter)
	}
	t.Logf("direct: %d findings, %d requests; through the gateway: %d findings (%d blocked), %d requests; both scans %s",
		len(before.Findings), before.Requests, len(after.Findings), countBlocked(after.Findings), after.Requests, time.Since(start).Round(100*time.Millisecond))

	rows, refused := compare(before, after)
	t.Log("\n" + markdown(rows, refused))
	for _, n := range after.Notes {
		t.Logf("note (through the gateway): %s", n)
	}

	// The direct scan must find every planted flaw of these groups, or
	// this test proves nothing.
	for _, p := range plantedFlaws {
		if !slices.Contains(gatewayGroups, catalog[p.check].Group) {
			continue
		}
		op := p.op
		if opLess(p.check) {
			op = ""
		}
		if got := outcome(before.Findings, p.check, op); got != "found" {
			t.Errorf("direct scan: %s on %q is %s, want found", p.check, p.op, got)
		}
	}
	// Through the gateway, none may remain but the expected gaps; the
	// planted ones must be seen refused.
	for _, r := range rows {
		if !slices.Contains(gatewayGroups, catalog[r.check].Group) {
			continue
		}
		where := strings.TrimSpace(r.check + " " + r.op)
		if g, ok := findGap(expectedGaps, r.check, r.op); ok {
			t.Logf("expected gap: %s is %s through the gateway: %s", where, r.through, g.why)
			continue
		}
		switch {
		case r.through == "found":
			t.Errorf("%s: direct %s, through the gateway %s; want blocked or absent", where, r.direct, r.through)
		case r.through == "absent" && r.direct == "found":
			if g, ok := findGap(fixedByGateway, r.check, r.op); ok {
				t.Logf("absent through the gateway: %s: %s", where, g.why)
			} else {
				t.Errorf("%s: direct %s, through the gateway absent; want blocked (did the probe reach the gateway?)", where, r.direct)
			}
		}
		if g, ok := findGap(partialBlocks, r.check, r.op); ok && strings.HasPrefix(r.through, "blocked") {
			t.Logf("partly blocked: %s: %s", where, g.why)
		}
	}
}

func countBlocked(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if f.Blocked {
			n++
		}
	}
	return n
}
