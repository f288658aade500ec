package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const examplesDir = "../../examples"

// exampleEnv clears the variables the examples read, so that their
// defaults apply whatever the machine's environment holds.
func exampleEnv(t *testing.T) {
	t.Helper()
	unsetenv(t, "PORTCULLIS_ADMIN_TOKEN", "PORTCULLIS_STATE_DIR", "PORTCULLIS_BROKEN_EXAMPLE_TOKEN")
}

func exampleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	return files
}

func TestExamplesLoad(t *testing.T) {
	exampleEnv(t)
	for _, f := range exampleFiles(t) {
		if filepath.Base(f) == "broken.yaml" {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatalf("got %v, want no problems", err)
			}
			if len(c.APIs) == 0 || c.Source == nil || c.File != f {
				t.Errorf("got %d APIs, source %v, file %q", len(c.APIs), c.Source, c.File)
			}
		})
	}
	t.Run("full.yaml details", func(t *testing.T) {
		c, err := Load(filepath.Join(examplesDir, "full.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(examplesDir)
		checks := []struct{ name, got, want string }{
			{"token from file", c.Admin.Token, "example-admin-token-change-me"},
			{"absolute cert", c.Listeners[0].TLS.Cert, filepath.Join(abs, "certs/server.pem")},
			{"env default path", c.Events.JSONL, "/tmp/portcullis-events.jsonl"},
			{"merged targets", c.APIs[2].Upstream.Targets[0], "http://127.0.0.1:9200"},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s: got %q, want %q", ch.name, ch.got, ch.want)
			}
		}
		if !c.APIs[2].Upstream.CircuitBreaker.Disabled {
			t.Errorf("merged circuit_breaker.disabled: got false, want true")
		}
	})
}

// TestBrokenExample checks that every planted mistake in
// examples/broken.yaml is reported at its exact line and column, and
// nothing else.
func TestBrokenExample(t *testing.T) {
	exampleEnv(t)
	file := filepath.Join(examplesDir, "broken.yaml")
	_, err := Load(file)
	ps := problemsOf(t, err)
	want := []struct {
		line, col int
		path      string
		contains  string
	}{
		{6, 21, "$.listeners[0].redirect_https", `"yes" is not a boolean`},
		{9, 17, "$.server.read_timeout", `"30 seconds" is not a duration`},
		{11, 7, "$.server.trusted_proxies[0]", `"10.0.0.0/33" is not a CIDR`},
		{14, 10, "$.admin.token", `environment variable PORTCULLIS_BROKEN_EXAMPLE_TOKEN is not set`},
		{18, 5, "$.apis[0].upsteam", `unknown key "upsteam" in apis[0], did you mean "upstream"?`},
		{21, 7, "$.apis[0].upstream.targets", `at least one target is required`},
		{22, 11, "$.apis[1].name", `duplicate API name "users"`},
		{25, 11, "$.apis[1].upstream.targets[0]", `"localhost:9000" is not an absolute http or https URL`},
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, w := range want {
		if i >= len(ps) {
			t.Errorf("missing problem %s at %d:%d", w.path, w.line, w.col)
			continue
		}
		p := ps[i]
		if p.Line != w.line || p.Column != w.col || p.Path != w.path || !strings.Contains(p.Message, w.contains) || p.File != file {
			t.Errorf("problem %d: got %s (path %s), want %s:%d:%d with %q (path %s)", i, p.Error(), p.Path, file, w.line, w.col, w.contains, w.path)
		}
	}
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	raw, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("portcullis.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("portcullis.json")
	if err != nil {
		t.Fatalf("compiling schema: %v", err)
	}
	return s
}

// yamlToJSON turns a YAML document into the JSON value a schema checks.
func yamlToJSON(t testing.TB, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExamplesMatchSchema(t *testing.T) {
	t.Parallel()
	s := compileSchema(t)
	for _, f := range exampleFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Validate(yamlToJSON(t, data))
			if broken := filepath.Base(f) == "broken.yaml"; broken != (err != nil) {
				t.Errorf("got schema error %v, want error: %v", err, broken)
			}
		})
	}
}

func TestSchema(t *testing.T) {
	t.Parallel()
	s := compileSchema(t)
	tests := []struct {
		name  string
		yaml  string
		valid bool
	}{
		{"minimal", minimalAPI, true},
		{"sizes and durations", "server: {max_header_bytes: 64KiB, read_timeout: 1m30s, write_timeout: 0}\nlimits: {max_body_bytes: 1048576}\n" + minimalAPI, true},
		{"unknown top-level key", "bogus: 1\n" + minimalAPI, false},
		{"unknown nested key", "apis:\n  - name: a\n    upstream: {targets: [http://a], tragets: []}\n", false},
		{"missing apis", "log: {level: info}\n", false},
		{"bad enum", "log: {level: loud}\n" + minimalAPI, false},
		{"bad duration", "server: {read_timeout: 5 seconds}\n" + minimalAPI, false},
		{"bad size", "server: {max_header_bytes: lots}\n" + minimalAPI, false},
		{"bad api name", "apis:\n  - name: Users\n    upstream: {targets: [http://a]}\n", false},
		{"empty targets", "apis:\n  - name: a\n    upstream: {targets: []}\n", false},
		{"tls version", "listeners: [{addr: ':1', tls: {dev: true, min_version: '1.4'}}]\n" + minimalAPI, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(yamlToJSON(t, []byte(tt.yaml)))
			if (err == nil) != tt.valid {
				t.Errorf("got %v, want valid %v", err, tt.valid)
			}
		})
	}

	t.Run("closed objects with descriptions", func(t *testing.T) {
		raw, _ := Schema()
		var root map[string]any
		if err := json.Unmarshal(raw, &root); err != nil {
			t.Fatal(err)
		}
		if got := root["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("got $schema %v, want draft 2020-12", got)
		}
		var walk func(path string, n any)
		walk = func(path string, n any) {
			switch x := n.(type) {
			case map[string]any:
				if x["type"] == "object" && x["properties"] != nil {
					if x["additionalProperties"] != false {
						t.Errorf("%s: got additionalProperties %v, want false", path, x["additionalProperties"])
					}
					for k, p := range x["properties"].(map[string]any) {
						if d, _ := p.(map[string]any)["description"].(string); d == "" {
							t.Errorf("%s.%s: no description", path, k)
						}
					}
				}
				for k, v := range x {
					walk(path+"/"+k, v)
				}
			case []any:
				for _, v := range x {
					walk(path, v)
				}
			}
		}
		walk("$", root)
	})
}

func FuzzParse(f *testing.F) {
	for _, file := range exampleFiles(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apis: [\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("server: {read_timeout: ${X:-1s}}\n"))
	file := filepath.Join(examplesDir, "fuzz.yaml")
	lookup := env(map[string]string{"A": "1"})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(file, data, lookup)
		if err == nil {
			if c == nil {
				t.Fatal("got nil config and nil error")
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("got %T %v, want Problems", err, err)
		}
		for _, p := range ps {
			if p.Line < 1 || p.Column < 1 {
				t.Fatalf("problem without a position: %+v", p)
			}
		}
	})
}
