package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage"
)

// The whole of a new stage, as a stage package would write it: a config
// type, a stage, and a Module. Nothing in config or gateway knows it.

// quietHoursConfig is an API's `quiet_hours` block (an example stage).
type quietHoursConfig struct {
	// Refuse is the path prefix refused with 503. Required.
	Refuse string `yaml:"refuse"`
}

type quietHours struct{ prefix string }

func (quietHours) ID() string { return "example.quiet-hours" }

func (q quietHours) Request(_ context.Context, x *pipeline.Exchange) (*pipeline.Denial, error) {
	if strings.HasPrefix(x.Request.URL.Path, q.prefix) {
		return &pipeline.Denial{Status: http.StatusServiceUnavailable, Reason: "quiet hours", Rules: []string{"example.quiet"}}, nil
	}
	return nil, nil
}

var quietHoursModule = pipeline.ModuleOf[quietHoursConfig]{ID: "example.quiet-hours", Key: "quiet_hours",
	New: func(_ *pipeline.Build, _, c *quietHoursConfig) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		return quietHours{prefix: c.Refuse}, nil
	}}

// TestAddingAStage adds the example stage with one registry line and shows
// that the config file accepts its block with positions for its errors,
// the JSON Schema and the reference describe it, and the gateway builds it
// into the API's chain in registry order.
func TestAddingAStage(t *testing.T) {
	saved := stage.Registry
	stage.Registry = append(slices.Clone(saved), quietHoursModule) // the one registry line
	t.Cleanup(func() { stage.Registry = saved })

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "portcullis.yaml")
	yaml := "apis:\n  - name: a\n    upstream: {targets: [\"" + up.URL + "\"]}\n    quiet_hours: {refuse: /batch, typo: 1}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(file); err == nil || !strings.Contains(err.Error(), `4:35: unknown key "typo" in apis[0].quiet_hours`) {
		t.Fatalf("got %v, want the unknown key inside the new block positioned at 4:35", err)
	}
	yaml = strings.Replace(yaml, ", typo: 1", "", 1)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c := config.BlockOf[quietHoursConfig](cfg.APIs[0].Stages); c == nil || c.Refuse != "/batch" {
		t.Fatalf("decoded block: got %+v, want refuse /batch", c)
	}
	schema, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(schema), `"quiet_hours"`) || !strings.Contains(string(config.Reference()), "`apis[].quiet_hours`") {
		t.Errorf("the schema or the reference does not describe the new block")
	}

	tg := start(t, cfg)
	if got := stageIDs(tg.srv.Gateway().routes[0].chain); !strings.HasSuffix(got, "example.quiet-hours") {
		t.Errorf("chain: got %q, want the new stage last", got)
	}
	for path, want := range map[string]int{"/batch/run": 503, "/other": 200} {
		resp, err := http.Get(tg.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: got %d, want %d", path, resp.StatusCode, want)
		}
	}
}
