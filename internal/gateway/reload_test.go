package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

func TestReload(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "v:"+r.URL.Path)
	}))
	defer up.Close()

	dir := t.TempDir()
	file := filepath.Join(dir, "portcullis.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := `
listeners: [{addr: "127.0.0.1:0"}]
admin: {addr: "127.0.0.1:1"}
apis:
  - name: one
    path_prefix: /
    upstream:
      targets: ["` + up.URL + `"]
`
	write(good)
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	tg := start(t, cfg)

	// An in-flight request on the old gateway...
	slow := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(tg.base + "/slow")
		if err != nil {
			t.Error(err)
			close(slow)
			return
		}
		slow <- resp
	}()
	<-entered

	// ...while a valid change applies: a deny list for loopback.
	write(good + "ipfilter: {deny: [127.0.0.0/8]}\n")
	if err := tg.srv.Reload(); err != nil {
		t.Fatalf("valid reload: %v", err)
	}
	resp, err := http.Get(tg.base + "/fast")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after reload: got %d, want 403 from the new deny list", resp.StatusCode)
	}
	close(release)
	if r := <-slow; r == nil || r.StatusCode != 200 {
		t.Fatalf("in-flight request did not complete on the old gateway: %v", r)
	} else {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if string(b) != "v:/slow" {
			t.Fatalf("in-flight body: got %q", b)
		}
	}

	// An invalid change is refused and the last good config keeps serving.
	write(good + "ipfilter: {deny: [127.0.0.0/8]}\nlimits: {max_body_bytes: lots}\n")
	err = tg.srv.Reload()
	if err == nil {
		t.Fatal("invalid reload: got nil error")
	}
	if !strings.Contains(err.Error(), "portcullis.yaml:") {
		t.Errorf("reload error does not name file:line:col: %v", err)
	}
	resp, err = http.Get(tg.base + "/fast")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after a bad reload: got %d, want 403 (the last good config)", resp.StatusCode)
	}
	// log
	if logs := tg.logs.String(); !strings.Contains(logs, "configuration reload failed") || !strings.Contains(logs, "max_body_bytes") {
		t.Errorf("log lacks the reason:\n%s", logs)
	}
	// metric
	mresp, err := http.Get("http://" + tg.srv.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{
		`portcullis_config_reloads_total{result="error"} 1`,
		`portcullis_config_reloads_total{result="ok"} 2`,
		`portcullis_config_last_reload_successful 0`,
	} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// event
	tg.flush(t)
	var failed, ok int
	for _, e := range tg.sink.all() {
		if e.Type == "config.reload" {
			if e.Severity == "high" && strings.Contains(e.Reason, "max_body_bytes") {
				failed++
			} else {
				ok++
			}
		}
	}
	if failed != 1 || ok != 1 {
		t.Errorf("reload events: got %d failed and %d ok, want 1 and 1", failed, ok)
	}
}

func TestReloadOnFileChange(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "portcullis.yaml")
	good := "listeners: [{addr: \"127.0.0.1:0\"}]\nadmin: {disabled: true}\napis:\n  - name: one\n    upstream:\n      targets: [\"" + up.URL + "\"]\n"
	if err := os.WriteFile(file, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan error, 4)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(cfg, Options{
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		AccessWriter: io.Discard,
		Listeners:    []net.Listener{ln},
		OnReload:     func(err error) { reloaded <- err },
		WatchConfig:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	base := "http://" + ln.Addr().String()
	if err := os.WriteFile(file, []byte(good+"ipfilter: {deny: [127.0.0.0/8]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-reloaded:
		if err != nil {
			t.Fatalf("reload after file change: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s of the file change")
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after the file changed: got %d, want 403", resp.StatusCode)
	}
}

// A Kubernetes ConfigMap volume: the config file is a symlink through
// "..data" into a timestamped directory, and an update swaps "..data" by
// rename. The watch must reload, though no event names the file.
func TestReloadOnConfigMapSwap(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	dir := t.TempDir()
	good := "listeners: [{addr: \"127.0.0.1:0\"}]\nadmin: {disabled: true}\napis:\n  - name: one\n    upstream:\n      targets: [\"" + up.URL + "\"]\n"
	version := func(name, content string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "portcullis.yaml"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		// kubelet: a new "..data_tmp" symlink renamed over "..data".
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01_01_00_00_00.1", good)
	file := filepath.Join(dir, "portcullis.yaml")
	if err := os.Symlink("..data/portcullis.yaml", file); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan error, 4)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(cfg, Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AccessWriter: io.Discard,
		Listeners: []net.Listener{ln}, OnReload: func(err error) { reloaded <- err }, WatchConfig: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	version("..2026_01_01_00_01_00.2", good+"ipfilter: {deny: [127.0.0.0/8]}\n")
	select {
	case err := <-reloaded:
		if err != nil {
			t.Fatalf("reload after the swap: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s of the ConfigMap swap")
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after the swap: got %d, want 403", resp.StatusCode)
	}
}
