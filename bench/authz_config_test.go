package bench

import (
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/authz"
)

// TestAuthzConfig loads bench/portcullis-authz.yaml and
// portcullis-identity-authz.yaml (the rows with authz) the way `portcullis serve` does, Cedar policies included.
func TestAuthzConfig(t *testing.T) {
	t.Setenv("PORTCULLIS_ADDR", "127.0.0.1:18080")
	t.Setenv("PORTCULLIS_UPSTREAM", "http://127.0.0.1:18081")
	for _, file := range []string{"portcullis-authz.yaml", "portcullis-identity-authz.yaml"} {
		t.Run(file, func(t *testing.T) {
			cfg, err := config.Load(file)
			if err != nil {
				t.Fatalf("loading bench/%s: %v", file, err)
			}
			if len(cfg.APIs) != 1 || config.BlockOf[authz.Config](cfg.APIs[0].Stages) == nil || config.BlockOf[authz.Config](cfg.APIs[0].Stages).Policies == "" {
				t.Fatalf("got %+v, want one API with an authz block and Cedar policies", cfg.APIs)
			}
		})
	}
}
