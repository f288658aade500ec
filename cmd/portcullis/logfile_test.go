package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
)

// TestLogFileReopen: writes after Reopen go to a new file under the same
// name; writes before stay in the renamed one; none is lost.
func TestLogFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "access.log")
	l, err := openLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fmt.Fprintln(l, "one")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(l, "two") // still the renamed file, as logrotate expects
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(l, "three")
	if b, _ := os.ReadFile(path + ".1"); string(b) != "one\ntwo\n" {
		t.Errorf("rotated file holds %q", b)
	}
	if b, _ := os.ReadFile(path); string(b) != "three\n" {
		t.Errorf("new file holds %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	// When the path cannot be opened again, the old file stays in use.
	if err := os.RemoveAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Dir(path), nil, 0o600); err != nil { // a file where the directory was
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil {
		t.Error("Reopen with a file in place of the directory: want an error")
	}
	if _, err := fmt.Fprintln(l, "four"); err != nil {
		t.Errorf("write after a failed reopen: %v", err)
	}
}

// TestServeReopensOnSIGUSR1 runs the real binary with a file access log and
// an events file, rotates both the way logrotate does, and checks that
// every access record and event lands in one of the two generations, and
// that shutdown is logged.
func TestServeReopensOnSIGUSR1(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	dir := t.TempDir()
	addr, admin := freeAddr(t), freeAddr(t)
	cfgFile := filepath.Join(dir, "portcullis.yaml")
	cfg := fmt.Sprintf(`
listeners: [{addr: "%s"}]
admin: {addr: "%s"}
log: {access: logs/access.log}
events: {jsonl: data/events.jsonl}
apis:
  - name: e2e
    upstream:
      targets: [%s]
`, addr, admin, up.URL)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, "serve", "-c", cfgFile)
	get := func(path string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	access, events := filepath.Join(dir, "logs", "access.log"), filepath.Join(dir, "data", "events.jsonl")
	get("/before")
	get("/before2/..%2f..%2fetc%2fpasswd") // a denial: one event
	// Records and events are written just after the answer (events through
	// a queue): wait until the last one has landed before rotating.
	for _, f := range []string{access, events} {
		waitFor(t, p, f, "/before2")
		if err := os.Rename(f, f+".1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitLine(t, p, "reopened log files")
	get("/after")
	get("/after/..%2f..%2fetc%2fpasswd")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.log())
	}
	for _, f := range []string{access, events} {
		old, _ := os.ReadFile(f + ".1")
		cur, _ := os.ReadFile(f)
		if !strings.Contains(string(old), "/before") || strings.Contains(string(old), "/after") {
			t.Errorf("%s.1 (rotated) holds:\n%s", f, old)
		}
		if !strings.Contains(string(cur), "/after") || strings.Contains(string(cur), "/before") {
			t.Errorf("%s (reopened) holds:\n%s", f, cur)
		}
	}
	if n := strings.Count(string(mustRead(t, access)), "\n") + strings.Count(string(mustRead(t, access+".1")), "\n"); n != 4 {
		t.Errorf("%d access records in both files, want 4", n)
	}
	log := p.log()
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	// Every line the gateway logs is JSON.
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("log line is not JSON: %s", sc.Text())
		}
	}
}

func mustRead(t *testing.T, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitLine waits until the process logs a line containing s.
func waitLine(t *testing.T, p *process, s string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("exited before logging %q:\n%s", s, p.log())
			}
			if strings.Contains(l, s) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q logged after 20s:\n%s", s, p.log())
		}
	}
}

// waitFor waits until file f holds s, reading it again every 10ms, for at
// most 20s.
func waitFor(t *testing.T, p *process, f, s string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), s) {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s never held %q:\n%s", f, s, p.log())
		}
	}
}

// TestReopenFlushesHeldRecords: access records still held in the access
// log's buffer when the file is rotated are written to the rotated file
// (where their time belongs), and the ones after the reopen to the new
// file; none is lost and none is written twice.
func TestReopenFlushesHeldRecords(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := openLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	cfg := &config.Config{
		Listeners: []config.Listener{{Addr: "127.0.0.1:0"}},
		Admin:     config.Admin{Disabled: true},
		Log:       config.Log{Access: path, AccessFlush: time.Hour}, // only size, reopen and Close write
		APIs:      []config.API{{Name: "api", Upstream: config.Upstream{Targets: []string{upstream.URL}}}},
	}
	cfg.WithDefaults()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.NewServer(cfg, gateway.Options{Logger: slog.New(slog.DiscardHandler), AccessWriter: l,
		Listeners: []net.Listener{ln}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	get := func(p string) {
		resp, err := http.Get("http://" + ln.Addr().String() + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get("/before")
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("written before the buffer was flushed (want it held): %s", b)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	reopenLogs(slog.New(slog.NewTextHandler(&logged, nil)), l, srv)
	get("/after")
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	old, cur := string(mustRead(t, path+".1")), string(mustRead(t, path))
	if strings.Count(old, "\n") != 1 || !strings.Contains(old, `"/before"`) {
		t.Errorf("rotated file holds:\n%s", old)
	}
	if strings.Count(cur, "\n") != 1 || !strings.Contains(cur, `"/after"`) {
		t.Errorf("reopened file holds:\n%s", cur)
	}
	if !strings.Contains(logged.String(), "reopened log files") {
		t.Errorf("no reopen line in the log: %s", logged.String())
	}
}
