package main

import (
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestDemoPrintedCurls runs every curl command the demo prints, verbatim,
// and checks the status code it prints against the one the demo promises.
func TestDemoPrintedCurls(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (make deps installs it)")
	}
	env, err := startDemo("127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", slog.LevelError)
	if err != nil {
		t.Fatal(err)
	}
	defer env.close()
	for _, c := range allDemoChecks(env) {
		t.Run(c.Title, func(t *testing.T) {
			cmdline := c.curl(env.base)
			out, err := exec.Command("bash", "-c", cmdline).Output()
			if err != nil {
				t.Fatalf("%s: %v", cmdline, err)
			}
			got, err := strconv.Atoi(strings.TrimSpace(string(out)))
			if err != nil {
				t.Fatalf("%s printed %q, want a status code", cmdline, out)
			}
			if got != c.Expect {
				t.Fatalf("%s: got %d, want %d", cmdline, got, c.Expect)
			}
		})
	}
}

func TestDemoSelftest(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo(context.Background(), &out, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", true); err != nil {
		t.Fatalf("selftest failed: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "0 failed") {
		t.Fatalf("selftest output:\n%s", out.String())
	}
}
