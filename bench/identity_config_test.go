package bench

import (
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/authn"
)

// TestIdentityConfig loads bench/portcullis-identity.yaml (the
// portcullis+apikey and portcullis+jwt rows) the way `portcullis serve`
// does.
func TestIdentityConfig(t *testing.T) {
	t.Setenv("PORTCULLIS_ADDR", "127.0.0.1:18080")
	t.Setenv("PORTCULLIS_UPSTREAM", "http://127.0.0.1:18081")
	cfg, err := config.Load("portcullis-identity.yaml")
	if err != nil {
		t.Fatalf("loading bench/portcullis-identity.yaml: %v", err)
	}
	if len(cfg.APIs) != 1 || config.BlockOf[authn.Config](cfg.APIs[0].Stages) == nil || len(config.BlockOf[authn.Config](cfg.APIs[0].Stages).Methods) != 2 {
		t.Fatalf("got %+v, want one API with API key and JWT authn", cfg.APIs)
	}
}
