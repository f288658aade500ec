package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestVersionStamps builds the binary the way `make build` does, with
// -ldflags -X stamps, and checks both `version` and `--version` print them
// with the Go version of the toolchain.
func TestVersionStamps(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "portcullis")
	ldflags := "-s -w -X main.version=v9.8.7 -X main.commit=0123456789abcdef0123456789abcdef01234567-dirty -X main.date=2030-01-02T03:04:05Z"
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", bin, ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "portcullis v9.8.7\n  commit  0123456789abcdef0123456789abcdef01234567 (modified working tree)\n" +
		"  built   2030-01-02T03:04:05Z\n  go      " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if string(out) != want {
		t.Fatalf("version printed\n%s\nwant\n%s", out, want)
	}
	out, err = exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "portcullis v9.8.7 (commit 0123456789ab-modified, built 2030-01-02T03:04:05Z, "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")" {
		t.Fatalf("--version printed %q", got)
	}
	out, err = exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var b buildInfo
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatal(err)
	}
	if b.Version != "v9.8.7" || !b.Modified || b.DateKind != "build" || b.GoVersion != runtime.Version() {
		t.Fatalf("version --json = %+v", b)
	}
}

// TestVersionWithoutStamps: an unstamped binary (go run, go build) still
// names its Go version and never prints an empty field.
func TestVersionWithoutStamps(t *testing.T) {
	b := readBuildInfo()
	if b.GoVersion == "" || b.Version == "" || b.Commit == "" || b.Date == "" {
		t.Fatalf("empty field in %+v", b)
	}
	if !regexp.MustCompile(`^portcullis \S+ \(commit \S+, built .+, go\d`).MatchString(b.String()) {
		t.Fatalf("String() = %q", b.String())
	}
}
