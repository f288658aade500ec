package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Build stamps, set by `make build` with
// -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
// Left empty, they are read from the Go build information (the module
// version and the VCS stamps that `go build` and `go install` record).
var (
	version string
	commit  string
	date    string
)

// buildInfo is what `portcullis version` prints.
type buildInfo struct {
	// Version is a release tag ("v0.1.0"), a Go pseudo-version, or "dev".
	Version string `json:"version"`
	// Commit is the VCS revision, "unknown" when none was recorded.
	Commit string `json:"commit"`
	// Modified says the working tree had uncommitted changes.
	Modified bool `json:"modified"`
	// Date is when the binary was built (RFC 3339), or, without a build
	// stamp, the commit's time; "unknown" when neither was recorded.
	Date string `json:"date"`
	// DateKind says which of the two Date is: "build" or "commit".
	DateKind string `json:"date_kind"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"go"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// readBuildInfo merges the -ldflags stamps with runtime/debug's build
// information; a stamp wins over what the toolchain recorded.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: "dev", Commit: "unknown", Date: "unknown",
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Date, b.DateKind = s.Value, "commit"
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		b.Version = version
	}
	if commit != "" {
		// A stamp may carry git's "-dirty" suffix.
		c, dirty := strings.CutSuffix(commit, "-dirty")
		b.Commit, b.Modified = c, b.Modified || dirty
	}
	if date != "" {
		b.Date, b.DateKind = date, "build"
	}
	return b
}

// String is the one-line form used by --version.
func (b buildInfo) String() string {
	c := b.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if b.Modified {
		c += "-modified"
	}
	return fmt.Sprintf("portcullis %s (commit %s, built %s, %s %s)", b.Version, c, b.displayDate(), b.GoVersion, b.Platform)
}

func (b buildInfo) displayDate() string {
	if b.DateKind == "commit" {
		return b.Date + " from the commit time"
	}
	return b.Date
}

func (b buildInfo) write(w io.Writer) {
	c := b.Commit
	if b.Modified {
		c += " (modified working tree)"
	}
	fmt.Fprintf(w, "portcullis %s\n  commit  %s\n  built   %s\n  go      %s %s\n", b.Version, c, b.displayDate(), b.GoVersion, b.Platform)
}

func newVersion() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := readBuildInfo()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			}
			b.write(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
