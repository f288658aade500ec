package gateway

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/stage/ratelimit"
)

// A rate limit scoped to operations can only match when the API has a
// description that declares them; otherwise it would silently never apply.
func TestRateLimitOperationsMustExist(t *testing.T) {
	spec, err := openapi.Parse([]byte(`openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /search:
    get:
      responses: {"200": {description: ok}}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	limit := func(op string) *ratelimit.Config {
		return &ratelimit.Config{Limits: []ratelimit.Limit{{Name: "l", Key: []string{"ip"}, Rate: 1, Operations: []string{op}}}}
	}
	cases := []struct {
		name    string
		spec    *openapi.Spec
		rl      *ratelimit.Config
		wantErr string
	}{
		{"declared operation", spec, limit("GET /search"), ""},
		{"no description", nil, limit("GET /search"), "need the API's openapi"},
		{"typo", spec, limit("GET /serach"), "not in the API's openapi"},
		{"no operations", nil, &ratelimit.Config{Limits: []ratelimit.Limit{{Name: "l", Key: []string{"ip"}, Rate: 1}}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRateLimitOperations(&build{api: &config.API{Name: "a", RateLimit: tc.rl}, spec: tc.spec})
			if tc.wantErr == "" && err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
