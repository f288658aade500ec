package bench

import (
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/validate"
	"github.com/portcullis/portcullis/internal/stage/waf"
)

// TestWAFConfigs loads the waf rows' configs and builds their waf stage.
func TestWAFConfigs(t *testing.T) {
	t.Setenv("PORTCULLIS_ADDR", "127.0.0.1:18080")
	t.Setenv("PORTCULLIS_UPSTREAM", "http://127.0.0.1:18081")
	for _, tt := range []struct {
		file    string
		openapi bool
	}{{"portcullis-waf.yaml", false}, {"portcullis-openapi-waf.yaml", true}} {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := config.Load(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			api := cfg.APIs[0]
			wc, vc := config.BlockOf[waf.Config](api.Stages), config.BlockOf[validate.Config](api.Stages)
			if wc == nil || (api.OpenAPI != "") != tt.openapi || (vc != nil) != tt.openapi {
				t.Fatalf("got waf=%v openapi=%q validate=%v, want waf and openapi=%v", wc, api.OpenAPI, vc, tt.openapi)
			}
			if _, err := waf.New(*wc, waf.Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
