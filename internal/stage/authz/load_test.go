package authz_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/authz"
)

// TestLoadPolicyFiles checks, through the real config loader, that policy
// files are found relative to the config file and that a Cedar syntax error
// is reported with the config position and the policy file's line:column.
func TestLoadPolicyFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("policies/good.cedar", `@id("read") permit (principal, action in Portcullis::Action::"GET", resource);`+"\n")
	write("policies/bad.cedar", "@id(\"read\")\npermit (principal, action, resource)\nwhen { context.ip.isInRange(ip(\"10.0.0.0/8\") };\n")
	cfgText := func(file string) string {
		return `listeners: [{addr: "127.0.0.1:0"}]
apis:
  - name: demo
    upstream: {targets: ["http://127.0.0.1:9"]}
    authz:
      policy_files: [` + file + `]
`
	}
	tests := []struct {
		name, file string
		want       []string // substrings of the error; none means valid
	}{
		{"relative path", "policies/good.cedar", nil},
		{"syntax error", "policies/bad.cedar", []string{"portcullis.yaml:6:", "policy_files[0]", filepath.Join(dir, "policies", "bad.cedar") + ":3:"}},
		{"missing file", "policies/none.cedar", []string{"portcullis.yaml:6:", "reading policy file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "portcullis.yaml")
			cfg, err := config.Parse(path, []byte(cfgText(tt.file)))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				if got, want := config.BlockOf[authz.Config](cfg.APIs[0].Stages).PolicyFiles[0], filepath.Join(dir, tt.file); got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("got %v, want it to contain %q", err, w)
				}
			}
		})
	}
}
