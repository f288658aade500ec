package bench

import (
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/ratelimit"
)

// TestRateLimitConfigs loads the ratelimit rows' configs the way `portcullis
// serve` does: limits present, store as the row says.
func TestRateLimitConfigs(t *testing.T) {
	t.Setenv("PORTCULLIS_ADDR", "127.0.0.1:18080")
	t.Setenv("PORTCULLIS_UPSTREAM", "http://127.0.0.1:18081")
	t.Setenv("PORTCULLIS_REDIS_URL", "redis://127.0.0.1:18082/0")
	for _, tc := range []struct{ file, store string }{
		{"portcullis-ratelimit-memory.yaml", ""},
		{"portcullis-ratelimit-redis.yaml", "redis://127.0.0.1:18082/0"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			cfg, err := config.Load(tc.file)
			if err != nil {
				t.Fatalf("loading %s: %v", tc.file, err)
			}
			if got := cfg.Store.URL; got != tc.store && !(tc.store == "" && got == "memory") {
				t.Errorf("store.url: got %q, want %q", got, tc.store)
			}
			if rl := config.BlockOf[ratelimit.Config](cfg.APIs[0].Stages); rl == nil || len(rl.Limits) != 2 {
				t.Errorf("ratelimit: got %+v, want two limits", rl)
			}
		})
	}
}
