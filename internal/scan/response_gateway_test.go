package scan_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/scan"
)

// responseExample protects the lab with the response and browser stages.
const responseExample = "../../examples/protect-vulnerable-demo-response.yaml"

// responseFlaws are the lab's planted flaws the response stages close:
// data exposure, verbose errors, missing headers, CORS and enumeration.
var responseFlaws = []struct{ check, op string }{
	{"property.sensitive-data", "GET /profile"},
	{"property.undeclared-fields", "GET /profile"},
	{"misconfig.verbose-errors", ""},
	{"misconfig.headers", ""},
	{"misconfig.cors", ""},
	{"authn.user-enumeration", "POST /login"},
	{"authn.user-enumeration", "POST /v2/login"},
}

// result says what a report holds for check on op ("" any operation):
// "found" when any finding is real, "blocked" when every one was refused
// by a gateway, "absent" when there is none.
func result(rep *scan.Report, check, op string) string {
	out := "absent"
	for _, f := range rep.Findings {
		if f.CheckID != check || op != "" && f.Operation != op {
			continue
		}
		if !f.Blocked {
			return "found"
		}
		out = "blocked"
	}
	return out
}

// TestScanThroughResponseStages scans a vulnerable lab directly and
// another one through a gateway.Server built from
// examples/protect-vulnerable-demo-response.yaml, with the same
// identities, and checks that the direct scan finds each flaw of
// responseFlaws and that through the gateway each is blocked or absent.
// It logs the table shown in docs/response.md.
func TestScanThroughResponseStages(t *testing.T) {
	spec, err := openapi.Parse(demo.OpenAPIVulnerable(), "")
	if err != nil {
		t.Fatal(err)
	}
	direct := httptest.NewServer(demo.NewAPI(demo.APIOptions{Vulnerable: true}))
	t.Cleanup(direct.Close)
	behind := httptest.NewServer(demo.NewAPI(demo.APIOptions{Vulnerable: true}))
	t.Cleanup(behind.Close)
	t.Setenv("LAB_UPSTREAM", behind.URL)
	cfg, err := config.Load(responseExample)
	if err != nil {
		t.Fatalf("loading %s: %v", responseExample, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.NewServer(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), AccessWriter: io.Discard,
		Listeners: []net.Listener{ln}, AdminListener: adm})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })

	run := func(target string) (*scan.Report, error) {
		c := scan.Config{
			Spec: "openapi-vulnerable.yaml", Target: target, AllowDestructive: true, Concurrency: 6,
			Checks: []string{"authentication", "property", "misconfiguration"},
			Identities: []scan.Identity{
				{Name: "alice", Login: &scan.Login{Operation: "POST /login", Body: map[string]any{"username": "alice", "password": "alice-password"}}},
				{Name: "bob", Login: &scan.Login{Operation: "POST /login", Body: map[string]any{"username": "bob", "password": "bob-password"}}},
			},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		return scan.Run(ctx, c, scan.Options{Spec: spec})
	}
	var (
		wg                  sync.WaitGroup
		before, after       *scan.Report
		errBefore, errAfter error
	)
	wg.Add(2)
	go func() { defer wg.Done(); before, errBefore = run(direct.URL) }()
	go func() { defer wg.Done(); after, errAfter = run("http://" + ln.Addr().String()) }()
	wg.Wait()
	if errBefore != nil || errAfter != nil {
		t.Fatalf("direct scan: %v; through the gateway: %v", errBefore, errAfter)
	}

	var b strings.Builder
	b.WriteString("| check id | operation | direct | through gateway |\n| --- | --- | --- | --- |\n")
	for _, f := range responseFlaws {
		d, g := result(before, f.check, f.op), result(after, f.check, f.op)
		op := f.op
		if op == "" {
			op = "(any)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", f.check, op, d, g)
		if d != "found" {
			t.Errorf("direct scan: %s on %q is %s, want found (or the comparison proves nothing)", f.check, f.op, d)
		}
		if g == "found" {
			for _, x := range after.Findings {
				if x.CheckID == f.check {
					t.Logf("still found: %s %s %s: %s", x.CheckID, x.Operation, x.Location, x.Evidence.Detail)
				}
			}
			t.Errorf("through the gateway: %s on %q is still found, want blocked or absent", f.check, f.op)
		}
	}
	var left []string
	for _, f := range after.Findings {
		if !f.Blocked {
			left = append(left, f.CheckID+" "+f.Operation)
		}
	}
	sort.Strings(left)
	t.Logf("direct: %d findings, %d requests; through the gateway: %d findings, %d requests\n%s\nleft through the gateway (other stages' business): %s",
		len(before.Findings), before.Requests, len(after.Findings), after.Requests, b.String(), strings.Join(left, "; "))
}
