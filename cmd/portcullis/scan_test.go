package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/demo"
)

// TestScanCommandGatesOnHighByDefault scans the vulnerable lab through the
// CLI: without --fail-on it exits 1 (high findings), with --fail-on none
// it exits 0, the table has a location column, the notes say which
// destructive-looking operation was not sent, and --include narrows the
// scan to the operations selected.
func TestScanCommandGatesOnHighByDefault(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(demo.NewAPI(demo.APIOptions{Vulnerable: true}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	spec := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(spec, demo.OpenAPIVulnerable(), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"scan", "--spec", spec, "--target", srv.URL, "--checks", "injection,misconfiguration", "-q"}

	out, stderr, code := runCLI(t, base...)
	if code != 1 {
		t.Fatalf("got exit code %d without --fail-on, want 1 (high findings gate by default)\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"LOCATION", "query:q", "injection.sql.error", "Notes:", "GET /admin/reset-db"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, code = runCLI(t, append(base, "--fail-on", "none", "--include", "tag:admin", "--include", "GET /search")...)
	if code != 0 {
		t.Fatalf("got exit code %d with --fail-on none, want 0\n%s", code, out)
	}
	if !strings.Contains(out, "GET /search") || strings.Contains(out, "GET /greet ") {
		t.Errorf("--include GET /search: got\n%s", out)
	}

	if _, stderr, code := runCLI(t, append(base, "--include", "GET notes")...); code != 2 || !strings.Contains(stderr+out, "path must start with /") {
		t.Errorf("a malformed selector: got exit code %d (%s), want 2 naming the mistake", code, stderr)
	}
}
