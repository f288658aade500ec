package dlp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benignCorpora are texts nobody here wrote that hold no secrets: the
// fortunes databases (Debian's fortunes package: prose, quotes, numbers,
// dates, ASCII art), the ISO code lists (iso-codes: JSON with numeric and
// alphabetic codes of every country, currency, language and subdivision)
// and the licence texts every Debian system has.
var benignCorpora = []string{
	"/usr/share/games/fortunes/*",
	"/usr/share/iso-codes/json/*.json",
	"/usr/share/common-licenses/*",
}

// TestNoFalsePositivesOnBenignCorpora scans every file of the benign
// corpora and fails on any match: ordinary text, numbers, codes and ids
// must not be masked.
func TestNoFalsePositivesOnBenignCorpora(t *testing.T) {
	var files []string
	for _, g := range benignCorpora {
		m, _ := filepath.Glob(g)
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && !strings.HasSuffix(f, ".dat") {
				files = append(files, f)
			}
		}
	}
	if len(files) < 20 {
		if os.Getenv("CI") != "" {
			t.Fatalf("only %d corpus files (scripts/test-deps.sh installs fortunes and iso-codes)", len(files))
		}
		t.Skipf("only %d corpus files; install fortunes and iso-codes", len(files))
	}
	var bytes int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bytes += len(b)
		for _, m := range Find(b, All, nil) {
			lo, hi := max(0, m.Start-30), min(len(b), m.End+30)
			t.Errorf("%s: %s %q in %q", f, m.Kind, b[m.Start:m.End], b[lo:hi])
		}
	}
	t.Logf("%d files, %d MB scanned", len(files), bytes>>20)
}
