package main

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/alert"
)

// webhook is an alert receiver: it fails its first `fail` calls with a
// 500, then records each alert with whether its signature verifies.
type webhook struct {
	srv    *httptest.Server
	secret string
	fail   atomic.Int32
	calls  atomic.Int32
	mu     sync.Mutex
	got    []alertSeen
}

type alertSeen struct {
	id, rule, group string
	valid           bool
}

func newWebhook(t *testing.T, secret string, fail int) *webhook {
	w := &webhook{secret: secret}
	w.fail.Store(int32(fail))
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		if w.fail.Add(-1) >= 0 {
			http.Error(rw, "down", http.StatusInternalServerError)
			return
		}
		var a struct{ Rule, Group string }
		_ = json.Unmarshal(body, &a)
		w.mu.Lock()
		w.got = append(w.got, alertSeen{id: r.Header.Get(alert.IDHeader), rule: a.Rule, group: a.Group,
			valid: signatureValid(secret, r.Header.Get(alert.SignatureHeader), body)})
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) alerts() []alertSeen {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]alertSeen(nil), w.got...)
}

// signatureValid checks "t=UNIX,v1=HEX" as a receiver would: HMAC-SHA256
// over "t.body", the timestamp within 5 minutes.
func signatureValid(secret, header string, body []byte) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" || time.Since(time.Unix(n, 0)).Abs() > 5*time.Minute {
		return false
	}
	return hmac.Equal([]byte(alert.Sign([]byte(secret), time.Unix(n, 0), body)), []byte(header))
}

// TestAuditAndAlertsE2E runs the real binary with an audit log and two
// alert webhooks. Five denials of one client fire the rule (threshold 3
// in a 1m window, per client) once: the healthy receiver gets one alert
// with a valid signature; the one that fails twice gets the same alert
// (same id) on the third attempt. An admin action (a ban taken and
// lifted) and the denials land in the audit log; `portcullis audit
// verify` passes it untouched, and names the record and line of a
// modified, a deleted, an inserted and a reordered record.
func TestAuditAndAlertsE2E(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "audit.key")
	if out, err := runBinary(t, "audit", "keygen", "--out", key); err != nil {
		t.Fatalf("audit keygen: %v\n%s", err, out)
	}
	good, flaky := newWebhook(t, "s3cret", 0), newWebhook(t, "s3cret", 2)
	up := notFoundUpstream(t)
	logFile := filepath.Join(dir, "audit.log")
	n := startAbuseNode(t, fmt.Sprintf(`  audit:
    file: %q
    signing_key: %q
    checkpoint_every: 4
server:
  trusted_proxies: [127.0.0.1/32]
alerts:
  webhooks:
    - name: good
      url: %q
      secret: s3cret
    - name: flaky
      url: %q
      secret: s3cret
      backoff: 50ms
      max_retries: 3
  rules:
    - name: ip-denials
      match: {type: denial, stage: ipfilter}
      threshold: 3
      window: 1m
      group_by: client
ipfilter:
  deny: [203.0.113.0/24]
apis:
  - name: shop
    upstream:
      targets: [%q]
`, logFile, key, good.srv.URL, flaky.srv.URL, up.URL))

	for i := 0; i < 5; i++ {
		if got := get(t, n.url, "/pets", "203.0.113.9"); got != 403 {
			t.Fatalf("denial %d: got %d, want 403", i, got)
		}
	}
	eventually(t, "the alert at both receivers", func() bool { return len(good.alerts()) >= 1 && len(flaky.alerts()) >= 1 })
	req, _ := http.NewRequest("POST", n.admin+"/api/v1/decisions", strings.NewReader(`{"scope":"ip","value":"198.51.100.4","duration":"1h"}`))
	req.Header.Set("Authorization", "Bearer test-admin-token")
	resp, err := abuseClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	adminDo(t, n, "DELETE", "/api/v1/decisions/ip:198.51.100.4")
	stopNode(t, n)

	g, f := good.alerts(), flaky.alerts()
	if len(g) != 1 || !g[0].valid || g[0].rule != "ip-denials" || g[0].group != "203.0.113.9" {
		t.Errorf("good receiver got %+v, want one validly signed ip-denials alert for 203.0.113.9", g)
	}
	if len(f) != 1 || !f[0].valid || len(g) == 1 && f[0].id != g[0].id {
		t.Errorf("flaky receiver got %+v, want the same alert once, validly signed", f)
	}
	if c := flaky.calls.Load(); c != 3 {
		t.Errorf("flaky receiver was called %d times, want 3 (two failures, then the delivery)", c)
	}

	// The untouched log verifies; it holds the denials and both actions.
	out, err := runBinary(t, "audit", "verify", "--public-key", key+".pub", logFile)
	if err != nil || !strings.Contains(out, ": OK: ") {
		t.Fatalf("untouched log: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	denial := -1
	for i, l := range lines {
		if bytes.Contains(l, []byte(`"type":"denial"`)) && denial < 0 {
			denial = i
		}
	}
	for _, want := range []string{`"action":"decision.add"`, `"action":"ban.lift"`, `"type":"alert"`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if denial < 0 || denial+1 >= len(lines) {
		t.Fatalf("no denial record to tamper with in %d lines", len(lines))
	}
	seq := regexp.MustCompile(`"seq":(\d+)`).FindSubmatch(lines[denial])
	if seq == nil {
		t.Fatalf("record without a seq: %s", lines[denial])
	}
	cases := map[string]func([][]byte) [][]byte{
		"modified": func(l [][]byte) [][]byte {
			l[denial] = bytes.Replace(l[denial], []byte("203.0.113.9"), []byte("203.0.113.8"), 1)
			return l
		},
		"deleted": func(l [][]byte) [][]byte { return append(l[:denial:denial], l[denial+1:]...) },
		"inserted": func(l [][]byte) [][]byte {
			out := append([][]byte{}, l[:denial+1]...)
			out = append(out, l[denial])
			return append(out, l[denial+1:]...)
		},
		"reordered": func(l [][]byte) [][]byte {
			l[denial], l[denial+1] = l[denial+1], l[denial]
			return l
		},
	}
	for kind, tamper := range cases {
		t.Run(kind, func(t *testing.T) {
			copied := make([][]byte, len(lines))
			for i, l := range lines {
				copied[i] = bytes.Clone(l)
			}
			path := filepath.Join(t.TempDir(), "audit.log")
			if err := os.WriteFile(path, bytes.Join(tamper(copied), nil), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runBinary(t, "audit", "verify", "--public-key", key+".pub", path)
			if err == nil || !strings.Contains(out, "TAMPERED") {
				t.Fatalf("verify passed a %s record: %s", kind, out)
			}
			t.Logf("%s", out)
			if !strings.Contains(out, kind) || !strings.Contains(out, "record "+string(seq[1])) {
				t.Errorf("verify does not name the %s record %s:\n%s", kind, seq[1], out)
			}
		})
	}
}
