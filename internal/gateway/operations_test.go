package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/authz"
	"github.com/portcullis/portcullis/internal/stage/ratelimit"
	"github.com/portcullis/portcullis/internal/stage/waf"
)

// One operation matcher serves every API: with a description, every
// operation a block names must be one it declares; without one, the
// operations a block names (and apis[].operations) are what the matcher
// declares.
func TestOperationMatcher(t *testing.T) {
	spec, err := openapi.Parse([]byte(`openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /search:
    get:
      operationId: search
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
		api     config.API
		wantErr string
		want    []string // the matcher's operations
	}{
		{"declared operation", spec, config.API{Stages: config.Blocks{"ratelimit": limit("GET /search")}}, "", []string{"GET /search"}},
		{"typo against the description", spec, config.API{Stages: config.Blocks{"ratelimit": limit("GET /serach")}}, `ratelimit: operation "GET /serach" is not in the API's openapi description`, nil},
		{"lower-case method is the same operation", spec, config.API{Stages: config.Blocks{"ratelimit": limit("get /search")}}, "", []string{"GET /search"}},
		{"no description: names declare the matcher", nil, config.API{
			Operations: []string{"POST /orders"},
			Stages: config.Blocks{
				"ratelimit": limit("GET /search"),
				"authz":     &authz.Config{Owners: []authz.Owner{{Operation: "GET /users/{id}", Param: "id"}}},
				"waf":       &waf.Config{Exclusions: []waf.Exclusion{{Operation: "PUT /notes/{id}", Target: "body:/text"}, {Operation: "search", Rule: "942100"}}},
			}}, "", []string{"POST /orders", "GET /search", "GET /users/{id}", "PUT /notes/{id}"}},
		{"no description, no names: no matcher", nil, config.API{}, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.api.Name, tc.api.PathPrefix = "a", "/"
			g := &Gateway{cfg: &config.Config{APIs: []config.API{tc.api}}}
			m, err := g.operations(0, tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if tc.want == nil {
				if m != nil {
					t.Fatalf("got a matcher with %d operations, want none", len(m.Operations()))
				}
				return
			}
			got := map[string]bool{}
			for _, op := range m.Operations() {
				got[op.Key()] = true
			}
			for _, k := range tc.want {
				if !got[k] {
					t.Errorf("matcher lacks %q (has %v)", k, got)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %d operations %v, want %d", len(got), got, len(tc.want))
			}
		})
	}
}

// opRecorder is a stage that records what the exchange says about the
// request's operation when the chain reaches it.
type opRecorder struct{ got []string }

func (*opRecorder) ID() string { return "test.op" }

func (o *opRecorder) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	o.got = append(o.got, x.Operation+" "+x.PathParams["id"])
	return nil, nil
}

// Without a description, a rate limit on an operation applies (it used to
// be a load error), and the exchange names the operation for every stage,
// with the API's prefix stripped.
func TestOperationsWithoutDescription(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	cfg := baseConfig(up.URL)
	cfg.APIs[0].PathPrefix, cfg.APIs[0].StripPrefix = "/v1", true
	cfg.APIs[0].Stages.Set(&ratelimit.Config{Limits: []ratelimit.Limit{
		{Name: "users", Key: []string{"ip"}, Rate: 2, Per: time.Minute, Operations: []string{"GET /users/{id}"}}}})
	cfg.WithDefaults()
	g, err := New(cfg, Deps{Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	rec := &opRecorder{}
	g.routes[0].chain = append(g.routes[0].chain, pipeline.Step{Stage: rec})
	gw := httptest.NewServer(g)
	defer gw.Close()
	var statuses []int
	for _, p := range []string{"/v1/users/7", "/v1/users/8", "/v1/users/9", "/v1/other"} {
		resp, err := http.Get(gw.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	if want := []int{200, 200, 429, 200}; !equalInts(statuses, want) {
		t.Errorf("statuses: got %v, want %v (the third call on the operation is limited, another path is not)", statuses, want)
	}
	if got, want := strings.Join(rec.got, ","), "GET /users/{id} 7,GET /users/{id} 8, "; got != want {
		t.Errorf("operations seen by the chain: got %q, want %q", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
