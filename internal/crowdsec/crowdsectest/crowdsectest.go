// Package crowdsectest runs Debian's CrowdSec for tests: its Local API
// (and, when asked, its agent) on a free loopback port, with its own
// config, database and hub in a temporary directory, stopped when the
// test ends. Nothing of the system's /etc/crowdsec is used but the grok
// patterns, and nothing reaches the network (no Central API, no hub).
//
// The binaries are looked up in $PORTCULLIS_CROWDSEC_DIR/usr/bin, then in
// the repository's .cache/crowdsec/usr/bin (scripts/test-deps.sh unpacks
// Debian's package there), then on PATH. When none is found the test
// fails, unless PORTCULLIS_SKIP_CROWDSEC=1 is set.
package crowdsectest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one running crowdsec process.
type Server struct {
	t          testing.TB
	dir        string
	crowdsec   string
	cscli      string
	port       int
	BouncerKey string

	mu  sync.Mutex
	log strings.Builder
	cmd *exec.Cmd
}

// Options say what the process runs.
type Options struct {
	// Agent runs the agent too (acquisition, parsers, scenarios) besides
	// the Local API.
	Agent bool
	// Acquis is the acquisition config (acquis.yaml); needs Agent.
	Acquis string
	// Parsers and Scenarios are files to install: "s01-parse/x.yaml" →
	// its content under parsers/, "x.yaml" → under scenarios/.
	Parsers, Scenarios map[string]string
}

// root is the repository root (this file is internal/crowdsec/crowdsectest).
func root() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..", "..", "..")
}

// bins finds crowdsec and cscli and the directory of the grok patterns.
func bins() (crowdsec, cscli, patterns string, ok bool) {
	var dirs []string
	if d := os.Getenv("PORTCULLIS_CROWDSEC_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, filepath.Join(root(), ".cache", "crowdsec"))
	for _, d := range dirs {
		c, s := filepath.Join(d, "usr/bin/crowdsec"), filepath.Join(d, "usr/bin/cscli")
		if isFile(c) && isFile(s) {
			return c, s, filepath.Join(d, "etc/crowdsec/patterns"), true
		}
	}
	c, err1 := exec.LookPath("crowdsec")
	s, err2 := exec.LookPath("cscli")
	return c, s, "/etc/crowdsec/patterns", err1 == nil && err2 == nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Start writes a config into a temporary directory, registers a machine
// and a bouncer (BouncerKey), starts crowdsec and waits until its Local
// API answers.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	cs, cli, patterns, ok := bins()
	if !ok {
		if os.Getenv("PORTCULLIS_SKIP_CROWDSEC") == "1" {
			t.Skip("crowdsec not installed (PORTCULLIS_SKIP_CROWDSEC=1)")
		}
		t.Fatal("crowdsec and cscli not found: run scripts/test-deps.sh (it unpacks Debian's crowdsec into .cache/crowdsec)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, dir: t.TempDir(), crowdsec: cs, cscli: cli, port: port}
	d := s.dir
	for _, sub := range []string{"data", "hub", "parsers", "scenarios", "notifications", "plugins", "acquis.d"} {
		must(t, os.MkdirAll(filepath.Join(d, sub), 0o755))
	}
	// An empty hub index: nothing is installed from the hub, the test's
	// own parsers and scenarios are local items.
	write(t, filepath.Join(d, "hub/.index.json"), `{"parsers":{},"scenarios":{},"postoverflows":{},"collections":{}}`)
	if err := os.Symlink(patterns, filepath.Join(d, "patterns")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(d, "simulation.yaml"), "simulation: false\n")
	write(t, filepath.Join(d, "profiles.yaml"), `name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
`)
	acquis := o.Acquis
	if acquis == "" {
		acquis = "filenames: [" + filepath.Join(d, "none.log") + "]\nlabels: {type: none}\n"
	}
	write(t, filepath.Join(d, "acquis.yaml"), acquis)
	for name, body := range o.Parsers {
		p := filepath.Join(d, "parsers", name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		write(t, p, body)
	}
	for name, body := range o.Scenarios {
		write(t, filepath.Join(d, "scenarios", name), body)
	}
	write(t, filepath.Join(d, "local_api_credentials.yaml"), "")
	write(t, filepath.Join(d, "config.yaml"), fmt.Sprintf(`common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: %[1]s
config_paths:
  config_dir: %[1]s/
  data_dir: %[1]s/data/
  simulation_path: %[1]s/simulation.yaml
  hub_dir: %[1]s/hub/
  index_path: %[1]s/hub/.index.json
  notification_dir: %[1]s/notifications/
  plugin_dir: %[1]s/plugins/
crowdsec_service:
  acquisition_path: %[1]s/acquis.yaml
  acquisition_dir: %[1]s/acquis.d
  parser_routines: 1
  buckets_routines: 1
  output_routines: 1
cscli:
  output: human
db_config:
  type: sqlite
  db_path: %[1]s/data/crowdsec.db
  use_wal: false
  flush:
    max_items: 5000
    max_age: 7d
api:
  client:
    credentials_path: %[1]s/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:%[2]d
    profiles_path: %[1]s/profiles.yaml
    trusted_ips: ["127.0.0.1", "::1"]
prometheus:
  enabled: false
`, d, port))
	s.Cscli("machines", "add", "--auto", "--force")
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	s.BouncerKey = hex.EncodeToString(key)
	s.Cscli("bouncers", "add", "portcullis", "-k", s.BouncerKey)

	args := []string{"-c", filepath.Join(d, "config.yaml")}
	if !o.Agent {
		args = append(args, "-no-cs")
	}
	cmd := exec.Command(s.crowdsec, args...)
	cmd.Dir = d
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting crowdsec: %v", err)
	}
	s.cmd = cmd
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s.ready() {
			return s
		}
		if cmd.ProcessState != nil || time.Now().After(deadline) {
			s.Stop()
			t.Fatalf("crowdsec Local API did not answer on %s within 30s:\n%s", s.URL(), s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ready reports whether the Local API answers the bouncer.
func (s *Server) ready() bool {
	req, _ := http.NewRequest("GET", s.URL()+"v1/decisions", nil)
	req.Header.Set("X-Api-Key", s.BouncerKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// URL is the Local API's base URL, with a trailing slash.
func (s *Server) URL() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) + "/" }

// Dir is the server's config directory.
func (s *Server) Dir() string { return s.dir }

// Log returns what crowdsec printed so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Cscli runs cscli on the server's config and returns its output; a
// failure fails the test.
func (s *Server) Cscli(args ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.cscli, append([]string{"-c", filepath.Join(s.dir, "config.yaml")}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("cscli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Decision is a decision as `cscli decisions list -o json` shows it.
type Decision struct {
	Scenario string `json:"scenario"`
	Scope    string `json:"scope"`
	Value    string `json:"value"`
	Type     string `json:"type"`
	Origin   string `json:"origin"`
}

// Decisions lists the active decisions.
func (s *Server) Decisions() []Decision {
	s.t.Helper()
	out := s.Cscli("decisions", "list", "-o", "json")
	var alerts []struct {
		Decisions []Decision `json:"decisions"`
	}
	if strings.TrimSpace(out) == "null" || strings.TrimSpace(out) == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(out), &alerts); err != nil {
		s.t.Fatalf("cscli decisions list: %v\n%s", err, out)
	}
	var ds []Decision
	for _, a := range alerts {
		ds = append(ds, a.Decisions...)
	}
	return ds
}

// Stop kills the process and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

func write(t testing.TB, p, body string) {
	t.Helper()
	must(t, os.WriteFile(p, []byte(body), 0o644))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
