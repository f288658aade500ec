package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot()
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		code = exitCode(err)
	}
	return out.String(), errb.String(), code
}

// TestCheckExamples: every example passes `portcullis check` (config and a
// full build of the gateway) and examples/broken.yaml fails naming each
// planted mistake by line and column.
func TestCheckExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, errs, code := runCLI(t, "check", "-c", f)
			if strings.HasSuffix(f, "broken.yaml") {
				if code != 1 {
					t.Fatalf("exit code: got %d, want 1", code)
				}
				for _, want := range []string{":6:21:", ":9:17:", ":11:7:", ":14:10:", ":18:5:", ":21:7:", ":22:11:", ":25:11:"} {
					if !strings.Contains(errs, want) {
						t.Errorf("problems lack %s:\n%s", want, errs)
					}
				}
				return
			}
			if code != 0 || !strings.Contains(out, ": ok") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
			}
		})
	}
}
