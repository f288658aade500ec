package bench

import (
	"os"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/dlp"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/stage/contract"
	"github.com/portcullis/portcullis/internal/stage/mask"
)

// TestResponseConfig loads bench/portcullis-response.yaml: the openapi
// row's pipeline plus contract and mask, with GET /bench/users declared;
// the page the upstream sends is 4 KB, holds the undeclared member the
// contract removes, and no value the masking would change (the row
// measures the cost of looking, not of a leak on every answer).
func TestResponseConfig(t *testing.T) {
	t.Setenv("PORTCULLIS_ADDR", "127.0.0.1:18080")
	t.Setenv("PORTCULLIS_UPSTREAM", "http://127.0.0.1:18081")
	cfg, err := config.Load("portcullis-response.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.APIs[0].Stages
	if config.BlockOf[contract.Config](b) == nil || config.BlockOf[mask.Config](b) == nil {
		t.Fatalf("blocks: %v", b)
	}
	spec, err := openapi.Load(cfg.APIs[0].OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, res := spec.Match("GET", "/bench/users"); res.Status != openapi.Found {
		t.Fatalf("GET /bench/users: %v", res.Status)
	}
	doc, err := os.ReadFile("upstream/users.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(doc) < 4000 || len(doc) > 4400 {
		t.Errorf("the page is %d bytes, want about 4 KB", len(doc))
	}
	if ms := dlp.Find(doc, dlp.All, nil); len(ms) != 0 {
		t.Errorf("the page holds %s %q", ms[0].Kind, doc[ms[0].Start:ms[0].End])
	}
}
