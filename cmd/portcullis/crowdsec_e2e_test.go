package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/crowdsec/crowdsectest"
)

func bouncerNode(t *testing.T, cs *crowdsectest.Server, upstream, extra string) *abuseNode {
	t.Helper()
	return startAbuseNode(t, fmt.Sprintf(`server:
  trusted_proxies: [127.0.0.1/32]
crowdsec:
  url: %q
  api_key: %q
  interval: 500ms
bans: {}
%sapis:
  - name: shop
    upstream:
      targets: [%q]
`, cs.URL(), cs.BouncerKey, extra, upstream))
}

// waitStatus polls until ip gets want from n (decisions arrive on the
// bouncer's own schedule, the stream interval) and returns how long it took.
func waitStatus(t *testing.T, n *abuseNode, ip string, want int, within time.Duration) (time.Duration, answer) {
	t.Helper()
	start := time.Now()
	for {
		a := getResp(t, n.url+"/pets", ip)
		if a.status == want {
			return time.Since(start), a
		}
		if time.Since(start) > within {
			t.Fatalf("%s: got %d, want %d within %v", ip, a.status, want, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCrowdSecBouncer: a real CrowdSec Local API (Debian's crowdsec, its
// own config in a temporary directory) with Portcullis registered as a
// bouncer; a decision added with `cscli decisions add` is enforced within
// the stream interval (500ms; the bound allows for a loaded machine), with
// its reason, and lifted after `cscli decisions delete`. A range decision
// covers every address in it; other clients are served throughout.
func TestCrowdSecBouncer(t *testing.T) {
	cs := crowdsectest.Start(t, crowdsectest.Options{})
	up := okUpstream(t, 0)
	n := bouncerNode(t, cs, up.URL, "")
	const ip, other = "198.51.100.61", "198.51.100.62"
	if got := get(t, n.url, "/pets", ip); got != 200 {
		t.Fatalf("before: got %d, want 200", got)
	}
	cs.Cscli("decisions", "add", "--ip", ip, "--duration", "1h", "--reason", "manual test decision")
	took, a := waitStatus(t, n, ip, 403, 5*time.Second)
	t.Logf("cscli decisions add → 403 after %v (interval 500ms)", took)
	if !strings.Contains(a.body, "manual test decision") || a.header.Get("Retry-After") == "" {
		t.Fatalf("refusal: got %s (Retry-After %q), want the decision's reason and a Retry-After", a.body, a.header.Get("Retry-After"))
	}
	if got := get(t, n.url, "/pets", other); got != 200 {
		t.Fatalf("another client: got %d, want 200", got)
	}
	cs.Cscli("decisions", "add", "--range", "192.0.2.0/24", "--duration", "1h", "--reason", "bad network")
	waitStatus(t, n, "192.0.2.77", 403, 5*time.Second)
	list := adminDo(t, n, "GET", "/api/v1/decisions")
	if !strings.Contains(list, `"origin":"crowdsec"`) || !strings.Contains(list, `"key":"range:192.0.2.0/24"`) || !strings.Contains(list, `"key":"ip:`+ip+`"`) {
		t.Fatalf("admin decisions: got %s, want the two CrowdSec decisions", list)
	}
	cs.Cscli("decisions", "delete", "--ip", ip)
	took, _ = waitStatus(t, n, ip, 200, 5*time.Second)
	t.Logf("cscli decisions delete → 200 after %v", took)
	if got := get(t, n.url, "/pets", "192.0.2.77"); got != 403 {
		t.Fatalf("range still banned: got %d, want 403", got)
	}
	status := adminDo(t, n, "GET", "/api/v1/status")
	if !strings.Contains(status, `"crowdsec"`) || !strings.Contains(status, `"decisions":1`) {
		t.Fatalf("status: got %s, want the feed holding 1 decision", status)
	}
}

// deployFile reads a file shipped under deploy/crowdsec.
func deployFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "crowdsec", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCrowdSecAgentReadsPortcullisEvents: a CrowdSec agent tails a
// gateway's events file through the shipped acquisition, parsers and
// scenarios (deploy/crowdsec; no hub item is used). A credential-stuffing
// run against that gateway makes the agent raise a decision through
// portcullis/credential-stuffing, and a second gateway that only bounces
// from the same Local API refuses the attacker.
func TestCrowdSecAgentReadsPortcullisEvents(t *testing.T) {
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			w.WriteHeader(http.StatusUnauthorized)
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(login.Close)
	a := startAbuseNode(t, fmt.Sprintf(`server:
  trusted_proxies: [127.0.0.1/32]
bans: {}
detect:
  stuffing:
    threshold: 5
    window: 1m
    action: log
  logins:
    - operation: POST /login
      account: body:/username
apis:
  - name: shop
    upstream:
      targets: [%q]
`, login.URL))
	acquis := strings.Replace(deployFile(t, "acquis.yaml"), "/var/lib/portcullis/events.jsonl", a.events, 1)
	cs := crowdsectest.Start(t, crowdsectest.Options{Agent: true, Acquis: acquis,
		Parsers: map[string]string{
			"s00-raw/portcullis-raw.yaml":      deployFile(t, "parsers/s00-raw/portcullis-raw.yaml"),
			"s01-parse/portcullis-events.yaml": deployFile(t, "parsers/s01-parse/portcullis-events.yaml"),
		},
		Scenarios: map[string]string{
			"portcullis-credential-stuffing.yaml": deployFile(t, "scenarios/portcullis-credential-stuffing.yaml"),
			"portcullis-recon.yaml":               deployFile(t, "scenarios/portcullis-recon.yaml"),
			"portcullis-auth-bf.yaml":             deployFile(t, "scenarios/portcullis-auth-bf.yaml"),
			"portcullis-denials.yaml":             deployFile(t, "scenarios/portcullis-denials.yaml"),
		}})
	eventually(t, "crowdsec tailing the events file", func() bool { return strings.Contains(cs.Log(), a.events) })
	b := bouncerNode(t, cs, login.URL, "")

	const attacker = "203.0.113.66"
	for i := 0; i < 5; i++ {
		req, _ := http.NewRequest("POST", a.url+"/login", strings.NewReader(fmt.Sprintf(`{"username":"user%d","password":"123456"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", attacker)
		resp, err := abuseClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("login %d: got %d, want the upstream's 401", i, resp.StatusCode)
		}
	}
	var found crowdsectest.Decision
	eventually(t, "a CrowdSec decision on the attacker", func() bool {
		for _, d := range cs.Decisions() {
			if d.Value == attacker {
				found = d
				return true
			}
		}
		return false
	})
	if found.Scenario != "portcullis/credential-stuffing" || found.Type != "ban" || !strings.EqualFold(found.Scope, "ip") {
		t.Fatalf("decision: got %+v, want a ban on the ip by portcullis/credential-stuffing", found)
	}
	_, ans := waitStatus(t, b, attacker, 403, 10*time.Second)
	if !strings.Contains(ans.body, "portcullis/credential-stuffing") {
		t.Fatalf("the bouncing gateway's refusal: got %s, want the scenario as reason", ans.body)
	}
	if got := get(t, b.url, "/pets", "203.0.113.67"); got != 200 {
		t.Fatalf("another client on the bouncing gateway: got %d, want 200", got)
	}
	if t.Failed() {
		t.Log(cs.Log())
	}
}
