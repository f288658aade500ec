package gateway

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

// gcPercent reads the collector's target without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestGCPercent: server.gc_percent sets the collector's target when the
// server starts and again on reload, the default is 400, and GOGC in the
// environment wins over the file (with a warning when the file asked for
// something else).
func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(gcPercent())
	dir := t.TempDir()
	file := filepath.Join(dir, "portcullis.yaml")
	write := func(server string) *config.Config {
		t.Helper()
		y := "listeners: [{addr: \"127.0.0.1:0\"}]\nadmin: {addr: \"127.0.0.1:0\"}\n" + server +
			"apis: [{name: one, path_prefix: /, upstream: {targets: [\"http://127.0.0.1:1\"]}}]\n"
		if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	debug.SetGCPercent(100)
	tg := start(t, write(""))
	if got := gcPercent(); got != config.DefaultGCPercent {
		t.Fatalf("no server.gc_percent: the collector's target is %d, want the default %d", got, config.DefaultGCPercent)
	}
	write("server: {gc_percent: 250}\n")
	if err := tg.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := gcPercent(); got != 250 {
		t.Fatalf("after reloading gc_percent: 250 the target is %d", got)
	}
	_ = tg.srv.Close(context.Background())

	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	tg = start(t, write("server: {gc_percent: 300}\n"))
	if got := gcPercent(); got != 150 {
		t.Fatalf("GOGC=150 in the environment and gc_percent: 300 in the file: the target is %d, want GOGC's", got)
	}
	if logs := tg.logs.String(); !strings.Contains(logs, "server.gc_percent is not applied") {
		t.Errorf("no warning that the file's gc_percent is not applied; logs: %s", logs)
	}
}
