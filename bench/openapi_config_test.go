package bench

import (
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/stage/validate"
)

// TestOpenAPIConfig loads bench/portcullis-openapi.yaml and its description
// and checks that the bodies run.sh sends are declared.
func TestOpenAPIConfig(t *testing.T) {
	t.Setenv("PORTCULLIS_ADDR", "127.0.0.1:18080")
	t.Setenv("PORTCULLIS_UPSTREAM", "http://127.0.0.1:18081")
	cfg, err := config.Load("portcullis-openapi.yaml")
	if err != nil {
		t.Fatalf("loading bench/portcullis-openapi.yaml: %v", err)
	}
	if len(cfg.APIs) != 1 || config.BlockOf[validate.Config](cfg.APIs[0].Stages) == nil || cfg.APIs[0].OpenAPI == "" {
		t.Fatalf("apis: got %+v, want one API with openapi and validate", cfg.APIs)
	}
	spec, err := openapi.Load(cfg.APIs[0].OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"GET", "POST"} {
		if _, _, res := spec.Match(m, "/bench"); res.Status != openapi.Found {
			t.Errorf("%s /bench: got %v, want found", m, res.Status)
		}
	}
	post, _, _ := spec.Match("POST", "/bench")
	body := map[string]any{"data": stringOf('x', 1013)}
	if errs := post.RequestBody.Content["application/json"].Schema.Validate(body, 0); errs != nil {
		t.Errorf("run.sh's 1 KB body: got %v, want valid", errs)
	}
}

func stringOf(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
